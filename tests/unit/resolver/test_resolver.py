"""IdentityResolver against fakes: HTTP through ``httpx.MockTransport``, DNS over the
real DNS wire protocol against a loopback server (``tests/support/dns_server.py``).

Every test runs on both flavours (the ``flavour`` fixture): ``IdentityResolver``
and its source, ``AsyncIdentityResolver``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import dns.exception
import httpx
import pytest

from atmosphere._identity import HANDLE_INVALID
from atmosphere._sync.resolver import MAX_WELL_KNOWN_REDIRECTS, IdentityResolver
from atmosphere._syntax import RESERVED_TLDS
from atmosphere.errors import (
    DidResolutionError,
    HandleResolutionError,
    InvalidIdentifierError,
    ResolutionError,
)
from tests.support.dns_server import DnsServer
from tests.support.flavours import Flavour
from tests.support.streams import ClosableStream

ALICE = "did:plc:alice234alice234alice234"
BOB = "did:plc:bob234bob234bob234bob234"
CAROL = "did:plc:carol234carol234carol234"
PLC = "https://plc.directory"


def did_doc(
    did: str, handle: str | None = "alice.test", pds: Any = "https://pds.example.com"
) -> dict[str, Any]:
    service = []
    if pds is not None:
        service.append(
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}
        )
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "alsoKnownAs": [f"at://{handle}"] if handle else [],
        "verificationMethod": [
            {
                "id": f"{did}#atproto",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF",
            }
        ],
        "service": service,
    }


class CountingStream(ClosableStream):
    """A large body produced lazily; ``sent`` counts the bytes handed out."""

    def __init__(self, total: int, chunk: int = 64 * 1024, delay: float = 0.0) -> None:
        self.total = total
        self.chunk = chunk
        self.delay = delay
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        while self.sent < self.total:
            if self.delay:
                time.sleep(self.delay)
            n = min(self.chunk, self.total - self.sent)
            self.sent += n
            yield b" " * n


Reply = Callable[[httpx.Request], httpx.Response]


class Web:
    """The fake internet: URL → reply factory; everything else is 404."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.routes.get(str(request.url))
        return reply(request) if reply else httpx.Response(404, text="not found")

    def route(self, url: str, reply: Reply) -> None:
        self.routes[url] = reply

    def text(self, url: str, body: str | bytes, status: int = 200, **headers: str) -> None:
        self.route(url, lambda _: httpx.Response(status, content=body, headers=headers))

    def json(self, url: str, data: Any, status: int = 200) -> None:
        self.route(url, lambda _: httpx.Response(status, json=data))

    def status(self, url: str, status: int, **headers: str) -> None:
        self.route(url, lambda _: httpx.Response(status, headers=headers))

    def well_known(self, handle: str, body: str | bytes, status: int = 200) -> None:
        self.text(f"https://{handle}/.well-known/atproto-did", body, status)

    def plc(self, did: str, data: Any = None, status: int = 200) -> None:
        self.json(f"{PLC}/{did}", did_doc(did) if data is None else data, status)

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dns_srv() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


@pytest.fixture
def web() -> Web:
    return Web()


@pytest.fixture
def make(flavour: Flavour, dns_srv: DnsServer, web: Web) -> Callable[..., IdentityResolver]:
    """Build resolvers of the test's flavour over the fake web and the loopback DNS server.

    The whole suite runs against both resolvers: the async one is the source
    the sync one is generated from (scripts/unasync.py), so both must pass.
    """

    def make_resolver(**kwargs: Any) -> IdentityResolver:
        kwargs.setdefault("dns_resolver", dns_srv.make_resolver(timeout=2.0))
        resolver: IdentityResolver = flavour.resolver(http=flavour.http(web), **kwargs)
        return resolver

    return make_resolver


@pytest.fixture
def resolver(make: Callable[..., IdentityResolver]) -> IdentityResolver:
    return make()


def txt_queries(dns_srv: DnsServer) -> list[str]:
    return [q.name for q in dns_srv.queries if q.rdtype == "TXT"]


# -- handle → DID ---------------------------------------------------------------------


def test_dns_path(resolver: IdentityResolver, dns_srv: DnsServer, web: Web) -> None:
    dns_srv.set_txt("_atproto.alice.test", f"did={ALICE}")
    assert resolver.resolve_handle("Alice.Test") == ALICE
    assert txt_queries(dns_srv) == ["_atproto.alice.test"]
    assert web.requests == []  # DNS answered: HTTPS is never asked


