"""Where requests may go (issue 13, item 4): targets from identity data must be public https.

A DID document, a well-known answer or redirect, a session's ``didDoc`` and the
PDS of a restored session string come from servers; none may steer the client
to loopback, private or link-local hosts, odd numeric host spellings, plain
http or another port, unless local development is switched on explicitly
(``allow_private_hosts=True`` or ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1``). URLs
the user names (``base_url``, ``plc_url``, ``service_url``) are their choice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx
import pytest

from atmosphere import (
    DidResolutionError,
    HandleResolutionError,
    InvalidSessionError,
    UnsafeTargetError,
)
from atmosphere._async import egress as async_egress
from atmosphere._egress import (
    ENV_ALLOW_PRIVATE_HOSTS,
    EgressPolicy,
    check_origin,
    check_url,
    is_public_address,
)
from atmosphere._sync import egress as sync_egress
from atmosphere.errors import AtmosphereError
from tests.support.fake_pds import FakePds, did_document
from tests.support.flavours import Flavour, NoDns

SAFE = EgressPolicy()
LOCAL = EgressPolicy(allow_private_hosts=True)
ALICE = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
COLLECTION = "ac.foundation.dataset.record"

PRIVATE_ENDPOINTS = [
    "http://169.254.169.254",
    "https://169.254.169.254",
    "https://10.0.0.7",
    "https://192.168.1.1",
    "https://172.16.0.1",
    "https://127.0.0.1",
    "https://[::1]",
    "https://[fe80::1]",
    "https://[::ffff:127.0.0.1]",
    "https://100.64.0.1",
    "https://0.0.0.0",
    "https://localhost",
    "https://pds.localhost",
]
ODD_NUMBERS = [
    "http://0",
    "http://2130706433",
    "http://0x7f000001",
    "http://0177.0.0.1",
    "http://256.1.1.1",
    "http://127.1",
    "https://1.2.3.04",
]
NOT_DEFAULT = ["http://pds.example.com", "https://pds.example.com:8443", "https://1.1.1.1:2583"]


@pytest.fixture(autouse=True)
def _safe_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the default: no switch inherited from the environment."""
    monkeypatch.delenv(ENV_ALLOW_PRIVATE_HOSTS, raising=False)


# -- the pure rules ---------------------------------------------------------------------


@pytest.mark.parametrize("url", PRIVATE_ENDPOINTS)
def test_private_endpoints_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(UnsafeTargetError):
        check_origin(url, SAFE)
    assert check_origin(url, LOCAL) == url.lower()


@pytest.mark.parametrize("url", ODD_NUMBERS)
def test_numeric_host_spellings_are_refused_even_when_allowed(url: str) -> None:
    for policy in (SAFE, LOCAL):
        with pytest.raises(UnsafeTargetError, match="number"):
            check_origin(url, policy)


@pytest.mark.parametrize("url", NOT_DEFAULT)
def test_plain_http_and_other_ports_need_the_switch(url: str) -> None:
    with pytest.raises(UnsafeTargetError):
        check_origin(url, SAFE)
    assert check_origin(url, LOCAL) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://user@pds.example.com",
        "https://pds.example.com/xrpc",
        "https://pds.example.com?x=1",
        "https://pds.example.com#f",
        "ftp://pds.example.com",
        "https://pds.exa mple.com",
        "https://[fe80::1%25eth0]",
    ],
)
def test_endpoint_shape(url: str) -> None:
    for policy in (SAFE, LOCAL):
        with pytest.raises(UnsafeTargetError):
            check_origin(url, policy)


