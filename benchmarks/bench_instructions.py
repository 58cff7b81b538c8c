"""Client instructions per call, counted by callgrind: the noise-free twin of bench_overhead.

CPU time on a shared 2-core machine moves by ±10% from run to run; the number
of instructions a client executes per call does not. Each client's overhead
worker (``_workers/overhead_worker.py`` in count mode) runs under ``valgrind
--tool=callgrind`` twice against the canned loopback server, with N1 and N2
calls of one operation; ``(Ir(N2) - Ir(N1)) / (N2 - N1)`` is the instructions
per call, with start-up, login, warm-up and exit cancelled out. User-space
instructions only: the kernel's share (socket calls) is not counted, and it is
about the same for every client, which makes the same requests.

Skipped (with a note in the results) when valgrind is not installed.

    python benchmarks/bench_instructions.py [--get 20,120] [--list 5,30]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORKERS, log, save_result, worker_env
from canned_server import CannedServer
from envs import ensure_envs

CLIENT_ENVS = {"atmosphere": "atmosphere", "sdk": "sdk", "httpx": "floor"}
_COLLECTED = re.compile(r"Collected : (\d+)")


def _instructions(cmd: list[str]) -> int:
    """Instructions executed by ``cmd`` under callgrind (its output file thrown away)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                *cmd,
            ],
            capture_output=True,
            text=True,
            env=worker_env(),
            timeout=1800,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"callgrind run failed: {' '.join(cmd)[:200]}\n{proc.stderr[-2000:]}")
    match = _COLLECTED.search(proc.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in callgrind's output:\n{proc.stderr[-2000:]}")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    """Count, then save ``.bench/results/instructions.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--get", default="20,120", help="N1,N2 getRecord calls")
    parser.add_argument("--list", default="5,30", help="N1,N2 listRecords (100) calls")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        log("instructions: valgrind is not installed; skipped")
        save_result("instructions", {"skipped": "valgrind not installed"})
        return 0
    counts = {"get": [int(n) for n in args.get.split(",")]}
    counts["list"] = [int(n) for n in args.list.split(",")]
    pythons = ensure_envs(("atmosphere", "sdk", "floor"))
    worker = str(WORKERS / "overhead_worker.py")
    per_call: dict[str, dict[str, float]] = {}
    with CannedServer() as server:
        fx = server.fixture
        cfg = json.dumps(
            {
                "url": server.url,
                "did": fx["did"],
                "handle": fx["handle"],
                "password": fx["password"],
                "collection": fx["collection"],
                "rkey": fx["rkey"],
            }
        )
        for client, env in CLIENT_ENVS.items():
            row: dict[str, float] = {}
            for op, (n1, n2) in counts.items():
                py = str(pythons[env])
                ir = [_instructions([py, worker, client, cfg, f"{op}:{n}"]) for n in (n1, n2)]
                row[op] = (ir[1] - ir[0]) / (n2 - n1)
                log(f"instructions: {client:10s} {op:4s} {row[op] / 1e6:6.2f} M per call")
            per_call[client] = row
    ratios: dict[str, dict[str, float]] = {
        other: {op: per_call["atmosphere"][op] / per_call[other][op] for op in counts}
        for other in ("httpx", "sdk")
    }
    save_result(
        "instructions",
        {"calls": counts, "per_call": per_call, "ratios": ratios},
    )
    for other, row in ratios.items():
        log(
            f"  atmosphere / {other:5s}: getRecord {row['get']:.2f}x, "
            f"listRecords(100) {row['list']:.2f}x (instructions per call)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
