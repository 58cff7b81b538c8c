"""The real-PDS tier: every test in this directory is marked ``pds`` and may use the PDS.

Run alone with ``make test-pds`` (``pytest -m pds``); ``make test`` runs it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.appview import AppView
from tests.support.pds import PdsProcess, start_pds

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test collected from this directory ``pds``."""
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.pds)


@pytest.fixture(autouse=True)
def _local_development(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test PDS and PLC live on loopback over plain http: switch local development on.

    Clients and resolvers built without ``allow_private_hosts`` read it from the
    environment (``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1``); the CLI's subprocesses get
    it from ``tests.support.cli.clean_env``. Unit tests keep the safe default.
    """
    monkeypatch.setenv("ATMOSPHERE_ALLOW_PRIVATE_HOSTS", "1")


@pytest.fixture(scope="session")
def pds() -> Iterator[PdsProcess]:
    """One reference PDS (+ PLC directory) for the whole session, with alice.test and bob.test.

    Fails (never skips) when the PDS cannot start: run ``make pds-install`` first.
    """
    with start_pds() as server:
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
