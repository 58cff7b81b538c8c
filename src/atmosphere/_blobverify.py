"""Verified blob downloads, the pure part: hashing with hold-back, and atomic files.

- :class:`Verifier` hashes chunks as they pass and always holds the latest
  one back, releasing it only once the whole blob hashed to the expected CID.
- :func:`atomic_file` is a temporary file beside the target, renamed onto it
  on success and removed on any failure.
- :class:`VerifiedWriter` hashes and writes a download's chunks to that file
  in a background thread (overlapping the network), checking the CID at the end.

The streaming loops around them (``iter_verified``, ``write_verified``) are
I/O and live in ``_async/blobs.py`` (and its generated sync twin).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import IO

from ._cid import CidHasher
from ._concurrency import OrderedWorker
from .errors import IntegrityError

__all__ = ["SYNC_EVERY", "VerifiedWriter", "Verifier", "atomic_file"]


Progress = Callable[[int, "int | None"], None]


class Verifier:
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


SYNC_EVERY = 16 << 20
"""A download's disk writeback is started every this many bytes as it is
written, so the final ``fsync`` has little left to wait for."""


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing a just-written range to disk, without waiting where the OS allows.

    Linux starts the writeback of the range's dirty pages on
    ``POSIX_FADV_DONTNEED`` and returns (pages already written back may leave
    the page cache); elsewhere the file is synced.
    """
    if hasattr(os, "posix_fadvise") and sys.platform.startswith("linux"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    else:
        getattr(os, "fdatasync", os.fsync)(fd)


class VerifiedWriter:
    """Write a download's chunks to ``out`` and hash them, in a background thread.

    The caller's thread only receives: hashing (hashlib releases the GIL),
    writing and the periodic flush to disk run in an :class:`OrderedWorker`,
    a few chunks behind. ``progress`` is called in the caller's thread, with
    the bytes received. :meth:`finish` waits for the worker and raises
    :class:`IntegrityError` if the bytes do not hash to ``cid``; the file is
    only committed (by :func:`atomic_file`) after that.

    Use it as a context manager (the worker stops on exit). Async callers
    await ``to_thread(writer.wait)`` while :meth:`full` and
    ``to_thread(writer.finish)``, so the event loop never blocks.
    """

    def __init__(
        self,
        out: IO[bytes],
        cid: str,
        total: int | None,
        progress: Progress | None,
        *,
        sync_every: int = SYNC_EVERY,
    ) -> None:
        self._out = out
        self._cid = cid
        self._total = total
        self._progress = progress
        self._sync_every = sync_every
        self._hasher = CidHasher()
        self._worker = OrderedWorker()
        self._received = 0
        self._written = 0  # by the worker
        self._synced = 0  # bytes whose writeback has started

    def _write(self, chunk: bytes) -> None:  # in the worker thread
        self._hasher.update(chunk)
        self._out.write(chunk)
        self._written += len(chunk)
        if self._written - self._synced >= self._sync_every:
            self._out.flush()
            _start_writeback(self._out.fileno(), self._synced, self._written - self._synced)
            self._synced = self._written

    def full(self) -> bool:
        """Whether :meth:`feed` would block until the worker catches up."""
        return self._worker.full()

    def wait(self) -> None:
        """Block until :meth:`feed` can queue a chunk (raises a failed write's error)."""
        self._worker.wait()

    def feed(self, chunk: bytes) -> None:
        """Queue a chunk to be hashed and written."""
        if not chunk:
            return
        self._worker.submit(self._write, chunk)
        self._received += len(chunk)
        if self._progress is not None:
            self._progress(self._received, self._total)

    def finish(self) -> int:
        """Wait for every write, then verify; return the size (raises ``IntegrityError``)."""
        self._worker.drain()
        actual = self._hasher.cid
        if actual != self._cid:
            raise IntegrityError(self._cid, actual)
        if self._progress is not None and self._received == 0:
            self._progress(0, self._total)
        return self._received

    def close(self) -> None:
        """Stop the worker (pending chunks are dropped)."""
        self._worker.close()

    def __enter__(self) -> VerifiedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
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
