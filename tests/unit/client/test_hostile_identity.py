"""Hostile identity data, served for real (loopback HTTP + loopback DNS).

The fault server plays PLC directory, did:web host and ``/.well-known``
endpoint; the loopback DNS server answers TXT lookups. Each hostile answer is
rejected with the right error, within the response-size caps and timeouts,
and nothing is sent to a PDS the identity did not legitimately name. Every
test runs on both flavours (the ``flavour`` fixture).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from atmosphere import (
    AtmosphereClient,
    DidResolutionError,
    HandleResolutionError,
    IdentityResolver,
    InvalidIdentifierError,
)
from tests.support.dns_server import DnsServer
from tests.support.fake_pds import did_document
from tests.support.fault_server import FaultServer, oversized, stall, trickle
from tests.support.flavours import Flavour
from tests.support.routing import RoutingTransport
from tests.support.timing import Elapsed

MALLORY = "did:plc:" + "m" * 24
OTHER = "did:plc:" + "o" * 24
COLL = "com.example.hostile.item"
GET = "com.atproto.repo.getRecord"
BIG = 50 * 1024 * 1024
TIMEOUT = 0.5
HOSTS = ("mallory.test", "twofaced.test", "bloated.test", "alice.test")


@dataclass
class World:
    server: FaultServer
    dns: DnsServer
    transport: RoutingTransport
    resolver: IdentityResolver
    client: AtmosphereClient
    alice: Any

    def publish(self, did: str, **changes: Any) -> dict[str, Any]:
        """Serve a DID document for ``did`` from the PLC directory, with changes."""
        doc = did_document(did, "mallory.test", self.server.url)
        doc.update(changes)
        self.server.plc.documents[did] = doc
        return doc

    def nothing_sent_to_the_pds(self) -> bool:
        return not any(key.startswith("com.atproto.") for key in self.server.received)

    def assert_mallory_refused(self, resolve: Callable[[str], Any], match: str) -> None:
        """``resolve(MALLORY)`` and a read of mallory's repo fail; the PDS hears nothing."""
        with pytest.raises(DidResolutionError, match=match):
            resolve(MALLORY)
        with pytest.raises(DidResolutionError):
            self.client.get_record(f"at://{MALLORY}/{COLL}/k")
        assert self.nothing_sent_to_the_pds()


@pytest.fixture
def world(dns_server: DnsServer, flavour: Flavour) -> Iterator[World]:
    with FaultServer() as server:
        alice = server.register("alice.test", "pw")
        transport = RoutingTransport(dict.fromkeys((*HOSTS, "127.0.0.1"), server.url))
        http = flavour.http(transport=transport)
        with (
            flavour.resolver(
                http=http,
                dns_resolver=dns_server.make_resolver(timeout=TIMEOUT),
                plc_url=server.url,
                timeout=TIMEOUT,
                cache_size=0,
                allow_private_hosts=True,  # the hostile hosts all live on loopback
            ) as resolver,
            flavour.client(server.url, resolver=resolver, allow_private_hosts=True) as client,
        ):
            try:
                yield World(server, dns_server, transport, resolver, client, alice)
            finally:
                for host in HOSTS:
                    dns_server.remove(f"_atproto.{host}")


# -- oversized and slow answers ------------------------------------------------------------


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_50mb_did_document_is_refused(world: World, declared: bool) -> None:
    world.server.script(f"/{MALLORY}", oversized(BIG, declared=declared))
    with Elapsed() as t, pytest.raises(DidResolutionError, match="over 65536 bytes"):
        world.resolver.resolve_did(MALLORY)
    assert t.seconds < 2
    assert world.server.bytes_sent[f"/{MALLORY}"] < 16 * 1024 * 1024  # stopped early


def test_50mb_well_known_answer_is_refused(world: World) -> None:
    world.server.script("/.well-known/atproto-did", oversized(BIG, declared=False))
    with Elapsed() as t, pytest.raises(HandleResolutionError, match="over 4096 bytes"):
        world.resolver.resolve_handle("bloated.test")
    assert t.seconds < 2


def test_stalled_plc_times_out(world: World) -> None:
    world.server.script(f"/{MALLORY}", stall(5, process=False))
    with Elapsed() as t, pytest.raises(DidResolutionError, match="timed out"):
        world.resolver.resolve_did(MALLORY)
    assert t.seconds < TIMEOUT + 1


