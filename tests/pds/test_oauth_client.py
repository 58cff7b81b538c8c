"""OAuth through the public clients, against the reference PDS's authorization server.

Sign-in and consent go through the provider's own JSON API (the ``open_browser``
hook stands in for the browser and follows the redirect to the real loopback
callback server); everything else is the client's public API, sync and async.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from atmosphere import (
    AsyncAtmosphereClient,
    AtmosphereClient,
    AuthenticationError,
    NotAuthenticatedError,
    OAuthCallbackError,
    OAuthGrantError,
    OAuthIdentityError,
    OAuthSession,
    PendingAuthorization,
    ScopeMissingError,
    XrpcError,
    compute_cid,
)
from tests.support.appview import QUERY, AppView
from tests.support.lying_as import LyingAuthorizationServer
from tests.support.oauth_provider import approve, reject
from tests.support.pds import Account, PdsProcess, start_pds

pytestmark = pytest.mark.pds

COLLECTION = "com.example.atmosphere.oauthTest"
POST = "app.bsky.feed.post"
LIKE = "app.bsky.feed.like"
WEB_REDIRECT = "http://127.0.0.1:8765/oauth/callback"


class Recorder:
    """httpx event hooks that keep what each request carried."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int, dict[str, str]]] = []

    def __call__(self, response: httpx.Response) -> None:
        request = response.request
        self.seen.append(
            (request.method, str(request.url), response.status_code, dict(request.headers))
        )

    def xrpc(self) -> list[tuple[str, str, int, dict[str, str]]]:
        return [s for s in self.seen if "/xrpc/" in s[1]]


async def _arecord(recorder: Recorder, response: httpx.Response) -> None:
    recorder(response)


def consent(account: Account, *, scope: str | None = None) -> Callable[[str], None]:
    """An ``open_browser`` that signs in, consents, and follows the redirect to the callback."""

    def open_browser(url: str) -> None:
        redirect = approve(url, account.handle, account.password, scope=scope)
        page = httpx.get(redirect, trust_env=False, timeout=30)
        assert page.status_code == 200
        assert "You may close this window" in page.text

    return open_browser


def _client(pds: PdsProcess, **options: object) -> AtmosphereClient:
    """A client for the loopback test PDS: local development switched on explicitly."""
    options.setdefault("allow_private_hosts", True)
    return AtmosphereClient(pds.pds_url, plc_url=pds.plc_url, **options)  # type: ignore[arg-type]


def _aclient(pds: PdsProcess, **options: object) -> AsyncAtmosphereClient:
    options.setdefault("allow_private_hosts", True)
    return AsyncAtmosphereClient(pds.pds_url, plc_url=pds.plc_url, **options)  # type: ignore[arg-type]


def _note(text: str) -> dict[str, object]:
    return {"$type": COLLECTION, "text": text, "createdAt": "2026-01-01T00:00:00.000Z"}


def _post(text: str) -> dict[str, object]:
    return {"$type": POST, "text": text, "createdAt": "2026-01-01T00:00:00.000Z"}


def _secrets(session: OAuthSession) -> list[str]:
    saved = session.to_dict()
    values = [session.access_token, saved["dpop_key"]["d"]]
    if session.refresh_token:
        values.append(session.refresh_token)
    return values


def _sleep_past_expiry(session: OAuthSession | None) -> None:
    assert session is not None
    assert session.expires_at is not None
    time.sleep(max(0.0, session.expires_at - time.time()) + 2.5)


# -- the loopback client (scripts, notebooks) ---------------------------------------


