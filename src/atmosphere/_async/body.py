"""Reading a response body with a size cap: the one reader every shell uses.

A server decides how much it sends; this library decides how much it reads.
The cap applies to the decoded bytes (what would be held in memory), and
reading stops as soon as it is passed: the rest is never read.
"""

from __future__ import annotations

import time

import httpx

from ..errors import NetworkTimeoutError, ResponseTooLargeError

__all__ = ["read_capped"]


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
            raise ResponseTooLargeError(f"response of {declared} bytes exceeds {cap}")
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > cap:
                if not truncate:
                    raise ResponseTooLargeError(f"response body exceeds {cap} bytes")
                chunks.append(chunk[: cap - (total - len(chunk))])
                break
            chunks.append(chunk)
            if deadline is not None and time.monotonic() > deadline:
                await response.aclose()
                raise NetworkTimeoutError("response body did not arrive in time")
        await response.aclose()
        # What ``aread()`` would have stored: later readers see the capped body.
        response._content = b"".join(chunks)
    data = response.content
    if len(data) > cap:
        if not truncate:
            raise ResponseTooLargeError(f"response body exceeds {cap} bytes")
        return data[:cap]
    return data
