"""The plain-dict shapes the public API returns, as ``TypedDict`` types.

They cost nothing at run time (the values are ordinary dicts, the shapes
atdata reads) and let a type checker see what a call returns.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, TypedDict

__all__ = ["BlobRef", "CidLink", "Record", "RecordPage", "StrongRef"]

CidLink = TypedDict("CidLink", {"$link": str})
"""A CID in the data model's JSON form: ``{"$link": "bafkrei..."}``."""

BlobRef = TypedDict(
    "BlobRef",
    {"$type": Literal["blob"], "ref": CidLink, "mimeType": str, "size": int},
)
"""A blob reference as ``upload_blob`` returns it, ready to embed in a record:
``{"$type": "blob", "ref": {"$link": cid}, "mimeType": ..., "size": n}``."""


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
