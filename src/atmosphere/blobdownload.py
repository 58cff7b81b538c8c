"""Verified blob downloads: chunk streams checked against their CID.

Two shapes, both bounded in memory, each with an asyncio twin:

- :func:`iter_verified` / :func:`aiter_verified` pass chunks through while
  hashing them and hold the final chunk back until the whole blob has hashed
  to the expected CID; on a mismatch they raise :class:`IntegrityError`
  instead of releasing it.
- :func:`write_verified` / :func:`awrite_verified` stream into a temporary
  file beside the target, verify, then rename it into place atomically; on
  any failure the temporary file is removed and the target is left untouched.

The hashing and hold-back rule lives once, in :class:`_Verifier`; the four
functions are loops around it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import IO

from .blobsource import to_thread
from .cid import CidHasher
from .errors import IntegrityError

__all__ = ["aiter_verified", "awrite_verified", "iter_verified", "write_verified"]


Progress = Callable[[int, "int | None"], None]


class _Verifier:
    """Hash chunks as they pass, always holding the latest one back."""

    def __init__(self, cid: str, total: int | None, progress: Progress | None) -> None:
        self._cid = cid
        self._total = total
        self._progress = progress
        self._hasher = CidHasher()
        self._held: bytes | None = None

    def feed(self, chunk: bytes) -> bytes | None:
        """Take a chunk; return the previous one, now safe to release."""
        if not chunk:
            return None
        self._hasher.update(chunk)
        if self._progress is not None:
            self._progress(self._hasher.size, self._total)
        released, self._held = self._held, chunk
        return released

    def finish(self) -> bytes | None:
        """Verify everything fed; return the held-back last chunk (or raise)."""
        actual = self._hasher.cid
        if actual != self._cid:
            raise IntegrityError(self._cid, actual)
        if self._progress is not None and self._hasher.size == 0:
            self._progress(0, self._total)
        return self._held


def iter_verified(
    chunks: Iterable[bytes],
    cid: str,
    *,
    total: int | None = None,
    progress: Progress | None = None,
) -> Iterator[bytes]:
    """Yield ``chunks`` unchanged, releasing the last one only after verification.

    Every chunk but the last is yielded as soon as the next one has arrived;
    the last is yielded only once all bytes hash to ``cid``. A consumer that
    commits its result only when the iterator ends normally therefore never
    commits unverified data.
    """
    verifier = _Verifier(cid, total, progress)
    for chunk in chunks:
        released = verifier.feed(chunk)
        if released is not None:
            yield released
    last = verifier.finish()
    if last is not None:
        yield last


async def aiter_verified(
    chunks: AsyncIterable[bytes],
    cid: str,
    *,
    total: int | None = None,
    progress: Progress | None = None,
) -> AsyncIterator[bytes]:
    """:func:`iter_verified` over an async iterable."""
    verifier = _Verifier(cid, total, progress)
    async for chunk in chunks:
        released = verifier.feed(chunk)
        if released is not None:
            yield released
    last = verifier.finish()
    if last is not None:
        yield last


@contextlib.contextmanager
def _atomic_file(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A temp file beside ``path``, renamed onto it on success, removed on failure.

    The temp file is created with mode ``0o666`` less the umask (what ``open``
    gives a new file), not ``mkstemp``'s ``0o600``: the download ends up with
    the permissions any new file would have.
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".atmosphere-{os.urandom(8).hex()}.part")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:  # pragma: no cover - 64 random bits collided
            continue
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_verified(
    chunks: Iterable[bytes],
    cid: str,
    path: str | os.PathLike[str],
    *,
    total: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Stream ``chunks`` to ``path`` through a verified, atomically renamed temp file.

    Returns the number of bytes written. On a CID mismatch, a transport error
    or any other failure, no file is left at ``path`` (or beside it).
    """
    written = 0
    with _atomic_file(path) as out:
        for chunk in iter_verified(chunks, cid, total=total, progress=progress):
            out.write(chunk)
            written += len(chunk)
    return written


async def awrite_verified(
    chunks: AsyncIterable[bytes],
    cid: str,
    path: str | os.PathLike[str],
    *,
    total: int | None = None,
    progress: Progress | None = None,
) -> int:
    """:func:`write_verified` over an async iterable; disk writes run in a worker thread."""
    written = 0
    with _atomic_file(path) as out:
        async for chunk in aiter_verified(chunks, cid, total=total, progress=progress):
            await to_thread(out.write, chunk)
            written += len(chunk)
    return written
