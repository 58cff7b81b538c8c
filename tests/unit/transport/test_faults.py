"""Fault injection against a real loopback HTTP server (no MockTransport).

Each case ends in a successful retry or a precise typed error, in bounded
time, and the server's own counts show that no write was sent twice where
that would duplicate data. The retry policy here backs off in milliseconds;
the pure decisions are covered in test_retry.py. Every test runs on both
flavours (the ``flavour`` fixture) except the thread races, sync by nature,
and their asyncio twins (coroutines sharing one client), async by nature.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from atmosphere import (
    AsyncAtmosphereClient,
    AtmosphereClient,
    HandleResolutionError,
    IdentityResolver,
    InvalidResponseError,
    NetworkTimeoutError,
    NotAuthenticatedError,
    RateLimitError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    SessionRefreshError,
    TransportError,
    XrpcError,
)
from atmosphere._models import Session
from atmosphere._retry import NO_RETRY
from atmosphere._session import SessionState, SessionStore
from atmosphere._sync.xrpc import XrpcClient
from tests.support.fake_pds import Account, blob_cid
from tests.support.fault_server import (
    FaultServer,
    bad_json,
    error,
    html,
    oversized,
    rate_limited,
    redirect,
    reset,
    reset_mid_body,
    slow,
    stall,
    truncated,
    wrong_type,
)
from tests.support.flavours import Flavour, NoDns
from tests.support.routing import RoutingTransport
from tests.support.timing import Elapsed

PASSWORD = "correct horse battery staple"
COLL = "com.example.fault.item"
CREATE_SESSION = "com.atproto.server.createSession"
REFRESH = "com.atproto.server.refreshSession"
CREATE = "com.atproto.repo.createRecord"
PUT = "com.atproto.repo.putRecord"
DELETE = "com.atproto.repo.deleteRecord"
GET = "com.atproto.repo.getRecord"
LIST = "com.atproto.repo.listRecords"
UPLOAD = "com.atproto.repo.uploadBlob"
GET_BLOB = "com.atproto.sync.getBlob"

FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05, max_rate_limit_wait=5.0)
TIMEOUT = httpx.Timeout(2.0)
SHORT = httpx.Timeout(0.3)


def rec(**fields: Any) -> dict[str, Any]:
    return {"$type": COLL, **fields}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as server:
        server.register("alice.test", PASSWORD)
        yield server


@pytest.fixture
def alice(server: FaultServer) -> Account:
    return next(iter(server.pds.accounts.values()))


def make_client(
    server: FaultServer,
    flavour: Flavour | None = None,
    *,
    timeout: httpx.Timeout = TIMEOUT,
    **kwargs: Any,
) -> AtmosphereClient:
    """A logged-in client of ``flavour`` (``None``: the sync one, for the thread races)."""
    build = AtmosphereClient if flavour is None else flavour.client
    client: AtmosphereClient = build(
        server.url, plc_url=server.url, timeout=timeout, retry=kwargs.pop("retry", FAST), **kwargs
    )
    client.login("alice.test", PASSWORD)
    server.received.clear()
    return client


@pytest.fixture
def client(server: FaultServer, flavour: Flavour) -> Iterator[AtmosphereClient]:
    with make_client(server, flavour) as client:
        yield client


@pytest.fixture
def impatient(server: FaultServer, flavour: Flavour) -> Iterator[AtmosphereClient]:
    """A client whose reads time out after 0.3 s."""
    with make_client(server, flavour, timeout=SHORT) as client:
        yield client


def stored(alice: Account) -> int:
    return len(alice.records[COLL])


def seed(server: FaultServer, alice: Account, rkey: str = "seed") -> str:
    return server.pds.add_record(alice, COLL, rec(seed=True), rkey)


# -- 5xx and friends -------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_a_read_is_retried(
    server: FaultServer, alice: Account, client: AtmosphereClient, status: int
) -> None:
    uri = seed(server, alice)
    server.script(GET, error(status), error(status))
    assert client.get_record(uri) == rec(seed=True)
    assert server.received[GET] == 3


def test_persistent_5xx_gives_up_with_server_error(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    uri = seed(server, alice)
    server.script(GET, error(503), error(502), error(500), error(504))
    with Elapsed() as t, pytest.raises(ServerError) as info:
        client.get_record(uri)
    assert info.value.status == 500
    assert server.received[GET] == 3  # FAST.max_attempts
    assert server.pending(GET) == 1
    assert t.seconds < 2


def test_501_is_never_retried(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    uri = seed(server, alice)
    server.script(GET, error(501, "MethodNotImplemented"))
    with pytest.raises(ServerError) as info:
        client.get_record(uri)
    assert info.value.status == 501
    assert server.received[GET] == 1


@pytest.mark.parametrize("status", [400, 403, 404, 409])
def test_4xx_is_never_retried(
    server: FaultServer, alice: Account, client: AtmosphereClient, status: int
) -> None:
    uri = seed(server, alice)
    server.script(GET, error(status, "InvalidRequest"))
    with pytest.raises(XrpcError) as info:
        client.get_record(uri)
    assert info.value.status == status
    assert server.received[GET] == 1


def test_html_error_page_is_a_server_error(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    uri = seed(server, alice)
    server.script(GET, html(502), html(502), html(502))
    with pytest.raises(ServerError) as info:
        client.get_record(uri)
    assert info.value.error is None
    assert info.value.message is not None
    assert "non-XRPC" in info.value.message
    assert server.received[GET] == 3


def test_html_page_then_success(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    uri = seed(server, alice)
    server.script(GET, html(504))
    assert client.get_record(uri)["seed"] is True


# -- writes: resent only when safe ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        (error(503), ServerError),
        (html(502), ServerError),
        (reset(process=True), TransportError),
        (reset_mid_body(), TransportError),
        (truncated(), TransportError),
    ],
    ids=["503", "html-502", "reset-after-processing", "reset-mid-body", "truncated"],
)
def test_create_record_without_rkey_is_never_resent(
    server: FaultServer,
    alice: Account,
    client: AtmosphereClient,
    fault: Any,
    cls: type[Exception],
) -> None:
    server.script(CREATE, fault)
    with pytest.raises(cls):
        client.create_record(COLL, rec(n=1))
    assert server.received[CREATE] == 1
    assert stored(alice) == (1 if fault.process else 0)


def test_create_record_timeout_is_not_resent(
    server: FaultServer, alice: Account, impatient: AtmosphereClient
) -> None:
    server.script(CREATE, stall(3))
    with Elapsed() as t, pytest.raises(NetworkTimeoutError):
        impatient.create_record(COLL, rec(n=1))
    assert t.seconds < 1.5
    assert server.received[CREATE] == 1
    assert stored(alice) == 1  # it landed; the client says it does not know


def test_create_record_429_is_resent_once_the_limit_resets(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    # A 429 is refused before anything happens: resending cannot duplicate.
    server.script(CREATE, rate_limited(retry_after="0"))
    uri = client.create_record(COLL, rec(n=1))
    assert server.received[CREATE] == 2
    assert stored(alice) == 1
    assert uri.rkey in alice.records[COLL]


def test_create_record_with_rkey_is_resent(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    server.script(CREATE, reset(), error(503))
    uri = client.create_record(COLL, rec(n=1), rkey="explicit")
    assert uri.rkey == "explicit"
    assert server.received[CREATE] == 3
    assert stored(alice) == 1


@pytest.mark.parametrize(
    "fault",
    [error(503), reset(process=True), reset_mid_body(), truncated(), reset(process=False)],
    ids=["503", "reset-after-processing", "reset-mid-body", "truncated", "never-processed"],
)
def test_put_record_is_resent_without_duplicates(
    server: FaultServer, alice: Account, client: AtmosphereClient, fault: Any
) -> None:
    server.script(PUT, fault)
    uri = client.put_record(COLL, "k1", rec(v=2))
    assert uri.rkey == "k1"
    assert server.received[PUT] == 2
    assert stored(alice) == 1
    assert alice.records[COLL]["k1"][1] == rec(v=2)


def test_put_record_stall_is_resent(
    server: FaultServer, alice: Account, impatient: AtmosphereClient
) -> None:
    server.script(PUT, stall(3))
    with Elapsed() as t:
        impatient.put_record(COLL, "k1", rec(v=3))
    assert t.seconds < 1.5
    assert server.received[PUT] == 2
    assert stored(alice) == 1


def test_delete_record_is_resent_after_a_lost_answer(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    uri = seed(server, alice)
    server.script(DELETE, reset_mid_body())
    client.delete_record(uri)  # the resend deletes nothing and answers {}
    assert server.received[DELETE] == 2
    assert stored(alice) == 0


def test_upload_blob_bytes_is_resent(server: FaultServer, client: AtmosphereClient) -> None:
    data = b"shard-bytes" * 1000
    server.script(UPLOAD, error(503), reset_mid_body())
    ref = client.upload_blob(data, "application/x-tar")
    assert ref["ref"]["$link"] == blob_cid(data)
    assert server.received[UPLOAD] == 3
    assert list(server.pds.blobs) == [blob_cid(data)]
    assert all(sent.body == data for sent in server.log if sent.key == UPLOAD)


def test_login_is_not_resent_after_it_may_have_arrived(
    server: FaultServer, flavour: Flavour
) -> None:
    with flavour.client(server.url, timeout=SHORT, retry=FAST) as client:
        server.script(CREATE_SESSION, error(503))
        with pytest.raises(ServerError):
            client.login("alice.test", PASSWORD)
        server.script(CREATE_SESSION, stall(3))
        with pytest.raises(NetworkTimeoutError):
            client.login("alice.test", PASSWORD)
        assert server.received[CREATE_SESSION] == 2
        assert not client.is_authenticated


# -- broken answers to reads ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [reset(), reset_mid_body(), truncated(), stall(3)],
    ids=["reset", "reset-mid-body", "truncated", "stall"],
)
def test_broken_read_is_retried(
    server: FaultServer, alice: Account, impatient: AtmosphereClient, fault: Any
) -> None:
    uri = seed(server, alice)
    server.script(GET, fault)
    with Elapsed() as t:
        assert impatient.get_record(uri)["seed"] is True
    assert server.received[GET] == 2
    assert t.seconds < 1.5


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        (reset(), TransportError),
        (reset_mid_body(), TransportError),
        (truncated(), TransportError),
        (stall(3), NetworkTimeoutError),
    ],
    ids=["reset", "reset-mid-body", "truncated", "stall"],
)
def test_broken_reads_give_up_with_a_typed_error(
    server: FaultServer,
    alice: Account,
    impatient: AtmosphereClient,
    fault: Any,
    cls: type[Exception],
) -> None:
    uri = seed(server, alice)
    server.script(GET, fault, fault, fault)
    with Elapsed() as t, pytest.raises(cls) as info:
        impatient.get_record(uri)
    assert type(info.value) is cls
    assert isinstance(info.value.__cause__, httpx.TransportError)
    assert server.received[GET] == 3
    assert t.seconds < 2.5


def test_cut_off_json_is_an_invalid_response(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    uri = seed(server, alice)
    server.script(GET, bad_json())
    with pytest.raises(InvalidResponseError):
        client.get_record(uri)
    assert server.received[GET] == 1


def test_wrong_content_type_is_an_invalid_response(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    uri = seed(server, alice)
    server.script(GET, wrong_type())
    with pytest.raises(InvalidResponseError, match="text/html"):
        client.get_record(uri)
    assert server.received[GET] == 1


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_oversized_answer_is_refused(
    server: FaultServer, alice: Account, client: AtmosphereClient, declared: bool
) -> None:
    size = 200 * 1024 * 1024
    server.script(LIST, oversized(size, declared=declared))
    with Elapsed() as t, pytest.raises(ResponseTooLargeError):
        client.list_records(COLL)
    assert server.received[LIST] == 1
    assert t.seconds < 5
    # Stopped early: at most the 32 MiB cap plus what the socket buffers held.
    assert server.bytes_sent[LIST] < 48 * 1024 * 1024


def test_redirect_loop_is_not_followed(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    uri = seed(server, alice)
    server.script(GET, redirect(f"{server.url}/xrpc/{GET}"))
    with pytest.raises(XrpcError) as info:
        client.get_record(uri)
    assert info.value.status == 302
    assert server.received[GET] == 1


def test_redirect_loop_with_a_following_http_client(
    server: FaultServer, alice: Account, flavour: Flavour
) -> None:
    uri = seed(server, alice)
    loop = redirect(f"{server.url}/xrpc/{GET}?again=1")
    server.script(GET, *[loop] * 30)
    http = flavour.http(follow_redirects=True, max_redirects=5, timeout=TIMEOUT)
    with flavour.client(server.url, _client=http, retry=FAST) as client:
        client.login("alice.test", PASSWORD)
        with pytest.raises(TransportError, match="too many redirects"):
            client.get_record(uri)
    assert server.received[GET] == 6  # one request, five redirects, no retry


def test_well_known_redirect_loop_fails_resolution(server: FaultServer, flavour: Flavour) -> None:
    loop = redirect("https://mallory.test/.well-known/atproto-did")
    server.script("/.well-known/atproto-did", *[loop] * 10)
    transport = RoutingTransport({"mallory.test": server.url})
    http = flavour.http(transport=transport)
    res: IdentityResolver = flavour.resolver(
        http=http, dns_resolver=NoDns(), plc_url=server.url, timeout=2, allow_private_hosts=True
    )
    with res, pytest.raises(HandleResolutionError, match="redirected too many times"):
        res.resolve_handle("mallory.test")
    assert server.received["/.well-known/atproto-did"] == 4


# -- rate limits ------------------------------------------------------------------------


def test_429_within_the_budget_is_waited_out(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    uri = seed(server, alice)
    server.script(GET, rate_limited(retry_after="1", limit=3000, remaining=0))
    with Elapsed() as t:
        assert client.get_record(uri)["seed"] is True
    assert 0.9 <= t.seconds < 3
    assert server.received[GET] == 2
    assert client.rate_limit is not None
    assert client.rate_limit.limit == 3000


def test_429_beyond_the_budget_raises_at_once(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    uri = seed(server, alice)
    reset_at = int(time.time()) + 300
    server.script(GET, rate_limited(reset_at=reset_at, limit=30, remaining=0))
    with Elapsed() as t, pytest.raises(RateLimitError) as info:
        client.get_record(uri)
    assert t.seconds < 1
    err = info.value
    assert (err.limit, err.remaining, err.policy) == (30, 0, "30;w=300")
    assert err.reset_at is not None
    assert int(err.reset_at.timestamp()) == reset_at
    assert server.received[GET] == 1
    state = client.rate_limit
    assert state is not None
    assert (state.limit, state.remaining) == (30, 0)
    assert state.reset_at == err.reset_at


def test_rate_limit_waits_go_through_the_injected_sleep(
    server: FaultServer, flavour: Flavour
) -> None:
    waits: list[float] = []
    now = [time.time()]
    server.script(
        CREATE_SESSION,
        rate_limited(reset_at=int(now[0]) + 40),
        rate_limited(retry_after="12"),
    )
    policy = RetryPolicy(max_attempts=3, max_rate_limit_wait=45)
    http = flavour.http(timeout=TIMEOUT)
    xrpc = flavour.xrpc(http, retry=policy, sleep=waits.append, clock=lambda: now[0])
    answer = xrpc.procedure(
        server.url,
        CREATE_SESSION,
        {"identifier": "alice.test", "password": PASSWORD},
        auth=False,
    )
    assert answer["handle"] == "alice.test"
    assert waits[0] == pytest.approx(int(now[0]) + 40 - now[0])
    assert waits[1] == pytest.approx(12, abs=1)
    assert server.received[CREATE_SESSION] == 3


# -- connect failures ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connect_failure_is_retried_even_for_login(flavour: Flavour) -> None:
    port = _free_port()
    started: list[FaultServer] = []

    def sleep(seconds: float) -> None:  # the server comes up while the client waits
        if not started:
            server = FaultServer(port=port)
            server.register("alice.test", PASSWORD)
            started.append(server)

    try:
        xrpc = flavour.xrpc(flavour.http(timeout=TIMEOUT), retry=FAST, sleep=sleep)
        answer = xrpc.procedure(
            f"http://127.0.0.1:{port}",
            CREATE_SESSION,
            {"identifier": "alice.test", "password": PASSWORD},
            auth=False,
        )
        assert answer["handle"] == "alice.test"
        assert started[0].received[CREATE_SESSION] == 1
    finally:
        for server in started:
            server.close()


def test_connection_refused_gives_up_with_transport_error(flavour: Flavour) -> None:
    port = _free_port()
    waits: list[float] = []
    xrpc = flavour.xrpc(flavour.http(timeout=TIMEOUT), retry=FAST, sleep=waits.append)
    with pytest.raises(TransportError) as info:
        xrpc.query(f"http://127.0.0.1:{port}", "com.atproto.server.describeServer")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(waits) == FAST.max_attempts - 1


# -- bodies: what can be sent again --------------------------------------------------------


def _xrpc_for(server: FaultServer, alice: Account, flavour: Flavour, **kwargs: Any) -> XrpcClient:
    """An XRPC client of ``flavour`` signed in as ``alice`` (its HTTP client closes at teardown)."""
    access, refresh = server.pds.issue_tokens(alice.did)
    store = SessionStore()
    session = Session(did=alice.did, handle=alice.handle, accessJwt=access, refreshJwt=refresh)
    store.set(SessionState(session=session, pds_url=server.url), notify=False)
    http = flavour.http(timeout=TIMEOUT)
    xrpc: XrpcClient = flavour.xrpc(http, auth=flavour.session_auth(store), **kwargs)
    return xrpc


def test_one_shot_stream_is_never_resent(
    server: FaultServer, alice: Account, flavour: Flavour
) -> None:
    xrpc = _xrpc_for(server, alice, flavour, retry=FAST)
    server.script(UPLOAD, error(503))
    with pytest.raises(ServerError):
        xrpc.procedure(
            server.url,
            UPLOAD,
            content=flavour.stream(iter([b"one ", b"shot"])),
            content_type="text/plain",
            body_size=8,
            idempotent=True,
        )
    assert server.received[UPLOAD] == 1


def test_stream_factory_is_called_again_for_each_resend(
    server: FaultServer, alice: Account, flavour: Flavour
) -> None:
    xrpc = _xrpc_for(server, alice, flavour, retry=FAST)
    calls: list[int] = []

    def chunks() -> Iterator[bytes]:
        calls.append(1)
        yield b"fresh "
        yield b"stream"

    server.script(UPLOAD, error(503), reset_mid_body())
    answer = xrpc.procedure(
        server.url,
        UPLOAD,
        content=lambda: flavour.stream(chunks()),
        content_type="text/plain",
        body_size=12,
        idempotent=True,
    )
    assert answer["blob"]["size"] == 12
    assert len(calls) == 3
    assert server.received[UPLOAD] == 3
    assert all(sent.body == b"fresh stream" for sent in server.log if sent.key == UPLOAD)


def test_stream_factory_is_resent_after_a_token_refresh(
    server: FaultServer, alice: Account, flavour: Flavour
) -> None:
    xrpc = _xrpc_for(server, alice, flavour, retry=NO_RETRY)
    server.pds.expire_access_tokens()
    calls: list[int] = []

    def chunks() -> Iterator[bytes]:
        calls.append(1)
        yield b"after refresh"

    answer = xrpc.procedure(
        server.url,
        UPLOAD,
        content=lambda: flavour.stream(chunks()),
        content_type="text/plain",
        body_size=13,
    )
    assert answer["blob"]["size"] == 13
    assert len(calls) == 2
    assert server.received[REFRESH] == 1
    assert server.received[UPLOAD] == 2


def test_get_blob_is_retried(server: FaultServer, alice: Account, client: AtmosphereClient) -> None:
    data = b"blob-bytes" * 100
    server.pds.blobs[blob_cid(data)] = (data, "application/octet-stream")
    server.script(GET_BLOB, error(503), reset())
    assert client.get_blob(alice.did, blob_cid(data)) == data
    assert server.received[GET_BLOB] == 3


# -- concurrency: one refresh for many threads (sync only: threads) -------------------------


#: What many concurrent calls came to: their results and their failures.
_Outcome = tuple[list[Any], list[BaseException]]


def _in_threads(n: int, call: Callable[[int], Any]) -> _Outcome:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait(timeout=10)
        try:
            value = call(i)
        except BaseException as exc:
            with lock:
                failures.append(exc)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, failures


def _script_failed_refresh(server: FaultServer, answer: str) -> None:
    """Expire the access token and make the refresh it needs fail as ``answer`` says."""
    server.pds.expire_access_tokens()
    if answer == "revoked":
        server.pds.revoke_refresh_tokens()
        server.script(REFRESH, slow(1.0))
    elif answer == "html-502":
        server.script(REFRESH, html(502))
    else:
        server.script(REFRESH, bad_json(process=True))


def _assert_one_refresh_served_all(
    server: FaultServer, alice: Account, client: Any, outcome: _Outcome, changes: list[str]
) -> None:
    """Sixteen puts all stored, after one refresh that every caller shared."""
    results, failures = outcome
    assert failures == []
    assert sorted(uri.rkey for uri in results) == sorted(f"k{i}" for i in range(16))
    assert server.received[REFRESH] == 1
    assert stored(alice) == 16 + 1
    assert len(changes) == 2  # login, then the one refresh
    assert client.export_session() == changes[-1]


def _assert_every_caller_failed_clearly(
    server: FaultServer, alice: Account, client: Any, outcome: _Outcome, changes: list[str]
) -> None:
    """Sixteen puts all failed, after one failed refresh, with a clear error each."""
    results, failures = outcome
    assert results == []
    assert stored(alice) == 1  # only the seed
    assert len(failures) == 16
    assert all(isinstance(f, (SessionRefreshError, NotAuthenticatedError)) for f in failures)
    assert any(isinstance(f, SessionRefreshError) for f in failures)
    assert server.received[REFRESH] == 1
    # Not half-updated: no session at all, nothing new reported to the callback.
    assert not client.is_authenticated
    with pytest.raises(NotAuthenticatedError):
        client.export_session()
    assert len(changes) == 1
    refresh_error = next(f for f in failures if isinstance(f, SessionRefreshError))
    assert "log in again" in str(refresh_error)


@pytest.mark.parametrize("how", ["server-says-expired", "exp-in-the-past"])
def test_sixteen_threads_share_one_refresh(server: FaultServer, alice: Account, how: str) -> None:
    """Sync only: sixteen threads on one client (the asyncio twin: test_async_client.py)."""
    seed(server, alice)
    changes: list[str] = []
    if how == "exp-in-the-past":
        server.pds.access_ttl = -10  # login hands out an already expired token
    with make_client(server, on_session_change=changes.append) as client:
        server.pds.access_ttl = 7200
        if how == "server-says-expired":
            server.pds.expire_access_tokens()
        server.script(REFRESH, slow(0.3))
        outcome = _in_threads(16, lambda i: client.put_record(COLL, f"k{i}", rec(i=i)))
        _assert_one_refresh_served_all(server, alice, client, outcome, changes)


@pytest.mark.parametrize(
    "answer",
    ["revoked", "html-502", "garbage"],
)
def test_failed_refresh_leaves_every_thread_with_a_clear_error(
    server: FaultServer, alice: Account, answer: str
) -> None:
    """Sync only: the failure seen by sixteen threads sharing one client."""
    seed(server, alice)
    changes: list[str] = []
    with make_client(server, on_session_change=changes.append) as client:
        _script_failed_refresh(server, answer)
        outcome = _in_threads(16, lambda i: client.put_record(COLL, f"k{i}", rec(i=i)))
        _assert_every_caller_failed_clearly(server, alice, client, outcome, changes)


# -- the auth flow reads error and refresh bodies only so far ------------------------------


@pytest.mark.parametrize("status", [400, 401])
def test_endless_auth_error_body_is_not_read_to_the_end(
    server: FaultServer, alice: Account, client: AtmosphereClient, status: int
) -> None:
    server.script(PUT, oversized(200 * 1024 * 1024, declared=False, status=status))
    with Elapsed() as t, pytest.raises(XrpcError) as info:
        client.put_record(COLL, "k", rec())
    assert info.value.status == status
    assert t.seconds < 5
    assert server.bytes_sent[PUT] < 16 * 1024 * 1024
    assert client.is_authenticated


def test_endless_refresh_answer_fails_the_refresh(
    server: FaultServer, alice: Account, client: AtmosphereClient
) -> None:
    server.pds.expire_access_tokens()
    server.script(REFRESH, oversized(200 * 1024 * 1024, declared=False))
    with Elapsed() as t, pytest.raises(SessionRefreshError, match="unreadable"):
        client.put_record(COLL, "k", rec())
    assert t.seconds < 5
    assert server.bytes_sent[REFRESH] < 16 * 1024 * 1024
    assert not client.is_authenticated


# -- concurrency: one refresh for many coroutines (async only: asyncio.gather) -------------


def _in_coroutines(
    server: FaultServer,
    prepare: Callable[[], None],
    changes: list[str],
    n: int = 16,
) -> tuple[list[Any], list[BaseException], AsyncAtmosphereClient]:
    """Log in an ``AsyncAtmosphereClient``, run ``prepare()``, then ``n`` puts at once."""

    async def main() -> tuple[list[Any], AsyncAtmosphereClient]:
        async with AsyncAtmosphereClient(
            server.url,
            plc_url=server.url,
            timeout=TIMEOUT,
            retry=FAST,
            on_session_change=changes.append,
        ) as client:
            await client.login("alice.test", PASSWORD)
            server.received.clear()
            prepare()
            outcomes = await asyncio.gather(
                *(client.put_record(COLL, f"k{i}", rec(i=i)) for i in range(n)),
                return_exceptions=True,
            )
            return list(outcomes), client

    outcomes, client = asyncio.run(main())
    results = [o for o in outcomes if not isinstance(o, BaseException)]
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    return results, failures, client


@pytest.mark.parametrize("how", ["server-says-expired", "exp-in-the-past"])
def test_sixteen_coroutines_share_one_refresh_async_only(
    server: FaultServer, alice: Account, how: str
) -> None:
    """Async only: the asyncio twin of test_sixteen_threads_share_one_refresh."""
    seed(server, alice)
    changes: list[str] = []
    if how == "exp-in-the-past":
        server.pds.access_ttl = -10  # login hands out an already expired token

    def prepare() -> None:
        server.pds.access_ttl = 7200
        if how == "server-says-expired":
            server.pds.expire_access_tokens()
        server.script(REFRESH, slow(0.3))

    results, failures, client = _in_coroutines(server, prepare, changes)
    _assert_one_refresh_served_all(server, alice, client, (results, failures), changes)


@pytest.mark.parametrize("answer", ["revoked", "html-502", "garbage"])
def test_failed_refresh_leaves_every_coroutine_with_a_clear_error_async_only(
    server: FaultServer, alice: Account, answer: str
) -> None:
    """Async only: what the thread test above checks, for coroutines sharing one client."""
    seed(server, alice)
    changes: list[str] = []
    results, failures, client = _in_coroutines(
        server, lambda: _script_failed_refresh(server, answer), changes
    )
    _assert_every_caller_failed_clearly(server, alice, client, (results, failures), changes)
