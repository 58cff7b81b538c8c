"""Record answers, checked with plain code (no models on the hot path).

``getRecord`` / ``listRecords`` answers become :class:`~atmosphere._types.Record`
envelopes, ``createRecord`` / ``putRecord`` answers strong refs. Plain checks
instead of a model per record: building models dominated the per-call cost of
100-record pages, and keeping pydantic off this path keeps it off the import.
"""

from __future__ import annotations

from typing import Any

from ._types import Record, StrongRef
from .errors import RecordMismatchError

__all__ = ["check_records", "record_envelope", "record_page", "write_result"]


def write_result(data: Any) -> StrongRef | None:
    """The ``{"uri", "cid"}`` of a ``createRecord`` / ``putRecord`` answer, or ``None``."""
    if not isinstance(data, dict):
        return None
    uri, cid = data.get("uri"), data.get("cid")
    if not isinstance(uri, str) or not isinstance(cid, str):
        return None
    return {"uri": uri, "cid": cid}


def record_envelope(data: Any) -> Record | None:
    """A record answer as a plain envelope ``{"uri", "cid", "value"}``, or ``None``.

    A ``uri`` string, a ``value`` object and an optional ``cid`` string.
    """
    if not isinstance(data, dict):
        return None
    uri, cid, value = data.get("uri"), data.get("cid"), data.get("value")
    if not isinstance(uri, str) or not isinstance(value, dict):
        return None
    if cid is None:
        return {"uri": uri, "value": value}
    if not isinstance(cid, str):
        return None
    return {"uri": uri, "cid": cid, "value": value}


def record_page(data: Any) -> tuple[list[Record], str | None] | None:
    """A ``listRecords`` answer as ``(envelopes, cursor)``, or ``None`` if malformed."""
    if not isinstance(data, dict):
        return None
    raw, cursor = data.get("records", []), data.get("cursor")
    if not isinstance(raw, list) or not (cursor is None or isinstance(cursor, str)):
        return None
    envelopes: list[Record] = []
    append = envelopes.append
    for item in raw:
        # The common case, checked inline: already exactly an envelope, kept as is.
        if (
            type(item) is dict
            and len(item) == 3
            and type(item.get("uri")) is str
            and type(item.get("cid")) is str
            and type(item.get("value")) is dict
        ):
            append(item)  # type: ignore[arg-type]
            continue
        envelope = record_envelope(item)
        if envelope is None:
            return None
        append(envelope)
    return envelopes, cursor


def check_records(
    records: list[Record], repo: str, collection: str, rkey: str | None = None
) -> list[Record]:
    """``records`` themselves, once each one is what was asked for.

    Each record's URI must be ``at://<repo>/<collection>/<rkey>`` (the repo DID
    and collection of the request; the exact ``rkey`` when one was asked for,
    else any single non-empty key), and its value's ``$type``, when present,
    must be the collection. Anything else is a :class:`RecordMismatchError`:
    a server answering for another account or collection is not data.
    """
    prefix = f"at://{repo}/{collection}/"
    for record in records:
        uri = record["uri"]
        key = uri[len(prefix) :] if uri.startswith(prefix) else ""
        if not key or "/" in key or (rkey is not None and key != rkey):
            wanted = prefix + (rkey or "*")
            raise RecordMismatchError(f"the server answered {uri[:300]!r} for {wanted!r}")
        kind = record["value"].get("$type", collection)
        if kind != collection:
            raise RecordMismatchError(
                f"the record at {uri[:300]!r} has $type {str(kind)[:100]!r}, not {collection!r}"
            )
    return records
