"""The test infrastructure itself: the real PDS launcher, the routing transport, the DNS server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dns.resolver
import httpx
import pytest

from tests.support.dns_server import DnsServer
from tests.support.pds import PdsProcess, mint_expired_access_token
from tests.support.routing import RoutingTransport

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.pds
def test_pds_describes_itself(pds: PdsProcess) -> None:
    assert pds.pds_url.startswith("http://localhost:")
    resp = httpx.get(f"{pds.pds_url}/xrpc/com.atproto.server.describeServer")
    assert resp.status_code == 200
    body = resp.json()
    assert body["did"] == "did:web:localhost"
    assert body["availableUserDomains"] == [".test"]
    assert body["inviteCodeRequired"] is False


@pytest.mark.pds
def test_accounts_exist_and_log_in(pds: PdsProcess) -> None:
    assert [a.handle for a in pds.accounts] == ["alice.test", "bob.test"]
    alice = pds.account("alice.test")
    assert alice.did.startswith("did:plc:")
    resp = httpx.post(
        f"{pds.pds_url}/xrpc/com.atproto.server.createSession",
        json={"identifier": alice.handle, "password": alice.password},
    )
    assert resp.status_code == 200
    session = resp.json()
    assert session["did"] == alice.did
    assert session["handle"] == "alice.test"
    assert {"accessJwt", "refreshJwt"} <= session.keys()
    # enableDidDocWithSession: the DID document names the PDS's public URL.
    services = session["didDoc"]["service"]
    assert services[0]["serviceEndpoint"] == pds.pds_url


@pytest.mark.pds
def test_did_resolves_through_the_plc_directory(pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    doc = httpx.get(f"{pds.plc_url}/{alice.did}").json()
    assert doc["id"] == alice.did
    assert doc["alsoKnownAs"] == ["at://alice.test"]


@pytest.mark.pds
def test_well_known_handle_via_routing_transport(pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    transport = RoutingTransport({"alice.test": pds.pds_url})
    with httpx.Client(transport=transport) as http:
        resp = http.get("https://alice.test/.well-known/atproto-did")
        assert resp.status_code == 200
        assert resp.text.strip() == alice.did
        assert resp.request.url == "https://alice.test/.well-known/atproto-did"
        with pytest.raises(httpx.ConnectError):
            http.get("https://unrouted.test/.well-known/atproto-did")
    assert transport.requests[0].headers["host"] == "alice.test"


@pytest.mark.pds
def test_expired_token_is_refused_as_expired(pds: PdsProcess) -> None:
    alice = pds.account("alice.test")
    token = mint_expired_access_token(pds.jwt_secret, alice.did)
    resp = httpx.get(
        f"{pds.pds_url}/xrpc/com.atproto.server.getSession",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "ExpiredToken"
    # The same token signed with another secret is merely invalid.
    forged = mint_expired_access_token("not-the-secret", alice.did)
    resp = httpx.get(
        f"{pds.pds_url}/xrpc/com.atproto.server.getSession",
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "InvalidToken"


def test_dns_txt_over_udp(dns_server: DnsServer) -> None:
    dns_server.set_txt("_atproto.alice.test", "did=did:plc:aaaa")
    dns_server.set_txt("_atproto.multi.test", ["did=did:plc:", "bbbb"])
    dns_server.set_txt("_atproto.two.test", "did=did:plc:one", ["other", "record"])
    resolver = dns_server.make_resolver()

    answer = resolver.resolve("_atproto.alice.test", "TXT")
    assert [r.strings for r in answer] == [(b"did=did:plc:aaaa",)]

    answer = resolver.resolve("_ATPROTO.Multi.test.", "TXT")
    assert [r.strings for r in answer] == [(b"did=did:plc:", b"bbbb")]

    answer = resolver.resolve("_atproto.two.test", "TXT")
    assert sorted(r.strings for r in answer) == [(b"did=did:plc:one",), (b"other", b"record")]

    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("_atproto.nobody.test", "TXT")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("_atproto.alice.test", "A")
    udp = {q.name for q in dns_server.queries if q.transport == "udp"}
    assert {"_atproto.alice.test", "_atproto.multi.test", "_atproto.nobody.test"} <= udp


def test_dns_tcp_truncation_and_failures(dns_server: DnsServer) -> None:
    big = [f"k{i}=" + "x" * 200 for i in range(12)]  # > 1232 bytes: truncated over UDP
    dns_server.set_txt("_atproto.big.test", *big)
    dns_server.set_rcode("_atproto.broken.test", "SERVFAIL")
    dns_server.set_silent("_atproto.silent.test")
    resolver = dns_server.make_resolver(timeout=0.5)

    answer = resolver.resolve("_atproto.big.test", "TXT")
    assert len(answer) == 12
    assert any(q.name == "_atproto.big.test" and q.transport == "tcp" for q in dns_server.queries)

    answer = resolver.resolve("_atproto.big.test", "TXT", tcp=True)
    assert len(answer) == 12
    with pytest.raises(dns.resolver.NoNameservers):
        resolver.resolve("_atproto.broken.test", "TXT")
    with pytest.raises(dns.resolver.LifetimeTimeout):
        resolver.resolve("_atproto.silent.test", "TXT")

    dns_server.clear()
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("_atproto.big.test", "TXT")


def _process_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


@pytest.mark.pds
def test_pds_exits_when_its_parent_is_killed() -> None:
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from tests.support.pds import start_pds
        pds = start_pds(accounts=[])
        print(pds.pid, flush=True)
        time.sleep(600)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as parent:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        if not line:
            parent.wait(timeout=10)
            pytest.fail(f"child did not start the PDS: {parent.stderr.read().decode()!r}")
        node_pid = int(line)
        assert not _process_gone(node_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)

    deadline = time.monotonic() + 10
    while not _process_gone(node_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not _process_gone(node_pid):
        os.kill(node_pid, signal.SIGKILL)
        pytest.fail("the node process outlived its parent")
