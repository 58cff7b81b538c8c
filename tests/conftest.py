"""Fixtures shared by every tier: a loopback DNS server, and both client flavours.

The real-PDS fixture lives in tests/pds/conftest.py, which also marks every
test there ``pds``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dns_server import DnsServer


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsServer]:
    """A loopback DNS server (UDP+TCP); tests set the TXT records they need."""
    with DnsServer() as server:
        yield server


# tests/atdata/ runs in its own venv with atdata installed (make test-atdata,
# scripts/test_atdata.py); the main suite never collects it.
collect_ignore = ["atdata"]
