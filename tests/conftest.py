"""Fixtures shared by every tier: a loopback DNS server, and both client flavours.

A test that takes ``flavour`` runs twice, against the generated sync code and
against its async source (tests/support/flavours.py). The real-PDS fixture
lives in tests/pds/conftest.py, which also marks every test there ``pds``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dns_server import DnsServer
from tests.support.flavours import FLAVOURS, Flavour


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsServer]:
    """A loopback DNS server (UDP+TCP); tests set the TXT records they need."""
    with DnsServer() as server:
        yield server


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> Iterator[Flavour]:
    """Each client flavour in turn: ``sync``, then ``async`` (through ``SyncFacade``)."""
    built = Flavour(request.param)
    try:
        yield built
    finally:
        built.close()


# tests/atdata/ runs in its own venv with atdata installed (make test-atdata,
# scripts/test_atdata.py); the main suite never collects it.
collect_ignore = ["atdata"]
