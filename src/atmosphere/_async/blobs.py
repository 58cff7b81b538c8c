"""Blob streaming for the client: feeding an upload, verifying a download.

The loops around the pure pieces of :mod:`atmosphere._blobsource` and
:mod:`atmosphere._blobverify`. Blocking file reads and writes go through
``to_thread`` (a worker thread for asyncio callers, inline for sync ones).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator

from .._blobsource import BlobSource, ProgressCallback
from .._blobverify import VerifiedWriter, Verifier, atomic_file
from .._concurrency import to_thread
from .._wire import wrap_transport_errors
from ..errors import ResponseTooLargeError

__all__ = ["bounded", "iter_verified", "prepare_source", "source_chunks", "write_verified"]


async def prepare_source(source: BlobSource, max_size: int | None) -> BlobSource:
    """:meth:`BlobSource.prepare` (spooling a stream to its temporary file) off the event loop."""
    return await to_thread(source.prepare, max_size)


async def source_chunks(
    source: BlobSource, progress: ProgressCallback | None = None
) -> AsyncIterator[bytes]:
    """:meth:`BlobSource.chunks`, each read off the event loop; starts over on every call."""
    chunks = source.chunks(progress)
    while True:
        chunk = await to_thread(next, chunks, None)
        if chunk is None:
            return
        yield chunk


async def bounded(chunks: AsyncIterable[bytes], limit: int, what: str) -> AsyncIterator[bytes]:
    """Yield ``chunks`` unchanged until more than ``limit`` bytes came: then raise
    :class:`~atmosphere.errors.ResponseTooLargeError` at once (nothing more is read).

    httpx failures while reading become :class:`~atmosphere.errors.TransportError`.
    """
    total = 0
    with wrap_transport_errors(what):
        async for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise ResponseTooLargeError(f"{what}: the answer is over {limit} bytes")
            yield chunk


async def iter_verified(
    chunks: AsyncIterable[bytes],
    cid: str,
    *,
    total: int | None = None,
    progress: ProgressCallback | None = None,
) -> AsyncIterator[bytes]:
    """Yield ``chunks`` unchanged, releasing the last one only after verification.

    Every chunk but the last is yielded as soon as the next one has arrived;
    the last is yielded only once all bytes hash to ``cid`` (otherwise
    :class:`~atmosphere.errors.IntegrityError` is raised in its place). A
    consumer that commits its result only when the iterator ends normally
    therefore never commits unverified data.
    """
    verifier = Verifier(cid, total, progress)
    async for chunk in chunks:
        released = verifier.feed(chunk)
        if released is not None:
            yield released
    last = verifier.finish()
    if last is not None:
        yield last


async def write_verified(
    chunks: AsyncIterable[bytes],
    cid: str,
    path: str | os.PathLike[str],
    *,
    total: int | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """Stream ``chunks`` to ``path`` through a verified, atomically renamed temp file.

    Returns the number of bytes written. On a CID mismatch, a transport error
    or any other failure, no file is left at ``path`` (or beside it). The
    chunks are hashed and written in a background thread while the next ones
    arrive (see :class:`~atmosphere._blobverify.VerifiedWriter`).
    """
    with atomic_file(path) as out, VerifiedWriter(out, cid, total, progress) as writer:
        # Hashing and writing run a few chunks behind, in the writer's thread;
        # nothing is renamed into place before ``finish`` verified the CID.
        async for chunk in chunks:
            if writer.full():
                await to_thread(writer.wait)
            writer.feed(chunk)
        return await to_thread(writer.finish)
