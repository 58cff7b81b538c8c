"""Unit tests for ``AtmosphereClient`` against the in-memory fake PDS (no network).

Every test runs on both flavours (the ``flavour`` fixture): the generated
``AtmosphereClient`` and its source, ``AsyncAtmosphereClient``.
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from atmosphere import (
    AtmosphereClient,
    AtUri,
    IdentityResolver,
    RecordPage,
    RecordUri,
    compute_cid,
)
from atmosphere.errors import (
    AtmosphereError,
    AuthenticationError,
    BlobNotFoundError,
    HandleResolutionError,
    IntegrityError,
    InvalidArgumentError,
    InvalidIdentifierError,
    InvalidRecordError,
    InvalidSessionError,
    InvalidSwapError,
    InvalidTokenError,
    NotAuthenticatedError,
    RecordNotFoundError,
    SessionRefreshError,
    TransportError,
)
from tests.support.async_facade import unwrap
from tests.support.fake_pds import (
    Account,
    FakePds,
    FakePlc,
    blob_cid,
    did_document,
    make_jwt,
    record_cid,
    route_by_host,
)
from tests.support.flavours import Flavour, NoDns

PDS_URL = "https://pds.test"
PASSWORD = "correct horse battery staple"
NS = "ac.foundation.dataset"
DATASET = f"{NS}.record"
SCHEMA = f"{NS}.sampleSchema"
LENS = f"{NS}.lens"

CREATE_SESSION = "com.atproto.server.createSession"
GET_SESSION = "com.atproto.server.getSession"
REFRESH = "com.atproto.server.refreshSession"
CREATE = "com.atproto.repo.createRecord"
PUT = "com.atproto.repo.putRecord"
GET = "com.atproto.repo.getRecord"
DELETE = "com.atproto.repo.deleteRecord"
LIST = "com.atproto.repo.listRecords"
UPLOAD = "com.atproto.repo.uploadBlob"
GET_BLOB = "com.atproto.sync.getBlob"


def rec(collection: str = DATASET, **fields: Any) -> dict[str, Any]:
    return {"$type": collection, **fields}


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
def fake() -> FakePds:
    fake = FakePds(PDS_URL)
    fake.add_account("alice.test", PASSWORD, email="alice@mail.test")
    return fake


@pytest.fixture
def alice(fake: FakePds) -> Account:
    return next(iter(fake.accounts.values()))


@pytest.fixture
def http(fake: FakePds, flavour: Flavour) -> httpx.Client:
    """The fake PDS behind an HTTP client of the test's flavour."""
    return flavour.http(fake)  # type: ignore[no-any-return]


@pytest.fixture
def client(http: httpx.Client, flavour: Flavour) -> Iterator[AtmosphereClient]:
    with flavour.client(PDS_URL, _client=http) as client:
        yield client


@pytest.fixture
def logged_in(client: AtmosphereClient, fake: FakePds) -> AtmosphereClient:
    client.login("alice.test", PASSWORD)
    fake.requests.clear()
    fake.calls.clear()
    return client


@dataclass
class World:
    """Alice on her PDS, Bob on another; a PLC directory knows both."""

    home: FakePds
    away: FakePds
    plc: FakePlc
    alice: Account
    bob: Account
    http: httpx.Client
    resolver: IdentityResolver
    client: AtmosphereClient


@pytest.fixture
def world(flavour: Flavour) -> Iterator[World]:
    home = FakePds("https://pds.test")
    alice = home.add_account("alice.test", PASSWORD)
    away = FakePds("https://pds2.test")
    bob = away.add_account("bob.test", "bob's password")
    plc = FakePlc("https://plc.test")
    plc.register(home, alice)
    plc.register(away, bob)
    http = flavour.http(route_by_host(home, away))
    lookups = flavour.http(route_by_host(plc, home, away))
    with (
        flavour.resolver(http=lookups, dns_resolver=NoDns(), plc_url=plc.url) as resolver,
        flavour.client(home.url, _client=http, resolver=resolver) as client,
    ):
        client.login("alice.test", PASSWORD)
        home.requests.clear()
        home.calls.clear()
        yield World(home, away, plc, alice, bob, http, resolver, client)


# -- construction, properties, lifecycle -----------------------------------------------


def test_fresh_client_state(flavour: Flavour, client: AtmosphereClient) -> None:
    assert client.is_authenticated is False
    assert client.pds_url == PDS_URL
    assert client.rate_limit is None
    assert isinstance(unwrap(client.resolver), flavour.IdentityResolver)
    assert client.namespace == NS


@pytest.mark.parametrize("attr", ["did", "handle"])
def test_identity_properties_need_a_session(client: AtmosphereClient, attr: str) -> None:
    with pytest.raises(NotAuthenticatedError) as info:
        getattr(client, attr)
    assert isinstance(info.value, ValueError)


def test_export_session_needs_a_session(client: AtmosphereClient) -> None:
    with pytest.raises(NotAuthenticatedError):
        client.export_session()
    with pytest.raises(ValueError):  # the seed API documents ValueError
        client.export_session()


def test_writes_need_a_session(client: AtmosphereClient, fake: FakePds) -> None:
    with pytest.raises(NotAuthenticatedError):
        client.create_record(DATASET, rec())
    with pytest.raises(NotAuthenticatedError):
        client.put_record(DATASET, "self", rec())
    with pytest.raises(NotAuthenticatedError):
        client.delete_record(f"at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/{DATASET}/self")
    with pytest.raises(NotAuthenticatedError):
        client.list_records(DATASET)
    with pytest.raises(NotAuthenticatedError):
        client.upload_blob(b"data")
    assert fake.requests == []


@pytest.mark.parametrize("base_url", ["pds.test", "ftp://pds.test", ""])
def test_base_url_must_be_http(flavour: Flavour, base_url: str) -> None:
    with pytest.raises(InvalidArgumentError):
        flavour.client(base_url)


def test_namespace_must_be_nsid_like(flavour: Flavour, http: httpx.Client) -> None:
    with pytest.raises(InvalidIdentifierError):
        flavour.client(PDS_URL, _client=http, namespace="not a namespace")


