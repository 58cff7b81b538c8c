"""Shared fixtures: the real reference PDS and a loopback DNS server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures" / "pds"))

from launcher import PdsProcess, start_pds

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


# tests/atdata/ runs in its own venv with atdata installed (make test-atdata,
# scripts/test_atdata.py); the main suite never collects it.
collect_ignore = ["atdata"]