def test_public_targets_pass() -> None:
    assert check_origin("https://PDS.Example.com/", SAFE) == "https://pds.example.com"
    assert check_origin("https://1.1.1.1", SAFE) == "https://1.1.1.1"
    assert check_origin("https://[2606:4700:4700::1111]:443", SAFE)
    assert check_url("https://alice.example.com/.well-known/atproto-did", SAFE)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("1.1.1.1", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::1", False),  # 6to4 around 127.0.0.1
        ("224.0.0.1", False),
        ("not an address", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_policy_from_keyword_and_environment() -> None:
    assert EgressPolicy.from_option(None, {}) == SAFE
    assert EgressPolicy.from_option(None, {ENV_ALLOW_PRIVATE_HOSTS: "1"}) == LOCAL
    assert EgressPolicy.from_option(None, {ENV_ALLOW_PRIVATE_HOSTS: "0"}) == SAFE
    assert EgressPolicy.from_option(False, {ENV_ALLOW_PRIVATE_HOSTS: "1"}) == SAFE
    assert EgressPolicy.from_option(True, {}) == LOCAL


def test_environment_switch_reaches_the_client(
    flavour: Flavour, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_ALLOW_PRIVATE_HOSTS, "1")
    world = _World(flavour, "http://127.0.0.1:2583", allow=None)
    world.client.get_record(f"at://{ALICE}/{COLLECTION}/k1")
    assert world.pds_hits == 1


# -- the client and resolver, over a fake network ------------------------------------------


class _World:
    """A PLC directory naming ``endpoint`` as alice's PDS; a PDS answering there."""

    def __init__(self, flavour: Flavour, endpoint: str, *, allow: bool | None = False) -> None:
        self.endpoint = endpoint
        self.pds_hits = 0
        self.sent: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            self.sent.append(request)
            if request.url.host == "plc.directory":
                return httpx.Response(200, json=did_document(ALICE, "alice.test", endpoint))
            self.pds_hits += 1
            uri = f"at://{ALICE}/{COLLECTION}/k1"
            record = {"uri": uri, "cid": "bafyreib", "value": {"$type": COLLECTION}}
            return httpx.Response(200, json=record)

        self.client = flavour.client(None, _client=flavour.http(handler), allow_private_hosts=allow)


@pytest.mark.parametrize("endpoint", PRIVATE_ENDPOINTS + ODD_NUMBERS + NOT_DEFAULT)
def test_a_did_document_cannot_send_reads_to_a_private_host(
    flavour: Flavour, endpoint: str
) -> None:
    world = _World(flavour, endpoint)
    with pytest.raises(DidResolutionError, match="refused"):
        world.client.get_record(f"at://{ALICE}/{COLLECTION}/k1")
    with pytest.raises(DidResolutionError):
        world.client.list_records(COLLECTION, repo=ALICE)
    with pytest.raises(DidResolutionError):
        world.client.get_blob(ALICE, "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
    assert world.pds_hits == 0


def test_the_switch_lets_local_development_through(flavour: Flavour) -> None:
    world = _World(flavour, "http://127.0.0.1:2583", allow=True)
    assert world.client.get_record(f"at://{ALICE}/{COLLECTION}/k1") == {"$type": COLLECTION}
    assert world.pds_hits == 1


def test_a_public_endpoint_is_read(flavour: Flavour) -> None:
    world = _World(flavour, "https://pds.example.com")
    assert world.client.get_record(f"at://{ALICE}/{COLLECTION}/k1") == {"$type": COLLECTION}


class _FakeStream:
    """What httpcore puts in ``response.extensions["network_stream"]``."""

    def __init__(self, peer: tuple[str, int]) -> None:
        self.peer = peer

    def get_extra_info(self, name: str) -> Any:
        return self.peer if name == "server_addr" else None


def test_the_address_connected_to_is_checked(flavour: Flavour) -> None:
    # pds.example.com passes the URL rules, but the connection went to 127.0.0.1
    # (a DNS answer the attacker controls): the answer is refused.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "plc.directory":
            doc = did_document(ALICE, "alice.test", "https://pds.example.com")
            return httpx.Response(200, json=doc)
        return httpx.Response(
            200,
            json={"uri": "x", "cid": "y", "value": {"secret": "from the internal network"}},
            extensions={"network_stream": _FakeStream(("127.0.0.1", 443))},
        )

    client = flavour.client(None, _client=flavour.http(handler), allow_private_hosts=False)
    with pytest.raises(UnsafeTargetError, match=r"127\.0\.0\.1"):
        client.get_record(f"at://{ALICE}/{COLLECTION}/k1")


# -- sessions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pds",
    [
        "http://0177.0.0.1",
        "http://256.1.1.1",
        "https://pds.test/xrpc/evil?x=",
        "https://pds.test#frag",
        "https://user@pds.test",
    ],
)
def test_a_malformed_session_pds_is_an_invalid_session(flavour: Flavour, pds: str) -> None:
    sent: list[httpx.Request] = []
    client = flavour.client(None, _client=flavour.http(lambda r: sent.append(r)))  # type: ignore[func-returns-value]
    with pytest.raises(InvalidSessionError):
        client.login_with_session(f"alice.test:::{ALICE}:::a.b.c:::d.e.f:::{pds}")
    assert sent == []


@pytest.mark.parametrize("pds", ["https://10.0.0.7", "http://pds.example.com", "https://[::1]"])
def test_a_restored_session_cannot_name_a_private_pds(flavour: Flavour, pds: str) -> None:
    sent: list[httpx.Request] = []
    client = flavour.client(None, _client=flavour.http(lambda r: sent.append(r)))  # type: ignore[func-returns-value]
    with pytest.raises(UnsafeTargetError):
        client.login_with_session(f"alice.test:::{ALICE}:::a.b.c:::d.e.f:::{pds}")
    assert sent == []
    assert not client.is_authenticated


def test_a_session_on_the_named_base_url_is_the_users_choice(flavour: Flavour) -> None:
    pds = FakePds("http://127.0.0.1:2583")
    alice = pds.add_account("alice.test", "pw")
    access, refresh = pds.issue_tokens(alice.did)
    client = flavour.client("http://127.0.0.1:2583", _client=flavour.http(pds))
    client.login_with_session(f"alice.test:::{alice.did}:::{access}:::{refresh}:::{pds.url}")
    assert client.is_authenticated


def test_a_login_did_doc_cannot_move_the_session_to_a_private_host(flavour: Flavour) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            200,
            json={
                "did": ALICE,
                "handle": "alice.test",
                "accessJwt": "a.b.c",
                "refreshJwt": "d.e.f",
                "didDoc": did_document(ALICE, "alice.test", "http://169.254.169.254"),
            },
        )

    client = flavour.client("https://entryway.example.com", _client=flavour.http(handler))
    with pytest.raises(UnsafeTargetError):
        client.login("alice.test", "pw")
    assert not client.is_authenticated
    assert [r.url.host for r in sent] == ["entryway.example.com"]


# -- resolution -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    ["https://127.0.0.1/x", "https://0x7f000001/", "https://[::1]:8443/", "https://10.0.0.1/"],
)
def test_well_known_redirects_to_private_hosts_are_refused(flavour: Flavour, location: str) -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(302, headers={"Location": location})

    resolver = flavour.resolver(http=flavour.http(handler), dns_resolver=NoDns())
    with resolver, pytest.raises(HandleResolutionError) as info:
        resolver.resolve_handle("alice.example.com")
    assert "refused" in str(info.value) or "non-https" in str(info.value)
    assert sent == ["https://alice.example.com/.well-known/atproto-did"]