def test_owned_http_client_is_closed(flavour: Flavour) -> None:
    with flavour.client(PDS_URL) as client:
        owned = client._http
        assert not owned.is_closed
    assert owned.is_closed


def test_injected_http_client_and_resolver_stay_open(flavour: Flavour, world: World) -> None:
    world.client.close()
    assert not world.http.is_closed
    # The injected resolver (and its HTTP client) still works.
    assert world.resolver.resolve_pds(world.bob.did) == world.away.url
    response = flavour.wrap(world.http).get(f"{world.home.url}/xrpc/{GET_SESSION}")
    assert response.status_code == 401


def test_injected_resolver_is_not_closed(flavour: Flavour) -> None:
    resolver = flavour.resolver()  # owns its HTTP client; never used for a request here
    with flavour.client(PDS_URL, resolver=resolver) as client:
        assert unwrap(client.resolver) is unwrap(resolver)
    assert not resolver._http.is_closed
    resolver.close()
    assert resolver._http.is_closed


def test_repr_shows_no_secrets(client: AtmosphereClient, alice: Account) -> None:
    assert "unauthenticated" in repr(client)
    client.login("alice.test", PASSWORD)
    access, refresh, _ = client.export_session().split(":::")[2:]
    text = repr(client)
    assert alice.did in text
    assert PDS_URL in text
    for secret in (access, refresh, PASSWORD):
        assert secret not in text
        assert secret not in str(client)


# -- login -----------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", ["alice.test", "ALICE.test", "alice@mail.test", "did"])
def test_login(client: AtmosphereClient, fake: FakePds, alice: Account, identifier: str) -> None:
    identifier = alice.did if identifier == "did" else identifier
    client.login(identifier, PASSWORD)
    assert client.is_authenticated
    assert client.did == alice.did
    assert client.handle == "alice.test"
    assert client.pds_url == PDS_URL
    (sent,) = fake.requests
    assert sent.method == "POST"
    assert sent.nsid == CREATE_SESSION
    assert sent.json() == {"identifier": identifier, "password": PASSWORD}
    assert "authorization" not in sent.headers


def test_bad_password(client: AtmosphereClient, fake: FakePds) -> None:
    with pytest.raises(AuthenticationError) as info:
        client.login("alice.test", "wrong password")
    assert info.value.status == 401
    assert info.value.error == "AuthenticationRequired"
    assert "wrong password" not in str(info.value)
    assert "wrong password" not in repr(info.value)
    assert not client.is_authenticated
    assert fake.calls[CREATE_SESSION] == 1


