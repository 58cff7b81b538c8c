"""Blob upload sources: bytes, paths, file objects and chunk iterables.

Every source is streamed in bounded chunks with an exact, known length (sent
as ``Content-Length``):

- ``bytes``, ``bytearray``, ``memoryview``: sent from memory.
- a path to a regular file, or a seekable binary file object: streamed from
  the file (a file object from its current position) and hashed while it is
  sent, so the data is read once and the CID is ready with the last byte.
- an iterable of byte chunks, a non-seekable binary file object (a pipe, a
  socket) or a path that is not a regular file (a FIFO): the length is
  unknown, so the data is read once into a temporary file (memory stays
  bounded; the disk holds one copy, in :func:`tempfile.gettempdir`, i.e.
  ``TMPDIR``), hashed on the way, then streamed from there.

Two steps: :func:`open_blob_source` checks the input and opens it without
reading a stream (an iterable's first chunk is looked at, to refuse
non-bytes early); :meth:`BlobSource.prepare` then copies a stream to its
temporary file, giving up as soon as it passes ``max_size``, and checks a
known size against ``max_size``. Between the two, a client can ask the server
for its limit, so bad input is refused before any request.

Resending: :meth:`BlobSource.chunks` starts from the first byte on every call
(a file is sought back to where it started), so a failed upload can be sent
again from the start. The caller's non-seekable stream or iterator is never
read twice: a resend comes from the temporary copy.

Progress: ``progress(done, total)`` is called as chunks are handed to the
transport, with ``total`` the exact size. It never goes backwards: during a
resend nothing is reported until the resend passes the bytes already reported,
and the last call is ``(size, size)`` (``(0, 0)`` for an empty blob).

Pure helpers for the upload answer and the server's advertised size limit
live here too, so the sync and async clients share them.
"""

from __future__ import annotations

import itertools
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, BinaryIO

from ._cid import CidHasher, compute_cid
from ._concurrency import OrderedWorker
from ._nsid import UPLOAD_BLOB
from ._types import BlobRef
from .errors import IntegrityError, InvalidArgumentError, InvalidResponseError, PayloadTooLargeError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "BlobSource",
    "ProgressCallback",
    "blob_too_large",
    "blob_upload_limit",
    "check_uploaded_blob",
    "open_blob_source",
    "parse_blob_ref",
]


DEFAULT_CHUNK_SIZE = 1 << 20

ProgressCallback = Callable[[int, "int | None"], None]
"""``progress(done_bytes, total_bytes_or_None)``."""

BlobData = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO | Iterable[bytes]


