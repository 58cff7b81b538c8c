"""Unit tests for session state: JWT expiry, session strings, the session store."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from atmosphere._models import Session
from atmosphere._session import (
    DEFAULT_ENTRYWAY,
    SessionState,
    SessionStore,
    jwt_expiry,
    pds_from_session,
)
from atmosphere.errors import InvalidSessionError, NotAuthenticatedError
from tests.support.fake_pds import did_document, make_jwt

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
ACCESS = make_jwt({"scope": "com.atproto.access", "sub": DID, "exp": 1_900_000_000})
REFRESH = make_jwt({"scope": "com.atproto.refresh", "sub": DID, "exp": 1_990_000_000})


def state(pds: str = "https://pds.test", **session: Any) -> SessionState:
    fields = {"did": DID, "handle": "alice.test", "accessJwt": ACCESS, "refreshJwt": REFRESH}
    return SessionState(session=Session.model_validate({**fields, **session}), pds_url=pds)


def raw_jwt(payload: bytes) -> str:
    return f"eyJhbGciOiJIUzI1NiJ9.{base64.urlsafe_b64encode(payload).rstrip(b'=').decode()}.sig"


# -- jwt_expiry ------------------------------------------------------------------------


@pytest.mark.parametrize("exp", [1_700_000_000, 1_700_000_000.5])
def test_jwt_expiry_reads_exp(exp: float) -> None:
    assert jwt_expiry(make_jwt({"sub": DID, "exp": exp})) == float(exp)


@pytest.mark.parametrize("extra", ["", "x", "xy", "xyz"])
def test_jwt_expiry_handles_every_padding_length(extra: str) -> None:
    # Payload lengths vary mod 4, so the base64url text needs 0, 1 or 2 "=" added back.
    token = make_jwt({"exp": 1234, "pad": extra})
    assert jwt_expiry(token) == 1234.0


@pytest.mark.parametrize(
    "token",
    [
        "",
        "opaque-token",
        "a.b",
        "a.b.c.d",
        make_jwt({"sub": DID}),  # no exp
        make_jwt({"exp": "1700000000"}),  # not a number
        make_jwt({"exp": True}),  # bool is not a number here
        make_jwt({"exp": None}),
        raw_jwt(b"[1, 2, 3]"),  # payload not an object
        raw_jwt(b"not json"),
        "header.!!!not-base64!!!.sig",
        raw_jwt(b"\xff\xfe"),  # not UTF-8
    ],
)
def test_jwt_expiry_none_when_unreadable(token: str) -> None:
    assert jwt_expiry(token) is None


# -- session strings -------------------------------------------------------------------


def test_encode_is_the_sdk_five_field_form() -> None:
    text = state().encode()
    assert text == f"alice.test:::{DID}:::{ACCESS}:::{REFRESH}:::https://pds.test"


def test_round_trip() -> None:
    original = state()
    decoded = SessionState.decode(original.encode())
    assert decoded.pds_url == "https://pds.test"
    assert decoded.session.did == DID
    assert decoded.session.handle == "alice.test"
    assert decoded.session.access_jwt == ACCESS
    assert decoded.session.refresh_jwt == REFRESH
    assert decoded.encode() == original.encode()


def test_four_field_form_means_bsky_social() -> None:
    decoded = SessionState.decode(f"alice.bsky.social:::{DID}:::{ACCESS}:::{REFRESH}")
    assert decoded.pds_url == DEFAULT_ENTRYWAY == "https://bsky.social"
    assert decoded.session.handle == "alice.bsky.social"
    assert decoded.encode().endswith(":::https://bsky.social")


def test_decode_tolerates_surrounding_whitespace_and_trailing_slash() -> None:
    decoded = SessionState.decode(
        f"  alice.test:::{DID}:::{ACCESS}:::{REFRESH}:::http://localhost:2583/\n"
    )
    assert decoded.pds_url == "http://localhost:2583"
    assert decoded.session.handle == "alice.test"


def test_decode_accepts_handle_invalid() -> None:
    decoded = SessionState.decode(f"handle.invalid:::{DID}:::{ACCESS}:::{REFRESH}:::https://p.test")
    assert decoded.session.handle == "handle.invalid"


@pytest.mark.parametrize(
    "text",
    [
        "",
        f"{ACCESS}:::{REFRESH}",
        f"alice.test:::{DID}:::{ACCESS}",
        f"alice.test:::{DID}:::{ACCESS}:::{REFRESH}:::https://pds.test:::extra",
        f"alice.test:::not-a-did:::{ACCESS}:::{REFRESH}:::https://pds.test",
        f"not a handle:::{DID}:::{ACCESS}:::{REFRESH}:::https://pds.test",
        f"alice.test:::{DID}::::::{REFRESH}:::https://pds.test",
        f"alice.test:::{DID}:::{ACCESS}::::::https://pds.test",
        f"alice.test:::{DID}:::{ACCESS}:::{REFRESH}:::ftp://pds.test",
        f"alice.test:::{DID}:::{ACCESS}:::{REFRESH}:::pds.test",
        f"{DID}:::alice.test:::{ACCESS}:::{REFRESH}:::https://pds.test",  # swapped fields
    ],
)
def test_malformed_session_strings(text: str) -> None:
    with pytest.raises(InvalidSessionError) as info:
        SessionState.decode(text)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert ACCESS not in message
    assert REFRESH not in message
    # Not even a fragment of a token: the JWT header and payload are secret too.
    assert ACCESS.split(".")[1] not in message
    assert REFRESH.split(".")[1] not in message


@pytest.mark.parametrize("value", [None, 42, b"alice.test:::did:plc:x:::a:::b"])
def test_decode_refuses_non_strings(value: Any) -> None:
    with pytest.raises(InvalidSessionError):
        SessionState.decode(value)


def test_repr_holds_no_tokens() -> None:
    text = repr(state())
    assert ACCESS not in text
    assert REFRESH not in text
    assert DID in text


# -- pds_from_session ------------------------------------------------------------------


def session_with_doc(doc: Any) -> Session:
    return Session.model_validate(
        {
            "did": DID,
            "handle": "alice.test",
            "accessJwt": ACCESS,
            "refreshJwt": REFRESH,
            "didDoc": doc,
        }
    )


def test_pds_from_session_reads_the_did_doc() -> None:
    doc = did_document(DID, "alice.test", "https://shiitake.us-east.host.bsky.network/")
    assert pds_from_session(session_with_doc(doc)) == "https://shiitake.us-east.host.bsky.network"


def test_pds_from_session_accepts_the_full_service_id() -> None:
    doc = did_document(DID, "alice.test", "http://localhost:2583")
    doc["service"][0]["id"] = f"{DID}#atproto_pds"
    assert pds_from_session(session_with_doc(doc)) == "http://localhost:2583"


def test_pds_from_session_picks_the_pds_service() -> None:
    doc = did_document(DID, "alice.test", "https://pds.test")
    doc["service"].insert(
        0, {"id": "#bsky_fg", "type": "BskyFeedGenerator", "serviceEndpoint": "https://fg.test"}
    )
    assert pds_from_session(session_with_doc(doc)) == "https://pds.test"


def _mutations() -> list[Any]:
    def other_id(doc: dict[str, Any]) -> None:
        doc["id"] = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"

    def wrong_type(doc: dict[str, Any]) -> None:
        doc["service"][0]["type"] = "SomethingElse"

    def wrong_id(doc: dict[str, Any]) -> None:
        doc["service"][0]["id"] = "#atproto_labeler"

    def not_http(doc: dict[str, Any]) -> None:
        doc["service"][0]["serviceEndpoint"] = "ftp://pds.test"

    def endpoint_map(doc: dict[str, Any]) -> None:
        doc["service"][0]["serviceEndpoint"] = {"uri": "https://pds.test"}

    def no_id(doc: dict[str, Any]) -> None:
        del doc["id"]

    def no_services(doc: dict[str, Any]) -> None:
        doc["service"] = []

    return [other_id, wrong_type, wrong_id, not_http, endpoint_map, no_id, no_services]


@pytest.mark.parametrize("mutate", _mutations())
def test_pds_from_session_refuses_unusable_documents(mutate: Any) -> None:
    doc = did_document(DID, "alice.test", "https://pds.test")
    mutate(doc)
    assert pds_from_session(session_with_doc(doc)) is None


def test_pds_from_session_without_a_document() -> None:
    assert pds_from_session(state().session) is None
    assert pds_from_session(session_with_doc({})) is None


# -- SessionStore ----------------------------------------------------------------------


def test_store_require_and_clear() -> None:
    store = SessionStore()
    with pytest.raises(NotAuthenticatedError):
        store.require()
    store.set(state())
    assert store.require().session.did == DID
    store.clear()
    assert store.state is None
    with pytest.raises(NotAuthenticatedError) as info:
        store.require()
    assert isinstance(info.value, ValueError)


def test_store_notifies_with_the_session_string() -> None:
    seen: list[str] = []
    store = SessionStore(on_change=seen.append)
    store.set(state())
    store.set(state(pds="https://other.test"), notify=False)
    assert seen == [state().encode()]
    assert json.dumps(seen)  # plain strings, ready to persist


def test_store_repr_holds_no_tokens() -> None:
    store = SessionStore()
    store.set(state())
    assert ACCESS not in repr(store)
    assert REFRESH not in repr(store)
