"""The open XRPC surface against the real PDS, and service proxying to a loopback AppView."""

from __future__ import annotations

from typing import Any

import pytest

from atmosphere import RetryPolicy, ServerError, XrpcError
from tests.support.appview import FAIL, PROCEDURE, QUERY, AppView
from tests.support.flavours import Flavour
from tests.support.pds import PdsProcess

FAST = RetryPolicy(max_attempts=2, backoff_base=0.0, backoff_max=0.0, jitter=0.0)


@pytest.fixture
def alice(flavour: Flavour, pds: PdsProcess) -> Any:
    client = flavour.client(pds.pds_url, plc_url=pds.plc_url, retry=FAST)
    acct = pds.account("alice.test")
    client.login(acct.handle, acct.password)
    yield client
    client.close()


def test_any_query_and_procedure(alice: Any) -> None:
    described = alice.query("com.atproto.repo.describeRepo", {"repo": alice.did})
    assert described["did"] == alice.did
    made = alice.procedure(
        "com.atproto.repo.createRecord",
        {
            "repo": alice.did,
            "collection": "com.example.atmosphere.generic",
            "record": {"$type": "com.example.atmosphere.generic", "n": 1},
            "validate": False,
        },
    )
    assert made["uri"].startswith(f"at://{alice.did}/com.example.atmosphere.generic/")
    got = alice.query(
        "com.atproto.repo.getRecord",
        {
            "repo": alice.did,
            "collection": "com.example.atmosphere.generic",
            "rkey": made["uri"].rsplit("/", 1)[1],
        },
    )
    assert got["value"]["n"] == 1


def test_a_repo_streams_as_a_car_file(alice: Any) -> None:
    alice.create_record("com.example.atmosphere.car", {"$type": "com.example.atmosphere.car"})
    data = b"".join(alice.iter_query("com.atproto.sync.getRepo", {"did": alice.did}))
    assert len(data) > 100
    assert data[0] > 0  # a CAR file starts with the varint length of its header
    assert b"roots" in data[:200]
    assert alice.query_bytes("com.atproto.sync.getRepo", {"did": alice.did}) == data


def test_a_pds_error_is_typed(alice: Any) -> None:
    with pytest.raises(XrpcError) as info:
        alice.query("com.atproto.repo.describeRepo", {"repo": "did:plc:unknownunknownunknown"})
    assert info.value.status == 400


def test_proxied_query_and_procedure_reach_the_appview(alice: Any, appview: AppView) -> None:
    answer = alice.query(QUERY, {"uris": ["at://x/y/z"]}, proxy=appview.proxy_header)
    assert answer["viewer"] == alice.did
    assert answer["params"] == {"uris": ["at://x/y/z"]}
    posted = alice.procedure(PROCEDURE, {"name": "entry"}, proxy=appview.proxy_header)
    assert posted["viewer"] == alice.did
    assert posted["input"] == {"name": "entry"}
    claims = [r.auth.claims for r in appview.received if r.auth is not None]
    assert [c["lxm"] for c in claims] == [QUERY, PROCEDURE]
    assert all(c["iss"] == alice.did and c["aud"] == appview.did for c in claims)


def test_a_direct_query_to_the_appview_is_unauthenticated(alice: Any, appview: AppView) -> None:
    answer = alice.query(QUERY, {"uris": ["at://x/y/z"]}, service_url=appview.url)
    assert answer["viewer"] is None
    (received,) = appview.received
    assert "authorization" not in received.headers


def test_appview_errors_reach_the_caller_typed(alice: Any, appview: AppView) -> None:
    with pytest.raises(XrpcError) as info:
        alice.query(
            FAIL,
            {"status": 404, "error": "EntryNotFound", "message": "no such entry"},
            proxy=appview.proxy_header,
        )
    assert (info.value.status, info.value.error) == (404, "EntryNotFound")
    assert alice.is_authenticated  # an AppView's refusal is not the session's


def test_appview_down_is_a_server_error(flavour: Flavour, pds: PdsProcess, alice: Any) -> None:
    with (
        AppView(plc_url=pds.plc_url, endpoint="http://localhost:9") as down,
        pytest.raises(ServerError) as info,
    ):
        alice.query(QUERY, proxy=down.proxy_header)
    assert info.value.status == 502
    assert info.value.error == "UpstreamFailure"