class BlobSource:
    """A blob body ready to stream: its size, its chunks, and its CID once read.

    Attributes:
        spooled: whether the data was copied into a temporary file first.
    """

    def __init__(
        self,
        *,
        data: bytes | None = None,
        fileobj: IO[bytes] | None = None,
        start: int = 0,
        size: int = 0,
        owns_file: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        precomputed_cid: str | None = None,
        stream: Iterator[Any] | None = None,
    ) -> None:
        self.spooled = False
        self._data = data
        self._file = fileobj
        self._start = start
        self._size = size
        self._owns_file = owns_file
        self._chunk_size = chunk_size
        self._cid = precomputed_cid
        self._stream = stream  # not read yet: prepare() spools it
        self._hasher: CidHasher | None = None
        self._reported = -1  # the highest ``done`` passed to a progress callback

    @property
    def size(self) -> int:
        """The exact number of bytes :meth:`chunks` yields (a stream is spooled first)."""
        if self._stream is not None:
            self.prepare()
        return self._size

    @property
    def cid(self) -> str:
        """The CID of the bytes; for a streamed file, known once :meth:`chunks` ran to the end."""
        if self._cid is not None:
            return self._cid
        if self._hasher is None or self._hasher.size != self._size:
            raise RuntimeError("the source has not been read to the end")
        return self._hasher.cid

    def prepare(self, max_size: int | None = None) -> BlobSource:
        """Spool a stream to its temporary file (once); refuse a blob over ``max_size``.

        Raises:
            PayloadTooLargeError: over ``max_size``; a stream is given up on as
                soon as it passes the limit (``size`` is then ``None``).
            InvalidArgumentError: a chunk that is not bytes.
        """
        if self._stream is not None:
            stream, self._stream = self._stream, None
            self._spool(stream, max_size)
        if max_size is not None and self._size > max_size:
            raise blob_too_large(self._size, max_size)
        return self

    def _spool(self, stream: Iterator[Any], max_size: int | None) -> None:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - owned by this source
        hasher = CidHasher()
        try:
            for chunk in stream:
                _check_chunk(chunk)
                hasher.update(chunk)
                if max_size is not None and hasher.size > max_size:
                    raise blob_too_large(None, max_size)
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        finally:
            self.close()  # a FIFO this source opened
        self._file, self._owns_file, self._start = spool, True, 0
        self._size, self._cid, self.spooled = hasher.size, hasher.cid, True

    def _report(self, progress: ProgressCallback | None, done: int) -> None:
        if progress is not None and done > self._reported:
            self._reported = done
            progress(done, self._size)

    def chunks(self, progress: ProgressCallback | None = None) -> Iterator[bytes]:
        """Yield the body from its first byte, hashing and reporting progress as it goes.

        Each call starts over (see the module docstring for resends). Raises
        ``OSError`` if a file turns out shorter than its size when opened.
        """
        size = self.size
        if self._data is not None:
            view = memoryview(self._data)
            for offset in range(0, size, self._chunk_size):
                yield bytes(view[offset : offset + self._chunk_size])
                self._report(progress, min(offset + self._chunk_size, size))
            self._report(progress, size)
            return
        assert self._file is not None
        self._file.seek(self._start)
        hasher = CidHasher() if self._cid is None else None
        self._hasher = hasher
        # A file of several chunks is hashed in a background thread while the
        # caller sends: hashlib releases the GIL, so the SHA-256 costs no time.
        worker = OrderedWorker() if hasher is not None and size > self._chunk_size else None
        try:
            remaining = size
            while remaining > 0:
                chunk = self._file.read(min(self._chunk_size, remaining))
                if not chunk:
                    raise OSError(f"blob source ended after {size - remaining} of {size} bytes")
                if hasher is not None:
                    if worker is not None:
                        worker.submit(hasher.update, chunk)
                    else:
                        hasher.update(chunk)
                remaining -= len(chunk)
                yield chunk
                self._report(progress, size - remaining)
            if worker is not None:
                worker.drain()  # the CID is complete before the answer is checked
        finally:
            if worker is not None:
                worker.close()
        self._report(progress, size)

    def close(self) -> None:
        """Close the file this source opened (an injected file object stays open)."""
        if self._owns_file and self._file is not None:
            self._file.close()

    def __enter__(self) -> BlobSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_chunk(chunk: Any) -> None:
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError(f"blob chunks must be bytes, got {type(chunk).__name__}")


def blob_too_large(size: int | None, limit: int) -> PayloadTooLargeError:
    """The error for a blob refused before sending: over the server's advertised limit.

    ``size`` is ``None`` for a stream given up on once it passed the limit.
    """
    what = "blob" if size is not None else f"blob stream of over {limit} bytes"
    return PayloadTooLargeError(
        413,
        "PayloadTooLarge",
        f"{what} is over the PDS's upload limit; refused before sending",
        nsid=UPLOAD_BLOB,
        size=size,
        limit=limit,
    )


def blob_upload_limit(describe_server: Any) -> int | None:
    """The ``blobUploadLimit`` (bytes) of a ``describeServer`` answer, if it has a valid one."""
    limit = describe_server.get("blobUploadLimit") if isinstance(describe_server, dict) else None
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        return limit
    return None


