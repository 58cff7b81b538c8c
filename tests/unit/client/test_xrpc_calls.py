"""The open XRPC surface: any query or procedure, proxying and labelers, on both flavours."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from atmosphere import (
    InvalidArgumentError,
    InvalidIdentifierError,
    NotAuthenticatedError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    XrpcError,
)
from tests.support.fake_pds import FakePds
from tests.support.flavours import Flavour

PDS_URL = "https://pds.test"
PASSWORD = "hunter2 hunter2"
FAST = RetryPolicy(max_attempts=3, backoff_base=0.0, backoff_max=0.0, jitter=0.0)


class Recorder:
    """The fake PDS for sessions; every other call is recorded and answered by ``reply``."""

    def __init__(self) -> None:
        self.pds = FakePds(PDS_URL)
        self.pds.add_account("alice.test", PASSWORD)
        self.sent: list[httpx.Request] = []
        self.replies: list[httpx.Response] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if "com.atproto.server." in request.url.path:
            return self.pds(request)
        request.read()
        self.sent.append(request)
        if self.replies:
            return self.replies.pop(0)
        return httpx.Response(200, json={"ok": True, "path": request.url.path})


@pytest.fixture
def server() -> Recorder:
    return Recorder()


@pytest.fixture
def client(flavour: Flavour, server: Recorder) -> Any:
    client = flavour.client(PDS_URL, _client=flavour.http(server), retry=FAST)
    client.login("alice.test", PASSWORD)
    return client


def test_query_goes_to_the_session_pds_signed(client: Any, server: Recorder) -> None:
    answer = client.query(
        "app.bsky.actor.getProfiles",
        {"actors": ["a.test", "b.test"], "limit": 5, "flag": True, "skip": None},
    )
    assert answer == {"ok": True, "path": "/xrpc/app.bsky.actor.getProfiles"}
    (sent,) = server.sent
    assert sent.method == "GET"
    assert sent.url.host == "pds.test"
    assert sent.url.params.get_list("actors") == ["a.test", "b.test"]
    assert sent.url.params["limit"] == "5"
    assert sent.url.params["flag"] == "true"
    assert "skip" not in sent.url.params
    assert sent.headers["authorization"].startswith("Bearer ")


def test_proxy_and_labelers_headers(client: Any, server: Recorder) -> None:
    client.query(
        "science.alt.dataset.searchDatasets",
        {"q": "x"},
        proxy="did:web:api.example.com#atdata_appview",
        accept_labelers=["did:plc:labeler1", "did:web:l2.example;redact"],
    )
    (sent,) = server.sent
    assert sent.headers["atproto-proxy"] == "did:web:api.example.com#atdata_appview"
    assert sent.headers["atproto-accept-labelers"] == "did:plc:labeler1, did:web:l2.example;redact"


@pytest.mark.parametrize(
    "proxy",
    ["did:web:api.example.com", "#atdata_appview", "not-a-did#x", "did:web:a#b#c", "did:web:a#"],
)
def test_bad_proxy_values_are_refused_before_sending(
    client: Any, server: Recorder, proxy: str
) -> None:
    with pytest.raises(InvalidArgumentError):
        client.query("app.bsky.feed.getTimeline", proxy=proxy)
    assert server.sent == []


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (("not an nsid",), {}, InvalidIdentifierError),
        (("a.b.c", {"x": 1.5}), {}, InvalidArgumentError),
        (("a.b.c", {"x": {"nested": 1}}), {}, InvalidArgumentError),
        (("a.b.c",), {"accept_labelers": "did:plc:x"}, InvalidArgumentError),
        (("a.b.c",), {"accept_labelers": ["nope"]}, InvalidArgumentError),
        (("a.b.c",), {"headers": {"Authorization": "Bearer x"}}, InvalidArgumentError),
        (("a.b.c",), {"headers": {"X-A": "1\r\nX-B: 2"}}, InvalidArgumentError),
        (("a.b.c",), {"service_url": "ftp://x"}, InvalidArgumentError),
    ],
)
def test_bad_arguments_raise_before_any_request(
    client: Any, server: Recorder, args: tuple[Any, ...], kwargs: dict[str, Any], error: type
) -> None:
    with pytest.raises(error):
        client.query(*args, **kwargs)
    assert server.sent == []


def test_tokens_never_go_to_another_service(client: Any, server: Recorder) -> None:
    client.query("app.example.ping", service_url="https://other.test")
    (sent,) = server.sent
    assert sent.url.host == "other.test"
    assert "authorization" not in sent.headers
    with pytest.raises(InvalidArgumentError, match="own PDS"):
        client.query("app.example.ping", service_url="https://other.test", auth=True)
    assert len(server.sent) == 1


def test_no_session_and_no_target_is_not_authenticated(flavour: Flavour) -> None:
    anon = flavour.client(_client=flavour.http(Recorder()))
    with pytest.raises(NotAuthenticatedError, match="Not authenticated"):
        anon.query("app.example.ping")


def test_unauthenticated_call_to_base_url(flavour: Flavour, server: Recorder) -> None:
    anon = flavour.client(PDS_URL, _client=flavour.http(server))
    assert anon.query("com.atproto.repo.describeRepo", {"repo": "did:plc:x"})["ok"] is True
    assert "authorization" not in server.sent[0].headers


def test_procedure_sends_json(client: Any, server: Recorder) -> None:
    assert client.procedure("com.example.doThing", {"a": [1, "é"]}, params={"dry": True})["ok"]
    (sent,) = server.sent
    assert sent.method == "POST"
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.content) == {"a": [1, "é"]}
    assert sent.url.params["dry"] == "true"


def test_procedure_sends_bytes_with_their_type(client: Any, server: Recorder) -> None:
    client.procedure("com.example.upload", b"\x00\x01raw", content_type="image/png")
    (sent,) = server.sent
    assert sent.content == b"\x00\x01raw"
    assert sent.headers["content-type"] == "image/png"
    with pytest.raises(InvalidArgumentError):
        client.procedure("com.example.upload", {"a": 1}, content_type="image/png")


def test_procedures_are_resent_only_when_idempotent(client: Any, server: Recorder) -> None:
    server.replies = [httpx.Response(503, json={"error": "Busy"})]
    with pytest.raises(ServerError):
        client.procedure("com.example.doThing", {"a": 1})
    assert len(server.sent) == 1
    server.sent.clear()
    server.replies = [httpx.Response(503, json={"error": "Busy"})]
    assert client.procedure("com.example.doThing", {"a": 1}, idempotent=True)["ok"]
    assert len(server.sent) == 2


def test_queries_are_retried(client: Any, server: Recorder) -> None:
    server.replies = [httpx.Response(502, json={"error": "UpstreamFailure"})]
    assert client.query("com.example.get")["ok"] is True
    assert len(server.sent) == 2


def test_server_errors_are_typed(client: Any, server: Recorder) -> None:
    server.replies = [httpx.Response(400, json={"error": "Nope", "message": "no way"})]
    with pytest.raises(XrpcError) as info:
        client.query("com.example.get")
    assert info.value.status == 400
    assert info.value.error == "Nope"
    assert info.value.nsid == "com.example.get"


def test_bytes_answers_stream_and_are_capped(client: Any, server: Recorder) -> None:
    body = bytes(range(256)) * 1000
    server.replies = [httpx.Response(200, content=body)]
    chunks = list(
        client.iter_query("com.atproto.sync.getRepo", {"did": "did:plc:x"}, chunk_size=4096)
    )
    assert b"".join(chunks) == body
    assert max(len(c) for c in chunks) <= 4096
    server.replies = [httpx.Response(200, content=body)]
    assert client.query_bytes("com.atproto.sync.getRepo", {"did": "did:plc:x"}) == body
    server.replies = [httpx.Response(200, content=body)]
    with pytest.raises(ResponseTooLargeError):
        client.query_bytes("com.atproto.sync.getRepo", {"did": "did:plc:x"}, max_bytes=1000)