def test_loopback_login_then_every_call_is_dpop_signed_and_logout_revokes(
    pds: PdsProcess, tmp_path: Path
) -> None:
    alice = pds.account("alice.test")
    recorder = Recorder()
    changes: list[str] = []
    shown: list[str] = []
    http = httpx.Client(trust_env=False, timeout=30, event_hooks={"response": [recorder]})
    with http, _client(pds, _client=http, on_session_change=changes.append) as client:
        session = client.login_oauth(
            alice.handle,
            open_browser=consent(alice),
            show_url=shown.append,
        )
        assert shown
        assert shown[0].startswith(f"{pds.pds_url}/oauth/authorize?")
        assert session.did == client.did == alice.did
        assert client.handle == alice.handle
        assert client.is_authenticated
        assert client.oauth_session == session
        assert session.scope == "atproto transition:generic"
        assert len(changes) == 1
        assert OAuthSession.from_json(changes[0], allow_private_hosts=True) == session

        # Records: create, read, update, list, delete.
        uri = client.create_record(COLLECTION, _note("hello over OAuth"))
        assert uri.authority == alice.did
        assert client.get_record(uri)["text"] == "hello over OAuth"
        client.put_record(COLLECTION, uri.rkey, _note("updated over OAuth"))
        records, _ = client.list_records(COLLECTION)
        assert "updated over OAuth" in [r.get("text") for r in records]
        client.delete_record(uri)

        # Blobs: bytes, and a file streamed from disk.
        data = b"a blob published with an OAuth session\n" * 100
        ref = client.upload_blob(data, mime_type="text/plain")
        assert ref["ref"]["$link"] == compute_cid(data)
        shard = tmp_path / "shard.bin"
        shard.write_bytes(bytes(range(256)) * 4096)
        streamed = client.upload_blob(shard)
        assert streamed["size"] == 256 * 4096
        with_blob = client.create_record(COLLECTION, {**_note("with a blob"), "blob": streamed})
        assert client.get_blob(alice.did, streamed["ref"]["$link"]) == shard.read_bytes()

        # The open XRPC calls.
        assert client.query("com.atproto.server.getSession")["did"] == alice.did
        answer = client.procedure(
            "com.atproto.repo.deleteRecord",
            {"repo": alice.did, "collection": COLLECTION, "rkey": with_blob.rkey},
        )
        assert isinstance(answer, dict)

        # Every call to the PDS carried the DPoP token and a proof; never a bearer token.
        calls = [
            s for s in recorder.xrpc() if urlsplit(s[1]).netloc == urlsplit(pds.pds_url).netloc
        ]
        signed = [s for s in calls if "authorization" in s[3]]
        assert signed
        for _method, _url, _status, headers in signed:
            assert headers["authorization"].startswith("DPoP ")
            assert headers["dpop"].count(".") == 2

        # Secrets stay out of reprs.
        current = client.oauth_session
        assert current is not None
        for text in (repr(client), repr(current), str(current)):
            for secret in _secrets(current):
                assert secret not in text

        exported = client.export_session()
        client.logout()
        assert not client.is_authenticated
        with pytest.raises(NotAuthenticatedError):
            client.create_record(COLLECTION, _note("after logout"))
    assert recorder.seen[-1][1] == f"{pds.pds_url}/oauth/revoke"

    # The revoked session cannot be brought back.
    with _client(pds) as again, pytest.raises((AuthenticationError, OAuthGrantError)):
        again.login_with_session(exported)
    assert not again.is_authenticated


def test_the_async_client_logs_in_publishes_and_logs_out(pds: PdsProcess, tmp_path: Path) -> None:
    bob = pds.account("bob.test")
    shard = tmp_path / "async-shard.bin"
    shard.write_bytes(b"\x00\x01" * 50_000)

    async def main() -> tuple[str, str]:
        async with _aclient(pds) as client:
            session = await client.login_oauth(bob.handle, open_browser=consent(bob), show_url=None)
            assert client.did == bob.did == session.did
            uri = await client.create_record(COLLECTION, _note("async over OAuth"))
            assert (await client.get_record(uri))["text"] == "async over OAuth"
            ref = await client.upload_blob(shard)
            assert ref["ref"]["$link"] == compute_cid(shard.read_bytes())
            info = await client.query("com.atproto.server.getSession")
            exported = client.export_session()
            await client.logout()
            return info["did"], exported

    did, exported = asyncio.run(main())
    assert did == bob.did

    async def restore() -> None:
        async with _aclient(pds) as client:
            await client.login_with_session(exported)

    with pytest.raises((AuthenticationError, OAuthGrantError)):
        asyncio.run(restore())


