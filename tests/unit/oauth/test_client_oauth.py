"""OAuth sessions in the public clients, over MockTransport, on both flavours.

A fake PDS + authorization server (nonces, rotating tokens, scope refusals)
answers; the client is restored from an exported OAuth session, so no sign-in
is needed here (the real sign-in is proven in tests/pds/test_oauth_client.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from atmosphere import (
    AtmosphereError,
    InvalidArgumentError,
    InvalidSessionError,
    NotAuthenticatedError,
    OAuthGrantError,
    OAuthSession,
    ScopeMissingError,
    XrpcError,
)
from atmosphere._oauth.client_id import loopback_client
from atmosphere._oauth.keys import DpopKey
from tests.support import oauth_fakes as fakes
from tests.support.flavours import Flavour
from tests.support.oauth_fakes import World, claims, did_doc, pr_metadata, refresh_grant

PDS = "https://pds.example"
ISSUER = "https://auth.example"
DID = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
COLLECTION = "com.example.test.note"


class Server:
    """A PDS and its authorization server, shaped like the reference ones."""

    def __init__(self) -> None:
        self.generation = 1
        self.refreshes = 0
        self.revoked: list[str] = []
        self.seen: list[httpx.Request] = []
        self.proofs: list[tuple[str, dict]] = []  # (url, proof claims) as each arrived
        self.lock = threading.Lock()
        self.scope_refusal = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        nonce = {"DPoP-Nonce": "n1"}
        url = str(request.url)
        if url.startswith(f"{PDS}/xrpc/com.atproto.server.createSession"):
            answer = {
                "did": DID,
                "handle": "alice.example",
                "accessJwt": "pw-access",
                "refreshJwt": "pw-refresh",
            }
            return httpx.Response(200, json=answer)
        if "DPoP" not in request.headers:  # a password session's bearer call
            return httpx.Response(200, json={"did": DID, "handle": "alice.example"})
        proof = claims(request.headers["DPoP"])
        self.proofs.append((url, proof))
        if url == f"{ISSUER}/oauth/token":
            return refresh_grant(self, request, DID, nonce)
        if url == f"{ISSUER}/oauth/revoke":
            self.revoked.append(dict(parse_qsl(request.content.decode()))["token"])
            return httpx.Response(200, json={}, headers=nonce)
        if proof.get("nonce") != "n1":
            challenge = {"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', **nonce}
            return httpx.Response(401, json={"error": "use_dpop_nonce"}, headers=challenge)
        if request.headers["Authorization"] != f"DPoP at-{self.generation}":
            challenge = {"WWW-Authenticate": 'DPoP error="invalid_token"', **nonce}
            body = {"error": "InvalidToken", "message": '"exp" claim timestamp check failed'}
            return httpx.Response(401, json=body, headers=challenge)
        if self.scope_refusal:
            body = {
                "error": "ScopeMissingError",
                "message": f"Missing required scope repo:{COLLECTION}?action=create",
            }
            return httpx.Response(403, json=body, headers=nonce)
        if request.url.path.endswith("createRecord"):
            request.read()
            rkey = "3kaaaaaaaaaaa"
            body = {"uri": f"at://{DID}/{COLLECTION}/{rkey}", "cid": "bafyrei" + "a" * 52}
            return httpx.Response(200, json=body, headers=nonce)
        return httpx.Response(200, json={"did": DID, "handle": "alice.example"}, headers=nonce)


def _session(*, generation: int = 1, expires_at: float | None = None) -> OAuthSession:
    return OAuthSession(
        did=DID,
        pds_url=PDS,
        issuer=ISSUER,
        client_id="http://localhost",
        scope="atproto transition:generic",
        token_endpoint=f"{ISSUER}/oauth/token",
        revocation_endpoint=f"{ISSUER}/oauth/revoke",
        access_token=f"at-{generation}",
        refresh_token=f"ref-{generation}",
        expires_at=expires_at,
        dpop_key=DpopKey.generate(),
        handle="alice.example",
    )


def _note(text: str) -> dict[str, object]:
    return {"$type": COLLECTION, "text": text}


def test_a_restored_session_signs_every_call_with_dpop(flavour: Flavour) -> None:
    server = Server()
    client = flavour.client(_client=flavour.http(server.handler))
    saved = _session()
    client.login_with_session(saved.to_json(), verify=False)
    assert client.is_authenticated
    assert client.did == DID
    assert client.handle == "alice.example"
    assert client.pds_url == PDS
    assert client.oauth_session == saved
    assert client.export_session() == saved.to_json()

    uri = client.create_record(COLLECTION, _note("hi"))
    assert uri.authority == DID
    assert client.query("com.atproto.server.getSession")["did"] == DID
    pds_calls = [r for r in server.seen if str(r.url).startswith(PDS)]
    # The first call learned the nonce (401 use_dpop_nonce, resent), then every call carried it.
    assert len(pds_calls) == 3
    for request in pds_calls:
        assert request.headers["Authorization"] == "DPoP at-1"
        proof = claims(request.headers["DPoP"])
        assert proof["htu"] == str(request.url).split("?")[0]
        assert proof["htm"] == request.method
        assert "ath" in proof
    nonces = [proof.get("nonce") for url, proof in server.proofs if url.startswith(PDS)]
    assert nonces == [None, "n1", "n1"]


def test_an_expired_token_is_refreshed_and_reported_as_json(flavour: Flavour) -> None:
    server = Server()
    server.generation = 2  # the server moved on: at-1 is expired
    changes: list[str] = []
    client = flavour.client(_client=flavour.http(server.handler), on_session_change=changes.append)
    first = _session()
    first = OAuthSession.from_dict({**first.to_dict(), "refresh_token": "ref-2"})
    client.login_with_session(first.to_json(), verify=False)
    assert client.query("com.atproto.server.getSession")["did"] == DID
    assert server.refreshes == 1
    (change,) = changes
    refreshed = OAuthSession.from_json(change)
    assert refreshed.access_token == "at-3"
    assert refreshed.refresh_token == "ref-3"
    assert refreshed.dpop_key == first.dpop_key
    assert client.export_session() == change


def test_a_replayed_refresh_token_ends_the_session(flavour: Flavour) -> None:
    server = Server()
    server.generation = 5  # ref-1 was rotated away long ago
    client = flavour.client(_client=flavour.http(server.handler))
    client.login_with_session(_session().to_json(), verify=False)
    with pytest.raises(OAuthGrantError) as replayed:
        client.create_record(COLLECTION, _note("with a stale session"))
    assert replayed.value.error == "invalid_grant"
    assert not client.is_authenticated
    with pytest.raises(NotAuthenticatedError):
        client.create_record(COLLECTION, _note("again"))


def test_a_scope_refusal_is_a_typed_error_and_keeps_the_session(flavour: Flavour) -> None:
    server = Server()
    server.scope_refusal = True
    client = flavour.client(_client=flavour.http(server.handler))
    client.login_with_session(_session().to_json(), verify=False)
    with pytest.raises(ScopeMissingError) as missing:
        client.create_record(COLLECTION, _note("outside the scope"))
    assert isinstance(missing.value, XrpcError)
    assert missing.value.status == 403
    assert missing.value.required_scope == f"repo:{COLLECTION}?action=create"
    assert client.is_authenticated


def test_logout_revokes_the_refresh_token_with_a_dpop_proof(flavour: Flavour) -> None:
    server = Server()
    client = flavour.client(_client=flavour.http(server.handler))
    client.login_with_session(_session().to_json(), verify=False)
    client.logout()
    assert server.revoked == ["ref-1"]
    revoke = server.seen[-1]
    assert "DPoP" in revoke.headers
    assert not client.is_authenticated
    with pytest.raises(NotAuthenticatedError):
        client.export_session()


def test_a_password_login_replaces_an_oauth_session(flavour: Flavour) -> None:
    server = Server()
    client = flavour.client(PDS, _client=flavour.http(server.handler))
    client.login_with_session(_session().to_json(), verify=False)
    client.login("alice.example", "app-password")
    assert client.oauth_session is None
    client.query("com.atproto.server.getSession")
    assert server.seen[-1].headers["Authorization"] == "Bearer pw-access"
    assert "DPoP" not in server.seen[-1].headers


def test_secrets_stay_out_of_reprs_errors_and_logs(
    flavour: Flavour, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = Server()
    server.generation = 5
    client = flavour.client(_client=flavour.http(server.handler))
    saved = _session()
    client.login_with_session(saved.to_json(), verify=False)
    secrets = ["at-1", "ref-1", saved.to_dict()["dpop_key"]["d"]]
    texts = [repr(client), repr(saved), str(saved), repr(client.oauth_session)]
    with pytest.raises(OAuthGrantError) as failed:
        client.query("com.atproto.server.getSession")
    texts += [str(failed.value), repr(failed.value), caplog.text]
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_a_malformed_oauth_session_is_refused_without_echoing_it(flavour: Flavour) -> None:
    client = flavour.client()
    data = _session().to_dict()
    data["pds_url"] = "http://127.0.0.1:1234"  # loopback: not without allow_private_hosts
    with pytest.raises(InvalidSessionError) as refused:
        client.login_with_session(json.dumps(data))
    assert data["access_token"] not in str(refused.value)
    assert not client.is_authenticated
    with pytest.raises(InvalidSessionError):
        client.login_with_session('{"format": "something else"}')


def test_web_app_start_wants_a_loopback_redirect_or_a_client_id(flavour: Flavour) -> None:
    client = flavour.client(_client=flavour.http(Server().handler))
    for bad in ("https://app.example/callback", "http://localhost:8080/cb", "http://127.0.0.1/cb"):
        with pytest.raises(InvalidArgumentError):
            client.oauth_start("alice.example", redirect_uri=bad)
    with pytest.raises(InvalidArgumentError):
        client.oauth_start("alice.example", redirect_uri="http://127.0.0.1:80/", client_id="x")
    with pytest.raises(InvalidArgumentError):
        client.oauth_start("not a handle!", redirect_uri="http://127.0.0.1:8080/callback")


def test_without_the_extra_oauth_calls_name_it_and_send_nothing() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["cryptography"] = None  # as if the 'oauth' extra were not installed
        import httpx
        from atmosphere import AtmosphereClient, OAuthUnavailableError
        sent = []
        transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
        client = AtmosphereClient(_client=httpx.Client(transport=transport))
        try:
            client.login_oauth("alice.example", open_browser=False, show_url=None)
        except OAuthUnavailableError as exc:
            print(exc)
        try:
            client.login_with_session('{"format": "atmosphere.oauth/1", "did": "did:plc:aaaa"}')
        except ImportError:
            print("restore refused")
        except ValueError:
            print("restore refused (malformed)")
        print("sent", len(sent))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'atmosphere-atproto[oauth]'" in done.stdout
    assert "restore refused" in done.stdout
    assert "sent 0" in done.stdout


def test_a_shared_session_refreshed_elsewhere_is_adopted_and_a_logout_ends_it(
    flavour: Flavour,
) -> None:
    """The CLI's session file: other processes refresh (or log out) under the same lock."""
    server = Server()
    server.generation = 2  # another process already rotated at-1/ref-1 to at-2/ref-2
    saved: dict[str, str | None] = {}

    @contextlib.contextmanager
    def session_lock() -> Iterator[str | None]:
        yield saved.get("session")

    client = flavour.client(
        _client=flavour.http(server.handler),
        session_lock=session_lock,
        on_session_change=lambda text: saved.__setitem__("session", text),
    )
    old = _session()
    client.login_with_session(old.to_json(), verify=False)
    newer = dataclasses.replace(old, access_token="at-2", refresh_token="ref-2")
    saved["session"] = newer.to_json()
    assert client.query("com.atproto.server.getSession")["did"] == DID
    assert server.refreshes == 0  # adopted, not refreshed with the rotated-away token
    assert client.oauth_session == newer

    server.generation = 3
    saved["session"] = None  # logged out elsewhere
    with pytest.raises(NotAuthenticatedError):
        client.query("com.atproto.server.getSession")
    assert server.refreshes == 0
    assert not client.is_authenticated