def test_dns_record_split_in_strings(resolver: IdentityResolver, dns_srv: DnsServer) -> None:
    dns_srv.set_txt("_atproto.alice.test", ["did=did:plc:", ALICE[len("did:plc:") :]])
    assert resolver.resolve_handle("alice.test") == ALICE


def test_https_path(resolver: IdentityResolver, dns_srv: DnsServer, web: Web) -> None:
    web.well_known("bob.test", f"{BOB}\n")
    assert resolver.resolve_handle("bob.test") == BOB
    assert txt_queries(dns_srv) == ["_atproto.bob.test"]
    assert web.urls == ["https://bob.test/.well-known/atproto-did"]
    assert web.requests[0].headers["accept"] == "text/plain"


def test_dns_wins_over_https(resolver: IdentityResolver, dns_srv: DnsServer, web: Web) -> None:
    dns_srv.set_txt("_atproto.alice.test", f"did={ALICE}")
    web.well_known("alice.test", BOB)
    assert resolver.resolve_handle("alice.test") == ALICE


def test_conflicting_txt_records_fail(
    resolver: IdentityResolver, dns_srv: DnsServer, web: Web
) -> None:
    dns_srv.set_txt("_atproto.alice.test", f"did={ALICE}", f"did={BOB}")
    web.well_known("alice.test", ALICE)
    with pytest.raises(HandleResolutionError, match="more than one DID"):
        resolver.resolve_handle("alice.test")
    assert web.requests == []  # an ambiguous DNS answer is not papered over by HTTPS


def test_non_did_txt_ignored(resolver: IdentityResolver, dns_srv: DnsServer, web: Web) -> None:
    dns_srv.set_txt("_atproto.alice.test", "v=spf1 -all", "hello", f"did={ALICE}")
    assert resolver.resolve_handle("alice.test") == ALICE
    dns_srv.set_txt("_atproto.bob.test", "v=spf1 -all")
    web.well_known("bob.test", BOB)
    assert resolver.resolve_handle("bob.test") == BOB  # no did= record: HTTPS is asked


def test_dns_servfail_falls_back_to_https(
    resolver: IdentityResolver, dns_srv: DnsServer, web: Web
) -> None:
    dns_srv.set_rcode("_atproto.bob.test", "SERVFAIL")
    web.well_known("bob.test", BOB)
    assert resolver.resolve_handle("bob.test") == BOB


@pytest.mark.parametrize("tld", sorted(RESERVED_TLDS))
def test_reserved_tlds_do_no_io(
    resolver: IdentityResolver, dns_srv: DnsServer, web: Web, tld: str
) -> None:
    handle = f"alice{tld}"
    dns_srv.set_txt(f"_atproto.{handle}", f"did={ALICE}")
    web.well_known(handle, ALICE)
    for call in (resolver.resolve_handle, resolver.resolve_pds, resolver.resolve):
        with pytest.raises(HandleResolutionError, match="reserved"):
            call(handle)
    assert dns_srv.queries == []
    assert web.requests == []


def test_invalid_identifiers(resolver: IdentityResolver, web: Web) -> None:
    for call in (resolver.resolve_handle, resolver.resolve_pds, resolver.resolve):
        with pytest.raises(InvalidIdentifierError):
            call("not a handle")
    with pytest.raises(InvalidIdentifierError):
        resolver.resolve_did("did:plc:has space")
    with pytest.raises(ValueError, match="invalid"):  # old `except ValueError` code still works
        resolver.resolve_handle("alice")
    assert web.requests == []


def test_nxdomain_and_404(resolver: IdentityResolver, dns_srv: DnsServer, web: Web) -> None:
    with pytest.raises(HandleResolutionError, match=r"no DNS TXT record.*HTTP 404") as info:
        resolver.resolve_handle("nobody.test")
    assert info.value.identifier == "nobody.test"
    assert txt_queries(dns_srv) == ["_atproto.nobody.test"]
    assert web.urls == ["https://nobody.test/.well-known/atproto-did"]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("did:plc:" + "a" * 5000, "over 4096 bytes"),
        ("<html>Welcome to nginx</html>", "not a DID"),
        (f"garbage\n{BOB}", "not a DID"),
        ("", "empty"),
    ],
)
def test_well_known_body_rejected(
    resolver: IdentityResolver, web: Web, body: str, match: str
) -> None:
    web.well_known("bob.test", body)
    with pytest.raises(HandleResolutionError, match=match):
        resolver.resolve_handle("bob.test")


