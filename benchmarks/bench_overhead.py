"""Client overhead per call, against a canned loopback HTTP server.

The server (``canned_server.py``) answers from prebuilt bytes, so what the
numbers show is the client's own cost: building the request, signing it,
httpx, and decoding/validating the answer. Three clients make the same calls,
each in a worker process under its own env:

- ``atmosphere``: ``client.get_record(uri)`` and ``client.list_records(collection, limit=100)``;
- ``sdk``: ``client.com.atproto.repo.get_record(...)`` / ``list_records(...)`` (atproto 0.0.73);
- ``httpx``: raw ``httpx.Client.get(...).json()`` with a bearer header (the floor).

Workers run alternately (A B C A B C ...); each reports the median of its
timed batches, both wall time and the worker's own CPU time (the server runs
in this process, not the worker's, so CPU time is the client's work alone and
the steadier figure on a shared machine), and each figure here is the median
of those over the rounds. The ratios are medians of per-round ratios (each
pair ran back to back), with their quartiles: many short rounds cancel a
noisy machine better than a few long ones.

    python benchmarks/bench_overhead.py [--rounds N] [--calls N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORKERS, alternate, log, medians, run_json, save_result, worker_env
from canned_server import CannedServer
from envs import ensure_envs

CLIENT_ENVS = {"atmosphere": "atmosphere", "sdk": "sdk", "httpx": "floor"}


def main(argv: list[str] | None = None) -> int:
    """Measure, then save ``.bench/results/overhead.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--calls", type=int, default=600, help="getRecord calls per worker")
    parser.add_argument(
        "--warmup-rounds", type=int, default=1, help="discarded rounds first (default 1)"
    )
    args = parser.parse_args(argv)
    pythons = ensure_envs(("atmosphere", "sdk", "floor"))
    env = worker_env()
    worker = str(WORKERS / "overhead_worker.py")

    with CannedServer() as server:
        fx = server.fixture
        cfg = {
            "url": server.url,
            "did": fx["did"],
            "handle": fx["handle"],
            "password": fx["password"],
            "collection": fx["collection"],
            "rkey": fx["rkey"],
            "record_name": fx["record"]["value"]["name"],
            "warmup": 200,
            "n_get": args.calls,
            "batch_get": 100,
            "n_list": max(30, args.calls // 10),
            "batch_list": 10,
        }
        blob = json.dumps(cfg)

        def run_one(client: str, _round: int) -> dict[str, Any]:
            return run_json([str(pythons[CLIENT_ENVS[client]]), worker, client, blob], env=env)

        log(f"overhead: 3 clients x {args.rounds} rounds against {server.url}")
        runs = alternate(
            list(CLIENT_ENVS), args.rounds, run_one, warmup=args.warmup_rounds, label="overhead"
        )
        served = server.requests

    keys = ("get_record_us", "get_record_cpu_us", "list_records_us", "list_records_cpu_us")
    summary: dict[str, dict[str, Any]] = {}
    for client, client_runs in runs.items():
        row: dict[str, Any] = {"env": CLIENT_ENVS[client]}
        for key in keys:
            row[key] = medians(client_runs, key)
            row[key.replace("_us", "_samples_us")] = [round(r[key], 1) for r in client_runs]
        summary[client] = row
    # Ratios of the runs next to each other in time (same round): slow drifts
    # of the machine cancel in each pair; the median and quartiles show the spread.
    paired: dict[str, dict[str, list[float]]] = {}
    for other in ("httpx", "sdk"):
        for key in keys:
            ratios = sorted(
                a[key] / b[key] for a, b in zip(runs["atmosphere"], runs[other], strict=True)
            )
            paired.setdefault(other, {})[key] = [
                statistics.median(ratios),
                *statistics.quantiles(ratios, n=4)[::2],
            ]
    save_result(
        "overhead",
        {
            "rounds": args.rounds,
            "calls": {"get_record": cfg["n_get"], "list_records": cfg["n_list"]},
            "record_bytes": len(json.dumps(fx["record"], separators=(",", ":"))),
            "page_bytes": len(json.dumps(fx["page"], separators=(",", ":"))),
            "requests_served": served,
            "clients": summary,
            "paired_ratios": paired,
        },
    )
    for client, row in summary.items():
        log(
            f"  {client:11s} getRecord {row['get_record_us']:7.1f} µs"
            f" (CPU {row['get_record_cpu_us']:7.1f})"
            f"   listRecords(100) {row['list_records_us']:8.1f} µs"
            f" (CPU {row['list_records_cpu_us']:8.1f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
