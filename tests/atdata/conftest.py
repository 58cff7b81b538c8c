"""Fixtures for driving atdata's own code with this project's clients.

Run by ``make test-atdata`` (scripts/test_atdata.py) in a venv holding one
pinned atdata release; never collected by the main suite. One reference PDS
(+ PLC directory) and one loopback DNS server serve the whole session.

Environment (set by the harness):

- ``ATMOSPHERE_ATDATA_FACE``: ``v03`` (atdata 0.3, ``AtmosphereClient``,
  ``ac.foundation.dataset``) or ``v07`` (atdata 0.7, ``Atmosphere``,
  ``science.alt.dataset``). Derived from the installed atdata when unset.
- ``ATMOSPHERE_ATDATA_REFERENCE=1``: hand atdata its *own* SDK-based client
  instead of ours, to see which flows atdata itself gets through against the
  same PDS (a diagnostic, used to write notes/atdata-spec.md).
- ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1``: the loopback PDS is plain http.

Outbound network is refused for the whole session except loopback: atdata
has hard-coded ``https://plc.directory`` and ``https://bsky.social`` paths,
and a test that strays there must fail at once, not hang or leak.
"""

from __future__ import annotations

import importlib.metadata
import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.dns_server import DnsServer
from tests.support.pds import PdsProcess, start_pds

ROOT = Path(__file__).resolve().parents[2]

os.environ.setdefault("ATMOSPHERE_ALLOW_PRIVATE_HOSTS", "1")

ATDATA_VERSION = importlib.metadata.version("atdata")
FACE = os.environ.get("ATMOSPHERE_ATDATA_FACE") or (
    "v03" if ATDATA_VERSION.startswith("0.3") else "v07"
)
REFERENCE = os.environ.get("ATMOSPHERE_ATDATA_REFERENCE") == "1"
NAMESPACE = "ac.foundation.dataset" if FACE == "v03" else "science.alt.dataset"


