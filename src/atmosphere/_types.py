"""The plain-dict shapes the public API returns, as ``TypedDict`` types.

They cost nothing at run time (the values are ordinary dicts, the shapes
atdata reads) and let a type checker see what a call returns. Also here:
:data:`BlobInput`, what ``upload_blob`` accepts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Literal, NamedTuple, Protocol, TypedDict, Union

__all__ = [
    "BinaryReader",
    "BlobInput",
    "BlobRef",
    "CidLink",
    "Record",
    "RecordPage",
    "StrongRef",
]

CidLink = TypedDict("CidLink", {"$link": str})
CidLink.__doc__ = """A CID in the data model's JSON form: ``{"$link": "bafkrei..."}``."""

BlobRef = TypedDict(
    "BlobRef",
    {"$type": Literal["blob"], "ref": CidLink, "mimeType": str, "size": int},
)
BlobRef.__doc__ = """A blob reference as ``upload_blob`` returns it, ready to embed in a record:
``{"$type": "blob", "ref": {"$link": cid}, "mimeType": ..., "size": n}`` (a plain
``dict`` at run time)."""


class StrongRef(TypedDict):
    """A ``com.atproto.repo.strongRef``: a record's AT-URI pinned to one version (CID)."""

    uri: str
    cid: str


class _RecordRequired(TypedDict):
    uri: str
    value: dict[str, Any]


class Record(_RecordRequired, total=False):
    """A record with where it lives and which version: ``{"uri", "cid", "value"}``.

    ``cid`` is absent only when the server did not say (``getRecord`` may omit it).
    """

    cid: str


class RecordPage(NamedTuple):
    """One page of a collection, as ``list_record_page`` returns it.

    ``records`` keeps each record's URI and CID with its value (the drop-in
    ``list_records`` returns the values alone, as atdata's does); ``cursor``
    is ``None`` when there are no more records. Unpacks as ``records, cursor``.
    """

    records: list[Record]
    cursor: str | None


class BinaryReader(Protocol):
    """A binary file object as ``upload_blob`` reads it: ``read(n)`` returns ``bytes``.

    Files opened with ``"rb"``, ``io.BytesIO`` and sockets' ``makefile("rb")``
    all qualify. A seekable one is read from its current position to its end
    (and not closed); one that cannot seek is read once.
    """

    def read(self, size: int, /) -> bytes: ...


BlobInput = Union[
    bytes, bytearray, memoryview, str, "os.PathLike[str]", BinaryReader, Iterable[bytes]
]
"""What ``upload_blob`` accepts: the bytes themselves, a path (``str`` or
``os.PathLike``) of a file to stream, a binary file object, or an iterable of
``bytes`` chunks (read once, into a temporary file, to learn its size).
Anything else (a number, a text-mode file, a ``str`` that names no file) is
refused with :class:`~atmosphere.InvalidArgumentError` before anything is sent."""
