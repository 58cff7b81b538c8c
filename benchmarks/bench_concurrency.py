"""Concurrency: 1,000 getRecord calls from 32 coroutines, real PDS, three async clients.

Seeds 1,000 records on the reference PDS on loopback, saves one session per
client, then runs ``_workers/concurrency_worker.py`` for each client
alternately, one fresh process per sample:

- ``atmosphere``: ``AsyncAtmosphereClient.get_record(uri)``;
- ``sdk``: the atproto SDK's ``AsyncClient.com.atproto.repo.get_record(...)``;
- ``httpx``: raw ``httpx.AsyncClient.get(...).json()`` with a bearer header
  (the floor).

Each worker warms up (a call per coroutine) and then times ``--calls`` calls
on distinct records shared by ``--coroutines`` tasks of one event loop.
Figures are medians over rounds; ratios are medians of per-round ratios
(throughput: atmosphere ÷ the other, higher is better). The PDS shares the
machine's cores with the client, so the client's CPU time per call is
reported too.

    python benchmarks/bench_concurrency.py [--rounds N] [--calls 1000] [--coroutines 32]
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DATA_DIR,
    WORKERS,
    alternate,
    log,
    medians,
    paired_ratio,
    run_json,
    save_result,
    worker_env,
)
from _pds import pds_server
from bench_coldstart import save_sessions
from envs import ensure_envs

COLLECTION = "com.example.bench.concurrency"
N_RECORDS = 1000
CLIENT_ENVS = {"atmosphere": "atmosphere", "sdk": "sdk", "httpx": "floor"}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _post(url: str, nsid: str, body: dict[str, Any], token: str) -> Any:
    req = urllib.request.Request(
        f"{url}/xrpc/{nsid}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with _OPENER.open(req, timeout=120) as resp:
        return json.loads(resp.read() or b"{}")


def seed(url: str, did: str, token: str) -> tuple[list[str], list[str]]:
    """``N_RECORDS`` small records (``applyWrites``, 200 a batch); their rkeys and names."""
    rkeys = [f"c{i:04d}" for i in range(N_RECORDS)]
    names = [f"record-{i:04d}" for i in range(N_RECORDS)]
    for start in range(0, N_RECORDS, 200):
        writes = [
            {
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": COLLECTION,
                "rkey": rkeys[i],
                "value": {
                    "$type": COLLECTION,
                    "name": names[i],
                    "description": "A record read by the concurrency benchmark.",
                    "tags": ["bench", "concurrency"],
                    "createdAt": "2025-01-15T12:34:56.789Z",
                },
            }
            for i in range(start, min(start + 200, N_RECORDS))
        ]
        _post(
            url,
            "com.atproto.repo.applyWrites",
            {"repo": did, "validate": False, "writes": writes},
            token,
        )
    return rkeys, names


def main(argv: list[str] | None = None) -> int:
    """Measure, then save ``.bench/results/concurrency.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--coroutines", type=int, default=32)
    args = parser.parse_args(argv)
    pythons = ensure_envs(("atmosphere", "sdk", "floor"))
    env = worker_env()
    worker = str(WORKERS / "concurrency_worker.py")

    with pds_server() as pds:
        acct = pds.accounts[0]
        files = save_sessions(pythons, pds.pds_url, acct.handle, acct.password)
        raw = json.loads(files["httpx"].read_text())
        log(f"concurrency: seeding {N_RECORDS} records on {pds.pds_url} ...")
        rkeys, names = seed(pds.pds_url, acct.did, raw["accessJwt"])
        cfg = {
            "pds_url": pds.pds_url,
            "did": acct.did,
            "collection": COLLECTION,
            "rkeys": rkeys,
            "names": names,
            "calls": args.calls,
            "coroutines": args.coroutines,
            "sessions": {
                "atmosphere": files["atmosphere"].read_text().strip(),
                "sdk": files["sdk"].read_text().strip(),
                "httpx": raw["accessJwt"],
            },
        }
        cfg_path = DATA_DIR / "concurrency-worker.json"
        cfg_path.write_text(json.dumps(cfg))
        cfg_path.chmod(0o600)

        def run_one(client: str, _round: int) -> dict[str, Any]:
            return run_json(
                [str(pythons[CLIENT_ENVS[client]]), worker, client, str(cfg_path)],
                env=env,
                timeout=600,
            )

        log(
            f"concurrency: 3 clients x {args.rounds} rounds, {args.calls} getRecord calls "
            f"from {args.coroutines} coroutines"
        )
        runs = alternate(list(CLIENT_ENVS), args.rounds, run_one, warmup=0, label="concurrency")
        cfg_path.unlink(missing_ok=True)

    keys = ("calls_per_s", "wall_s", "cpu_s", "cpu_us_per_call")
    summary = {
        client: {
            **{key: medians(client_runs, key) for key in keys},
            "samples_calls_per_s": [round(r["calls_per_s"], 1) for r in client_runs],
        }
        for client, client_runs in runs.items()
    }
    paired = {
        f"throughput/{other}": paired_ratio(runs["atmosphere"], runs[other], "calls_per_s")
        for other in ("httpx", "sdk")
    } | {
        f"cpu_per_call/{other}": paired_ratio(runs["atmosphere"], runs[other], "cpu_us_per_call")
        for other in ("httpx", "sdk")
    }
    save_result(
        "concurrency",
        {
            "rounds": args.rounds,
            "calls": args.calls,
            "coroutines": args.coroutines,
            "records": N_RECORDS,
            "clients": summary,
            "paired_ratios": paired,
        },
    )
    for client, row in summary.items():
        log(
            f"  {client:11s} {row['calls_per_s']:7.0f} calls/s"
            f"   client CPU {row['cpu_us_per_call']:6.0f} µs/call"
        )
    for name, (med, q1, q3) in paired.items():
        log(f"  atmosphere {name:22s} {med:.2f}x [{q1:.2f}-{q3:.2f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