def pytest_report_header() -> list[str]:
    """Say which atdata, which face and which client the run drives."""
    who = "atdata's own client (reference run)" if REFERENCE else "atmosphere's client"
    return [f"atdata {ATDATA_VERSION}, face {FACE} ({NAMESPACE}), driving {who}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse to run one face's tests against the other face's atdata (never skip)."""
    for item in items:
        name = Path(str(item.fspath)).name
        for face in ("v03", "v07"):
            if name.startswith(f"test_{face}") and face != FACE:
                raise pytest.UsageError(
                    f"{name} is for {face} but atdata {ATDATA_VERSION} is installed ({FACE}); "
                    "run through scripts/test_atdata.py"
                )


# -- network guard -------------------------------------------------------------


def _is_loopback_host(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]")
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _loopback_only() -> Iterator[None]:
    """Refuse name lookups and connections to anything but loopback."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_sendto = socket.socket.sendto

    def refuse(host: Any) -> None:
        raise ConnectionRefusedError(f"test-atdata: network beyond loopback refused ({host})")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback_host(host):
            raise socket.gaierror(f"test-atdata: network beyond loopback refused ({host})")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback_host(address[0]):
            refuse(address[0])
        return real_connect(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> Any:
        address = args[-1]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback_host(address[0]):
            refuse(address[0])
        return real_sendto(self, data, *args)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = real_getaddrinfo  # type: ignore[assignment]
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.sendto = real_sendto  # type: ignore[method-assign]


# -- servers -------------------------------------------------------------------


@pytest.fixture(scope="session")
def pds(_loopback_only: None) -> Iterator[PdsProcess]:
    """One reference PDS + PLC directory with alice.test and bob.test."""
    with start_pds() as server:
        yield server


@pytest.fixture(scope="session")
def dns(pds: PdsProcess) -> Iterator[DnsServer]:
    """A loopback DNS server publishing ``_atproto.<handle>`` for every account."""
    with DnsServer() as server:
        for acct in pds.accounts:
            server.set_txt(f"_atproto.{acct.handle}", f"did={acct.did}")
        yield server


# -- clients -------------------------------------------------------------------


def _our_options(pds: PdsProcess, dns: DnsServer) -> dict[str, Any]:
    """Keyword options every one of our clients gets: the loopback PLC and DNS."""
    from atmosphere import IdentityResolver

    resolver = IdentityResolver(dns_resolver=dns.make_resolver(), plc_url=pds.plc_url, timeout=5)
    return {"plc_url": pds.plc_url, "resolver": resolver}


def _reference_login(pds: PdsProcess, acct: Any, **extra: Any) -> Any:
    """atdata's own client, logged in (diagnostic runs only).

    The atproto SDK's ``login`` ends with ``app.bsky.actor.getProfile``, which a
    bare PDS (no AppView) refuses; the SDK client is handed a stand-in for that
    one call, answering with the account's DID and handle.
    """
    from types import SimpleNamespace

    import atdata.atmosphere as ad
    from atproto import Client

    sdk = Client(base_url=pds.pds_url)
    profile = SimpleNamespace(did=acct.did, handle=acct.handle)
    sdk.app.bsky.actor.get_profile = lambda *args, **kwargs: profile
    if FACE == "v03":
        client = ad.AtmosphereClient(_client=sdk)
        client.login(acct.handle, acct.password)
        return client
    client = ad.Atmosphere(_client=sdk, **extra)
    client._login(acct.handle, acct.password)
    return client


def _login(pds: PdsProcess, dns: DnsServer, handle: str, **extra: Any) -> Any:
    acct = pds.account(handle)
    if REFERENCE:
        return _reference_login(pds, acct, **extra)
    options = {**_our_options(pds, dns), **extra}
    if FACE == "v03":
        from atmosphere import AtmosphereClient

        client = AtmosphereClient(pds.pds_url, **options)
        client.login(acct.handle, acct.password)
        return client
    from atmosphere import Atmosphere  # the 0.7 face (issue 12)

    return Atmosphere.login(acct.handle, acct.password, base_url=pds.pds_url, **options)


@pytest.fixture(scope="session")
def make_client(pds: PdsProcess, dns: DnsServer) -> Iterator[Callable[..., Any]]:
    """``make_client(handle, **options)``: a fresh client of the face under test, logged in.

    ``options`` go to the constructor (0.3) or to ``Atmosphere.login`` (0.7),
    e.g. ``appview=...``; every client also gets the loopback ``plc_url`` and a
    resolver that asks the loopback DNS server.
    """
    made: list[Any] = []

    def make(handle: str, **options: Any) -> Any:
        client = _login(pds, dns, handle, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        close = getattr(client, "close", None)
        if callable(close):
            close()


@pytest.fixture(scope="session")
def atmosphere_cls() -> Any:
    """The 0.7 face's class: ours, or atdata's own in a reference run."""
    if REFERENCE:
        from atdata.atmosphere import Atmosphere as theirs

        return theirs
    from atmosphere import Atmosphere as ours

    return ours


@pytest.fixture(scope="session")
def client_options(pds: PdsProcess, dns: DnsServer) -> dict[str, Any]:
    """Extra keyword options for constructing our clients directly (none for atdata's)."""
    return {} if REFERENCE else _our_options(pds, dns)


@pytest.fixture(scope="session")
def alice(make_client: Callable[[str], Any]) -> Any:
    """alice.test's client (the publisher in most flows)."""
    return make_client("alice.test")


@pytest.fixture(scope="session")
def bob(make_client: Callable[[str], Any]) -> Any:
    """bob.test's client (reads alice's records: a cross-account reader)."""
    return make_client("bob.test")


@pytest.fixture(scope="module")
def schema_uri(alice: Any) -> str:
    """``Reading``'s schema, published by alice once for the module."""
    from atdata.atmosphere import SchemaPublisher

    from tests.atdata.samples import Reading

    return str(SchemaPublisher(alice).publish(Reading, version="1.0.0"))


@pytest.fixture(scope="session")
def url_storage_type() -> str:
    """What atdata's ``get_storage_type`` says of a URL-stored dataset on this face."""
    return "external" if FACE == "v03" else "http"


@pytest.fixture
def adapt() -> Callable[[Any], Any]:
    """``atmosphere.atdata.adapt`` (the reference run passes atdata's own client as is)."""
    if REFERENCE:
        return lambda client: client
    from atmosphere.atdata import adapt as adapt_

    return adapt_