@pytest.mark.parametrize(
    ("pds_url", "server"),
    [
        ("http://10.0.0.7:2583", None),  # the DID document names a private PDS
        ("https://pds.example", "https://127.0.0.1"),  # the PDS names a loopback issuer
    ],
)
def test_oauth_discovery_goes_only_to_public_hosts_by_default(
    flavour: Flavour, pds_url: str, server: str | None
) -> None:
    """Targets from identity data and metadata pass the client's egress policy."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "plc.directory":
            return httpx.Response(200, json=did_doc(DID, pds_url, "alice.example"))
        if request.url.path == "/.well-known/oauth-protected-resource" and server:
            return httpx.Response(200, json=pr_metadata(pds_url, server))
        return httpx.Response(404)

    client = flavour.client(_client=flavour.http(handler))
    with pytest.raises(AtmosphereError):
        client.oauth_start(DID, redirect_uri="http://127.0.0.1:8080/callback")
    assert not any("10.0.0.7" in url or "127.0.0.1" in url for url in seen)
    assert not client.is_authenticated


WEB_APP_ID = "https://app.example/oauth-client-metadata.json"
WEB_APP_CALLBACK = "https://app.example/oauth/callback"


def test_a_web_app_sends_its_metadata_url_as_client_id_at_every_step(flavour: Flavour) -> None:
    """A deployed web app: PAR, the authorization URL and the token request share its client_id."""
    world = World()
    client = flavour.client(fakes.PDS, plc_url=fakes.PLC, _client=flavour.http(world.handler))
    pending = client.oauth_start(
        "alice.example", redirect_uri=WEB_APP_CALLBACK, client_id=WEB_APP_ID
    )
    par = [r for r in world.requests if r.url.path == "/oauth/par"]
    assert par  # (the first one may be refused for want of a nonce)
    for request in par:
        form = dict(parse_qsl(request.content.decode()))
        assert form["client_id"] == WEB_APP_ID
        assert form["redirect_uri"] == WEB_APP_CALLBACK
        assert form["login_hint"] == "alice.example"
    query = dict(parse_qsl(urlsplit(pending.url).query))
    assert pending.url.startswith(f"{fakes.ISSUER}/oauth/authorize?")
    assert query == {"client_id": WEB_APP_ID, "request_uri": "urn:req:1"}

    # The callback arrives in another request handler, with the pending state from storage.
    stored = json.loads(json.dumps(pending.to_dict()))
    handler = flavour.client(fakes.PDS, plc_url=fakes.PLC, _client=flavour.http(world.handler))
    params = {"state": pending.state, "iss": fakes.ISSUER, "code": "cod-1"}
    session = handler.oauth_finish(params, stored)
    token = [r for r in world.requests if r.url.path == "/oauth/token"]
    assert token
    form = dict(parse_qsl(token[-1].content.decode()))
    assert form["client_id"] == WEB_APP_ID
    assert form["redirect_uri"] == WEB_APP_CALLBACK
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "cod-1"
    assert session.client_id == WEB_APP_ID
    assert (session.did, handler.did, handler.handle) == (fakes.ALICE, fakes.ALICE, "alice.example")

    handler.logout()  # revocation names the same client
    revoke = [r for r in world.requests if r.url.path == "/oauth/revoke"]
    assert revoke
    assert dict(parse_qsl(revoke[-1].content.decode()))["client_id"] == WEB_APP_ID


@pytest.mark.parametrize(
    "client_id",
    [
        "http://app.example/oauth-client-metadata.json",  # plain http, not a loopback client
        "http://localhost:8080/oauth-client-metadata.json",  # loopback ids have no port or path
        "http://127.0.0.1/oauth-client-metadata.json",
        "ftp://app.example/oauth-client-metadata.json",
        "https://app.example",  # no path
        "https://app.example/",
        "https://app.example/metadata/",  # a trailing slash
        "https://app.example/client.json#frag",
        "https://user:pw@app.example/client.json",
        "https://203.0.113.7/client.json",  # an IP address
        "https://[2001:db8::1]/client.json",
        "app.example/client.json",
        "",
    ],
)
def test_a_web_app_client_id_must_be_an_https_metadata_url(
    flavour: Flavour, client_id: str
) -> None:
    world = World()
    client = flavour.client(fakes.PDS, plc_url=fakes.PLC, _client=flavour.http(world.handler))
    with pytest.raises(InvalidArgumentError, match="client_id"):
        client.oauth_start("alice.example", redirect_uri=WEB_APP_CALLBACK, client_id=client_id)
    assert world.requests == []  # refused before anything is sent


def test_a_loopback_client_id_is_still_accepted(flavour: Flavour) -> None:
    """``http://localhost?...`` is the loopback development client, named explicitly."""
    world = World()
    client = flavour.client(fakes.PDS, plc_url=fakes.PLC, _client=flavour.http(world.handler))
    redirect = "http://127.0.0.1:8080/callback"
    client_id = loopback_client(8080, path="/callback").client_id
    assert client_id.startswith("http://localhost?")
    pending = client.oauth_start("alice.example", redirect_uri=redirect, client_id=client_id)
    assert dict(parse_qsl(urlsplit(pending.url).query))["client_id"] == client_id
