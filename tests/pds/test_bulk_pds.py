"""Bulk writes against the real PDS: create_records and apply_writes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from atmosphere import (
    AtmosphereClient,
    Create,
    Delete,
    PartialWriteError,
    RecordNotFoundError,
    Update,
    XrpcError,
)
from tests.support.flavours import Flavour
from tests.support.pds import PdsProcess

pytestmark = pytest.mark.pds

C = "com.example.atmosphere.bulk"


@pytest.fixture
def client(pds: PdsProcess, flavour: Flavour) -> Iterator[AtmosphereClient]:
    """Both clients (the ``flavour`` fixture); the async one through a sync view."""
    acct = pds.account("bob.test")
    with flavour.client(pds.pds_url, plc_url=pds.plc_url) as c:
        c.login(acct.handle, acct.password)
        yield c


def test_create_records_batches_and_keeps_order(client: AtmosphereClient) -> None:
    records = [{"$type": C, "i": i} for i in range(450)]
    uris = client.create_records(C, records)
    try:
        assert len(uris) == 450
        assert all(u.authority == client.did and u.collection == C for u in uris)
        for i in (0, 199, 200, 449):
            assert client.get_record(uris[i])["i"] == i
        listed = {r["uri"] for r in client.iter_records(C)}
        assert {str(u) for u in uris} <= listed
    finally:
        client.apply_writes([Delete(C, u.rkey) for u in uris if u.rkey])
    assert list(client.iter_records(C)) == []


def test_apply_writes_mixed(client: AtmosphereClient) -> None:
    first = client.create_record(C, {"$type": C, "v": "old"}, rkey="mixed-a")
    assert first.rkey
    uris = client.apply_writes(
        [
            Update(C, "mixed-a", {"$type": C, "v": "new"}),
            Create(C, {"$type": C, "v": "created"}, rkey="mixed-b"),
            Create(C, {"$type": C, "v": "tid"}),
            Delete(C, "mixed-b"),
        ]
    )
    assert [u.rkey for u in uris[:2]] == ["mixed-a", "mixed-b"]
    assert [u.rkey for u in uris[3:]] == ["mixed-b"]
    assert client.get_record(uris[0])["v"] == "new"
    assert client.get_record(uris[2])["v"] == "tid"
    with pytest.raises(RecordNotFoundError):
        client.get_record(uris[3])
    client.apply_writes([Delete(C, "mixed-a"), Delete(C, str(uris[2].rkey))])


def test_failed_later_batch_reports_what_was_applied(client: AtmosphereClient) -> None:
    # Batch 1 is fine; batch 2 re-creates a key that batch 1 created, which the PDS refuses.
    writes = [Create(C, {"$type": C, "i": i}, rkey=f"part-{i}") for i in range(3)]
    writes.append(Create(C, {"$type": C, "i": 0}, rkey="part-0"))
    with pytest.raises(PartialWriteError) as info:
        client.apply_writes(writes, batch_size=3)
    err = info.value
    assert [u.rkey for u in err.applied] == ["part-0", "part-1", "part-2"]
    assert err.total == 4
    assert isinstance(err.__cause__, XrpcError)
    client.apply_writes([Delete(C, f"part-{i}") for i in range(3)])