def test_well_known_first_line_wins(resolver: IdentityResolver, web: Web) -> None:
    web.well_known("bob.test", f"  {BOB}\n{ALICE}\n")
    assert resolver.resolve_handle("bob.test") == BOB


def test_well_known_huge_body_stops_at_cap(make: Callable[..., IdentityResolver], web: Web) -> None:
    stream = CountingStream(50 * 1024 * 1024, chunk=1024)
    web.route(
        "https://bob.test/.well-known/atproto-did",
        lambda _: httpx.Response(200, stream=stream),
    )
    resolver = make(max_well_known_bytes=2048)
    with pytest.raises(HandleResolutionError, match="over 2048 bytes"):
        resolver.resolve_handle("bob.test")
    assert stream.sent <= 2048 + 1024
    assert stream.closed


def test_well_known_non_2xx(resolver: IdentityResolver, web: Web) -> None:
    web.well_known("bob.test", BOB, status=500)
    with pytest.raises(HandleResolutionError, match="HTTP 500"):
        resolver.resolve_handle("bob.test")


def test_well_known_redirect_followed(resolver: IdentityResolver, web: Web) -> None:
    web.status("https://bob.test/.well-known/atproto-did", 302, location="https://id.test/bob")
    web.text("https://id.test/bob", BOB)
    assert resolver.resolve_handle("bob.test") == BOB
    assert web.urls == ["https://bob.test/.well-known/atproto-did", "https://id.test/bob"]


def test_well_known_redirect_to_http_refused(resolver: IdentityResolver, web: Web) -> None:
    web.status("https://bob.test/.well-known/atproto-did", 301, location="http://id.test/bob")
    web.text("http://id.test/bob", BOB)
    with pytest.raises(HandleResolutionError, match="non-https"):
        resolver.resolve_handle("bob.test")
    assert len(web.requests) == 1


def test_well_known_redirect_loop(resolver: IdentityResolver, web: Web) -> None:
    url = "https://bob.test/.well-known/atproto-did"
    web.status(url, 307, location=url)
    with pytest.raises(HandleResolutionError, match="too many"):
        resolver.resolve_handle("bob.test")
    assert len(web.requests) == MAX_WELL_KNOWN_REDIRECTS + 1


def test_credentials_never_sent(flavour: Flavour, dns_srv: DnsServer, web: Web) -> None:
    web.well_known("bob.test", BOB)
    web.plc(BOB, did_doc(BOB, "bob.test"))
    http = flavour.http(web, auth=("user", "secret"))
    resolver = flavour.resolver(http=http, dns_resolver=dns_srv.make_resolver())
    assert resolver.resolve("bob.test").did == BOB
    assert web.requests
    assert all("authorization" not in r.headers for r in web.requests)


# -- DID → document -------------------------------------------------------------------


def test_plc_document(resolver: IdentityResolver, web: Web) -> None:
    web.plc(ALICE)
    document = resolver.resolve_did(ALICE)
    assert document.id == ALICE
    assert document.handle == "alice.test"
    assert web.urls == [f"{PLC}/{ALICE}"]
    assert "application/did+ld+json" in web.requests[0].headers["accept"]


def test_custom_plc_url(make: Callable[..., IdentityResolver], web: Web) -> None:
    web.json(f"http://127.0.0.1:2582/{ALICE}", did_doc(ALICE))
    resolver = make(plc_url="http://127.0.0.1:2582/")
    assert resolver.resolve_did(ALICE).id == ALICE


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (404, None, "not found"),
        (410, None, "tombstoned"),
        (500, None, "HTTP 500"),
        (302, None, "redirected"),
        (200, b"{not json", "not valid JSON"),
        (200, b"[]", "not a JSON object"),
        (200, json.dumps(did_doc(BOB)).encode(), "is for"),
        (200, b'{"id": 5}', "malformed"),
    ],
)
def test_did_document_failures(
    resolver: IdentityResolver, web: Web, status: int, body: bytes | None, match: str
) -> None:
    headers = {"location": f"https://elsewhere.test/{ALICE}"} if status == 302 else {}
    web.text(f"{PLC}/{ALICE}", body or b"", status, **headers)
    web.json(f"https://elsewhere.test/{ALICE}", did_doc(ALICE))
    with pytest.raises(DidResolutionError, match=match) as info:
        resolver.resolve_did(ALICE)
    assert info.value.identifier == ALICE
    assert web.urls == [f"{PLC}/{ALICE}"]  # redirects are not followed for documents


