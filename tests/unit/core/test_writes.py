"""Bulk-write batching and result parsing (pure; the PDS side is in test_bulk_pds.py)."""

from __future__ import annotations

import pytest

from atmosphere import AtUri, Create, Delete, InvalidArgumentError, Update
from atmosphere._syntax import is_valid_tid
from atmosphere._writes import (
    MAX_WRITES_PER_BATCH,
    batch_writes,
    build_apply_writes,
    parse_apply_writes,
)
from atmosphere.errors import InvalidIdentifierError, InvalidRecordError, InvalidResponseError

C = "com.example.bulk"
DID = "did:plc:abcdefghijklmnopqrstuvwx"


def rec(**fields: object) -> dict[str, object]:
    return {"$type": C, **fields}


def test_operations_validate_on_construction() -> None:
    with pytest.raises(InvalidIdentifierError):
        Create("not an nsid", rec())
    with pytest.raises(InvalidRecordError):
        Create(C, {"$type": "com.example.other"})
    with pytest.raises(InvalidRecordError):
        Update(C, "k", {"no": "type"})
    with pytest.raises(InvalidIdentifierError):
        Delete(C, "..")
    with pytest.raises(InvalidIdentifierError):
        Create(C, rec(), rkey="bad key")


def test_wire_form_and_client_side_keys() -> None:
    [batch] = list(batch_writes([Create(C, rec(i=1)), Update(C, "u", rec(i=2)), Delete(C, "d")]))
    create, update, delete = batch
    assert create["$type"] == "com.atproto.repo.applyWrites#create"
    assert is_valid_tid(create["rkey"])  # chosen here, so a resent batch cannot duplicate
    assert create["value"] == rec(i=1)
    assert update == {
        "$type": "com.atproto.repo.applyWrites#update",
        "collection": C,
        "rkey": "u",
        "value": rec(i=2),
    }
    assert delete == {"$type": "com.atproto.repo.applyWrites#delete", "collection": C, "rkey": "d"}
    assert build_apply_writes(DID, batch, validate=False) == {
        "repo": DID,
        "validate": False,
        "writes": batch,
    }


def test_batches_respect_count_and_keep_order() -> None:
    writes = [Create(C, rec(i=i)) for i in range(450)]
    batches = list(batch_writes(writes))
    assert [len(b) for b in batches] == [MAX_WRITES_PER_BATCH, MAX_WRITES_PER_BATCH, 50]
    values = [w["value"]["i"] for b in batches for w in b]
    assert values == list(range(450))
    keys = [w["rkey"] for b in batches for w in b]
    assert keys == sorted(keys)
    assert len(set(keys)) == 450


def test_batches_respect_size() -> None:
    big = "x" * 300_000
    batches = list(batch_writes([Create(C, rec(s=big)) for _ in range(7)], max_bytes=1 << 20))
    assert [len(b) for b in batches] == [3, 3, 1]
    with pytest.raises(InvalidRecordError):
        list(batch_writes([Create(C, rec(s="y" * 2_000_000))]))


def test_batch_size_bounds() -> None:
    for bad in (0, 201):
        with pytest.raises(InvalidArgumentError):
            list(batch_writes([Delete(C, "a")], max_writes=bad))
    with pytest.raises(InvalidArgumentError):
        list(batch_writes(["not a write"]))  # type: ignore[list-item]


def test_parse_results_in_order() -> None:
    [batch] = list(
        batch_writes([Create(C, rec(), rkey="a"), Delete(C, "b"), Update(C, "c", rec())])
    )
    answer = {
        "results": [
            {"$type": "com.atproto.repo.applyWrites#createResult", "uri": f"at://{DID}/{C}/a"},
            {"$type": "com.atproto.repo.applyWrites#deleteResult"},
            {"$type": "com.atproto.repo.applyWrites#updateResult", "uri": f"at://{DID}/{C}/c"},
        ]
    }
    assert parse_apply_writes(DID, batch, answer) == [
        AtUri.make(DID, C, "a"),
        AtUri.make(DID, C, "b"),
        AtUri.make(DID, C, "c"),
    ]
    # A server that sends no results: the keys were fixed client-side.
    assert [u.rkey for u in parse_apply_writes(DID, batch, {})] == ["a", "b", "c"]
    with pytest.raises(InvalidResponseError):
        parse_apply_writes(DID, batch, {"results": [{}, {}, {}]})
