"""Hostile answers (issue 13, items 5, 7-11): records, sessions, blobs, JSON, time.

A foreign PDS (anyone can run one and name it in a DID document) answers
these tests. Each test failed on main before its fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from atmosphere import (
    InvalidResponseError,
    RecordMismatchError,
    SessionRefreshError,
)
from tests.support.fake_pds import FakePds, did_document, route_by_host
from tests.support.flavours import Flavour, NoDns

PASSWORD = "correct horse battery staple"
MALLORY = "did:plc:mmmmmmmmmmmmmmmmmmmmmmmm"
ALICE = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
FOREIGN = "https://pds.example.com"
COLL = "ac.foundation.dataset.record"

Handler = Callable[[httpx.Request], httpx.Response]


def _foreign(answer: Callable[[httpx.Request], Any]) -> Handler:
    """PLC says mallory's PDS is pds.example.com; that PDS answers with ``answer(request)``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "plc.directory":
            return httpx.Response(200, json=did_document(MALLORY, "mallory.test", FOREIGN))
        return httpx.Response(200, json=answer(request))

    return handler


def _rec(uri: str, **value: Any) -> dict[str, Any]:
    return {"uri": uri, "cid": "bafyreib", "value": {"$type": COLL, **value}}


# -- item 7: records read are checked against the request ---------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        f"at://{ALICE}/{COLL}/k1",  # another repo
        f"at://{MALLORY}/app.bsky.feed.post/k1",  # another collection
        f"at://{MALLORY}/{COLL}/other",  # another record key
        f"at://{MALLORY}/{COLL}/k1/extra",
        f"at://{MALLORY}/{COLL}/",
        "not a uri",
    ],
)
def test_get_record_answering_another_record_is_an_error(flavour: Flavour, uri: str) -> None:
    client = flavour.client(None, _client=flavour.http(_foreign(lambda r: _rec(uri))))
    with pytest.raises(RecordMismatchError):
        client.get_record_envelope(f"at://{MALLORY}/{COLL}/k1")
    with pytest.raises(RecordMismatchError):
        client.get_record(f"at://{MALLORY}/{COLL}/k1")


def test_get_record_with_another_type_is_an_error(flavour: Flavour) -> None:
    def answer(request: httpx.Request) -> dict[str, Any]:
        rec = _rec(f"at://{MALLORY}/{COLL}/k1")
        rec["value"]["$type"] = "app.bsky.feed.post"
        return rec

    client = flavour.client(None, _client=flavour.http(_foreign(answer)))
    with pytest.raises(RecordMismatchError, match=r"\$type"):
        client.get_record(f"at://{MALLORY}/{COLL}/k1")


def test_the_right_record_is_returned(flavour: Flavour) -> None:
    client = flavour.client(
        None, _client=flavour.http(_foreign(lambda r: _rec(f"at://{MALLORY}/{COLL}/k1", n=1)))
    )
    assert client.get_record(f"at://{MALLORY}/{COLL}/k1") == {"$type": COLL, "n": 1}


def test_listing_a_foreign_repo_refuses_records_of_another(flavour: Flavour) -> None:
    def answer(request: httpx.Request) -> dict[str, Any]:
        mine = _rec(f"at://{MALLORY}/{COLL}/k1")
        alices = _rec(f"at://{ALICE}/{COLL}/k2")
        return {"records": [mine, alices]}

    client = flavour.client(None, _client=flavour.http(_foreign(answer)))
    with pytest.raises(RecordMismatchError, match=ALICE):
        client.list_records(COLL, repo=MALLORY)
    with pytest.raises(RecordMismatchError):
        client.list_datasets(repo=MALLORY)
    with pytest.raises(RecordMismatchError):
        list(client.iter_records(COLL, repo=MALLORY))


def test_listing_refuses_another_collection(flavour: Flavour) -> None:
    answer = {"records": [_rec(f"at://{MALLORY}/{COLL}.other/k1")]}
    client = flavour.client(None, _client=flavour.http(_foreign(lambda r: answer)))
    with pytest.raises(RecordMismatchError):
        client.list_records(COLL, repo=MALLORY)


def test_mismatch_is_an_invalid_response() -> None:
    assert issubclass(RecordMismatchError, InvalidResponseError)