def test_oversized_document_stops_at_cap(make: Callable[..., IdentityResolver], web: Web) -> None:
    stream = CountingStream(50 * 1024 * 1024)
    web.route(f"{PLC}/{ALICE}", lambda _: httpx.Response(200, stream=stream))
    resolver = make()
    with pytest.raises(DidResolutionError, match=f"over {64 * 1024} bytes"):
        resolver.resolve_did(ALICE)
    assert stream.sent <= 64 * 1024 + stream.chunk
    assert stream.closed


def test_declared_oversized_document_not_read(
    make: Callable[..., IdentityResolver], web: Web
) -> None:
    stream = CountingStream(50 * 1024 * 1024)
    web.route(
        f"{PLC}/{ALICE}",
        lambda _: httpx.Response(200, stream=stream, headers={"content-length": str(stream.total)}),
    )
    with pytest.raises(DidResolutionError, match="over 1000 bytes"):
        make(max_document_bytes=1000).resolve_did(ALICE)
    assert stream.sent == 0


def test_did_web(resolver: IdentityResolver, web: Web) -> None:
    did = "did:web:example.com"
    web.json("https://example.com/.well-known/did.json", did_doc(did))
    assert resolver.resolve_did(did).id == did


def test_did_web_localhost_port(make: Callable[..., IdentityResolver], web: Web) -> None:
    did = "did:web:localhost%3A5000"
    web.json("http://localhost:5000/.well-known/did.json", did_doc(did))
    resolver = make(allow_private_hosts=True)  # local development, switched on
    assert resolver.resolve_did(did).id == did
    assert web.urls == ["http://localhost:5000/.well-known/did.json"]


def test_did_web_localhost_is_refused_by_default(resolver: IdentityResolver, web: Web) -> None:
    did = "did:web:localhost%3A5000"
    web.json("http://localhost:5000/.well-known/did.json", did_doc(did))
    with pytest.raises(DidResolutionError, match="refused"):
        resolver.resolve_did(did)
    assert web.requests == []


@pytest.mark.parametrize(
    "did", ["did:web:example.com:users:alice", "did:web:example.com%3A8443", "did:key:zabc"]
)
def test_did_web_rejected_without_io(resolver: IdentityResolver, web: Web, did: str) -> None:
    with pytest.raises(DidResolutionError):
        resolver.resolve_did(did)
    assert web.requests == []


# -- PDS endpoint -----------------------------------------------------------------------


def test_resolve_pds(resolver: IdentityResolver, dns_srv: DnsServer, web: Web) -> None:
    dns_srv.set_txt("_atproto.alice.test", f"did={ALICE}")
    web.plc(ALICE, did_doc(ALICE, pds="https://PDS.example.com/"))
    assert resolver.resolve_pds("alice.test") == "https://pds.example.com"
    assert resolver.resolve_pds(ALICE) == "https://pds.example.com"


@pytest.mark.parametrize(
    ("pds", "match"),
    [
        ("ftp://pds.example.com", "http"),
        ("https://pds.example.com/some/path", "path"),
        ("https://user@pds.example.com", "origin"),
        (None, "no atproto PDS"),
    ],
)
def test_bad_pds_endpoint(resolver: IdentityResolver, web: Web, pds: Any, match: str) -> None:
    web.plc(ALICE, did_doc(ALICE, pds=pds))
    with pytest.raises(DidResolutionError, match=match):
        resolver.resolve_pds(ALICE)
    with pytest.raises(DidResolutionError, match=match):
        resolver.resolve(ALICE)


# -- bidirectional check ------------------------------------------------------------------


def test_resolve_handle_verified(resolver: IdentityResolver, dns_srv: DnsServer, web: Web) -> None:
    dns_srv.set_txt("_atproto.alice.test", f"did={ALICE}")
    web.plc(ALICE, did_doc(ALICE, "Alice.Test"))
    ident = resolver.resolve("ALICE.test")
    assert (ident.did, ident.handle, ident.pds_endpoint) == (
        ALICE,
        "alice.test",
        "https://pds.example.com",
    )
    assert ident.document.id == ALICE
    assert ident.handle_is_valid