def test_a_saved_session_is_restored_in_another_client(pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    with _client(pds) as first:
        first.login_oauth(alice.handle, open_browser=consent(alice), show_url=None)
        saved = first.export_session()
    assert json.loads(saved)["format"] == "atmosphere.oauth/1"
    with _client(pds) as second:
        second.login_with_session(saved)
        assert second.did == alice.did
        assert second.handle == alice.handle
        uri = second.create_record(COLLECTION, _note("from a restored OAuth session"))
        second.delete_record(uri)
        second.logout()


def test_a_restored_session_needs_the_private_host_switch_for_loopback(pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    with _client(pds) as first:
        first.login_oauth(alice.handle, open_browser=consent(alice), show_url=None)
        saved = first.export_session()
        with _client(pds, allow_private_hosts=False) as second:
            with pytest.raises(ValueError, match="not an acceptable URL"):
                second.login_with_session(saved)
            assert not second.is_authenticated
        first.logout()


# -- the web app: two steps, state kept server-side ----------------------------------


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_web_app_split_steps(pds: PdsProcess, flavour: str) -> None:
    alice = pds.account("alice.test")

    def finish_in(params: dict[str, str], stored: str) -> tuple[str, str]:
        if flavour == "sync":
            with _client(pds) as handler:
                session = handler.oauth_finish(params, json.loads(stored))
                uri = handler.create_record(COLLECTION, _note("from a web app"))
                handler.delete_record(uri)
                handler.logout()
                return session.did, session.scope

        async def main() -> tuple[str, str]:
            async with _aclient(pds) as handler:
                session = await handler.oauth_finish(params, json.loads(stored))
                uri = await handler.create_record(COLLECTION, _note("from an async web app"))
                await handler.delete_record(uri)
                await handler.logout()
                return session.did, session.scope

        return asyncio.run(main())

    with _client(pds) as starter:
        pending = starter.oauth_start(alice.handle, redirect_uri=WEB_REDIRECT)
    assert isinstance(pending, PendingAuthorization)
    assert pending.url.startswith(f"{pds.pds_url}/oauth/authorize?")
    stored = json.dumps(pending.to_dict())  # what a web app keeps server-side, by state
    for secret in (pending.pkce.verifier, pending.dpop_key.private_jwk()["d"]):
        assert secret not in repr(pending)
    redirect = approve(pending.url, alice.handle, alice.password)
    assert redirect.startswith(WEB_REDIRECT + "?")
    params = dict(parse_qsl(urlsplit(redirect).query))
    assert params["state"] == pending.state
    assert finish_in(params, stored) == (alice.did, "atproto transition:generic")


def test_web_app_refuses_a_wrong_state_and_reports_a_denied_consent(pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    with _client(pds) as client:
        pending = client.oauth_start(alice.handle, redirect_uri=WEB_REDIRECT)
        redirect = approve(pending.url, alice.handle, alice.password)
        params = dict(parse_qsl(urlsplit(redirect).query))
        with pytest.raises(OAuthCallbackError, match="state"):
            client.oauth_finish({**params, "state": "forged"}, pending)
        assert not client.is_authenticated

        denied = client.oauth_start(alice.handle, redirect_uri=WEB_REDIRECT)
        refusal = dict(parse_qsl(urlsplit(reject(denied.url)).query))
        with pytest.raises(OAuthCallbackError) as caught:
            client.oauth_finish(refusal, denied)
        assert caught.value.error == "access_denied"
        assert not client.is_authenticated


def test_a_loopback_login_reports_a_denied_consent(pds: PdsProcess) -> None:
    alice = pds.account("alice.test")

    def deny(url: str) -> None:
        httpx.get(reject(url), trust_env=False, timeout=30)

    with _client(pds) as client, pytest.raises(OAuthCallbackError) as caught:
        client.login_oauth(alice.handle, open_browser=deny, show_url=None)
    assert caught.value.error == "access_denied"
    assert not client.is_authenticated


def test_a_lying_authorization_server_is_refused_by_the_client(pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    with LyingAuthorizationServer(victim_did=alice.did) as liar, _client(pds) as client:
        pending = client.oauth_start(liar.url, redirect_uri=WEB_REDIRECT)
        params = {"state": pending.state, "iss": liar.url, "code": "liar-code"}
        with pytest.raises(OAuthIdentityError) as refused:
            client.oauth_finish(params, pending)
        assert refused.value.did == alice.did
        assert not client.is_authenticated
        assert liar.seen[-1] == "POST /oauth/revoke"


# -- scopes ----------------------------------------------------------------------------


def test_the_granted_scope_is_reported_and_enforced(pds: PdsProcess) -> None:
    bob = pds.account("bob.test")
    scope = f"atproto repo:{POST}?action=create"
    with _client(pds) as client:
        session = client.login_oauth(
            bob.handle,
            scope=scope,
            open_browser=consent(bob),
            show_url=None,
        )
        assert session.scope == scope
        assert session.scopes == ("atproto", f"repo:{POST}?action=create")
        uri = client.create_record(POST, _post("allowed by the scope"))
        assert uri.collection == POST
        like = {
            "$type": LIKE,
            "subject": {"uri": str(uri), "cid": compute_cid(b"x")},
            "createdAt": "2026-01-01T00:00:00.000Z",
        }
        with pytest.raises(ScopeMissingError) as missing:
            client.create_record(LIKE, like)
        assert isinstance(missing.value, XrpcError)
        assert missing.value.status == 403
        assert missing.value.required_scope == f"repo:{LIKE}?action=create"
        assert client.is_authenticated  # a scope refusal does not end the session
        with _client(pds) as again:  # a narrow session restores (and is checked) too
            again.login_with_session(client.export_session())
            assert again.did == bob.did
        client.logout()


# -- service proxying ------------------------------------------------------------------


def test_service_proxying_works_with_an_oauth_session(pds: PdsProcess, appview: AppView) -> None:
    alice = pds.account("alice.test")
    with _client(pds) as client:
        client.login_oauth(alice.handle, open_browser=consent(alice), show_url=None)
        answer = client.query(QUERY, {"uris": ["at://a/b/c"]}, proxy=appview.proxy_header)
        assert answer["viewer"] == alice.did
        (call,) = appview.received
        assert call.auth is not None
        assert call.auth.claims["iss"] == alice.did
        client.logout()


# -- expiry, refresh with rotation, a replayed refresh token ----------------------------


@pytest.fixture(scope="module")
def short_lived_pds() -> Iterator[PdsProcess]:
    """A second PDS whose OAuth access tokens live 3 seconds."""
    with start_pds(oauth_token_max_age=3) as server:
        yield server


def test_expiry_refresh_rotation_and_a_replayed_refresh_token(
    short_lived_pds: PdsProcess, tmp_path: Path
) -> None:
    pds = short_lived_pds
    alice = pds.account("alice.test")
    changes: list[str] = []
    with _client(pds, on_session_change=changes.append) as client:
        first = client.login_oauth(alice.handle, open_browser=consent(alice), show_url=None)
        before_refresh = client.export_session()
        _sleep_past_expiry(client.oauth_session)
        uri = client.create_record(COLLECTION, _note("after the token expired"))
        assert len(changes) == 2  # the login, then the refresh
        refreshed = OAuthSession.from_json(changes[-1], allow_private_hosts=True)
        assert refreshed.refresh_token != first.refresh_token
        assert refreshed.dpop_key == first.dpop_key
        client.delete_record(uri)

        # The rotated-away refresh token, replayed by a stale copy of the session:
        # the server refuses it and ends the whole session.
        stale = json.loads(before_refresh)
        stale["expires_at"] = None  # no early refresh: the call fails, then the refresh
        with _client(pds) as replay:
            replay.login_with_session(json.dumps(stale), verify=False)
            with pytest.raises(OAuthGrantError) as replayed:
                replay.create_record(COLLECTION, _note("from a replayed refresh token"))
            assert replayed.value.error == "invalid_grant"
            assert not replay.is_authenticated
        # ... including for the client that held the current tokens.
        with pytest.raises((OAuthGrantError, AuthenticationError)):
            client.query("com.atproto.server.getSession")


def test_an_expired_token_is_refreshed_after_the_401_and_streams_are_resent(
    short_lived_pds: PdsProcess, tmp_path: Path
) -> None:
    pds = short_lived_pds
    bob = pds.account("bob.test")
    with _client(pds) as login:
        login.login_oauth(bob.handle, open_browser=consent(bob), show_url=None)
        saved = json.loads(login.export_session())
    saved["expires_at"] = None  # the client cannot know: only the server's 401 tells it
    changes: list[str] = []
    shard = tmp_path / "after-expiry.bin"
    shard.write_bytes(b"streamed after the token expired\n" * 2000)
    with _client(pds, on_session_change=changes.append) as c:
        c.login_with_session(json.dumps(saved), verify=False)
        time.sleep(5.5)
        assert c.query("com.atproto.server.getSession")["did"] == bob.did
        assert len(changes) == 1  # refreshed once, after the 401
        session = OAuthSession.from_json(changes[-1], allow_private_hosts=True)
        # Restore it again without an expiry, wait, and stream: the streamed body
        # cannot be replayed by the auth flow; the client rebuilds it and resends.
        c.login_with_session(json.dumps({**session.to_dict(), "expires_at": None}), verify=False)
        time.sleep(5.5)
        ref = c.upload_blob(shard)
        assert ref["ref"]["$link"] == compute_cid(shard.read_bytes())
        # Refreshed after the 401; the resend may refresh again early, as these
        # tokens live less than the client's 60 s refresh margin.
        assert len(changes) >= 2
        c.logout()
