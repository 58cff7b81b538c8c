"""Reading a response body with a size cap: the one reader every shell uses.

A server decides how much it sends; this library decides how much it reads.
The cap applies to the decoded bytes (what would be held in memory), and
reading stops as soon as it is passed: the rest is never read.

A read that stops early (a cap, a deadline, a failed check, a consumer that
stops iterating) closes what it opened right away, through
:func:`body_chunks`: the body iterator and the response's stream (so the
connection is released before the error reaches the caller). httpx's own
inner generators are then handed to the running event loop's finalizer at
once, while the loop is still there; a loop that is shut down properly
(``asyncio.run``, or ``shutdown_asyncgens()`` before ``close()``) finishes them.
Nothing waits for the garbage collector to find the body after its loop has gone.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx

from ..errors import NetworkTimeoutError, ResponseTooLargeError

__all__ = ["body_chunks", "closed_after", "read_capped"]

T = TypeVar("T")


@asynccontextmanager
async def closed_after(iterator: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """``iterator`` for the ``with`` block, closed when the block is left (early or not).

    A loop that stops early (``break``, an exception) leaves an async generator
    suspended; closing it here runs its cleanup now, on this event loop.
    """
    try:
        yield iterator
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


@asynccontextmanager
async def body_chunks(
    response: httpx.Response, chunk_size: int | None = None
) -> AsyncIterator[AsyncIterator[bytes]]:
    """The decoded body of a streamed ``response`` in chunks; iterator and response
    are both closed when the block is left, however it is left."""
    try:
        async with closed_after(response.aiter_bytes(chunk_size)) as chunks:
            yield chunks
    finally:
        await response.aclose()


async def read_capped(
    response: httpx.Response,
    cap: int,
    *,
    truncate: bool = False,
    deadline: float | None = None,
) -> bytes:
    """The body of ``response``, at most ``cap`` bytes; afterwards also ``response.content``.

    Args:
        response: a response opened with ``stream=True`` (or already read).
        cap: the most bytes accepted.
        truncate: return the first ``cap`` bytes of a longer body instead of
            raising (for error bodies, where a summary is enough).

    Raises:
        ResponseTooLargeError: the body (or its declared ``Content-Length``)
            is over ``cap`` and ``truncate`` is false.
        NetworkTimeoutError: ``deadline`` passed while reading.
    """
    if not response.is_stream_consumed:
        declared = response.headers.get("content-length", "")
        # isascii: str.isdigit() also accepts "²", which int() refuses.
        known = declared.isascii() and declared.isdigit()
        if not truncate and known and (len(declared) > 18 or int(declared) > cap):
            await response.aclose()
            raise ResponseTooLargeError(f"response of {declared} bytes exceeds {cap}")
        chunks: list[bytes] = []
        total = 0
        async with body_chunks(response) as body:
            async for chunk in body:
                total += len(chunk)
                if total > cap:
                    if not truncate:
                        raise ResponseTooLargeError(f"response body exceeds {cap} bytes")
                    chunks.append(chunk[: cap - (total - len(chunk))])
                    break
                chunks.append(chunk)
                if deadline is not None and time.monotonic() > deadline:
                    raise NetworkTimeoutError("response body did not arrive in time")
        # What ``aread()`` would have stored: later readers see the capped body.
        response._content = b"".join(chunks)
    data = response.content
    if len(data) > cap:
        if not truncate:
            raise ResponseTooLargeError(f"response body exceeds {cap} bytes")
        return data[:cap]
    return data
