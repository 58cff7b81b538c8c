"""The real-PDS tier: every test in this directory is marked ``pds`` and may use the PDS.

Run alone with ``make test-pds`` (``pytest -m pds``); ``make test`` runs it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pds import PdsProcess, start_pds

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test collected from this directory ``pds``."""
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.pds)


@pytest.fixture(scope="session")
def pds() -> Iterator[PdsProcess]:
    """One reference PDS (+ PLC directory) for the whole session, with alice.test and bob.test.

    Fails (never skips) when the PDS cannot start: run ``make pds-install`` first.
    """
    with start_pds() as server:
        yield server