def check_uploaded_blob(answer: Any, source: BlobSource) -> BlobRef:
    """The blob ref of an ``uploadBlob`` answer, checked against what was sent.

    Raises:
        InvalidResponseError: the answer holds no blob ref.
        IntegrityError: the server's CID or size differs from the local one.
    """
    ref = parse_blob_ref(answer.get("blob") if isinstance(answer, dict) else None)
    if ref is None:
        raise InvalidResponseError(f"{UPLOAD_BLOB}: no blob ref")
    cid, size = ref["ref"]["$link"], ref["size"]
    try:
        local = source.cid
    except RuntimeError as exc:
        raise InvalidResponseError(
            f"{UPLOAD_BLOB}: answered before the whole blob was sent"
        ) from exc
    if cid != local:
        raise IntegrityError(local, cid, f"PDS stored the blob as {cid}, local CID {local}")
    if size != source.size:
        raise IntegrityError(local, cid, f"PDS stored {size} bytes, sent {source.size}")
    return ref


def parse_blob_ref(blob: Any) -> BlobRef | None:
    """A blob ref as the wire has it, checked field by field (``None`` if malformed)."""
    if not isinstance(blob, dict):
        return None
    link = blob.get("ref")
    cid = link.get("$link") if isinstance(link, dict) else None
    mime, size = blob.get("mimeType"), blob.get("size")
    if (
        blob.get("$type", "blob") != "blob"
        or not isinstance(cid, str)
        or not isinstance(mime, str)
        or isinstance(size, bool)
        or not isinstance(size, int)
    ):
        return None
    return {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": size}


def _seekable(obj: Any) -> bool:
    try:
        return bool(obj.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _read_chunks(fh: IO[bytes], chunk_size: int) -> Iterator[bytes]:
    while True:
        chunk = fh.read(chunk_size)
        if chunk is None:  # a non-blocking stream with nothing ready
            raise InvalidArgumentError("blob streams must be blocking (read() returned None)")
        if not chunk:
            return
        yield chunk


def _peeked(chunks: Iterable[Any]) -> Iterator[Any]:
    """The chunks, with the first one already checked to be bytes."""
    iterator = iter(chunks)
    for first in iterator:
        _check_chunk(first)
        return itertools.chain((first,), iterator)
    return iterator


def open_blob_source(data: Any, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> BlobSource:
    """Wrap ``bytes``, a path, a binary file object or an iterable of byte chunks.

    A file object is read from its current position to its end and is not
    closed. A text-mode file, a ``str`` that is not an existing path, a
    directory, an iterable whose first chunk is not bytes, or anything else
    raises :class:`InvalidArgumentError` before anything is sent. A stream is
    not read yet (see :meth:`BlobSource.prepare`).
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
        raise InvalidArgumentError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        return BlobSource(
            data=raw, size=len(raw), chunk_size=chunk_size, precomputed_cid=compute_cid(raw)
        )
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError) as exc:
            raise InvalidArgumentError(f"blob path {path!r} cannot be read: {exc}") from exc
        if stat.S_ISDIR(mode):
            raise InvalidArgumentError(f"blob path {path!r} is a directory")
        fh = open(path, "rb")  # noqa: SIM115 - owned by the BlobSource
        if not stat.S_ISREG(mode):  # a FIFO, a character device: read it once
            stream = _read_chunks(fh, chunk_size)
            return BlobSource(fileobj=fh, owns_file=True, chunk_size=chunk_size, stream=stream)
        size = os.fstat(fh.fileno()).st_size
        return BlobSource(fileobj=fh, size=size, owns_file=True, chunk_size=chunk_size)
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
        return BlobSource(chunk_size=chunk_size, stream=_read_chunks(data, chunk_size))
    if isinstance(data, Iterable):
        return BlobSource(chunk_size=chunk_size, stream=_peeked(data))
    raise InvalidArgumentError(
        f"cannot upload {type(data).__name__}: pass bytes, a path, a binary file or byte chunks"
    )
