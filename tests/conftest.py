"""Shared fixtures: the real reference PDS, a loopback DNS server, a loopback AppView."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures" / "pds"))

from launcher import PdsProcess, start_pds

from tests.support.appview import AppView
from tests.support.dns_server import DnsServer


@pytest.fixture(scope="session")
def pds() -> Iterator[PdsProcess]:
    """One reference PDS (+ PLC directory) for the whole session, with alice.test and bob.test.

    Fails (never skips) when the PDS cannot start: run ``make pds-install`` first.
    """
    with start_pds() as server:
        yield server


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsServer]:
    """A loopback DNS server (UDP+TCP); tests set the TXT records they need."""
    with DnsServer() as server:
        yield server


@pytest.fixture
def appview(pds: PdsProcess) -> Iterator[AppView]:
    """A fresh loopback AppView the session's PDS can proxy to.

    Its DID is ``appview.did`` (``did:web:localhost%3A<port>``); ``appview.proxy_header``
    is the ``atproto-proxy`` value (``<did>#atdata_appview``); ``appview.url`` is its
    direct URL. It verifies service JWTs with keys from ``pds.plc_url`` and records each
    request in ``appview.received`` (see tests/support/appview.py).
    """
    with AppView(plc_url=pds.plc_url) as server:
        yield server
