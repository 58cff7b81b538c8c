"""Bulk writes: ``com.atproto.repo.applyWrites`` operations, batching and results.

Pure (no I/O): the clients build batches here, send each batch, and turn the
answers back into URIs here. Each batch is atomic on the PDS; a list of
writes longer than one batch is not (an error in batch *n* leaves batches
before it applied).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._nsid import APPLY_WRITES
from ._syntax import RecordUri, generate_tid, validate_nsid, validate_record_key
from ._wire import dump_json
from .errors import InvalidArgumentError, InvalidRecordError, InvalidResponseError

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_WRITES_PER_BATCH",
    "Create",
    "Delete",
    "Update",
    "Write",
    "batch_writes",
    "build_apply_writes",
    "check_record",
    "parse_apply_writes",
]

MAX_WRITES_PER_BATCH = 200
"""The reference PDS refuses more writes than this in one applyWrites call."""

MAX_BATCH_BYTES = 1 << 20
"""Keep a batch's JSON well under the PDS's 2 MB commit-event limit."""

_NS = APPLY_WRITES


def check_record(collection: str, record: Any) -> dict[str, Any]:
    """``record`` itself, once it is a dict whose ``$type`` equals ``collection``.

    Raises:
        InvalidRecordError: not a dict, no ``$type``, or a ``$type`` naming
            another collection.
    """
    if not isinstance(record, dict):
        raise InvalidRecordError(f"record must be a dict, got {type(record).__name__}")
    rtype = record.get("$type")
    if rtype is None:
        raise InvalidRecordError("record has no '$type' field")
    if rtype != collection:
        raise InvalidRecordError(
            f"record '$type' {rtype!r} does not match the collection {collection!r}"
        )
    return record


@dataclass(frozen=True)
class Create:
    """Create ``value`` in ``collection``; the client assigns a TID when ``rkey`` is ``None``."""

    collection: str
    value: dict[str, Any] = field(repr=False)
    rkey: str | None = None

    def __post_init__(self) -> None:
        validate_nsid(self.collection)
        check_record(self.collection, self.value)
        if self.rkey is not None:
            validate_record_key(self.rkey)


@dataclass(frozen=True)
class Update:
    """Create or replace the record at ``collection``/``rkey``."""

    collection: str
    rkey: str
    value: dict[str, Any] = field(repr=False)

    def __post_init__(self) -> None:
        validate_nsid(self.collection)
        validate_record_key(self.rkey)
        check_record(self.collection, self.value)


@dataclass(frozen=True)
class Delete:
    """Delete the record at ``collection``/``rkey``."""

    collection: str
    rkey: str

    def __post_init__(self) -> None:
        validate_nsid(self.collection)
        validate_record_key(self.rkey)


Write = Create | Update | Delete


def _wire(write: Write) -> dict[str, Any]:
    if isinstance(write, Create):
        # The key is chosen here, not by the PDS, so a resent batch can never
        # create a second copy of a record.
        return {
            "$type": f"{_NS}#create",
            "collection": write.collection,
            "rkey": write.rkey or generate_tid(),
            "value": write.value,
        }
    if isinstance(write, Update):
        return {
            "$type": f"{_NS}#update",
            "collection": write.collection,
            "rkey": write.rkey,
            "value": write.value,
        }
    if isinstance(write, Delete):
        return {"$type": f"{_NS}#delete", "collection": write.collection, "rkey": write.rkey}
    raise InvalidArgumentError(f"not a write operation: {type(write).__name__}")


def batch_writes(
    writes: Sequence[Write],
    *,
    max_writes: int = MAX_WRITES_PER_BATCH,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[list[dict[str, Any]]]:
    """Split writes into wire-form batches of at most ``max_writes`` and ``max_bytes``.

    All writes are validated (and keys assigned) before the first batch is
    yielded, so bad input fails before any request.
    """
    if not 1 <= max_writes <= MAX_WRITES_PER_BATCH:
        raise InvalidArgumentError(f"max_writes must be in 1..{MAX_WRITES_PER_BATCH}")
    wired = [_wire(w) for w in writes]
    batch: list[dict[str, Any]] = []
    size = 0
    for item in wired:
        item_size = len(dump_json(item))
        if item_size > max_bytes:
            raise InvalidRecordError(
                f"a record of {item_size} bytes exceeds the batch limit of {max_bytes}"
            )
        if batch and (len(batch) >= max_writes or size + item_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch


def build_apply_writes(repo: str, batch: list[dict[str, Any]], *, validate: bool) -> dict[str, Any]:
    """The applyWrites input body for one batch."""
    return {"repo": repo, "validate": bool(validate), "writes": batch}


def parse_apply_writes(repo: str, batch: list[dict[str, Any]], answer: Any) -> list[RecordUri]:
    """The URIs of a batch's writes, in order (deletes included)."""
    results = answer.get("results") if isinstance(answer, dict) else None
    uris: list[RecordUri] = []
    for i, item in enumerate(batch):
        result = results[i] if isinstance(results, list) and i < len(results) else None
        uri = result.get("uri") if isinstance(result, dict) else None
        if isinstance(uri, str):
            uris.append(RecordUri.parse(uri))
        elif item["$type"].endswith("#delete") or results is None:
            # Older servers send no results; the key was fixed client-side.
            uris.append(RecordUri(repo, item["collection"], item["rkey"]))
        else:
            raise InvalidResponseError(f"{_NS}: result {i} has no uri")
    return uris
