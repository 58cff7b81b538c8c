"""The OAuth building blocks against the real reference authorization server.

The PDS (started once per session by the ``pds`` fixture) embeds the
authorization server. Sign-in and consent go through the provider's own JSON
API (tests/support/oauth_provider.py); the redirect is delivered to the real
loopback callback server; everything else is this package's code over httpx.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from atmosphere._oauth import flow
from atmosphere._oauth.auth import OAuthSessionHolder
from atmosphere._oauth.authorization import PendingAuthorization
from atmosphere._oauth.client_id import loopback_client
from atmosphere._oauth.dpop import NonceStore
from atmosphere._oauth.drive import run_async, run_sync
from atmosphere._oauth.errors import (
    OAuthCallbackError,
    OAuthGrantError,
    OAuthIdentityError,
    ScopeMissingError,
)
from atmosphere._oauth.identity import SimpleIdentityLookup
from atmosphere._oauth.loopback import CallbackServer
from atmosphere._oauth.resource import DpopAuth, resource_error
from atmosphere._oauth.session import OAuthSession
from atmosphere._sync.oauth import OAuthAuth
from atmosphere.errors import InvalidTokenError
from tests.support.lying_as import LyingAuthorizationServer
from tests.support.oauth_provider import ProviderSession, approve, reject
from tests.support.pds import Account, PdsProcess, start_pds

pytestmark = pytest.mark.pds

POST = "app.bsky.feed.post"
LIKE = "app.bsky.feed.like"


@dataclass
class Exchange:
    """One request/response pair seen on the wire."""

    method: str
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    request_headers: dict[str, str] = field(repr=False)
    request_body: bytes = field(repr=False)


class Recorder:
    """httpx event hooks that keep every exchange (auth-flow retries included)."""

    def __init__(self) -> None:
        self.seen: list[Exchange] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.seen.append(
            Exchange(
                response.request.method,
                str(response.request.url),
                response.status_code,
                dict(response.headers),
                response.content,
                dict(response.request.headers),
                response.request.content,
            )
        )

    def to(self, path: str) -> list[Exchange]:
        return [e for e in self.seen if urlsplit(e.url).path == path]


def _lookup(pds: PdsProcess) -> SimpleIdentityLookup:
    return SimpleIdentityLookup(
        plc_url=pds.plc_url, handle_service=pds.pds_url, allow_private_hosts=True
    )


@dataclass
class Login:
    session: OAuthSession
    pending: PendingAuthorization
    nonces: NonceStore
    recorder: Recorder


@pytest.fixture
def http() -> Iterator[tuple[httpx.Client, Recorder]]:
    recorder = Recorder()
    with httpx.Client(trust_env=False, event_hooks={"response": [recorder]}) as client:
        yield client, recorder


def _login(
    pds: PdsProcess,
    http: tuple[httpx.Client, Recorder],
    account: Account,
    *,
    scope: str = "atproto transition:generic",
    identifier: str | None = None,
    granted: str | None = None,
) -> Login:
    client, recorder = http
    nonces = NonceStore()
    lookup = _lookup(pds)
    with CallbackServer() as callback:
        start = flow.start_from_identifier(
            identifier or account.handle, callback.client(scope), identity=lookup, nonces=nonces
        )
        pending = run_sync(start, client)
        redirect = approve(pending.url, account.handle, account.password, scope=granted)
        assert redirect.startswith(callback.redirect_uri + "?")
        page = httpx.get(redirect, trust_env=False)
        assert page.status_code == 200
        assert "You may close this window" in page.text
        params = callback.wait(timeout=10)
    finish = flow.finish_authorization(pending, params, nonces=nonces, identity=lookup)
    return Login(run_sync(finish, client), pending, nonces, recorder)


def _pds_client(get_session: object, nonces: NonceStore, recorder: Recorder) -> httpx.Client:
    assert callable(get_session)
    return httpx.Client(
        auth=DpopAuth(get_session, nonces),
        trust_env=False,
        event_hooks={"response": [recorder]},
    )


def _post(session: OAuthSession, text: str, collection: str = POST) -> dict[str, object]:
    record: dict[str, object] = {"$type": collection, "createdAt": "2026-01-01T00:00:00.000Z"}
    if collection == POST:
        record["text"] = text
    else:
        record["subject"] = {
            "uri": text,
            "cid": "bafyreiarsf4bwzvv56k5hfkphewmtdhhqunlv7ul6xughvsipk3jfmoezu",
        }
    return {"repo": session.did, "collection": collection, "record": record}


def _jwt_claims(token: str, part: int) -> dict[str, object]:
    import base64

    seg = token.split(".")[part]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def test_full_flow_publish_refresh_rotation_and_replay(pds: PdsProcess, http) -> None:
    alice = pds.account("alice.test")
    login = _login(pds, http, alice)
    session, rec = login.session, login.recorder

    # Discovery then PAR: the first PAR is refused for want of a nonce, the retry carries it.
    paths = [urlsplit(e.url).path for e in rec.seen]
    assert paths[:4] == [
        "/xrpc/com.atproto.identity.resolveHandle",
        f"/{alice.did}",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-authorization-server",
    ]
    par = rec.to("/oauth/par")
    assert [e.status for e in par] == [400, 201]
    assert json.loads(par[0].body)["error"] == "use_dpop_nonce"
    first_proof, retry_proof = (_jwt_claims(e.request_headers["dpop"], 1) for e in par)
    assert "nonce" not in first_proof
    assert retry_proof["nonce"] == par[0].headers["dpop-nonce"]
    assert retry_proof["htu"] == f"{pds.pds_url}/oauth/par"
    assert retry_proof["htm"] == "POST"
    assert first_proof["jti"] != retry_proof["jti"]
    header = _jwt_claims(par[1].request_headers["dpop"], 0)
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == "ES256"
    assert "d" not in header["jwk"]
    sent = dict(parse_qsl(par[1].request_body.decode()))
    assert sent["login_hint"] == "alice.test"
    assert sent["code_challenge_method"] == "S256"
    assert sent["scope"] == "atproto transition:generic"
    assert sent["redirect_uri"].startswith("http://127.0.0.1:")

    # The token exchange and the binding check (sub's DID doc -> PDS -> its issuer).
    assert [e.status for e in rec.to("/oauth/token")] == [200]
    assert session.did == alice.did
    assert session.pds_url == pds.pds_url
    assert session.issuer == pds.pds_url
    assert session.scopes == ("atproto", "transition:generic")
    assert _jwt_claims(session.access_token, 1)["cnf"] == {"jkt": session.dpop_key.thumbprint}
    after_token = [urlsplit(e.url).path for e in rec.seen]
    assert after_token[-4:] == [
        "/oauth/token",
        f"/{alice.did}",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-authorization-server",
    ]
    assert repr(session).count(session.access_token) == 0

    # A DPoP-signed XRPC call; the PDS's nonce comes from a 401 WWW-Authenticate challenge.
    pds_nonces = NonceStore()
    current = [session]
    with _pds_client(lambda: current[0], pds_nonces, rec) as pdsc:
        created = pdsc.post(
            f"{session.pds_url}/xrpc/com.atproto.repo.createRecord", json=_post(session, "hello")
        )
        assert created.status_code == 200, created.text
        attempts = rec.to("/xrpc/com.atproto.repo.createRecord")
        assert [e.status for e in attempts] == [401, 200]
        assert 'error="use_dpop_nonce"' in attempts[0].headers["www-authenticate"]
        proof = _jwt_claims(attempts[1].request_headers["dpop"], 1)
        assert proof["nonce"] == attempts[0].headers["dpop-nonce"]
        assert proof["htu"] == f"{pds.pds_url}/xrpc/com.atproto.repo.createRecord"
        assert attempts[1].request_headers["authorization"] == f"DPoP {session.access_token}"
        uri = created.json()["uri"]
        assert uri.startswith(f"at://{alice.did}/{POST}/")

        blob = pdsc.post(
            f"{session.pds_url}/xrpc/com.atproto.repo.uploadBlob",
            content=b"dataset shard 0",
            headers={"Content-Type": "application/octet-stream"},
        )
        assert blob.status_code == 200, blob.text
        assert blob.json()["blob"]["size"] == len(b"dataset shard 0")
        # The nonce is known now: no second attempt.
        assert [e.status for e in rec.to("/xrpc/com.atproto.repo.uploadBlob")] == [200]

        # Refresh rotates both tokens; the old access token dies at once.
        refreshed = run_sync(flow.refresh_session(session, nonces=login.nonces), http[0])
        assert refreshed.refresh_token != session.refresh_token
        assert refreshed.access_token != session.access_token
        assert refreshed.dpop_key == session.dpop_key
        assert refreshed.did == session.did
        old = pdsc.get(f"{session.pds_url}/xrpc/com.atproto.server.getSession")
        assert old.status_code == 401
        error = resource_error(old, "com.atproto.server.getSession")
        assert isinstance(error, InvalidTokenError)
        current[0] = refreshed
        new = pdsc.get(f"{session.pds_url}/xrpc/com.atproto.server.getSession")
        assert new.status_code == 200
        assert new.json()["did"] == alice.did

        # Reusing the rotated refresh token: "replayed", and the whole session ends.
        with pytest.raises(OAuthGrantError) as replay:
            run_sync(flow.refresh_session(session, nonces=login.nonces), http[0])
        assert replay.value.error == "invalid_grant"
        assert "replayed" in (replay.value.description or "").lower()
        assert session.refresh_token not in str(replay.value)
        dead = pdsc.get(f"{session.pds_url}/xrpc/com.atproto.server.getSession")
        assert dead.status_code == 401
        with pytest.raises(OAuthGrantError):
            run_sync(flow.refresh_session(refreshed, nonces=login.nonces), http[0])

    # The record is really there (read without auth).
    rkey = uri.rsplit("/", 1)[1]
    got = httpx.get(
        f"{pds.pds_url}/xrpc/com.atproto.repo.getRecord",
        params={"repo": alice.did, "collection": POST, "rkey": rkey},
        trust_env=False,
    )
    assert got.json()["value"]["text"] == "hello"


def test_revocation_ends_access_and_refresh(pds: PdsProcess, http) -> None:
    login = _login(pds, http, pds.account("bob.test"))
    session = login.session
    nonces = NonceStore()
    with _pds_client(lambda: session, nonces, login.recorder) as pdsc:
        assert pdsc.get(f"{session.pds_url}/xrpc/com.atproto.server.getSession").status_code == 200
        run_sync(flow.revoke_session(session, nonces=login.nonces), http[0])
        revoked = login.recorder.to("/oauth/revoke")
        assert revoked[-1].status == 200
        after = pdsc.get(f"{session.pds_url}/xrpc/com.atproto.server.getSession")
        assert after.status_code == 401
        assert isinstance(resource_error(after), InvalidTokenError)
    with pytest.raises(OAuthGrantError) as refused:
        run_sync(flow.refresh_session(session, nonces=login.nonces), http[0])
    assert refused.value.status == 400


def test_granular_scope_is_enforced_by_the_pds(pds: PdsProcess, http) -> None:
    scope = f"atproto repo:{POST}?action=create"
    login = _login(pds, http, pds.account("alice.test"), scope=scope)
    session = login.session
    assert session.scope == scope
    with _pds_client(lambda: session, NonceStore(), login.recorder) as pdsc:
        url = f"{session.pds_url}/xrpc/com.atproto.repo.createRecord"
        post = pdsc.post(url, json=_post(session, "allowed"))
        assert post.status_code == 200, post.text
        like = pdsc.post(url, json=_post(session, post.json()["uri"], LIKE))
        assert like.status_code == 403
        error = resource_error(like, "com.atproto.repo.createRecord")
        assert isinstance(error, ScopeMissingError)
        assert error.required_scope == f"repo:{LIKE}?action=create"
        blob = pdsc.post(
            f"{session.pds_url}/xrpc/com.atproto.repo.uploadBlob",
            content=b"x",
            headers={"Content-Type": "application/octet-stream"},
        )
        assert blob.status_code == 403
        assert isinstance(resource_error(blob), ScopeMissingError)


def test_the_granted_scope_is_what_the_user_approved(pds: PdsProcess, http) -> None:
    login = _login(pds, http, pds.account("alice.test"), granted="atproto")
    assert login.pending.client.scope == "atproto transition:generic"
    assert login.session.scope == "atproto"
    with _pds_client(lambda: login.session, NonceStore(), login.recorder) as pdsc:
        url = f"{login.session.pds_url}/xrpc/com.atproto.repo.createRecord"
        denied = pdsc.post(url, json=_post(login.session, "not allowed"))
        assert isinstance(resource_error(denied), ScopeMissingError)


def test_denied_consent_is_reported(pds: PdsProcess, http) -> None:
    nonces, lookup = NonceStore(), _lookup(pds)
    with CallbackServer() as callback:
        pending = run_sync(
            flow.start_from_identifier(
                "alice.test", callback.client(), identity=lookup, nonces=nonces
            ),
            http[0],
        )
        redirect = reject(pending.url)
        page = httpx.get(redirect, trust_env=False)
        assert "not granted" in page.text
        params = callback.wait(timeout=10)
    with pytest.raises(OAuthCallbackError) as denied:
        run_sync(
            flow.finish_authorization(pending, params, nonces=nonces, identity=lookup), http[0]
        )
    assert denied.value.error == "access_denied"
    assert http[1].to("/oauth/token") == []


def test_wrong_state_or_issuer_is_refused_before_the_token_request(pds: PdsProcess, http) -> None:
    alice = pds.account("alice.test")
    nonces, lookup = NonceStore(), _lookup(pds)
    with CallbackServer() as callback:
        pending = run_sync(
            flow.start_from_identifier(
                "alice.test", callback.client(), identity=lookup, nonces=nonces
            ),
            http[0],
        )
        redirect = approve(pending.url, alice.handle, alice.password)
    params = dict(parse_qsl(urlsplit(redirect).query))
    for bad in ({**params, "state": "forged"}, {**params, "iss": "http://localhost:1"}):
        with pytest.raises(OAuthCallbackError):
            run_sync(
                flow.finish_authorization(pending, bad, nonces=nonces, identity=lookup), http[0]
            )
    assert http[1].to("/oauth/token") == []
    # The genuine parameters still work.
    session = run_sync(
        flow.finish_authorization(pending, params, nonces=nonces, identity=lookup), http[0]
    )
    assert session.did == alice.did


def test_start_from_the_server_url_binds_whoever_signs_in(pds: PdsProcess, http) -> None:
    bob = pds.account("bob.test")
    login = _login(pds, http, bob, identifier=pds.pds_url)
    assert login.pending.expected_did is None
    assert login.pending.login_hint is None
    assert login.session.did == bob.did
    # Without an expected DID the binding check resolved bob's document after the token.
    assert f"/{bob.did}" in [urlsplit(e.url).path for e in login.recorder.seen]


def test_signing_in_as_someone_else_than_the_hint_is_refused(pds: PdsProcess, http) -> None:
    alice, bob = pds.account("alice.test"), pds.account("bob.test")
    nonces, lookup = NonceStore(), _lookup(pds)
    with CallbackServer() as callback:
        pending = run_sync(
            flow.start_from_identifier(
                "alice.test", callback.client(), identity=lookup, nonces=nonces
            ),
            http[0],
        )
        assert pending.expected_did == alice.did
        with ProviderSession(pending.url) as visit:
            visit.open_page()
            try:
                signed = visit.sign_in(bob.handle, bob.password)
                consent = visit.api(
                    "/consent",
                    {"did": signed["account"]["did"]},
                    bearer=signed.get("ephemeralToken"),
                )
                redirect = visit.follow_redirect(consent["url"])
            except AssertionError as refused:
                pytest.fail(f"provider refused: {refused}")
    # The provider lets bob sign in despite login_hint=alice.test: the client must refuse.
    params = dict(parse_qsl(urlsplit(redirect).query))
    with pytest.raises(OAuthIdentityError) as refused:
        run_sync(
            flow.finish_authorization(pending, params, nonces=nonces, identity=lookup), http[0]
        )
    assert refused.value.did == bob.did
    # The unwanted tokens were revoked at once.
    assert [e.status for e in http[1].to("/oauth/revoke")] == [200]


def test_a_saved_session_is_restored_and_works(pds: PdsProcess, http) -> None:
    login = _login(pds, http, pds.account("bob.test"))
    saved = login.session.to_json()
    restored = OAuthSession.from_json(saved, allow_private_hosts=True)
    assert restored == login.session
    with _pds_client(lambda: restored, NonceStore(), login.recorder) as pdsc:
        response = pdsc.post(
            f"{restored.pds_url}/xrpc/com.atproto.repo.createRecord",
            json=_post(restored, "from a restored session"),
        )
        assert response.status_code == 200, response.text


def test_the_async_shell_runs_the_same_flow(pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    lookup = _lookup(pds)

    async def main() -> OAuthSession:
        nonces = NonceStore()
        async with httpx.AsyncClient(trust_env=False) as client:
            with CallbackServer() as callback:
                pending = await run_async(
                    flow.start_from_identifier(
                        alice.did, callback.client(), identity=lookup, nonces=nonces
                    ),
                    client,
                )
                redirect = await asyncio.to_thread(
                    approve, pending.url, alice.handle, alice.password
                )
                await client.get(redirect)
                params = await asyncio.to_thread(callback.wait, 10)
            session = await run_async(
                flow.finish_authorization(pending, params, nonces=nonces, identity=lookup), client
            )
            async with httpx.AsyncClient(
                auth=DpopAuth(lambda: session, NonceStore()), trust_env=False
            ) as pdsc:
                answer = await pdsc.post(
                    f"{session.pds_url}/xrpc/com.atproto.repo.createRecord",
                    json=_post(session, "async"),
                )
                assert answer.status_code == 200, answer.text
            await run_async(flow.revoke_session(session, nonces=nonces), client)
            return session

    session = asyncio.run(main())
    assert session.did == alice.did


@pytest.fixture(scope="module")
def short_lived_pds() -> Iterator[PdsProcess]:
    """A second PDS whose OAuth access tokens live 3 seconds."""
    with start_pds(oauth_token_max_age=3) as server:
        yield server


def test_an_expired_access_token_is_refreshed_and_the_call_retried(
    short_lived_pds: PdsProcess, http
) -> None:
    login = _login(short_lived_pds, http, short_lived_pds.account("alice.test"))
    session = login.session
    assert session.expires_at is not None
    assert session.expires_within(5)
    current = [session]
    with _pds_client(lambda: current[0], NonceStore(), login.recorder) as pdsc:
        url = f"{session.pds_url}/xrpc/com.atproto.server.getSession"
        assert pdsc.get(url).status_code == 200
        time.sleep(max(0.0, session.expires_at - time.time()) + 2.5)
        expired = pdsc.get(url)
        assert expired.status_code == 401
        error = resource_error(expired, "com.atproto.server.getSession")
        assert isinstance(error, InvalidTokenError)
        assert "exp" in (error.message or "")
        current[0] = run_sync(flow.refresh_session(session, nonces=login.nonces), http[0])
        retried = pdsc.get(url)
        assert retried.status_code == 200
        assert retried.json()["did"] == session.did


def test_a_reused_authorization_code_is_refused_and_revokes_its_tokens(
    pds: PdsProcess, http
) -> None:
    alice = pds.account("alice.test")
    nonces, lookup = NonceStore(), _lookup(pds)
    with CallbackServer() as callback:
        pending = run_sync(
            flow.start_from_identifier(
                alice.handle, callback.client(), identity=lookup, nonces=nonces
            ),
            http[0],
        )
        redirect = approve(pending.url, alice.handle, alice.password)
    params = dict(parse_qsl(urlsplit(redirect).query))
    session = run_sync(
        flow.finish_authorization(pending, params, nonces=nonces, identity=lookup), http[0]
    )
    with _pds_client(lambda: session, NonceStore(), http[1]) as pdsc:
        url = f"{session.pds_url}/xrpc/com.atproto.server.getSession"
        assert pdsc.get(url).status_code == 200
        with pytest.raises(OAuthGrantError) as reused:
            run_sync(flow.exchange_code(pending, params, nonces=nonces), http[0])
        assert reused.value.error == "invalid_grant"
        assert pdsc.get(url).status_code == 401
    with pytest.raises(OAuthGrantError):
        run_sync(flow.refresh_session(session, nonces=nonces), http[0])


def test_an_authorization_server_that_lies_about_the_account_is_refused(
    pds: PdsProcess, http
) -> None:
    alice = pds.account("alice.test")
    nonces, lookup = NonceStore(), _lookup(pds)
    with LyingAuthorizationServer(victim_did=alice.did) as liar:
        pending = run_sync(
            flow.start_from_identifier(
                liar.url, loopback_client(5000), identity=lookup, nonces=nonces
            ),
            http[0],
        )
        assert pending.issuer == liar.url
        params = {"state": pending.state, "iss": liar.url, "code": "liar-code"}
        with pytest.raises(OAuthIdentityError) as refused:
            run_sync(
                flow.finish_authorization(pending, params, nonces=nonces, identity=lookup),
                http[0],
            )
        assert refused.value.did == alice.did
        assert refused.value.issuer == liar.url
        assert pds.pds_url in str(refused.value)
        # The truth came from the real PLC and PDS: alice's PDS names the real issuer.
        checked = [urlsplit(e.url) for e in http[1].seen]
        assert (urlsplit(pds.plc_url).netloc, f"/{alice.did}") in [
            (u.netloc, u.path) for u in checked
        ]
        assert liar.seen[-1] == "POST /oauth/revoke"


def test_oauth_auth_refreshes_expired_tokens_once_for_many_threads(
    short_lived_pds: PdsProcess, http
) -> None:
    # The real server ends the whole session when a rotated refresh token is reused,
    # so this passes only if concurrent callers share one refresh.
    login = _login(short_lived_pds, http, short_lived_pds.account("bob.test"))
    changes: list[OAuthSession] = []
    holder = OAuthSessionHolder(login.session, on_change=changes.append, nonces=login.nonces)
    auth = OAuthAuth(holder, refresh_margin=0)
    rec = login.recorder
    with httpx.Client(auth=auth, trust_env=False, event_hooks={"response": [rec]}) as pdsc:
        url = f"{login.session.pds_url}/xrpc/com.atproto.server.getSession"
        assert pdsc.get(url).status_code == 200
        assert login.session.expires_at is not None
        time.sleep(max(0.0, login.session.expires_at - time.time()) + 2.5)
        tokens_before = len(rec.to("/oauth/token"))
        statuses: list[int] = []
        barrier = threading.Barrier(6)

        def call() -> None:
            barrier.wait()
            statuses.append(pdsc.get(url).status_code)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 6
        assert len(rec.to("/oauth/token")) == tokens_before + 1
        assert len(changes) == 1
        assert holder.require().refresh_token != login.session.refresh_token
        # A write after the refresh, with a replayable body.
        created = pdsc.post(
            f"{login.session.pds_url}/xrpc/com.atproto.repo.createRecord",
            json=_post(holder.require(), "after an automatic refresh"),
        )
        assert created.status_code == 200, created.text
