"""OAuthAuth over MockTransport: signing, nonce retry, proactive and reactive refresh, locking."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from atmosphere._async.oauth import AsyncOAuthAuth
from atmosphere._oauth.auth import OAuthSessionHolder
from atmosphere._oauth.dpop import access_token_hash
from atmosphere._oauth.errors import OAuthGrantError
from atmosphere._oauth.keys import DpopKey
from atmosphere._oauth.session import OAuthSession
from atmosphere._sync.oauth import OAuthAuth
from atmosphere.errors import ExpiredTokenError, NotAuthenticatedError
from tests.support.oauth_fakes import claims, refresh_grant

PDS = "https://pds.example"
ISSUER = "https://auth.example"
DID = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"


class Server:
    """A PDS + authorization server pair that rotates tokens like the reference one."""

    def __init__(self) -> None:
        self.generation = 1
        self.refreshes = 0
        self.refresh_fails = False
        self.seen: list[tuple[str, str, dict]] = []  # (method, path, proof claims)
        self.lock = threading.Lock()

    def handler(self, request: httpx.Request) -> httpx.Response:
        proof = claims(request.headers["DPoP"])
        self.seen.append((request.method, request.url.path, proof))
        nonce = {"DPoP-Nonce": "n1"}
        if str(request.url) == f"{ISSUER}/oauth/token":
            return refresh_grant(self, request, DID, nonce, refuse=self.refresh_fails)
        if proof.get("nonce") != "n1":
            challenge = {"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', **nonce}
            return httpx.Response(401, json={"error": "use_dpop_nonce"}, headers=challenge)
        if request.headers["Authorization"] != f"DPoP at-{self.generation}":
            challenge = {"WWW-Authenticate": 'DPoP error="invalid_token"', **nonce}
            body = {"error": "invalid_token", "message": '"exp" claim timestamp check failed'}
            return httpx.Response(401, json=body, headers=challenge)
        return httpx.Response(
            200, json={"ok": True, "body": request.content.decode()}, headers=nonce
        )

    def count(self, path: str) -> int:
        return sum(1 for _, p, _ in self.seen if p == path)


def _session(expires_at: float | None = None) -> OAuthSession:
    return OAuthSession(
        did=DID,
        pds_url=PDS,
        issuer=ISSUER,
        client_id="http://localhost",
        scope="atproto transition:generic",
        token_endpoint=f"{ISSUER}/oauth/token",
        revocation_endpoint=None,
        access_token="at-1",
        refresh_token="ref-1",
        expires_at=expires_at,
        dpop_key=DpopKey.generate(),
    )


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def changes() -> list[OAuthSession]:
    return []


@pytest.fixture
def holder(changes: list[OAuthSession]) -> OAuthSessionHolder:
    return OAuthSessionHolder(_session(), on_change=changes.append)


@pytest.fixture
def client(server: Server, holder: OAuthSessionHolder) -> Iterator[httpx.Client]:
    auth = OAuthAuth(holder, refresh_margin=60, clock=lambda: 1000.0)
    with httpx.Client(auth=auth, transport=httpx.MockTransport(server.handler)) as c:
        yield c


def test_signs_and_follows_the_nonce_challenge(server: Server, client: httpx.Client) -> None:
    # The body arrives as sent (httpx < 0.28 serialises JSON with spaces, 0.28 without).
    assert json.loads(client.post(f"{PDS}/xrpc/a.b.c", json={"x": 1}).json()["body"]) == {"x": 1}
    assert [s[2].get("nonce") for s in server.seen] == [None, "n1"]
    assert server.seen[1][2]["htu"] == f"{PDS}/xrpc/a.b.c"
    assert client.get(f"{PDS}/xrpc/a.b.d").status_code == 200
    assert len(server.seen) == 3


def test_an_expired_token_is_refreshed_and_the_call_resent(
    server: Server, client: httpx.Client, holder: OAuthSessionHolder, changes: list
) -> None:
    client.get(f"{PDS}/xrpc/warm.up")
    # The PDS now rejects at-1 as expired (as the reference PDS does after "exp").
    expired = {"DPoP at-1"}
    real = server.handler

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") in expired:
            server.seen.append((request.method, request.url.path, claims(request.headers["DPoP"])))
            return httpx.Response(
                401,
                json={"error": "invalid_token"},
                headers={"WWW-Authenticate": 'DPoP error="invalid_token"', "DPoP-Nonce": "n1"},
            )
        return real(request)

    with httpx.Client(
        auth=OAuthAuth(holder, refresh_margin=0), transport=httpx.MockTransport(handler)
    ) as c:
        answer = c.post(f"{PDS}/xrpc/x.y.z", content=b"payload")
    assert answer.status_code == 200
    assert answer.json()["body"] == "payload"
    assert server.refreshes == 1
    assert holder.require().access_token == "at-2"
    assert [s.access_token for s in changes] == ["at-2"]
    token_proof = next(p for m, path, p in server.seen if path == "/oauth/token")
    assert token_proof["htu"] == f"{ISSUER}/oauth/token"
    assert "ath" not in token_proof


def test_a_token_about_to_expire_is_refreshed_before_sending(server: Server, changes: list) -> None:
    holder = OAuthSessionHolder(_session(expires_at=1030.0), on_change=changes.append)
    auth = OAuthAuth(holder, refresh_margin=60, clock=lambda: 1000.0)
    with httpx.Client(auth=auth, transport=httpx.MockTransport(server.handler)) as c:
        assert c.get(f"{PDS}/xrpc/a.b.c").status_code == 200
    assert server.refreshes == 1
    assert server.count("/oauth/token") == 1  # the nonce came with the first token answer
    pds_calls = [p for _, path, p in server.seen if path == "/xrpc/a.b.c"]
    assert pds_calls
    assert all(p["ath"] == access_token_hash("at-2") for p in pds_calls)
    assert len(changes) == 1


def test_a_refused_refresh_ends_the_session(server: Server) -> None:
    server.refresh_fails = True
    holder = OAuthSessionHolder(_session(expires_at=1000.0))
    auth = OAuthAuth(holder, refresh_margin=60, clock=lambda: 1000.0)
    with httpx.Client(auth=auth, transport=httpx.MockTransport(server.handler)) as c:
        with pytest.raises(OAuthGrantError) as caught:
            c.get(f"{PDS}/xrpc/a.b.c")
        assert "ref-1" not in str(caught.value)
        assert holder.session is None
        with pytest.raises(NotAuthenticatedError):
            c.get(f"{PDS}/xrpc/a.b.c")


def test_a_streamed_body_is_not_resent_but_the_session_is_refreshed(server: Server) -> None:
    holder = OAuthSessionHolder(_session())
    expired = True

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal expired
        if request.url.path != "/oauth/token" and expired:
            server.seen.append(("x", request.url.path, {}))
            request.read()
            return httpx.Response(
                401,
                json={"error": "invalid_token", "message": "expired"},
                headers={"WWW-Authenticate": 'DPoP error="invalid_token"', "DPoP-Nonce": "n1"},
            )
        return server.handler(request)

    def chunks() -> Iterator[bytes]:
        yield b"one-shot"

    auth = OAuthAuth(holder, refresh_margin=0)
    client = httpx.Client(auth=auth, transport=httpx.MockTransport(handler))
    # ExpiredTokenError: the XRPC layer rebuilds a body it can rebuild and resends it once.
    with client as c, pytest.raises(ExpiredTokenError):
        c.post(f"{PDS}/xrpc/com.atproto.repo.uploadBlob", content=chunks())
    assert holder.require().access_token == "at-2"
    assert server.count("/xrpc/com.atproto.repo.uploadBlob") == 1


def test_many_threads_on_an_expired_token_cause_one_refresh(server: Server) -> None:
    holder = OAuthSessionHolder(_session(expires_at=1000.0))
    auth = OAuthAuth(holder, refresh_margin=60, clock=lambda: 1000.0)
    results: list[int] = []
    with httpx.Client(auth=auth, transport=httpx.MockTransport(server.handler)) as c:
        barrier = threading.Barrier(8)

        def call() -> None:
            barrier.wait()
            results.append(c.get(f"{PDS}/xrpc/a.b.c").status_code)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == [200] * 8
    assert server.refreshes == 1


def test_the_async_shell_refreshes_too(server: Server) -> None:
    holder = OAuthSessionHolder(_session(expires_at=1000.0))

    async def main() -> list[int]:
        auth = AsyncOAuthAuth(holder, refresh_margin=60, clock=lambda: 1000.0)
        async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(server.handler)) as c:
            answers = await asyncio.gather(*(c.get(f"{PDS}/xrpc/a.b.c") for _ in range(5)))
        return [a.status_code for a in answers]

    assert asyncio.run(main()) == [200] * 5
    assert server.refreshes == 1
    assert holder.require().access_token == "at-2"


def test_callers_waiting_on_a_refused_refresh_all_get_the_error(server: Server) -> None:
    server.refresh_fails = True
    holder = OAuthSessionHolder(_session(expires_at=1000.0))
    auth = OAuthAuth(holder, refresh_margin=60, clock=lambda: 1000.0)
    errors: list[BaseException] = []
    with httpx.Client(auth=auth, transport=httpx.MockTransport(server.handler)) as c:
        barrier = threading.Barrier(4)

        def call() -> None:
            barrier.wait()
            try:
                c.get(f"{PDS}/xrpc/a.b.c")
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert server.count("/oauth/token") == 1
    assert len(errors) == 4
    assert all(isinstance(e, (OAuthGrantError, NotAuthenticatedError)) for e in errors)
    assert sum(isinstance(e, OAuthGrantError) for e in errors) >= 1
    assert holder.session is None