# -- item 8: the session's identity is cross-checked -----------------------------------------


def _session(did: str, handle: str = "alice.test", **extra: Any) -> dict[str, Any]:
    return {"did": did, "handle": handle, "accessJwt": "a.b.c", "refreshJwt": "d.e.f", **extra}


def test_get_session_for_another_did_is_refused(flavour: Flavour) -> None:
    pds = FakePds("https://my.pds")
    alice = pds.add_account("alice.test", PASSWORD)
    pds.inject(
        "com.atproto.server.getSession",
        httpx.Response(200, json={"did": MALLORY, "handle": "mallory.test"}),
    )
    client = flavour.client("https://my.pds", _client=flavour.http(pds))
    with pytest.raises(InvalidResponseError, match=MALLORY):
        client.login_with_session(pds.session_string(alice))
    assert not client.is_authenticated


def test_get_session_without_a_did_does_not_rename(flavour: Flavour) -> None:
    pds = FakePds("https://my.pds")
    alice = pds.add_account("alice.test", PASSWORD)
    pds.inject("com.atproto.server.getSession", httpx.Response(200, json={"handle": "x.test"}))
    client = flavour.client("https://my.pds", _client=flavour.http(pds))
    client.login_with_session(pds.session_string(alice))
    assert client.handle == "alice.test"


@pytest.mark.parametrize("handle", ["evil:::did:plc:x", "not a handle", "a" * 300])
def test_unexportable_handles_are_refused(flavour: Flavour, handle: str) -> None:
    login = flavour.client(
        "https://my.pds",
        _client=flavour.http(lambda r: httpx.Response(200, json=_session(ALICE, handle))),
    )
    with pytest.raises(InvalidResponseError, match="handle"):
        login.login("alice.test", PASSWORD)
    assert not login.is_authenticated

    pds = FakePds("https://my.pds")
    alice = pds.add_account("alice.test", PASSWORD)
    pds.inject(
        "com.atproto.server.getSession",
        httpx.Response(200, json={"did": alice.did, "handle": handle}),
    )
    restored = flavour.client("https://my.pds", _client=flavour.http(pds))
    with pytest.raises(InvalidResponseError, match="handle"):
        restored.login_with_session(pds.session_string(alice))
    assert not restored.is_authenticated


def test_a_refresh_with_an_unexportable_handle_ends_the_session(flavour: Flavour) -> None:
    pds = FakePds("https://my.pds")
    alice = pds.add_account("alice.test", PASSWORD)
    pds.inject(
        "com.atproto.server.refreshSession",
        httpx.Response(200, json=_session(alice.did, "evil:::x")),
    )
    client = flavour.client("https://my.pds", _client=flavour.http(pds))
    client.login_with_session(pds.session_string(alice, access_exp=1.0), verify=False)
    with pytest.raises(SessionRefreshError):
        client.list_records(COLL)
    assert not client.is_authenticated


def test_login_by_handle_refuses_a_session_for_another_did(flavour: Flavour) -> None:
    pds = FakePds(FOREIGN)
    alice = pds.add_account("alice.example.com", PASSWORD)
    pds.inject("com.atproto.server.createSession", httpx.Response(200, json=_session(MALLORY)))

    def plc(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=did_document(alice.did, alice.handle, FOREIGN))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "plc.directory":
            return plc(request)
        return route_by_host(pds)(request)

    resolver = flavour.resolver(http=flavour.http(handler), dns_resolver=NoDns())
    client = flavour.client(None, _client=flavour.http(handler), resolver=resolver)
    with pytest.raises(InvalidResponseError, match=MALLORY):
        client.login(alice.handle, PASSWORD)
    assert not client.is_authenticated
    pds.inject("com.atproto.server.createSession", httpx.Response(200, json=_session(MALLORY)))
    with pytest.raises(InvalidResponseError, match=MALLORY):
        client.login(alice.did, PASSWORD)


def test_login_by_did_on_a_named_pds_refuses_another_did(flavour: Flavour) -> None:
    client = flavour.client(
        "https://my.pds",
        _client=flavour.http(lambda r: httpx.Response(200, json=_session(MALLORY))),
    )
    with pytest.raises(InvalidResponseError, match=MALLORY):
        client.login(ALICE, PASSWORD)
    assert not client.is_authenticated
