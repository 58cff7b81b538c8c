"""Credentials, paging and header arithmetic under hostile or unlucky input (issue 13, part).

Each test here failed before its fix: a password sent to a third party, tokens
sent to the entryway, a header value leaking into an error, endless paging,
exceptions outside the library's error tree.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from atmosphere import (
    HandleResolutionError,
    InvalidArgumentError,
    InvalidResponseError,
    InvalidSessionError,
)
from atmosphere._ratelimit import parse_rate_limit
from atmosphere._session import SessionState, jwt_expiry
from atmosphere.errors import AtmosphereError
from tests.support.fake_pds import FakePds, route_by_host
from tests.support.flavours import Flavour

PDS_URL = "https://pds.test"
PASSWORD = "correct horse battery staple"
COLLECTION = "ac.foundation.dataset.record"

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def make_client(flavour: Flavour) -> Callable[..., Any]:
    """Build a client of the test's flavour over a MockTransport serving ``handler``."""

    def make(handler: Handler, base_url: str | None = PDS_URL, **kwargs: Any) -> Any:
        return flavour.client(base_url, _client=flavour.http(handler), **kwargs)

    return make


# -- credentials ----------------------------------------------------------------------


def test_four_field_session_belongs_to_base_url(make_client: Callable[..., Any]) -> None:
    mine = FakePds("https://my.pds")
    alice = mine.add_account("alice.test", PASSWORD)
    entryway = FakePds("https://bsky.social")
    access, refresh = mine.issue_tokens(alice.did)
    client = make_client(route_by_host(mine, entryway), base_url="https://my.pds")
    client.login_with_session(f"alice.test:::{alice.did}:::{access}:::{refresh}")
    assert client.pds_url == "https://my.pds"
    assert mine.calls["com.atproto.server.getSession"] == 1
    assert entryway.requests == []


def test_four_field_session_without_base_url_is_the_entryways() -> None:
    state = SessionState.decode("alice.test:::did:plc:abc:::a.b.c:::d.e.f")
    assert state.pds_url == "https://bsky.social"
    state = SessionState.decode("alice.test:::did:plc:abc:::a.b.c:::d.e.f", default_pds="https://x")
    assert state.pds_url == "https://x"


def test_failed_resolution_never_sends_the_password_elsewhere(
    make_client: Callable[..., Any],
) -> None:
    sent: list[httpx.Request] = []

    def anywhere(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(404)

    client = make_client(anywhere, base_url=None)
    with pytest.raises(HandleResolutionError):  # .example never resolves: no lookup at all
        client.login("typo.example", PASSWORD)
    assert not any(r.url.path.endswith("createSession") for r in sent)
    assert all(PASSWORD.encode() not in r.content for r in sent if r.method == "POST")


def test_an_email_needs_base_url(make_client: Callable[..., Any]) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    client = make_client(record, base_url=None)
    with pytest.raises(InvalidArgumentError, match="base_url"):
        client.login("alice@mail.test", PASSWORD)
    assert sent == []


@pytest.mark.parametrize("bad", ["a.b\r\nX-Evil: 1", "a.b\nc", "a\x00b", "a b", "tökén"])
def test_tokens_that_cannot_be_headers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidSessionError):
        SessionState.decode(f"alice.test:::did:plc:abc:::{bad}:::d.e.f:::https://x")
    with pytest.raises(InvalidSessionError):
        SessionState.decode(f"alice.test:::did:plc:abc:::a.b.c:::{bad}:::https://x")


def test_a_server_session_with_a_bad_token_is_refused(make_client: Callable[..., Any]) -> None:
    def login(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "did": "did:plc:abc",
                "handle": "alice.test",
                "accessJwt": "a.b\r\nX-Evil: 1",
                "refreshJwt": "d.e.f",
            },
        )

    client = make_client(login)
    with pytest.raises(InvalidResponseError, match="malformed token") as info:
        client.login("alice.test", PASSWORD)
    assert "Evil" not in str(info.value)
    assert not client.is_authenticated


# -- paging ---------------------------------------------------------------------------


def _looping_pages(records_per_page: int) -> tuple[Handler, list[httpx.Request]]:
    """A server that answers every listRecords with a full page and the same cursor."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("createSession"):
            return httpx.Response(
                200,
                json={
                    "did": "did:plc:abc",
                    "handle": "alice.test",
                    "accessJwt": "a.b.c",
                    "refreshJwt": "d.e.f",
                },
            )
        sent.append(request)
        collection = request.url.params["collection"]
        page = [
            {"uri": f"at://did:plc:abc/{collection}/k{i}", "cid": "bafyx", "value": {}}
            for i in range(records_per_page)
        ]
        return httpx.Response(200, json={"records": page, "cursor": "same"})

    return handler, sent


def test_a_repeated_cursor_stops_iteration(make_client: Callable[..., Any]) -> None:
    handler, sent = _looping_pages(100)
    client = make_client(handler)
    client.login("alice.test", PASSWORD)
    with pytest.raises(InvalidResponseError, match="repeated cursor"):
        list(client.iter_records(COLLECTION))
    assert len(sent) == 2


def test_a_repeated_cursor_stops_collecting(make_client: Callable[..., Any]) -> None:
    handler, sent = _looping_pages(100)
    client = make_client(handler)
    client.login("alice.test", PASSWORD)
    with pytest.raises(InvalidResponseError, match="repeated cursor"):
        client.list_datasets(limit=1000)
    assert len(sent) == 2


def test_collecting_never_returns_more_than_the_limit(make_client: Callable[..., Any]) -> None:
    handler, _ = _looping_pages(50)  # more than the 5 asked for
    client = make_client(handler)
    client.login("alice.test", PASSWORD)
    assert len(client.list_schemas(limit=5)) == 5


# -- header and token arithmetic --------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"RateLimit-Reset": "9" * 40},
        {"RateLimit-Reset": "-" + "9" * 40},
        {"Retry-After": "9" * 40},
        {"Retry-After": "-" + "9" * 40},
    ],
)
def test_absurd_rate_limit_headers_parse(headers: dict[str, str]) -> None:
    info = parse_rate_limit(headers)
    assert info is not None
    assert info.reset_at is not None
    wait = info.seconds_until_reset()
    assert wait is not None
    assert 0 <= wait <= 10 * 366 * 24 * 3600


def _jwt(payload: bytes) -> str:
    return "e30." + base64.urlsafe_b64encode(payload).decode().rstrip("=") + ".sig"


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps({"exp": 10**400}).encode(),
        b'{"exp": 1e999}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_absurd_jwt_payloads_have_no_expiry(payload: bytes) -> None:
    assert jwt_expiry(_jwt(payload)) is None


def test_rate_limit_errors_with_absurd_resets_are_library_errors(
    make_client: Callable[..., Any],
) -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, headers={"RateLimit-Reset": "9" * 40}, json={"error": "RateLimitExceeded"}
        )

    client = make_client(limited)
    with pytest.raises(AtmosphereError):
        client.login("alice.test", PASSWORD)