def test_handle_missing_from_also_known_as(
    resolver: IdentityResolver, dns_srv: DnsServer, web: Web
) -> None:
    dns_srv.set_txt("_atproto.alice.test", f"did={ALICE}")
    web.plc(ALICE, did_doc(ALICE, "someone-else.test"))
    ident = resolver.resolve("alice.test")
    assert ident.did == ALICE
    assert ident.handle == HANDLE_INVALID


def test_resolve_did_verifies_claimed_handle(
    resolver: IdentityResolver, dns_srv: DnsServer, web: Web
) -> None:
    dns_srv.set_txt("_atproto.alice.test", f"did={ALICE}")
    web.plc(ALICE, did_doc(ALICE, "alice.test"))
    assert resolver.resolve(ALICE).handle == "alice.test"


def test_resolve_did_claimed_handle_points_elsewhere(
    resolver: IdentityResolver, dns_srv: DnsServer, web: Web
) -> None:
    dns_srv.set_txt("_atproto.bob.test", f"did={BOB}")
    web.plc(ALICE, did_doc(ALICE, "bob.test"))  # alice claims bob's handle
    assert resolver.resolve(ALICE).handle == HANDLE_INVALID


def test_resolve_did_claimed_handle_unresolvable(resolver: IdentityResolver, web: Web) -> None:
    web.plc(ALICE, did_doc(ALICE, "gone.test"))
    ident = resolver.resolve(ALICE)
    assert ident.handle == HANDLE_INVALID
    assert ident.pds_endpoint == "https://pds.example.com"


def test_resolve_did_without_handle(
    resolver: IdentityResolver, dns_srv: DnsServer, web: Web
) -> None:
    web.plc(ALICE, did_doc(ALICE, None))
    assert resolver.resolve(ALICE).handle == HANDLE_INVALID
    assert dns_srv.queries == []


def test_resolve_unresolvable_handle_raises(resolver: IdentityResolver) -> None:
    with pytest.raises(HandleResolutionError):
        resolver.resolve("nobody.test")


# -- cache --------------------------------------------------------------------------------


def test_positive_cache(resolver: IdentityResolver, dns_srv: DnsServer, web: Web) -> None:
    dns_srv.set_txt("_atproto.alice.test", f"did={ALICE}")
    web.plc(ALICE)
    first = resolver.resolve("alice.test")
    io = (len(dns_srv.queries), len(web.requests))
    assert resolver.resolve("alice.test") == first
    assert resolver.resolve_pds("alice.test") == first.pds_endpoint
    assert resolver.resolve_did(ALICE) == first.document
    assert (len(dns_srv.queries), len(web.requests)) == io
    resolver.clear_cache()
    resolver.resolve("alice.test")
    assert len(dns_srv.queries) > io[0]
    assert len(web.requests) > io[1]


def test_positive_cache_expires(
    make: Callable[..., IdentityResolver], dns_srv: DnsServer, web: Web
) -> None:
    clock = FakeClock()
    resolver = make(clock=clock, cache_ttl=600)
    dns_srv.set_txt("_atproto.alice.test", f"did={ALICE}")
    resolver.resolve_handle("alice.test")
    clock.now += 599
    resolver.resolve_handle("alice.test")
    assert len(dns_srv.queries) == 1
    dns_srv.set_txt("_atproto.alice.test", f"did={BOB}")
    clock.now += 2
    assert resolver.resolve_handle("alice.test") == BOB


def test_negative_cache_expires(
    make: Callable[..., IdentityResolver], dns_srv: DnsServer, web: Web
) -> None:
    clock = FakeClock()
    resolver = make(clock=clock, negative_cache_ttl=30)
    for _ in range(2):
        with pytest.raises(HandleResolutionError):
            resolver.resolve_handle("bob.test")
        with pytest.raises(DidResolutionError, match="not found"):
            resolver.resolve_did(BOB)
    assert len(dns_srv.queries) == 1
    assert len(web.requests) == 2  # one well-known, one PLC
    web.well_known("bob.test", BOB)
    web.plc(BOB, did_doc(BOB, "bob.test"))
    clock.now += 31
    assert resolver.resolve_handle("bob.test") == BOB
    assert resolver.resolve_did(BOB).id == BOB


def test_transient_failures_not_cached(resolver: IdentityResolver, web: Web) -> None:
    web.plc(ALICE, status=503)
    for _ in range(2):
        with pytest.raises(DidResolutionError, match="HTTP 503"):
            resolver.resolve_did(ALICE)
    assert len(web.requests) == 2


