"""Verified blob downloads, the pure part: hashing with hold-back, and atomic files.

- :class:`Verifier` hashes chunks as they pass and always holds the latest
  one back, releasing it only once the whole blob hashed to the expected CID.
- :func:`atomic_file` is a temporary file beside the target, renamed onto it
  on success and removed on any failure.

The streaming loops around them (``iter_verified``, ``write_verified``) are
I/O and live in ``_async/blobs.py`` (and its generated sync twin).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import IO

from ._cid import CidHasher
from .errors import IntegrityError

__all__ = ["Verifier", "atomic_file"]


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
