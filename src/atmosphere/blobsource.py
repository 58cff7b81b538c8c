"""Blob upload sources: bytes, paths, file objects and chunk iterables.

Each source is streamed in bounded chunks with a known length, and hashed
while it is read, so the CID is ready when the last byte is sent. An iterable
of unknown length is spooled to a temporary file first (never joined in
memory). Every source can be read again from its start (a non-seekable file
object is spooled like an iterable), so a failed send can be retried.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, BinaryIO

from .cid import CidHasher, compute_cid
from .errors import InvalidArgumentError

__all__ = ["DEFAULT_CHUNK_SIZE", "BlobSource", "ProgressCallback", "open_blob_source"]

DEFAULT_CHUNK_SIZE = 1 << 20

ProgressCallback = Callable[[int, "int | None"], None]
"""``progress(done_bytes, total_bytes_or_None)``."""

BlobData = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO | Iterable[bytes]


class BlobSource:
    """A blob body ready to stream: its size, its chunks, and its CID once read."""

    def __init__(
        self,
        *,
        data: bytes | None = None,
        fileobj: IO[bytes] | None = None,
        start: int = 0,
        size: int,
        owns_file: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        precomputed_cid: str | None = None,
    ) -> None:
        self.size = size
        self._data = data
        self._file = fileobj
        self._start = start
        self._owns_file = owns_file
        self._chunk_size = chunk_size
        self._cid = precomputed_cid
        self._hasher: CidHasher | None = None

    @property
    def in_memory(self) -> bytes | None:
        """The bytes themselves, for sources that are already in memory."""
        return self._data

    @property
    def cid(self) -> str:
        """The CID of the bytes read; complete once :meth:`chunks` ran to the end."""
        if self._cid is not None:
            return self._cid
        if self._hasher is None or self._hasher.size != self.size:
            raise RuntimeError("the source has not been read to the end")
        return self._hasher.cid

    def chunks(self, progress: ProgressCallback | None = None) -> Iterator[bytes]:
        """Yield the body from its start, hashing and reporting progress as it goes."""
        if self._data is not None:
            view = memoryview(self._data)
            for offset in range(0, max(len(view), 1), self._chunk_size):
                chunk = bytes(view[offset : offset + self._chunk_size])
                if chunk:
                    yield chunk
                if progress is not None:
                    progress(min(offset + self._chunk_size, self.size), self.size)
            return
        assert self._file is not None
        self._file.seek(self._start)
        hasher = CidHasher()
        self._hasher = hasher
        remaining = self.size
        while remaining > 0:
            chunk = self._file.read(min(self._chunk_size, remaining))
            if not chunk:
                raise OSError(
                    f"blob source ended after {self.size - remaining} of {self.size} bytes"
                )
            hasher.update(chunk)
            remaining -= len(chunk)
            yield chunk
            if progress is not None:
                progress(self.size - remaining, self.size)
        if progress is not None and self.size == 0:
            progress(0, 0)

    def close(self) -> None:
        """Close the file this source opened (an injected file object stays open)."""
        if self._owns_file and self._file is not None:
            self._file.close()

    def __enter__(self) -> BlobSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _seekable(obj: Any) -> bool:
    try:
        return bool(obj.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _spool(chunks: Iterable[Any], chunk_size: int) -> BlobSource:
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the BlobSource
    hasher = CidHasher()
    try:
        for chunk in chunks:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise InvalidArgumentError(f"blob chunks must be bytes, got {type(chunk).__name__}")
            hasher.update(chunk)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return BlobSource(
        fileobj=spool,
        size=hasher.size,
        owns_file=True,
        chunk_size=chunk_size,
        precomputed_cid=hasher.cid,
    )


def open_blob_source(data: Any, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> BlobSource:
    """Wrap ``bytes``, a path, a binary file object or an iterable of byte chunks.

    A file object is read from its current position to its end. A text-mode
    file, a ``str`` that is not an existing path, or anything else raises
    :class:`InvalidArgumentError` before any request.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        return BlobSource(data=raw, size=len(raw), precomputed_cid=compute_cid(raw))
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if not os.path.isfile(path):
            raise InvalidArgumentError(f"blob path {path!r} is not a file")
        fh = open(path, "rb")  # noqa: SIM115 - owned by the BlobSource
        return BlobSource(
            fileobj=fh, size=os.fstat(fh.fileno()).st_size, owns_file=True, chunk_size=chunk_size
        )
    if hasattr(data, "read"):
        if isinstance(getattr(data, "encoding", None), str) or "b" not in getattr(
            data, "mode", "b"
        ):
            raise InvalidArgumentError("blob file objects must be opened in binary mode")
        if _seekable(data):
            start = data.tell()
            end = data.seek(0, os.SEEK_END)
            data.seek(start)
            return BlobSource(fileobj=data, start=start, size=end - start, chunk_size=chunk_size)
        return _spool(iter(lambda: data.read(chunk_size), b""), chunk_size)
    if isinstance(data, Iterable):
        return _spool(data, chunk_size)
    raise InvalidArgumentError(
        f"cannot upload {type(data).__name__}: pass bytes, a path, a binary file or byte chunks"
    )