def test_cache_is_bounded(make: Callable[..., IdentityResolver], web: Web) -> None:
    resolver = make(cache_size=2)
    for did in (ALICE, BOB, CAROL):
        web.plc(did)
        resolver.resolve_did(did)
    assert len(web.requests) == 3
    resolver.resolve_did(CAROL)
    resolver.resolve_did(BOB)
    assert len(web.requests) == 3
    resolver.resolve_did(ALICE)  # evicted: fetched again
    assert len(web.requests) == 4


def test_cache_disabled(make: Callable[..., IdentityResolver], web: Web) -> None:
    resolver = make(cache_size=0)
    web.plc(ALICE)
    resolver.resolve_did(ALICE)
    resolver.resolve_did(ALICE)
    assert len(web.requests) == 2


# -- timeouts and transport errors ----------------------------------------------------------


def test_dns_timeout_is_bounded(
    make: Callable[..., IdentityResolver], dns_srv: DnsServer, web: Web
) -> None:
    dns_srv.set_silent("_atproto.slow.test")
    resolver = make(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(HandleResolutionError, match="DNS lookup timed out") as info:
        resolver.resolve_handle("slow.test")
    assert time.monotonic() - started < 3.0
    assert isinstance(info.value.__cause__, dns.exception.Timeout)
    asked = len(dns_srv.queries)
    with pytest.raises(HandleResolutionError):
        resolver.resolve_handle("slow.test")
    assert len(dns_srv.queries) > asked  # a timeout is not cached


def test_dns_timeout_then_https(
    make: Callable[..., IdentityResolver], dns_srv: DnsServer, web: Web
) -> None:
    dns_srv.set_silent("_atproto.slow.test")
    web.well_known("slow.test", BOB)
    assert make(timeout=0.3).resolve_handle("slow.test") == BOB


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
def test_http_errors_are_wrapped(
    resolver: IdentityResolver, web: Web, exc: httpx.HTTPError
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    web.route(f"{PLC}/{ALICE}", fail)
    web.route("https://bob.test/.well-known/atproto-did", fail)
    with pytest.raises(DidResolutionError) as did_info:
        resolver.resolve_did(ALICE)
    assert did_info.value.__cause__ is exc
    with pytest.raises(HandleResolutionError) as handle_info:
        resolver.resolve_handle("bob.test")
    assert handle_info.value.__cause__ is exc
    if isinstance(exc, httpx.TimeoutException):
        assert "timed out" in str(did_info.value)


def test_slow_body_is_bounded_by_timeout(make: Callable[..., IdentityResolver], web: Web) -> None:
    stream = CountingStream(60 * 1024, chunk=1024, delay=0.05)
    web.route(f"{PLC}/{ALICE}", lambda _: httpx.Response(200, stream=stream))
    started = time.monotonic()
    with pytest.raises(DidResolutionError, match="timed out"):
        make(timeout=0.3).resolve_did(ALICE)
    assert time.monotonic() - started < 2.0
    assert stream.closed


def test_timeout_is_applied_to_requests(make: Callable[..., IdentityResolver], web: Web) -> None:
    web.plc(ALICE)
    make(timeout=2.5).resolve_did(ALICE)
    timeouts = web.requests[0].extensions["timeout"]
    assert 0 < timeouts["read"] <= 2.5
    assert 0 < timeouts["connect"] <= 2.5


def test_errors_are_resolution_errors(resolver: IdentityResolver) -> None:
    with pytest.raises(ResolutionError):
        resolver.resolve_did(ALICE)
    with pytest.raises(ValueError, match="not found"):
        resolver.resolve_did(ALICE)


# -- lifecycle -------------------------------------------------------------------------------


def test_injected_client_left_open(flavour: Flavour, dns_srv: DnsServer, web: Web) -> None:
    web.plc(ALICE)
    http = flavour.http(web)
    with flavour.resolver(http=http, dns_resolver=dns_srv.make_resolver()) as resolver:
        resolver.resolve_did(ALICE)
    assert not http.is_closed
    resolver.close()
    assert not http.is_closed


def test_owned_client_closed(flavour: Flavour, dns_srv: DnsServer) -> None:
    with flavour.resolver(dns_resolver=dns_srv.make_resolver()) as resolver:
        http = resolver._http
        assert not http.is_closed
    assert http.is_closed
    resolver.close()  # idempotent
