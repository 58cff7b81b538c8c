"""Unit tests for Bearer signing and session refresh (the session auth flow).

Every test runs on both flavours (``SessionAuth`` + ``XrpcClient``, and their
async sources) except the thread race, which is sync by nature.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from atmosphere._models import Session
from atmosphere._session import SessionState, SessionStore
from atmosphere._sync.auth import SessionAuth
from atmosphere._sync.xrpc import XrpcClient
from atmosphere.errors import (
    ExpiredTokenError,
    InvalidTokenError,
    NotAuthenticatedError,
    SessionRefreshError,
)
from tests.support.fake_pds import Account, FakePds
from tests.support.flavours import Flavour

GET_SESSION = "com.atproto.server.getSession"
REFRESH = "com.atproto.server.refreshSession"
UPLOAD = "com.atproto.repo.uploadBlob"
NOW = 1_750_000_000.0
Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Rig:
    pds: FakePds
    alice: Account
    store: SessionStore
    xrpc: XrpcClient
    changes: list[str]
    access: str
    refresh: str

    def get_session(self) -> object:
        return self.xrpc.query(self.pds.url, GET_SESSION, auth=True)


@pytest.fixture
def clock() -> list[float]:
    """A settable clock shared by the fake PDS and the auth flow."""
    return [NOW]


@contextmanager
def build_rig(
    clock: list[float],
    flavour: Flavour | None = None,
    *,
    access_ttl: float = 7200,
    wrap: Callable[[Handler], Handler] | None = None,
) -> Iterator[Rig]:
    pds = FakePds("https://pds.test", clock=lambda: clock[0])
    alice = pds.add_account("alice.test", "hunter2")
    access, refresh = pds.issue_tokens(alice.did, access_exp=clock[0] + access_ttl)
    changes: list[str] = []
    store = SessionStore(on_change=changes.append)
    session = Session(did=alice.did, handle=alice.handle, accessJwt=access, refreshJwt=refresh)
    store.set(SessionState(session=session, pds_url=pds.url), notify=False)
    handler: Handler = pds if wrap is None else wrap(pds)
    if flavour is None:  # sync only, for the thread race
        with httpx.Client(transport=httpx.MockTransport(handler)) as http:
            xrpc = XrpcClient(http, auth=SessionAuth(store, clock=lambda: clock[0]))
            yield Rig(pds, alice, store, xrpc, changes, access, refresh)
        return
    auth = flavour.session_auth(store, clock=lambda: clock[0])
    xrpc = flavour.xrpc(flavour.http(handler), auth=auth)
    yield Rig(pds, alice, store, xrpc, changes, access, refresh)


@pytest.fixture
def rig(clock: list[float], flavour: Flavour) -> Iterator[Rig]:
    with build_rig(clock, flavour) as rig:
        yield rig


def test_requests_are_signed_with_the_access_token(rig: Rig) -> None:
    answer = rig.get_session()
    assert isinstance(answer, dict)
    assert answer["did"] == rig.alice.did
    (sent,) = rig.pds.requests
    assert sent.headers["authorization"] == f"Bearer {rig.access}"
    assert rig.pds.calls[REFRESH] == 0
    assert rig.changes == []


def test_unauthenticated_calls_are_not_signed(rig: Rig) -> None:
    rig.xrpc.query(
        rig.pds.url, "com.atproto.repo.listRecords", {"repo": rig.alice.did, "collection": "a.b.c"}
    )
    assert "authorization" not in rig.pds.requests[0].headers


def test_expired_token_answer_refreshes_then_resends(rig: Rig) -> None:
    rig.pds.expire_access_tokens()
    answer = rig.get_session()
    assert isinstance(answer, dict)
    assert answer["did"] == rig.alice.did
    assert rig.pds.calls[REFRESH] == 1
    first, resent = rig.pds.sent(GET_SESSION)
    (refresh_call,) = rig.pds.sent(REFRESH)
    assert first.bearer == rig.access
    assert refresh_call.bearer == rig.refresh  # refreshSession takes the refresh JWT
    new = rig.store.require().session
    assert new.access_jwt != rig.access
    assert new.refresh_jwt != rig.refresh  # both tokens rotate
    assert resent.bearer == new.access_jwt


def test_refresh_reports_the_new_session_string(rig: Rig) -> None:
    rig.pds.expire_access_tokens()
    rig.get_session()
    new = rig.store.require()
    assert rig.changes == [new.encode()]
    handle, did, access, refresh, pds = rig.changes[0].split(":::")
    assert (handle, did, pds) == ("alice.test", rig.alice.did, rig.pds.url)
    assert access == new.session.access_jwt
    assert refresh == new.session.refresh_jwt != rig.refresh


def test_expired_token_with_status_401_also_refreshes(rig: Rig) -> None:
    rig.pds.inject(
        GET_SESSION,
        httpx.Response(401, json={"error": "ExpiredToken", "message": "Token has expired"}),
    )
    rig.get_session()
    assert rig.pds.calls[REFRESH] == 1
    assert rig.pds.calls[GET_SESSION] == 2


def test_a_second_expired_answer_is_not_refreshed_again(rig: Rig) -> None:
    expired = {"error": "ExpiredToken", "message": "Token has expired"}
    rig.pds.inject(GET_SESSION, httpx.Response(400, json=expired))
    rig.pds.inject(GET_SESSION, httpx.Response(400, json=expired))
    with pytest.raises(ExpiredTokenError):
        rig.get_session()
    assert rig.pds.calls[REFRESH] == 1
    assert rig.pds.calls[GET_SESSION] == 2


def test_other_auth_errors_do_not_refresh(rig: Rig) -> None:
    rig.pds.inject(
        GET_SESSION, httpx.Response(400, json={"error": "InvalidToken", "message": "Bad token"})
    )
    with pytest.raises(InvalidTokenError):
        rig.get_session()
    assert rig.pds.calls[REFRESH] == 0
    assert rig.store.state is not None


def test_preemptive_refresh_when_exp_is_near(clock: list[float], flavour: Flavour) -> None:
    with build_rig(clock, flavour, access_ttl=30) as rig:
        rig.get_session()
        assert rig.pds.calls[REFRESH] == 1
        (call,) = rig.pds.sent(GET_SESSION)  # no wasted ExpiredToken round trip
        assert call.bearer == rig.store.require().session.access_jwt != rig.access
        assert [r.nsid for r in rig.pds.requests] == [REFRESH, GET_SESSION]


@pytest.mark.parametrize(("ttl", "refreshes"), [(60, 1), (61, 0), (3600, 0)])
def test_refresh_margin_is_sixty_seconds(
    clock: list[float], flavour: Flavour, ttl: float, refreshes: int
) -> None:
    with build_rig(clock, flavour, access_ttl=ttl) as rig:
        rig.get_session()
        assert rig.pds.calls[REFRESH] == refreshes


def test_no_refresh_while_the_token_is_fresh(rig: Rig, clock: list[float]) -> None:
    for _ in range(3):
        rig.get_session()
        clock[0] += 600
    assert rig.pds.calls[REFRESH] == 0
    clock[0] += 7200  # now past exp: the next call refreshes first
    rig.get_session()
    assert rig.pds.calls[REFRESH] == 1


@pytest.mark.parametrize("how", ["server-says-expired", "exp-in-the-past"])
def test_concurrent_threads_share_one_refresh_sync_only(clock: list[float], how: str) -> None:
    """Threads racing for one refresh: sync by nature (the asyncio twin, many
    coroutines sharing one refresh, is in tests/unit/client/test_async_client.py)."""
    threads_n = 16

    def overlap(pds: Handler) -> Handler:
        """Make the race real: the first getSession calls all arrive before any
        is answered, and the refresh is slow enough for every thread to have
        read the old token while it runs."""
        gate = threading.Barrier(threads_n)
        arrivals = iter(range(threads_n))

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith(REFRESH):
                time.sleep(0.2)
            elif next(arrivals, None) is not None:
                gate.wait(timeout=10)
            return pds(request)

        return handler

    ttl = -10 if how == "exp-in-the-past" else 7200
    with build_rig(clock, access_ttl=ttl, wrap=overlap) as rig:
        if how == "server-says-expired":
            rig.pds.expire_access_tokens()
        barrier = threading.Barrier(threads_n)
        results: list[object] = []
        failures: list[BaseException] = []

        def call(rig: Rig = rig, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                results.append(rig.get_session())
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=call) for _ in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert failures == []
        assert len(results) == threads_n
        assert all(isinstance(r, dict) and r["did"] == rig.alice.did for r in results)
        assert rig.pds.calls[REFRESH] == 1
        assert len(rig.changes) == 1
        new_token = rig.store.require().session.access_jwt
        succeeded = [r for r in rig.pds.sent(GET_SESSION) if r.bearer == new_token]
        assert len(succeeded) == threads_n


def test_revoked_refresh_token_fails_and_logs_out(rig: Rig) -> None:
    rig.pds.expire_access_tokens()
    rig.pds.revoke_refresh_tokens()
    with pytest.raises(SessionRefreshError) as info:
        rig.get_session()
    err = info.value
    assert err.error == "ExpiredToken"
    assert err.nsid == REFRESH
    assert "revoked" in str(err)
    assert rig.access not in str(err)
    assert rig.refresh not in str(err)
    assert rig.store.state is None
    assert rig.changes == []
    with pytest.raises(NotAuthenticatedError):
        rig.get_session()
    assert rig.pds.calls[REFRESH] == 1  # no second attempt once logged out


def test_refresh_for_another_did_is_refused(rig: Rig) -> None:
    rig.pds.expire_access_tokens()
    rig.pds.refresh_did = "did:plc:zzzzzzzzzzzzzzzzzzzzzzzz"
    with pytest.raises(SessionRefreshError) as info:
        rig.get_session()
    assert "did:plc:zzzzzzzzzzzzzzzzzzzzzzzz" in str(info.value)
    assert rig.store.state is None
    assert rig.changes == []
    assert rig.pds.calls[GET_SESSION] == 1  # never resent with the foreign token


def test_unreadable_refresh_answer_is_a_refresh_error(rig: Rig) -> None:
    rig.pds.expire_access_tokens()
    rig.pds.inject(REFRESH, httpx.Response(200, text="<html>oops</html>"))
    with pytest.raises(SessionRefreshError):
        rig.get_session()
    assert rig.store.state is None


def test_absurdly_nested_refresh_answer_is_a_refresh_error(rig: Rig) -> None:
    rig.pds.expire_access_tokens()
    rig.pds.inject(REFRESH, httpx.Response(200, content=b"[" * 100_000))
    with pytest.raises(SessionRefreshError):
        rig.get_session()
    assert rig.store.state is None


def test_streamed_body_is_never_resent(rig: Rig, flavour: Flavour) -> None:
    rig.pds.expire_access_tokens()
    started: list[int] = []

    def body() -> Iterator[bytes]:
        started.append(1)
        yield b"chunk-1 "
        yield b"chunk-2"

    with pytest.raises(ExpiredTokenError) as info:
        rig.xrpc.procedure(
            rig.pds.url,
            UPLOAD,
            content=flavour.stream(body()),
            content_type="text/plain",
            body_size=15,
        )
    assert info.value.nsid == UPLOAD  # the upload's own error, not the refresh answer
    assert rig.pds.calls[UPLOAD] == 1
    assert started == [1]
    # The session was still refreshed, so the caller can replay its source itself.
    assert rig.pds.calls[REFRESH] == 1
    assert rig.store.require().session.access_jwt != rig.access
    answer = rig.xrpc.procedure(
        rig.pds.url, UPLOAD, content=flavour.stream(body()), content_type="text/plain", body_size=15
    )
    assert answer["blob"]["size"] == 15
    assert rig.pds.calls[REFRESH] == 1


def test_bytes_body_is_resent_after_refresh(rig: Rig) -> None:
    rig.pds.expire_access_tokens()
    answer = rig.xrpc.procedure(
        rig.pds.url, UPLOAD, content=b"replayable", content_type="text/plain", body_size=10
    )
    assert answer["blob"]["size"] == 10
    first, resent = rig.pds.sent(UPLOAD)
    assert first.body == resent.body == b"replayable"
    assert rig.pds.calls[REFRESH] == 1


def test_json_procedure_is_resent_after_refresh(rig: Rig) -> None:
    rig.pds.expire_access_tokens()
    record = {"$type": "a.b.c", "n": 1}
    answer = rig.xrpc.procedure(
        rig.pds.url,
        "com.atproto.repo.createRecord",
        {"repo": rig.alice.did, "collection": "a.b.c", "record": record},
    )
    assert answer["uri"].startswith(f"at://{rig.alice.did}/a.b.c/")
    assert rig.pds.calls["com.atproto.repo.createRecord"] == 2
    assert len(rig.alice.records["a.b.c"]) == 1
