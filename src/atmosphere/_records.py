"""Record answers, checked with plain code (no models on the hot path).

``getRecord`` / ``listRecords`` answers become :class:`~atmosphere._types.Record`
envelopes, ``createRecord`` / ``putRecord`` answers strong refs. Plain checks
instead of a model per record: building models dominated the per-call cost of
100-record pages, and keeping pydantic off this path keeps it off the import.
"""

from __future__ import annotations

from typing import Any

from ._types import Record, StrongRef

__all__ = ["record_envelope", "record_page", "write_result"]


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