def test_resolver_refuses_a_private_pds_endpoint(flavour: Flavour) -> None:
    doc = did_document(ALICE, "alice.test", "https://192.168.0.10")
    resolver = flavour.resolver(http=flavour.http(lambda r: httpx.Response(200, json=doc)))
    with resolver:
        assert resolver.resolve_did(ALICE).id == ALICE  # the document itself is data
        with pytest.raises(DidResolutionError, match="refused"):
            resolver.resolve_pds(ALICE)
    local = flavour.resolver(
        http=flavour.http(lambda r: httpx.Response(200, json=doc)), allow_private_hosts=True
    )
    with local:
        assert local.resolve_pds(ALICE) == "https://192.168.0.10"


# -- the public-only transport: resolve, check, pin ----------------------------------------------


class _Recorder:
    """An inner network backend that records where it was asked to connect."""

    def __init__(self) -> None:
        self.hosts: list[str] = []

    def _stream(self, host: str) -> Any:
        self.hosts.append(host)
        return object()


class _SyncRecorder(_Recorder, httpcore.NetworkBackend):
    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return self._stream(host)


class _AsyncRecorder(_Recorder, httpcore.AsyncNetworkBackend):
    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return self._stream(host)


def _connect(flavour: Flavour, addresses: Iterable[str]) -> tuple[_Recorder, Callable[[], Any]]:
    answer = list(addresses)

    def resolve(host: str, port: int) -> list[str]:
        assert host == "pds.example.com"
        return answer

    if flavour.is_async:
        arec = _AsyncRecorder()
        abackend = async_egress.AsyncPublicOnlyBackend(arec, resolve=resolve)
        return arec, lambda: asyncio.run(abackend.connect_tcp("pds.example.com", 443))
    srec = _SyncRecorder()
    sbackend = sync_egress.PublicOnlyBackend(srec, resolve=resolve)
    return srec, lambda: sbackend.connect_tcp("pds.example.com", 443)


@pytest.mark.parametrize("answer", [["127.0.0.1"], ["10.0.0.1", "::1"], ["169.254.169.254"], []])
def test_a_name_resolving_to_private_addresses_is_never_connected(
    flavour: Flavour, answer: list[str]
) -> None:
    recorder, connect = _connect(flavour, answer)
    with pytest.raises(UnsafeTargetError, match="not a public address"):
        connect()
    assert recorder.hosts == []


def test_the_connection_is_pinned_to_the_checked_address(flavour: Flavour) -> None:
    recorder, connect = _connect(flavour, ["10.0.0.1", "93.184.216.34", "127.0.0.1"])
    connect()
    assert recorder.hosts == ["93.184.216.34"]  # never the name (no second lookup)


def test_the_public_only_transport_refuses_loopback_before_sending(flavour: Flavour) -> None:
    # A real socket transport on a real loopback server: the name resolves to
    # 127.0.0.1, so not a byte is sent.
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    module: Any = async_egress if flavour.is_async else sync_egress
    transport = module.public_only_transport(resolve=lambda host, p: ["127.0.0.1"])
    http = flavour.wrap(
        (httpx.AsyncClient if flavour.is_async else httpx.Client)(transport=transport)
    )
    try:
        with pytest.raises(UnsafeTargetError):
            http.get(f"http://internal.example.com:{port}/")
        with pytest.raises(OSError):
            server.accept()  # nobody connected
    finally:
        server.close()
        http.close() if not flavour.is_async else http.aclose()


def test_every_refusal_is_an_atmosphere_error() -> None:
    assert issubclass(UnsafeTargetError, AtmosphereError)
