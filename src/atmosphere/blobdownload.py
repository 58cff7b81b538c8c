"""Verified blob downloads: chunk streams checked against their CID.

Two shapes, both bounded in memory:

- :func:`iter_verified` passes chunks through while hashing them and holds
  the final chunk back until the whole blob has hashed to the expected CID;
  on a mismatch it raises :class:`IntegrityError` instead of releasing it.
- :func:`write_verified` streams into a temporary file beside the target,
  verifies, then renames it into place atomically; on any failure the
  temporary file is removed and the target is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator

from .cid import CidHasher
from .errors import IntegrityError

__all__ = ["iter_verified", "write_verified"]

Progress = Callable[[int, "int | None"], None]


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
    hasher = CidHasher()
    held: bytes | None = None
    for chunk in chunks:
        if not chunk:
            continue
        hasher.update(chunk)
        if progress is not None:
            progress(hasher.size, total)
        if held is not None:
            yield held
        held = chunk
    actual = hasher.cid
    if actual != cid:
        raise IntegrityError(cid, actual)
    if held is not None:
        yield held
    if progress is not None and hasher.size == 0:
        progress(0, total)


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
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".atmosphere-", suffix=".part", dir=directory)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter_verified(chunks, cid, total=total, progress=progress):
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return written
