"""Unit tests for the XRPC transport over ``httpx.MockTransport``.

Every test that sends runs on both flavours (the ``flavour`` fixture):
``XrpcClient`` (generated) and ``AsyncXrpcClient`` (its source).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from atmosphere._sync.xrpc import XrpcClient
from atmosphere._wire import encode_params, xrpc_url
from atmosphere.errors import (
    AtmosphereError,
    InvalidResponseError,
    NetworkTimeoutError,
    PayloadTooLargeError,
    RateLimitError,
    RecordNotFoundError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
    XrpcError,
)
from tests.support.flavours import Flavour
from tests.support.streams import ClosableStream

BASE = "https://pds.test"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A handler that answers with a fixed response and keeps every request."""

    def __init__(self, response: httpx.Response | Handler | None = None) -> None:
        self.response = response or httpx.Response(200, json={"ok": True})
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.response):
            return self.response(request)
        return self.response


class TrackedStream(ClosableStream):
    """A response body served chunk by chunk (to either flavour), recording how far it was read."""

    def __init__(self, chunks: list[bytes], *, fail_after: int | None = None) -> None:
        self.chunks = chunks
        self.fail_after = fail_after
        self.pulled = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            if self.fail_after is not None and self.pulled >= self.fail_after:
                raise httpx.ReadError("connection reset by peer")
            self.pulled += 1
            yield chunk


@pytest.fixture
def make_xrpc(flavour: Flavour) -> Callable[..., XrpcClient]:
    """An ``XrpcClient`` (or a sync view of an ``AsyncXrpcClient``) over a mock handler."""

    def make(handler: Handler, **kwargs: object) -> XrpcClient:
        return flavour.xrpc(flavour.http(handler), **kwargs)  # type: ignore[no-any-return]

    return make


# -- pure helpers ----------------------------------------------------------------------


def test_encode_params() -> None:
    params = {
        "yes": True,
        "no": False,
        "dropped": None,
        "tags": ["a", "b"],
        "limit": 5,
        "repo": "did:plc:abc",
        "mixed": (1, True),
    }
    assert encode_params(params) == [
        ("yes", "true"),
        ("no", "false"),
        ("tags", "a"),
        ("tags", "b"),
        ("limit", "5"),
        ("repo", "did:plc:abc"),
        ("mixed", "1"),
        ("mixed", "true"),
    ]


def test_encode_params_empty() -> None:
    assert encode_params(None) == []
    assert encode_params({}) == []
    assert encode_params({"tags": []}) == []


def test_xrpc_url() -> None:
    assert xrpc_url("https://pds.test/", "a.b.c") == "https://pds.test/xrpc/a.b.c"
    assert xrpc_url("https://pds.test", "a.b.c") == "https://pds.test/xrpc/a.b.c"


# -- request shape ---------------------------------------------------------------------


def test_query_shape(make_xrpc: Callable[..., XrpcClient]) -> None:
    rec = Recorder(httpx.Response(200, json={"records": []}))
    xrpc = make_xrpc(rec)
    answer = xrpc.query(
        BASE,
        "com.atproto.repo.listRecords",
        {"repo": "did:plc:abc", "reverse": True, "cursor": None, "tag": ["x", "y"]},
    )
    assert answer == {"records": []}
    (request,) = rec.requests
    assert request.method == "GET"
    assert request.url.path == "/xrpc/com.atproto.repo.listRecords"
    assert request.url.query == b"repo=did%3Aplc%3Aabc&reverse=true&tag=x&tag=y"
    assert request.headers["accept"] == "application/json"
    assert "authorization" not in request.headers
    assert request.content == b""


def test_procedure_json_shape(make_xrpc: Callable[..., XrpcClient]) -> None:
    rec = Recorder()
    xrpc = make_xrpc(rec)
    data = {"repo": "did:plc:abc", "record": {"text": "héllo", "n": [1, 2]}}
    assert xrpc.procedure(BASE, "com.atproto.repo.createRecord", data, auth=False) == {"ok": True}
    (request,) = rec.requests
    assert request.method == "POST"
    assert request.url.path == "/xrpc/com.atproto.repo.createRecord"
    assert request.url.query == b""
    assert request.headers["content-type"] == "application/json"
    assert request.content == '{"repo":"did:plc:abc","record":{"text":"héllo","n":[1,2]}}'.encode()
    assert json.loads(request.content) == data


def test_procedure_raw_body(make_xrpc: Callable[..., XrpcClient]) -> None:
    rec = Recorder()
    xrpc = make_xrpc(rec)
    xrpc.procedure(
        BASE,
        "com.atproto.repo.uploadBlob",
        content=b"\x00\x01\x02",
        content_type="image/png",
        body_size=3,
        auth=False,
    )
    (request,) = rec.requests
    assert request.headers["content-type"] == "image/png"
    assert request.headers["content-length"] == "3"
    assert request.content == b"\x00\x01\x02"


