"""The reference PDS for the benchmarks: one per ``make bench`` run, or one per script.

``run_all.py`` starts one PDS for every step that needs it (``shared()``) and
hands it to the steps through ``ATMOSPHERE_BENCH_PDS``: starting one takes
about 6 s, a lot of a quick run. A script run on its own starts its own
(``pds_server()``). Each benchmark writes to its own collections, so they do
not see each other's records.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.pds import start_pds  # noqa: E402

ENV = "ATMOSPHERE_BENCH_PDS"
BLOB_LIMIT = 2 << 30
"""Upload limit of the shared PDS: bench_blobs sends up to 1 GiB."""


@dataclass(frozen=True)
class BenchAccount:
    """An account on the PDS."""

    handle: str
    email: str
    password: str
    did: str


@dataclass(frozen=True)
class BenchPds:
    """What the benchmarks need of a running PDS."""

    pds_url: str
    plc_url: str
    accounts: list[BenchAccount]

    def account(self, handle: str) -> BenchAccount:
        """The account with this handle (``KeyError`` if none)."""
        for acc in self.accounts:
            if acc.handle == handle:
                return acc
        raise KeyError(handle)


def _from(pds: Any) -> BenchPds:
    return BenchPds(
        pds.pds_url,
        pds.plc_url,
        [BenchAccount(a.handle, a.email, a.password, a.did) for a in pds.accounts],
    )


@contextmanager
def pds_server(blob_upload_limit: int = BLOB_LIMIT) -> Iterator[BenchPds]:
    """The run's shared PDS if ``run_all`` started one, else a fresh one for this block."""
    shared_json = os.environ.get(ENV)
    if shared_json:
        data = json.loads(shared_json)
        yield BenchPds(
            data["pds_url"], data["plc_url"], [BenchAccount(**a) for a in data["accounts"]]
        )
        return
    with start_pds(blob_upload_limit=blob_upload_limit) as pds:
        yield _from(pds)


@contextmanager
def shared() -> Iterator[BenchPds]:
    """Start a PDS and export it to child processes through ``ATMOSPHERE_BENCH_PDS``."""
    with start_pds(blob_upload_limit=BLOB_LIMIT) as pds:
        bench = _from(pds)
        os.environ[ENV] = json.dumps(
            {
                "pds_url": bench.pds_url,
                "plc_url": bench.plc_url,
                "accounts": [a.__dict__ for a in bench.accounts],
            }
        )
        try:
            yield bench
        finally:
            os.environ.pop(ENV, None)
