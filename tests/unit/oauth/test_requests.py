"""Client identity, PAR body, authorization URL, callback checks, token answers, sessions."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

from atmosphere._oauth.authorization import (
    PendingAuthorization,
    authorization_url,
    par_body,
    validate_callback,
)
from atmosphere._oauth.client_id import ClientIdentity, loopback_client, loopback_client_id
from atmosphere._oauth.errors import OAuthCallbackError, OAuthError, OAuthTokenResponseError
from atmosphere._oauth.keys import DpopKey
from atmosphere._oauth.metadata import parse_authorization_server_metadata
from atmosphere._oauth.pkce import Pkce
from atmosphere._oauth.session import OAuthSession
from atmosphere._oauth.tokens import parse_token_response
from atmosphere.errors import AtmosphereError, InvalidArgumentError, InvalidSessionError
from tests.support.oauth_fakes import as_metadata

ISSUER = "https://auth.example"
DID = "did:plc:abcdefghijklmnopqrstuvwx"


def test_loopback_client_id_declares_redirect_and_scope() -> None:
    client = loopback_client(54321, scope="atproto repo:app.bsky.feed.post?action=create")
    parts = urlsplit(client.client_id)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "localhost", "")
    assert parse_qs(parts.query) == {
        "redirect_uri": ["http://127.0.0.1/"],
        "scope": ["atproto repo:app.bsky.feed.post?action=create"],
    }
    assert "+" not in parts.query  # spaces are %20, unambiguous for any parser
    assert client.redirect_uri == "http://127.0.0.1:54321/"
    many = loopback_client_id(["http://127.0.0.1/a", "http://[::1]/a"], "atproto")
    assert parse_qs(urlsplit(many).query)["redirect_uri"] == [
        "http://127.0.0.1/a",
        "http://[::1]/a",
    ]


@pytest.mark.parametrize(
    "call",
    [
        lambda: loopback_client(0),
        lambda: loopback_client(70000),
        lambda: loopback_client(8000, path="cb"),
        lambda: loopback_client(8000, path="/cb?x=1"),
        lambda: loopback_client(8000, scope="transition:generic"),
        lambda: ClientIdentity("http://localhost", "http://127.0.0.1/", "openid"),
    ],
)
def test_client_identity_rejects_bad_input(call) -> None:
    with pytest.raises(InvalidArgumentError):
        call()


def test_scope_is_normalized() -> None:
    client = ClientIdentity("c", "r", "  atproto   transition:generic atproto ")
    assert client.scope == "atproto transition:generic"


def _pending(**changes) -> PendingAuthorization:
    server = parse_authorization_server_metadata(as_metadata(), issuer=ISSUER)
    values = {
        "state": "state-123",
        "issuer": ISSUER,
        "client": loopback_client(5000),
        "server": server,
        "pds_url": "https://pds.example",
        "expected_did": DID,
        "login_hint": "alice.example",
        "url": "https://auth.example/oauth/authorize?x",
        "pkce": Pkce.generate(),
        "dpop_key": DpopKey.generate(),
    }
    values.update(changes)
    return PendingAuthorization(**values)


def test_par_body_and_authorization_url() -> None:
    client = loopback_client(5000)
    pkce = Pkce.generate()
    body = par_body(client, state="s", pkce=pkce, login_hint="alice.example")
    assert body == {
        "client_id": client.client_id,
        "response_type": "code",
        "redirect_uri": "http://127.0.0.1:5000/",
        "scope": "atproto transition:generic",
        "state": "s",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "login_hint": "alice.example",
    }
    assert "login_hint" not in par_body(client, state="s", pkce=pkce)
    url = authorization_url(f"{ISSUER}/oauth/authorize", client.client_id, "urn:req:1")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ISSUER}/oauth/authorize"
    assert dict(parse_qsl(parts.query)) == {
        "client_id": client.client_id,
        "request_uri": "urn:req:1",
    }
    kept = authorization_url(f"{ISSUER}/authorize?tenant=a", "c", "r")
    assert parse_qs(urlsplit(kept).query) == {
        "tenant": ["a"],
        "client_id": ["c"],
        "request_uri": ["r"],
    }


def test_callback_checks_state_then_issuer_then_error() -> None:
    pending = _pending()
    good = {"state": "state-123", "iss": ISSUER, "code": "cod-1"}
    assert validate_callback(good, pending) == "cod-1"
    cases = [
        ({**good, "state": "other"}, "state"),
        ({k: v for k, v in good.items() if k != "state"}, "state"),
        ({**good, "iss": "https://evil.example"}, "evil"),
        ({k: v for k, v in good.items() if k != "iss"}, "iss"),
        ({"state": "state-123", "iss": ISSUER}, "neither"),
    ]
    for params, reason in cases:
        with pytest.raises(OAuthCallbackError) as caught:
            validate_callback(params, pending)
        assert reason in str(caught.value)
        assert caught.value.error is None
    denied = {
        "state": "state-123",
        "iss": ISSUER,
        "error": "access_denied",
        "error_description": "The user rejected the request",
    }
    with pytest.raises(OAuthCallbackError) as caught:
        validate_callback(denied, pending)
    assert caught.value.error == "access_denied"
    assert caught.value.description == "The user rejected the request"
    # A forged error with the wrong state is a state error, not a denial.
    with pytest.raises(OAuthCallbackError) as forged:
        validate_callback({**denied, "state": "x"}, pending)
    assert forged.value.error is None


def _token_answer(**changes) -> dict:
    answer = {
        "access_token": "at-secret",
        "token_type": "DPoP",
        "refresh_token": "ref-secret",
        "scope": "atproto transition:generic",
        "sub": DID,
        "expires_in": 3599,
    }
    answer.update(changes)
    return {k: v for k, v in answer.items() if v is not None}


def test_token_response_is_validated() -> None:
    tokens = parse_token_response(_token_answer(), expected_sub=DID, now=1000.0)
    assert tokens.sub == DID
    assert tokens.scopes == ("atproto", "transition:generic")
    assert tokens.expires_at == 4599.0
    assert "secret" not in repr(tokens)
    narrower = parse_token_response(_token_answer(scope="atproto"))
    assert narrower.scope == "atproto"
    for bad in (
        _token_answer(token_type="Bearer"),
        _token_answer(token_type=None),
        _token_answer(sub="alice.example"),
        _token_answer(sub=None),
        _token_answer(scope="transition:generic"),
        _token_answer(scope=None),
        _token_answer(access_token=""),
        _token_answer(expires_in="soon"),
        _token_answer(refresh_token=5),
        "nope",
    ):
        with pytest.raises(OAuthTokenResponseError) as caught:
            parse_token_response(bad)
        assert "secret" not in str(caught.value)
    with pytest.raises(OAuthTokenResponseError):
        parse_token_response(_token_answer(), expected_sub="did:plc:someoneelseentirely00")


def _session() -> OAuthSession:
    return OAuthSession(
        did=DID,
        pds_url="https://pds.example",
        issuer=ISSUER,
        client_id="http://localhost",
        scope="atproto transition:generic",
        token_endpoint=f"{ISSUER}/oauth/token",
        revocation_endpoint=f"{ISSUER}/oauth/revoke",
        access_token="at-secret-value",
        refresh_token="ref-secret-value",
        expires_at=2000.0,
        dpop_key=DpopKey.generate(),
    )


def test_session_roundtrip_and_secret_safety(caplog: pytest.LogCaptureFixture) -> None:
    session = _session()
    restored = OAuthSession.from_json(session.to_json())
    assert restored == session
    assert restored.dpop_key.private_jwk() == session.dpop_key.private_jwk()
    d = session.dpop_key.private_jwk()["d"]
    logging.getLogger("t").warning("%s %r", session, session)
    for text in (repr(session), str(session), caplog.text):
        for secret in ("at-secret-value", "ref-secret-value", d):
            assert secret not in text
    assert session.expires_within(60, now=1950.0)
    assert not session.expires_within(60, now=1000.0)


def test_session_refresh_update() -> None:
    session = _session()
    tokens = parse_token_response(_token_answer(scope="atproto"), now=0.0)
    updated = session.with_tokens(tokens)
    assert updated.access_token == "at-secret"
    assert updated.refresh_token == "ref-secret"
    assert updated.scope == "atproto"
    assert updated.dpop_key == session.dpop_key
    stranger = parse_token_response(_token_answer(sub="did:plc:zzzzzzzzzzzzzzzzzzzzzzzz"))
    with pytest.raises(OAuthError):
        session.with_tokens(stranger)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(format="other"),
        lambda d: d.update(did="alice"),
        lambda d: d.pop("access_token"),
        lambda d: d.update(pds_url="http://pds.example"),
        lambda d: d.update(scope="transition:generic"),
        lambda d: d.update(expires_at="tomorrow"),
        lambda d: d.update(dpop_key={"kty": "EC"}),
        lambda d: d["dpop_key"].update(d="AA"),
    ],
)
def test_session_restore_refuses_damaged_data(mutate) -> None:
    data = _session().to_dict()
    mutate(data)
    with pytest.raises(InvalidSessionError) as caught:
        OAuthSession.from_dict(data)
    assert "secret" not in str(caught.value)
    assert isinstance(caught.value, AtmosphereError)
    with pytest.raises(InvalidSessionError):
        OAuthSession.from_json("{not json")


def test_loopback_session_needs_the_switch_to_restore() -> None:
    data = _session().to_dict()
    data["pds_url"] = "http://localhost:2583"
    with pytest.raises(InvalidSessionError):
        OAuthSession.from_dict(data)
    assert OAuthSession.from_dict(data, allow_private_hosts=True).pds_url == data["pds_url"]


def test_pending_authorization_roundtrip() -> None:
    pending = _pending()
    data = json.loads(json.dumps(pending.to_dict()))
    restored = PendingAuthorization.from_dict(data)
    assert restored.state == pending.state
    assert restored.pkce.verifier == pending.pkce.verifier
    assert restored.dpop_key == pending.dpop_key
    assert restored.client == pending.client
    assert restored.server.token_endpoint == pending.server.token_endpoint
    assert pending.pkce.verifier not in repr(pending)
    data["code_verifier"] = "short"
    with pytest.raises(InvalidSessionError):
        PendingAuthorization.from_dict(data)