def test_procedure_streamed_body_keeps_declared_length(
    make_xrpc: Callable[..., XrpcClient], flavour: Flavour
) -> None:
    rec = Recorder()
    xrpc = make_xrpc(rec)

    def chunks() -> Iterator[bytes]:
        yield b"abc"
        yield b"def"

    xrpc.procedure(
        BASE,
        "com.atproto.repo.uploadBlob",
        content=flavour.stream(chunks()),
        content_type="text/plain",
        body_size=6,
        auth=False,
    )
    (request,) = rec.requests
    assert request.headers["content-length"] == "6"
    assert "transfer-encoding" not in request.headers
    assert request.content == b"abcdef"


def test_procedure_without_body(make_xrpc: Callable[..., XrpcClient]) -> None:
    rec = Recorder(httpx.Response(200))
    xrpc = make_xrpc(rec)
    assert xrpc.procedure(BASE, "com.atproto.server.deleteSession", auth=False) == {}
    (request,) = rec.requests
    assert request.method == "POST"
    assert request.content == b""
    assert "content-type" not in request.headers


def test_extra_headers_are_sent(make_xrpc: Callable[..., XrpcClient]) -> None:
    rec = Recorder()
    xrpc = make_xrpc(rec)
    xrpc.query(BASE, "a.b.c", headers={"atproto-proxy": "did:web:api.test#bsky_appview"})
    assert rec.requests[0].headers["atproto-proxy"] == "did:web:api.test#bsky_appview"