@pytest.mark.parametrize(
    ("handle", "password"), [("", PASSWORD), ("alice.test", ""), ("alice.test", None)]
)
def test_login_refuses_empty_credentials(
    client: AtmosphereClient, fake: FakePds, handle: str, password: Any
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        client.login(handle, password)
    assert PASSWORD not in str(info.value)
    assert fake.requests == []


def test_login_follows_the_did_doc_to_the_real_pds(flavour: Flavour) -> None:
    entryway = FakePds("https://entryway.test")
    shard = FakePds("https://shard.test")
    alice = shard.add_account("alice.test", PASSWORD)
    access, refresh = shard.issue_tokens(alice.did)
    entryway.inject(
        CREATE_SESSION,
        httpx.Response(
            200,
            json={
                "did": alice.did,
                "handle": alice.handle,
                "accessJwt": access,
                "refreshJwt": refresh,
                "didDoc": did_document(alice.did, alice.handle, shard.url),
            },
        ),
    )
    http = flavour.http(route_by_host(entryway, shard))
    with flavour.client(entryway.url, _client=http) as client:
        client.login("alice.test", PASSWORD)
        assert client.pds_url == shard.url
        client.create_record(DATASET, rec(name="x"))
    assert shard.calls[CREATE] == 1
    assert entryway.calls[CREATE] == 0


def test_login_without_base_url_resolves_the_pds(flavour: Flavour, world: World) -> None:
    with flavour.client(_client=world.http, resolver=world.resolver) as client:
        client.login("bob.test", "bob's password")
        assert client.did == world.bob.did
        assert client.pds_url == world.away.url
    assert world.away.calls[CREATE_SESSION] == 1
    assert world.home.calls[CREATE_SESSION] == 0


def test_login_by_did_without_base_url(flavour: Flavour, world: World) -> None:
    with flavour.client(_client=world.http, resolver=world.resolver) as client:
        client.login(world.bob.did, "bob's password")
        assert client.handle == "bob.test"
    assert world.away.calls[CREATE_SESSION] == 1


def test_login_never_falls_back_to_bsky_social(flavour: Flavour, world: World) -> None:
    bsky = FakePds("https://bsky.social")
    bsky.add_account("carol.test", "carol's password")  # its handle does not resolve
    http = flavour.http(route_by_host(bsky))
    with (
        flavour.client(_client=http, resolver=world.resolver) as client,
        pytest.raises(HandleResolutionError, match=r"carol\.test"),
    ):
        client.login("carol.test", "carol's password")
    assert bsky.calls[CREATE_SESSION] == 0


def test_logout_revokes_the_refresh_token(logged_in: AtmosphereClient, fake: FakePds) -> None:
    refresh = logged_in.export_session().split(":::")[3]
    logged_in.logout()
    assert not logged_in.is_authenticated
    (sent,) = fake.requests
    assert sent.nsid == "com.atproto.server.deleteSession"
    assert sent.bearer == refresh
    with pytest.raises(NotAuthenticatedError):
        logged_in.logout()


# -- sessions --------------------------------------------------------------------------


def test_export_import_round_trip(
    flavour: Flavour, logged_in: AtmosphereClient, http: httpx.Client, fake: FakePds, alice: Account
) -> None:
    saved = logged_in.export_session()
    handle, did, access, refresh, pds = saved.split(":::")
    assert (handle, did, pds) == ("alice.test", alice.did, PDS_URL)
    assert access.count(".") == refresh.count(".") == 2
    with flavour.client(_client=http) as restored:
        restored.login_with_session(saved)
        assert restored.did == alice.did
        assert restored.handle == "alice.test"
        assert restored.pds_url == PDS_URL
        assert restored.export_session() == saved
        restored.create_record(DATASET, rec(name="restored"))
    assert fake.calls[CREATE_SESSION] == 0  # the password was not sent again
    assert fake.calls[GET_SESSION] == 1
    assert fake.sent(GET_SESSION)[0].bearer == access


def test_login_with_four_field_session_uses_bsky_social(flavour: Flavour) -> None:
    bsky = FakePds("https://bsky.social")
    alice = bsky.add_account("alice.test", PASSWORD)
    access, refresh = bsky.issue_tokens(alice.did)
    http = flavour.http(route_by_host(bsky))
    with flavour.client(_client=http) as client:
        client.login_with_session(f"alice.test:::{alice.did}:::{access}:::{refresh}")
        assert client.pds_url == "https://bsky.social"
        assert client.did == alice.did
        assert client.export_session().endswith(":::https://bsky.social")
    assert bsky.calls[GET_SESSION] == 1


def test_restored_session_with_expired_access_token_is_refreshed(
    flavour: Flavour, http: httpx.Client, fake: FakePds, alice: Account
) -> None:
    saved = fake.session_string(alice, access_exp=time.time() - 60)
    changes: list[str] = []
    with flavour.client(_client=http, on_session_change=changes.append) as client:
        client.login_with_session(saved)
        assert client.is_authenticated
        assert fake.calls[REFRESH] == 1
        now = client.export_session()
    assert now != saved
    assert changes == [now]
    assert now.split(":::")[3] != saved.split(":::")[3]  # the rotated refresh token
    (check,) = fake.sent(GET_SESSION)
    assert check.bearer == now.split(":::")[2]


def test_restored_session_refreshed_on_expired_token_answer(
    flavour: Flavour, http: httpx.Client, fake: FakePds, alice: Account
) -> None:
    saved = fake.session_string(alice)
    fake.expire_access_tokens()
    with flavour.client(_client=http) as client:
        client.login_with_session(saved)
        assert client.did == alice.did
    assert fake.calls[REFRESH] == 1
    assert fake.calls[GET_SESSION] == 2


def test_restored_session_with_revoked_refresh_token(
    flavour: Flavour, http: httpx.Client, fake: FakePds, alice: Account
) -> None:
    saved = fake.session_string(alice, access_exp=time.time() - 60)
    fake.revoke_refresh_tokens()
    changes: list[str] = []
    with flavour.client(_client=http, on_session_change=changes.append) as client:
        with pytest.raises(SessionRefreshError) as info:
            client.login_with_session(saved)
        assert "revoked" in str(info.value)
        for token in saved.split(":::")[2:4]:
            assert token not in str(info.value)
        assert not client.is_authenticated
        with pytest.raises(NotAuthenticatedError):
            client.did  # noqa: B018
    assert changes == []


def test_restored_session_rejected_by_the_server(
    flavour: Flavour, http: httpx.Client, fake: FakePds, alice: Account
) -> None:
    forged = fake.session_string(alice).split(":::")
    forged[2] = make_jwt({"sub": alice.did, "exp": time.time() + 3600})  # unknown to the PDS
    with flavour.client(_client=http) as client:
        with pytest.raises(InvalidTokenError):
            client.login_with_session(":::".join(forged))
        assert not client.is_authenticated
    assert fake.calls[REFRESH] == 0


def test_restored_session_picks_up_a_new_handle(
    flavour: Flavour, http: httpx.Client, fake: FakePds, alice: Account
) -> None:
    saved = fake.session_string(alice)
    alice.handle = "alice2.test"
    with flavour.client(_client=http) as client:
        client.login_with_session(saved)
        assert client.handle == "alice2.test"


@pytest.mark.parametrize("text", ["", "garbage", "a:::b:::c", "alice.test:::did:plc:x"])
def test_malformed_session_string(client: AtmosphereClient, fake: FakePds, text: str) -> None:
    with pytest.raises(InvalidSessionError):
        client.login_with_session(text)
    assert fake.requests == []
    assert not client.is_authenticated


def test_on_session_change_after_login_and_refresh(
    flavour: Flavour, http: httpx.Client, fake: FakePds
) -> None:
    changes: list[str] = []
    with flavour.client(PDS_URL, _client=http, on_session_change=changes.append) as client:
        client.login("alice.test", PASSWORD)
        assert changes == [client.export_session()]
        fake.expire_access_tokens()
        client.create_record(DATASET, rec(name="after expiry"))
        assert len(changes) == 2
        assert changes[1] == client.export_session() != changes[0]
    assert fake.calls[REFRESH] == 1
    assert fake.calls[CREATE] == 2  # rejected once, resent once
    assert len(next(iter(fake.accounts.values())).records[DATASET]) == 1


# -- records ---------------------------------------------------------------------------


def test_create_record_without_rkey(
    logged_in: AtmosphereClient, fake: FakePds, alice: Account
) -> None:
    record = rec(name="ImageSample", version="1.0.0")
    uri = logged_in.create_record(DATASET, record)
    assert isinstance(uri, AtUri)
    assert type(uri) is RecordUri  # collection and rkey typed str, never None
    assert uri.authority == alice.did
    assert uri.collection == DATASET
    assert uri.rkey in alice.records[DATASET]
    (sent,) = fake.requests
    assert sent.nsid == CREATE
    assert sent.headers["content-type"] == "application/json"
    assert sent.json() == {
        "repo": alice.did,
        "collection": DATASET,
        "record": record,
        "validate": False,
    }


def test_create_record_with_rkey_and_validate(
    logged_in: AtmosphereClient, fake: FakePds, alice: Account
) -> None:
    uri = logged_in.create_record(SCHEMA, rec(SCHEMA, name="s"), rkey="schema-1", validate=True)
    assert uri == f"at://{alice.did}/{SCHEMA}/schema-1"
    body = fake.requests[0].json()
    assert body["rkey"] == "schema-1"
    assert body["validate"] is True


def test_put_record_creates_and_updates(
    logged_in: AtmosphereClient, fake: FakePds, alice: Account
) -> None:
    uri = logged_in.put_record(DATASET, "self", rec(v=1))
    assert uri == f"at://{alice.did}/{DATASET}/self"
    assert type(uri) is RecordUri
    logged_in.put_record(DATASET, "self", rec(v=2))
    assert logged_in.get_record(uri) == rec(v=2)
    body = fake.sent(PUT)[0].json()
    assert body == {
        "repo": alice.did,
        "collection": DATASET,
        "rkey": "self",
        "record": rec(v=1),
        "validate": False,
    }


def test_put_record_swap_commit(logged_in: AtmosphereClient, fake: FakePds, alice: Account) -> None:
    logged_in.put_record(DATASET, "self", rec(v=1))
    stale = alice.head
    logged_in.put_record(DATASET, "self", rec(v=2), swap_commit=stale)
    assert fake.sent(PUT)[-1].json()["swapCommit"] == stale
    with pytest.raises(InvalidSwapError) as info:
        logged_in.put_record(DATASET, "self", rec(v=3), swap_commit=stale)
    assert info.value.error == "InvalidSwap"
    assert alice.records[DATASET]["self"][1] == rec(v=2)


def test_put_record_swap_record(logged_in: AtmosphereClient, alice: Account) -> None:
    logged_in.put_record(DATASET, "self", rec(v=1))
    current = alice.records[DATASET]["self"][0]
    logged_in.put_record(DATASET, "self", rec(v=2), swap_record=current)
    with pytest.raises(InvalidSwapError):
        logged_in.put_record(DATASET, "self", rec(v=3), swap_record=current)
    assert alice.records[DATASET]["self"][1] == rec(v=2)


def test_get_record(logged_in: AtmosphereClient, fake: FakePds, alice: Account) -> None:
    uri = fake.add_record(alice, DATASET, rec(name="d"), rkey="abc")
    assert logged_in.get_record(uri) == rec(name="d")
    assert logged_in.get_record(AtUri.parse(uri)) == rec(name="d")
    assert logged_in.get_record(f"at://alice.test/{DATASET}/abc") == rec(name="d")
    first = fake.sent(GET)[0]
    assert first.params == {"repo": [alice.did], "collection": [DATASET], "rkey": ["abc"]}


def test_get_missing_record(logged_in: AtmosphereClient, alice: Account) -> None:
    with pytest.raises(RecordNotFoundError) as info:
        logged_in.get_record(f"at://{alice.did}/{DATASET}/nope")
    assert info.value.status == 400


def test_delete_record(logged_in: AtmosphereClient, fake: FakePds, alice: Account) -> None:
    uri = logged_in.create_record(DATASET, rec())
    logged_in.delete_record(uri)
    assert alice.records[DATASET] == {}
    assert fake.sent(DELETE)[0].json() == {
        "repo": alice.did,
        "collection": DATASET,
        "rkey": uri.rkey,
    }
    with pytest.raises(RecordNotFoundError):
        logged_in.get_record(uri)
    logged_in.delete_record(str(uri))  # deleting a missing record is not an error


def test_delete_record_swap_commit(logged_in: AtmosphereClient, alice: Account) -> None:
    uri = logged_in.create_record(DATASET, rec())
    with pytest.raises(InvalidSwapError):
        logged_in.delete_record(uri, swap_commit=record_cid({"stale": True}))
    assert uri.rkey in alice.records[DATASET]
    logged_in.delete_record(uri, swap_commit=alice.head)
    assert alice.records[DATASET] == {}


def test_delete_refuses_another_accounts_record(world: World) -> None:
    theirs = world.away.add_record(world.bob, DATASET, rec(), rkey="same")
    mine = world.home.add_record(world.alice, DATASET, rec(), rkey="same")
    for uri in (theirs, f"at://bob.test/{DATASET}/same"):
        with pytest.raises(InvalidArgumentError) as info:
            world.client.delete_record(uri)
        assert isinstance(info.value, ValueError)
    assert world.home.requests == []
    assert world.away.requests == []
    assert "same" in world.alice.records[DATASET]
    assert "same" in world.bob.records[DATASET]
    world.client.delete_record(mine)
    assert world.alice.records[DATASET] == {}


# -- listing ---------------------------------------------------------------------------


def fill(fake: FakePds, account: Account, collection: str, n: int) -> list[str]:
    """Add ``n`` records; return their URIs newest first."""
    uris = [fake.add_record(account, collection, rec(collection, i=i)) for i in range(n)]
    return uris[::-1]


def test_list_records_returns_values(
    logged_in: AtmosphereClient, fake: FakePds, alice: Account
) -> None:
    fill(fake, alice, DATASET, 3)
    records, cursor = logged_in.list_records(DATASET)
    assert cursor is None
    assert records == [rec(i=2), rec(i=1), rec(i=0)]  # values, as atdata's client returns
    (sent,) = fake.requests
    assert sent.params == {"repo": [alice.did], "collection": [DATASET], "limit": ["100"]}
    assert sent.bearer is not None


def test_list_record_page_keeps_uris_and_cids(
    logged_in: AtmosphereClient, fake: FakePds, alice: Account
) -> None:
    uris = fill(fake, alice, DATASET, 3)
    page = logged_in.list_record_page(DATASET, limit=2)
    assert isinstance(page, RecordPage)
    assert [r["uri"] for r in page.records] == uris[:2]
    assert page.records[0] == {"uri": uris[0], "cid": record_cid(rec(i=2)), "value": rec(i=2)}
    assert page.cursor is not None
    records, cursor = logged_in.list_record_page(DATASET, limit=2, cursor=page.cursor)
    assert [r["uri"] for r in records] == uris[2:]
    assert cursor is None
    assert fake.sent(LIST)[1].params["cursor"] == [page.cursor]


def test_list_record_page_checks_its_arguments(logged_in: AtmosphereClient, fake: FakePds) -> None:
    with pytest.raises(InvalidArgumentError):
        logged_in.list_record_page(DATASET, limit=101)
    with pytest.raises(InvalidIdentifierError):
        logged_in.list_record_page("not an nsid")
    assert fake.requests == []


def test_list_records_cursor_partial_last_page(
    logged_in: AtmosphereClient, fake: FakePds, alice: Account
) -> None:
    uris = fill(fake, alice, DATASET, 3)
    first, cursor = logged_in.list_records(DATASET, limit=2)
    assert first == [rec(i=2), rec(i=1)]
    assert len(uris) == 3
    assert cursor is not None
    second, cursor2 = logged_in.list_records(DATASET, limit=2, cursor=cursor)
    assert second == [rec(i=0)]
    assert cursor2 is None  # the PDS sent a cursor, but a short page is the last one
    assert fake.sent(LIST)[1].params["cursor"] == [cursor]


def test_list_records_cursor_full_last_page(
    logged_in: AtmosphereClient, fake: FakePds, alice: Account
) -> None:
    fill(fake, alice, DATASET, 4)
    _, cursor = logged_in.list_records(DATASET, limit=2)
    page, cursor = logged_in.list_records(DATASET, limit=2, cursor=cursor)
    assert len(page) == 2
    assert cursor is not None
    page, cursor = logged_in.list_records(DATASET, limit=2, cursor=cursor)
    assert (page, cursor) == ([], None)


def test_list_records_empty_collection(logged_in: AtmosphereClient) -> None:
    assert logged_in.list_records(LENS) == ([], None)


@pytest.mark.parametrize("limit", [0, -1, 101, 1000, True, 2.5, "10"])
def test_list_records_limit_out_of_range(
    logged_in: AtmosphereClient, fake: FakePds, limit: Any
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        logged_in.list_records(DATASET, limit=limit)
    assert isinstance(info.value, ValueError)
    assert fake.requests == []


@pytest.mark.parametrize("limit", [1, 100])
def test_list_records_limit_bounds_are_allowed(
    logged_in: AtmosphereClient, fake: FakePds, limit: int
) -> None:
    logged_in.list_records(DATASET, limit=limit)
    assert fake.requests[0].params["limit"] == [str(limit)]


@pytest.mark.parametrize(("n", "pages"), [(250, 3), (200, 3), (0, 1)])
def test_iter_records_walks_every_page(
    logged_in: AtmosphereClient, fake: FakePds, alice: Account, n: int, pages: int
) -> None:
    uris = fill(fake, alice, DATASET, n)
    seen = [r["uri"] for r in logged_in.iter_records(DATASET)]
    assert seen == uris
    assert fake.calls[LIST] == pages
    assert all(r.params["limit"] == ["100"] for r in fake.sent(LIST))


def test_iter_records_page_size(logged_in: AtmosphereClient, fake: FakePds, alice: Account) -> None:
    uris = fill(fake, alice, DATASET, 7)
    assert [r["uri"] for r in logged_in.iter_records(DATASET, page_size=3)] == uris
    assert fake.calls[LIST] == 3


@pytest.mark.parametrize(
    ("method", "collection"),
    [("list_schemas", SCHEMA), ("list_datasets", DATASET), ("list_lenses", LENS)],
)
def test_atdata_listings_page_up_to_the_limit(
    logged_in: AtmosphereClient, fake: FakePds, alice: Account, method: str, collection: str
) -> None:
    fill(fake, alice, collection, 300)
    fill(fake, alice, "ac.foundation.dataset.other", 5)  # must not leak in
    records = getattr(logged_in, method)(limit=250)
    assert records == [rec(collection, i=i) for i in range(299, 49, -1)]  # values
    assert [r.params["limit"] for r in fake.sent(LIST)] == [["100"], ["100"], ["50"]]
    assert {r.params["collection"][0] for r in fake.sent(LIST)} == {collection}


def test_atdata_listing_stops_at_the_end(
    logged_in: AtmosphereClient, fake: FakePds, alice: Account
) -> None:
    fill(fake, alice, SCHEMA, 120)
    assert [r["i"] for r in logged_in.list_schemas(limit=250)] == list(range(119, -1, -1))
    assert fake.calls[LIST] == 2
    assert logged_in.list_datasets() == []
    assert len(logged_in.list_schemas()) == 100  # the default limit


def test_atdata_listing_limit_must_be_positive(logged_in: AtmosphereClient, fake: FakePds) -> None:
    for bad in (0, -3):
        with pytest.raises(InvalidArgumentError):
            logged_in.list_lenses(limit=bad)
    assert fake.requests == []


def test_custom_namespace(
    flavour: Flavour, http: httpx.Client, fake: FakePds, alice: Account
) -> None:
    fake.add_record(alice, "org.example.data.sampleSchema", rec("org.example.data.sampleSchema"))
    with flavour.client(PDS_URL, _client=http, namespace="org.example.data") as client:
        client.login("alice.test", PASSWORD)
        assert len(client.list_schemas()) == 1
        client.list_datasets()
        client.list_lenses()
    assert [r.params["collection"][0] for r in fake.sent(LIST)] == [
        "org.example.data.sampleSchema",
        "org.example.data.record",
        "org.example.data.lens",
    ]


# -- other accounts' repos -------------------------------------------------------------


def test_get_record_of_another_account_goes_to_its_pds(world: World) -> None:
    uri = world.away.add_record(world.bob, DATASET, rec(owner="bob"), rkey="b1")
    assert world.client.get_record(uri) == rec(owner="bob")
    (sent,) = world.away.sent(GET)
    assert sent.params["repo"] == [world.bob.did]
    assert "authorization" not in sent.headers  # alice's token never leaves her PDS
    assert world.home.requests == []
    assert world.plc.requests == [world.bob.did]


def test_get_record_by_handle_of_another_account(world: World) -> None:
    world.away.add_record(world.bob, DATASET, rec(owner="bob"), rkey="b1")
    assert world.client.get_record(f"at://bob.test/{DATASET}/b1") == rec(owner="bob")
    assert world.away.sent(GET)[0].params["repo"] == [world.bob.did]
    assert world.home.requests == []


def test_list_records_of_another_account(world: World) -> None:
    uris = fill(world.away, world.bob, DATASET, 3)
    for repo in (world.bob.did, "bob.test"):
        records, cursor = world.client.list_records(DATASET, repo=repo)
        assert records == [rec(i=2), rec(i=1), rec(i=0)]
        assert cursor is None
        page = world.client.list_record_page(DATASET, repo=repo)
        assert [r["uri"] for r in page.records] == uris
    assert all("authorization" not in r.headers for r in world.away.requests)
    assert world.home.requests == []


def test_iter_and_list_schemas_of_another_account(world: World) -> None:
    uris = fill(world.away, world.bob, SCHEMA, 150)
    assert [r["uri"] for r in world.client.iter_records(SCHEMA, repo=world.bob.did)] == uris
    schemas = world.client.list_schemas(repo=world.bob.did, limit=120)
    assert [r["i"] for r in schemas] == list(range(149, 29, -1))
    assert world.home.requests == []


def test_own_repo_by_did_or_handle_needs_no_resolution(world: World) -> None:
    fill(world.home, world.alice, DATASET, 2)
    for repo in (world.alice.did, "alice.test", "ALICE.TEST"):
        records, _ = world.client.list_records(DATASET, repo=repo)
        assert len(records) == 2
    assert world.plc.requests == []
    assert all(r.bearer is not None for r in world.home.requests)


def test_blob_of_another_account(world: World) -> None:
    data = b"bob's shard" * 100
    cid = blob_cid(data)
    world.away.blobs[cid] = (data, "application/x-tar")
    assert world.client.get_blob(world.bob.did, cid) == data
    assert world.client.get_blob_url(world.bob.did, cid) == (
        f"https://pds2.test/xrpc/{GET_BLOB}?did={world.bob.did.replace(':', '%3A')}&cid={cid}"
    )
    assert world.away.calls[GET_BLOB] == 1
    assert world.home.requests == []


def test_unresolvable_other_account(world: World) -> None:
    with pytest.raises(ValueError) as info:  # a ResolutionError
        world.client.get_record(f"at://did:plc:zzzzzzzzzzzzzzzzzzzzzzzz/{DATASET}/x")
    assert isinstance(info.value, AtmosphereError)
    assert world.home.requests == []
    assert world.away.requests == []


# -- blobs -----------------------------------------------------------------------------


def expected_ref(data: bytes, mime: str) -> dict[str, Any]:
    return {"$type": "blob", "ref": {"$link": blob_cid(data)}, "mimeType": mime, "size": len(data)}


def test_upload_blob_bytes(logged_in: AtmosphereClient, fake: FakePds) -> None:
    data = os.urandom(5000)
    ref = logged_in.upload_blob(data, "image/png")
    assert ref == expected_ref(data, "image/png")
    assert ref["ref"]["$link"] == compute_cid(data)
    (sent,) = fake.sent(UPLOAD)
    assert sent.nsid == UPLOAD
    assert sent.headers["content-type"] == "image/png"
    assert sent.headers["content-length"] == "5000"
    assert sent.body == data


def test_upload_blob_default_mime(logged_in: AtmosphereClient) -> None:
    assert logged_in.upload_blob(b"x")["mimeType"] == "application/octet-stream"


def test_upload_blob_from_path(logged_in: AtmosphereClient, fake: FakePds, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "shard-000000.tar"
    path.write_bytes(data)
    for source in (path, str(path)):
        assert logged_in.upload_blob(source, "application/x-tar") == expected_ref(
            data, "application/x-tar"
        )
    assert all(r.body == data for r in fake.sent(UPLOAD))
    assert all(r.headers["content-length"] == str(len(data)) for r in fake.sent(UPLOAD))
    assert all("transfer-encoding" not in r.headers for r in fake.sent(UPLOAD))


def test_upload_blob_from_file_object(
    logged_in: AtmosphereClient, fake: FakePds, tmp_path: Path
) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"HEADER" + b"payload" * 1000)
    with path.open("rb") as fh:
        fh.seek(6)  # read from the current position
        ref = logged_in.upload_blob(fh)
        assert not fh.closed  # the caller's file stays open
    assert ref == expected_ref(b"payload" * 1000, "application/octet-stream")
    ref = logged_in.upload_blob(io.BytesIO(b"in memory"))
    assert ref == expected_ref(b"in memory", "application/octet-stream")


def test_upload_blob_from_chunks(logged_in: AtmosphereClient, fake: FakePds) -> None:
    def chunks() -> Iterator[bytes]:
        for i in range(10):
            yield bytes([i]) * 1000

    data = b"".join(chunks())
    assert logged_in.upload_blob(chunks()) == expected_ref(data, "application/octet-stream")
    assert logged_in.upload_blob([b"a", b"b"]) == expected_ref(b"ab", "application/octet-stream")
    assert fake.sent(UPLOAD)[0].body == data


def test_upload_blob_server_lies_about_the_cid(logged_in: AtmosphereClient, fake: FakePds) -> None:
    fake.lie_about_cid = True
    with pytest.raises(IntegrityError) as info:
        logged_in.upload_blob(b"precious bytes")
    assert info.value.expected == blob_cid(b"precious bytes")
    assert info.value.actual != info.value.expected


def test_upload_blob_lie_detected_for_streamed_sources(
    logged_in: AtmosphereClient, fake: FakePds, tmp_path: Path
) -> None:
    fake.lie_about_cid = True
    path = tmp_path / "f.bin"
    path.write_bytes(b"streamed bytes")
    with pytest.raises(IntegrityError):
        logged_in.upload_blob(path)


@pytest.mark.parametrize("kind", ["bytes", "path", "chunks"])
def test_upload_progress(logged_in: AtmosphereClient, tmp_path: Path, kind: str) -> None:
    data = os.urandom(2 * 1024 * 1024 + 512 * 1024)
    source: Any = data
    if kind == "path":
        source = tmp_path / "p.bin"
        source.write_bytes(data)
    elif kind == "chunks":
        source = iter([data[: 1 << 20], data[1 << 20 :]])
    seen: list[tuple[int, int | None]] = []
    logged_in.upload_blob(source, progress=lambda done, total: seen.append((done, total)))
    assert seen
    assert seen[-1] == (len(data), len(data))
    dones = [done for done, _ in seen]
    assert dones == sorted(dones)
    assert all(total == len(data) for _, total in seen)
    if kind != "bytes":
        assert len(seen) >= 3  # reported while streaming, not only at the end


def test_streamed_upload_is_replayed_after_token_refresh(
    logged_in: AtmosphereClient, fake: FakePds, tmp_path: Path
) -> None:
    data = b"shard" * 10_000
    path = tmp_path / "shard.tar"
    path.write_bytes(data)
    fake.expire_access_tokens()
    assert logged_in.upload_blob(path) == expected_ref(data, "application/octet-stream")
    assert fake.calls[REFRESH] == 1
    first, second = fake.sent(UPLOAD)
    assert first.bearer != second.bearer
    assert second.body == data


def test_upload_blob_bad_input(logged_in: AtmosphereClient, fake: FakePds, tmp_path: Path) -> None:
    text_file = tmp_path / "t.txt"
    text_file.write_text("hello")
    with text_file.open("r") as fh, pytest.raises(InvalidArgumentError):
        logged_in.upload_blob(fh)
    with pytest.raises(InvalidArgumentError):
        logged_in.upload_blob(tmp_path / "missing.bin")
    with pytest.raises(InvalidArgumentError):
        logged_in.upload_blob(12345)
    with pytest.raises(InvalidArgumentError):
        logged_in.upload_blob(b"x", "not-a-mime-type")
    with pytest.raises(InvalidArgumentError):
        logged_in.upload_blob(["not bytes"])
    assert fake.requests == []


def test_get_blob_round_trip(logged_in: AtmosphereClient, fake: FakePds) -> None:
    data = os.urandom(70_000)
    cid = logged_in.upload_blob(data)["ref"]["$link"]
    assert logged_in.get_blob(logged_in.did, cid) == data
    sent = fake.sent(GET_BLOB)[0]
    assert sent.params == {"did": [logged_in.did], "cid": [cid]}


def test_get_blob_corrupted(logged_in: AtmosphereClient, fake: FakePds) -> None:
    cid = logged_in.upload_blob(b"original bytes")["ref"]["$link"]
    fake.corrupt_blobs = True
    with pytest.raises(IntegrityError) as info:
        logged_in.get_blob(logged_in.did, cid)
    assert info.value.expected == cid


def test_get_blob_missing(logged_in: AtmosphereClient) -> None:
    with pytest.raises(BlobNotFoundError):
        logged_in.get_blob(logged_in.did, blob_cid(b"never uploaded"))


def test_iterators_send_nothing_before_the_first_next(
    logged_in: AtmosphereClient, fake: FakePds, alice: Account
) -> None:
    cid = logged_in.upload_blob(b"lazy bytes")["ref"]["$link"]
    uris = fill(fake, alice, DATASET, 3)
    fake.requests.clear()
    blobs = logged_in.iter_blob(logged_in.did, cid)
    records = logged_in.iter_records(DATASET, page_size=2)
    assert fake.requests == []
    assert next(blobs) == b"lazy bytes"
    assert [r.nsid for r in fake.requests] == [GET_BLOB]
    assert next(records)["uri"] == uris[0]
    assert next(records)["uri"] == uris[1]
    assert fake.calls[LIST] == 1  # the second page only once the first is used up
    assert next(records)["uri"] == uris[2]
    assert fake.calls[LIST] == 2
    blobs.close()
    records.close()


def test_iter_blob_and_download_blob(
    logged_in: AtmosphereClient, fake: FakePds, tmp_path: Path
) -> None:
    data = os.urandom(50_000)
    cid = logged_in.upload_blob(data)["ref"]["$link"]
    assert b"".join(logged_in.iter_blob(logged_in.did, cid, chunk_size=4096)) == data
    target = tmp_path / "out.bin"
    seen: list[int] = []
    assert logged_in.download_blob(
        logged_in.did, cid, target, progress=lambda done, total: seen.append(done)
    ) == len(data)
    assert target.read_bytes() == data
    assert seen[-1] == len(data)


def test_download_corrupted_blob_leaves_no_file(
    logged_in: AtmosphereClient, fake: FakePds, tmp_path: Path
) -> None:
    cid = logged_in.upload_blob(b"original bytes")["ref"]["$link"]
    fake.corrupt_blobs = True
    target = tmp_path / "out.bin"
    with pytest.raises(IntegrityError):
        logged_in.download_blob(logged_in.did, cid, target)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(IntegrityError):
        b"".join(logged_in.iter_blob(logged_in.did, cid))


def test_get_blob_url(logged_in: AtmosphereClient, fake: FakePds, alice: Account) -> None:
    cid = blob_cid(b"x")
    url = logged_in.get_blob_url(alice.did, cid)
    encoded_did = alice.did.replace(":", "%3A")
    assert url == f"{PDS_URL}/xrpc/com.atproto.sync.getBlob?did={encoded_did}&cid={cid}"
    assert httpx.URL(url).params["did"] == alice.did
    assert fake.requests == []  # building the URL sends nothing


# -- validation before any request -----------------------------------------------------

OTHER = "did:plc:zzzzzzzzzzzzzzzzzzzzzzzz"
GOOD_CID = blob_cid(b"x")

BAD_CALLS: dict[str, tuple[type[Exception], Callable[[AtmosphereClient], Any]]] = {
    "create: NSID with spaces": (
        InvalidIdentifierError,
        lambda c: c.create_record("not an nsid", rec("not an nsid")),
    ),
    "create: one-segment NSID": (
        InvalidIdentifierError,
        lambda c: c.create_record("record", rec("record")),
    ),
    "create: rkey with slash": (
        InvalidIdentifierError,
        lambda c: c.create_record(DATASET, rec(), rkey="a/b"),
    ),
    "create: rkey '..'": (
        InvalidIdentifierError,
        lambda c: c.create_record(DATASET, rec(), rkey=".."),
    ),
    "create: empty rkey": (
        InvalidIdentifierError,
        lambda c: c.create_record(DATASET, rec(), rkey=""),
    ),
    "create: no $type": (InvalidRecordError, lambda c: c.create_record(DATASET, {"name": "x"})),
    "create: other $type": (InvalidRecordError, lambda c: c.create_record(DATASET, rec(SCHEMA))),
    "create: record not a dict": (InvalidRecordError, lambda c: c.create_record(DATASET, [1])),
    "put: bad NSID": (InvalidIdentifierError, lambda c: c.put_record("a..b", "k", rec("a..b"))),
    "put: bad rkey": (InvalidIdentifierError, lambda c: c.put_record(DATASET, "a b", rec())),
    "put: no $type": (InvalidRecordError, lambda c: c.put_record(DATASET, "k", {})),
    "put: other $type": (InvalidRecordError, lambda c: c.put_record(DATASET, "k", rec(LENS))),
    "put: bad swap CID": (
        InvalidIdentifierError,
        lambda c: c.put_record(DATASET, "k", rec(), swap_commit="nope"),
    ),
    "get: not an AT-URI": (InvalidIdentifierError, lambda c: c.get_record("https://x.test/a")),
    "get: trailing slash": (
        InvalidIdentifierError,
        lambda c: c.get_record(f"at://{OTHER}/{DATASET}/k/"),
    ),
    "get: no rkey": (InvalidArgumentError, lambda c: c.get_record(f"at://{OTHER}/{DATASET}")),
    "get: bad authority": (
        InvalidIdentifierError,
        lambda c: c.get_record(f"at://not_a_host/{DATASET}/k"),
    ),
    "delete: bad AT-URI": (InvalidIdentifierError, lambda c: c.delete_record("at://")),
    "delete: other account": (
        InvalidArgumentError,
        lambda c: c.delete_record(f"at://{OTHER}/{DATASET}/k"),
    ),
    "delete: bad swap CID": (
        InvalidIdentifierError,
        lambda c: c.delete_record(f"at://{c.did}/{DATASET}/k", swap_commit="QmNotV1"),
    ),
    "list: bad NSID": (InvalidIdentifierError, lambda c: c.list_records("bad nsid")),
    "list: bad repo": (InvalidIdentifierError, lambda c: c.list_records(DATASET, repo="no way")),
    "list: bad DID repo": (
        InvalidIdentifierError,
        lambda c: c.list_records(DATASET, repo="did:BAD:x"),
    ),
    "iter: bad NSID": (InvalidIdentifierError, lambda c: next(c.iter_records("bad nsid"))),
    "iter: bad page size": (
        InvalidArgumentError,
        lambda c: next(c.iter_records(DATASET, page_size=500)),
    ),
    "schemas: bad repo": (InvalidIdentifierError, lambda c: c.list_schemas(repo="no way")),
    "get_blob: not a DID": (InvalidIdentifierError, lambda c: c.get_blob("alice.test", GOOD_CID)),
    "get_blob: bad DID": (InvalidIdentifierError, lambda c: c.get_blob("did:PLC:abc", GOOD_CID)),
    "get_blob: CIDv0": (
        InvalidIdentifierError,
        lambda c: c.get_blob(c.did, "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"),
    ),
    "get_blob: bad CID": (InvalidIdentifierError, lambda c: c.get_blob(c.did, "bafy-not-a-cid")),
    "get_blob_url: bad DID": (InvalidIdentifierError, lambda c: c.get_blob_url("did:", GOOD_CID)),
    "get_blob_url: bad CID": (InvalidIdentifierError, lambda c: c.get_blob_url(c.did, "")),
    "iter_blob: bad CID": (InvalidIdentifierError, lambda c: next(c.iter_blob(c.did, "b"))),
    "download_blob: bad CID": (
        InvalidIdentifierError,
        lambda c: c.download_blob(c.did, "nope", "unused.bin"),
    ),
}


@pytest.mark.parametrize("case", list(BAD_CALLS), ids=list(BAD_CALLS))
def test_bad_input_is_refused_before_any_request(
    logged_in: AtmosphereClient, fake: FakePds, case: str
) -> None:
    cls, call = BAD_CALLS[case]
    with pytest.raises(cls) as info:
        call(logged_in)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, AtmosphereError)
    assert fake.requests == []


# -- rate limits and secrets -----------------------------------------------------------


def test_retries_wait_through_the_transports_injected_sleep(
    logged_in: AtmosphereClient, fake: FakePds, flavour: Flavour
) -> None:
    # Replacing an internal of either flavour (SyncFacade forwards the setting).
    waits: list[float] = []
    logged_in._xrpc.sleep = flavour.callback(waits.append)
    for _ in range(2):
        fake.inject(LIST, httpx.Response(503, json={"error": "Unavailable"}))
    assert logged_in.list_records(DATASET) == ([], None)
    assert fake.calls[LIST] == 3
    assert len(waits) == 2  # default policy: 3 attempts, a backoff before each resend
    assert 0.5 * 0.75 <= waits[0] <= 0.5  # backoff_base 0.5 s, minus up to 25 % jitter
    assert 1.0 * 0.75 <= waits[1] <= 1.0  # doubled


def test_rate_limit_is_exposed(logged_in: AtmosphereClient, fake: FakePds, alice: Account) -> None:
    fake.inject(
        LIST,
        httpx.Response(
            200,
            json={"records": []},
            headers={"RateLimit-Limit": "3000", "RateLimit-Remaining": "2990"},
        ),
    )
    logged_in.list_records(DATASET)
    assert logged_in.rate_limit is not None
    assert logged_in.rate_limit.remaining == 2990


def test_secrets_never_reach_errors_or_logs(
    flavour: Flavour,
    http: httpx.Client,
    fake: FakePds,
    alice: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="atmosphere")
    caplog.set_level(logging.DEBUG, logger="httpx")
    secrets: list[str] = [PASSWORD]
    errors: list[Exception] = []
    with flavour.client(PDS_URL, _client=http) as client:
        try:
            client.login("alice.test", PASSWORD + "-typo")
        except AuthenticationError as exc:
            errors.append(exc)
        client.login("alice.test", PASSWORD)
        secrets += client.export_session().split(":::")[2:4]
        fake.expire_access_tokens()
        client.create_record(DATASET, rec())
        secrets += client.export_session().split(":::")[2:4]
        fake.expire_access_tokens()
        fake.revoke_refresh_tokens()
        try:
            client.create_record(DATASET, rec())
        except SessionRefreshError as exc:
            errors.append(exc)
    assert len(errors) == 2
    for secret in [*secrets, PASSWORD + "-typo"]:
        for exc in errors:
            assert secret not in str(exc)
            assert secret not in repr(exc)
            assert secret not in str(exc.__dict__)
        assert secret not in caplog.text


def test_transport_failure_is_typed(flavour: Flavour) -> None:
    http = flavour.http(route_by_host())
    with flavour.client(PDS_URL, _client=http) as offline:
        with pytest.raises(TransportError) as info:
            offline.login("alice.test", PASSWORD)
        assert PASSWORD not in str(info.value)
        assert isinstance(info.value.__cause__, httpx.ConnectError)