def test_trickling_plc_hits_the_overall_deadline(world: World) -> None:
    # Every byte arrives well within the read timeout; only the deadline stops it.
    world.server.script(f"/{MALLORY}", trickle(1000, 0.05))
    with Elapsed() as t, pytest.raises(DidResolutionError, match="timed out"):
        world.resolver.resolve_did(MALLORY)
    assert t.seconds < TIMEOUT + 1
    assert world.server.bytes_sent[f"/{MALLORY}"] < 40


# -- documents that lie ----------------------------------------------------------------------


def test_document_for_another_did_is_refused(world: World) -> None:
    world.server.plc.documents[MALLORY] = did_document(OTHER, "mallory.test", world.server.url)
    world.assert_mallory_refused(world.resolver.resolve_did, "is for")


@pytest.mark.parametrize(
    "aka",
    [["at://alice.test"], [], ["https://mallory.test"], ["at://other.test", "at://mallory.test"]],
    ids=["someone-else", "empty", "not-at-uri", "not-first"],
)
def test_handle_absent_from_also_known_as_is_not_trusted(world: World, aka: list[str]) -> None:
    world.dns.set_txt("_atproto.mallory.test", f"did={MALLORY}")
    world.publish(MALLORY, alsoKnownAs=aka)
    identity = world.resolver.resolve("mallory.test")
    assert identity.did == MALLORY
    assert identity.handle == "handle.invalid"
    assert not identity.handle_is_valid
    with pytest.raises(HandleResolutionError, match="does not claim it"):
        world.client.get_record(f"at://mallory.test/{COLL}/k")
    assert world.nothing_sent_to_the_pds()


def test_handle_claiming_someone_elses_did_cannot_read_as_them(world: World) -> None:
    # mallory.test's DNS names alice's DID; alice's document does not name mallory.test.
    world.dns.set_txt("_atproto.mallory.test", f"did={world.alice.did}")
    with pytest.raises(HandleResolutionError):
        world.client.get_record(f"at://mallory.test/{COLL}/k")
    assert world.resolver.resolve(world.alice.did).handle == "alice.test"


def test_conflicting_txt_records_fail(world: World) -> None:
    world.dns.set_txt("_atproto.twofaced.test", f"did={MALLORY}", f"did={OTHER}")
    with pytest.raises(HandleResolutionError, match="more than one DID"):
        world.resolver.resolve_handle("twofaced.test")
    with pytest.raises(HandleResolutionError, match="more than one DID"):
        world.client.get_record(f"at://twofaced.test/{COLL}/k")
    # DNS was ambiguous: the HTTPS fallback must not be asked to break the tie.
    assert world.server.received["/.well-known/atproto-did"] == 0
    assert world.nothing_sent_to_the_pds()


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("ftp://pds.example.com", "http"),
        ("javascript:alert(1)", "http"),
        ("file:///etc/passwd", "http"),
        ("https://pds.example.com/xrpc", "path"),
        ("https://pds.example.com/", None),
        ("https://user@pds.example.com", "plain"),
        ("https://pds.example.com?q=1", "plain"),
        ("https://pds.example.com#frag", "plain"),
        ("https://pds.example.com:0", "port"),
        ("https://", "host"),
    ],
)
def test_bad_pds_endpoints_are_refused(world: World, endpoint: str, reason: str | None) -> None:
    world.publish(
        MALLORY,
        service=[
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": endpoint}
        ],
    )
    if reason is None:  # a trailing slash is just an origin
        assert world.resolver.resolve_pds(MALLORY) == "https://pds.example.com"
        return
    world.assert_mallory_refused(world.resolver.resolve_pds, reason)


@pytest.mark.parametrize(
    "did",
    [
        "did:web:example.com:user:alice",
        "did:web:localhost%3A1234:path",
        "did:web:example.com%3A8443",
        "did:web:example.com%2Fpath",
    ],
)
def test_did_web_with_a_path_or_port_is_refused_before_any_request(world: World, did: str) -> None:
    with pytest.raises((DidResolutionError, InvalidIdentifierError)):
        world.resolver.resolve_did(did)
    with pytest.raises((DidResolutionError, InvalidIdentifierError)):
        world.client.get_record(f"at://{did}/{COLL}/k")
    assert world.transport.requests == []
    assert sum(world.server.received.values()) == 0