def test_auth_flow_only_used_when_asked(make_xrpc: Callable[..., XrpcClient]) -> None:
    class Stamp(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
            request.headers["Authorization"] = "Bearer stamp"
            yield request

    rec = Recorder()
    xrpc = make_xrpc(rec, auth=Stamp())
    xrpc.query(BASE, "a.b.c")
    xrpc.query(BASE, "a.b.c", auth=True)
    xrpc.procedure(BASE, "a.b.d", {"x": 1})  # procedures authenticate by default
    xrpc.procedure(BASE, "a.b.d", {"x": 1}, auth=False)
    assert [r.headers.get("authorization") for r in rec.requests] == [
        None,
        "Bearer stamp",
        "Bearer stamp",
        None,
    ]


# -- response decoding -----------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"  \n"])
def test_empty_success_body_is_empty_dict(make_xrpc: Callable[..., XrpcClient], raw: bytes) -> None:
    xrpc = make_xrpc(Recorder(httpx.Response(200, content=raw)))
    assert xrpc.procedure(BASE, "com.atproto.repo.deleteRecord", {"x": 1}, auth=False) == {}


def test_non_json_success_body(make_xrpc: Callable[..., XrpcClient]) -> None:
    page = httpx.Response(
        200, text="<html>captive portal</html>", headers={"content-type": "text/html"}
    )
    xrpc = make_xrpc(Recorder(page))
    with pytest.raises(InvalidResponseError) as info:
        xrpc.query(BASE, "com.atproto.repo.getRecord")
    assert "com.atproto.repo.getRecord" in str(info.value)
    assert "text/html" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


def test_absurdly_nested_success_body(make_xrpc: Callable[..., XrpcClient]) -> None:
    xrpc = make_xrpc(Recorder(httpx.Response(200, content=b"[" * 100_000)))
    with pytest.raises(InvalidResponseError):
        xrpc.query(BASE, "a.b.c")


def test_declared_oversized_body_is_refused_unread(make_xrpc: Callable[..., XrpcClient]) -> None:
    stream = TrackedStream([b"{}"])
    response = httpx.Response(200, stream=stream, headers={"content-length": "5000"})
    xrpc = make_xrpc(Recorder(response), max_json_bytes=1000)
    with pytest.raises(ResponseTooLargeError) as info:
        xrpc.query(BASE, "a.b.c")
    assert isinstance(info.value, TransportError)
    assert stream.pulled == 0
    assert stream.closed


def test_streamed_oversized_body_stops_reading(make_xrpc: Callable[..., XrpcClient]) -> None:
    stream = TrackedStream([b"[" + b" " * 7] + [b" " * 8] * 10)  # no content-length
    xrpc = make_xrpc(Recorder(httpx.Response(200, stream=stream)), max_json_bytes=20)
    with pytest.raises(ResponseTooLargeError):
        xrpc.query(BASE, "a.b.c")
    assert stream.pulled == 3  # 24 bytes read, then it gave up
    assert stream.closed


def test_body_exactly_at_the_cap_is_accepted(make_xrpc: Callable[..., XrpcClient]) -> None:
    raw = b'{"k":"' + b"v" * 10 + b'"}'
    xrpc = make_xrpc(
        Recorder(httpx.Response(200, stream=TrackedStream([raw]))), max_json_bytes=len(raw)
    )
    assert xrpc.query(BASE, "a.b.c") == {"k": "v" * 10}


def test_success_response_is_closed(make_xrpc: Callable[..., XrpcClient]) -> None:
    stream = TrackedStream([b'{"a":', b"1}"])
    xrpc = make_xrpc(Recorder(httpx.Response(200, stream=stream)))
    assert xrpc.query(BASE, "a.b.c") == {"a": 1}
    assert stream.closed


# -- errors ----------------------------------------------------------------------------


def test_error_answer_is_typed(make_xrpc: Callable[..., XrpcClient]) -> None:
    stream = TrackedStream([b'{"error":"RecordNotFound",', b'"message":"Could not locate record"}'])
    xrpc = make_xrpc(Recorder(httpx.Response(400, stream=stream)))
    with pytest.raises(RecordNotFoundError) as info:
        xrpc.query(BASE, "com.atproto.repo.getRecord")
    assert info.value.nsid == "com.atproto.repo.getRecord"
    assert info.value.message == "Could not locate record"
    assert stream.closed


def test_huge_error_body_is_truncated_not_refused(make_xrpc: Callable[..., XrpcClient]) -> None:
    stream = TrackedStream([b"<html>" + b"x" * 65536] * 50)
    xrpc = make_xrpc(Recorder(httpx.Response(502, stream=stream)))
    with pytest.raises(ServerError) as info:
        xrpc.query(BASE, "a.b.c")
    assert info.value.error is None
    assert stream.pulled < 50


def test_payload_too_large_knows_the_request_size(make_xrpc: Callable[..., XrpcClient]) -> None:
    xrpc = make_xrpc(Recorder(httpx.Response(413, json={"error": "PayloadTooLarge"})))
    with pytest.raises(PayloadTooLargeError) as info:
        xrpc.procedure(
            BASE,
            "com.atproto.repo.uploadBlob",
            content=b"x" * 1234,
            content_type="application/octet-stream",
            auth=False,
        )
    assert info.value.size == 1234


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ConnectError("connection refused"), TransportError),
        (httpx.RemoteProtocolError("server disconnected"), TransportError),
        (httpx.ReadTimeout("timed out"), NetworkTimeoutError),
        (httpx.ConnectTimeout("timed out"), NetworkTimeoutError),
        (httpx.PoolTimeout("timed out"), NetworkTimeoutError),
    ],
)
def test_httpx_failures_become_transport_errors(
    make_xrpc: Callable[..., XrpcClient], exc: httpx.HTTPError, cls: type[TransportError]
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    xrpc = make_xrpc(fail)
    with pytest.raises(cls) as info:
        xrpc.query(BASE, "com.atproto.repo.getRecord")
    assert type(info.value) is cls
    assert isinstance(info.value, AtmosphereError)
    assert info.value.__cause__ is exc
    assert "com.atproto.repo.getRecord" in str(info.value)


def test_connection_lost_while_reading_the_body(make_xrpc: Callable[..., XrpcClient]) -> None:
    stream = TrackedStream([b'{"a":', b"1}"], fail_after=1)
    xrpc = make_xrpc(Recorder(httpx.Response(200, stream=stream)))
    with pytest.raises(TransportError) as info:
        xrpc.query(BASE, "a.b.c")
    assert isinstance(info.value.__cause__, httpx.ReadError)
    assert stream.closed


# -- rate limits -----------------------------------------------------------------------


def test_rate_limit_state_is_recorded(make_xrpc: Callable[..., XrpcClient]) -> None:
    answers = iter(
        [
            httpx.Response(
                200,
                json={},
                headers={
                    "RateLimit-Limit": "3000",
                    "RateLimit-Remaining": "2999",
                    "RateLimit-Policy": "3000;w=300",
                },
            ),
            httpx.Response(200, json={}),
            httpx.Response(
                429,
                json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                headers={
                    "RateLimit-Limit": "3000",
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": "2000000000",
                },
            ),
        ]
    )
    xrpc = make_xrpc(lambda request: next(answers))
    assert xrpc.rate_limit is None
    xrpc.query(BASE, "a.b.c")
    assert xrpc.rate_limit is not None
    assert (xrpc.rate_limit.limit, xrpc.rate_limit.remaining) == (3000, 2999)
    assert xrpc.rate_limit.policy == "3000;w=300"
    xrpc.query(BASE, "a.b.c")  # no headers: the last known state stays
    assert xrpc.rate_limit.remaining == 2999
    with pytest.raises(RateLimitError) as info:
        xrpc.query(BASE, "a.b.c")
    assert xrpc.rate_limit.remaining == 0
    assert info.value.reset_at is not None
    assert int(info.value.reset_at.timestamp()) == 2000000000
    assert isinstance(info.value, XrpcError)


def test_with_query_encodes_once_and_keeps_the_meaning() -> None:
    from urllib.parse import parse_qsl, urlsplit

    from atmosphere._wire import with_query

    pairs = encode_params({"q": "a b/c?d&e=f+g%h:é", "tags": ["x", "y"], "flag": True, "no": None})
    url = with_query("https://pds.test/xrpc/a.b.c", pairs)
    assert " " not in url
    assert parse_qsl(urlsplit(url).query) == [
        ("q", "a b/c?d&e=f+g%h:é"),
        ("tags", "x"),
        ("tags", "y"),
        ("flag", "true"),
    ]
    assert httpx.URL(url).params.get_list("tags") == ["x", "y"]
    assert with_query("https://pds.test/xrpc/a.b.c", []) == "https://pds.test/xrpc/a.b.c"
