"""Cold start of a job: process start to the first record written, on the real PDS.

A job that runs as a fresh process (cron, CI, a serverless function, a
shell loop) pays its client's import and set-up on every run. Each sample
here is a new process of a small script (``_workers/coldstart_*.py``) that
imports its client, restores a session saved by an earlier login, and writes
one record to the reference PDS on loopback:

- ``atmosphere``: ``AtmosphereClient(url).login_with_session(saved,
  verify=False)`` then ``create_record`` (no request to restore, like the SDK);
- ``atmosphere (verify)``: the same with the default ``verify=True`` (one
  ``getSession`` before the write), for information;
- ``sdk``: ``Client(url).login(session_string=saved,
  fetch_bsky_profile=False)`` then ``com.atproto.repo.create_record``;
- ``httpx``: raw httpx with the saved ``accessJwt`` (the floor);
- ``whoami``: the CLI, ``atmosphere --session-file FILE whoami`` (it checks
  the saved session with ``getSession`` and prints the account), timed from
  start to exit and compared with the ``atmosphere`` script's start to exit.

The time to the first record runs from just before the parent spawns the
process to the moment the script has the write's answer (both read
``time.monotonic()``, one system-wide clock). Cases alternate (A B C D E A B
...) after a discarded warm-up round; figures are medians, ratios are medians
of per-round ratios.

    python benchmarks/bench_coldstart.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DATA_DIR,
    ENVS_DIR,
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
from envs import ensure_envs

COLLECTION = "com.example.bench.coldstart"
CASES = ("atmosphere", "atmosphere (verify)", "sdk", "httpx", "whoami")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

_ATMOSPHERE_LOGIN = """\
import json, sys
from atmosphere import AtmosphereClient
with AtmosphereClient(sys.argv[1]) as client:
    client.login(sys.argv[2], sys.argv[3])
    print(json.dumps({"session": client.export_session()}))
"""

_SDK_LOGIN = """\
import json, sys
from atproto import Client
client = Client(sys.argv[1])
client.login(sys.argv[2], sys.argv[3], fetch_bsky_profile=False)
print(json.dumps({"session": client.export_session_string()}))
"""


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")


def save_sessions(
    pythons: dict[str, Path], url: str, handle: str, password: str
) -> dict[str, Path]:
    """Log in once per client and save each one's session where its script reads it."""
    env = worker_env()
    out = DATA_DIR / "coldstart"
    files = {
        "atmosphere": out / "atmosphere.session",
        "sdk": out / "sdk.session",
        "httpx": out / "httpx-session.json",
    }
    atm = run_json(
        [str(pythons["atmosphere"]), "-I", "-c", _ATMOSPHERE_LOGIN, url, handle, password], env=env
    )
    _write_private(files["atmosphere"], atm["session"])
    sdk = run_json([str(pythons["sdk"]), "-I", "-c", _SDK_LOGIN, url, handle, password], env=env)
    _write_private(files["sdk"], sdk["session"])
    req = urllib.request.Request(
        f"{url}/xrpc/com.atproto.server.createSession",
        data=json.dumps({"identifier": handle, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with _OPENER.open(req, timeout=60) as resp:
        _write_private(files["httpx"], resp.read().decode())
    return files


def main(argv: list[str] | None = None) -> int:
    """Measure, then save ``.bench/results/coldstart.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    pythons = ensure_envs(("atmosphere", "sdk", "floor"))
    cli = ENVS_DIR / "atmosphere" / "bin" / "atmosphere"
    env = worker_env()

    with pds_server() as pds:
        acct = pds.accounts[0]
        files = save_sessions(pythons, pds.pds_url, acct.handle, acct.password)
        url = pds.pds_url
        commands: dict[str, list[str]] = {
            "atmosphere": [
                str(pythons["atmosphere"]),
                str(WORKERS / "coldstart_atmosphere.py"),
                url,
                str(files["atmosphere"]),
                COLLECTION,
            ],
            "sdk": [
                str(pythons["sdk"]),
                str(WORKERS / "coldstart_sdk.py"),
                url,
                str(files["sdk"]),
                COLLECTION,
                acct.did,
            ],
            "httpx": [
                str(pythons["floor"]),
                str(WORKERS / "coldstart_httpx.py"),
                url,
                str(files["httpx"]),
                COLLECTION,
            ],
            "whoami": [str(cli), "--session-file", str(files["atmosphere"]), "whoami"],
        }
        commands["atmosphere (verify)"] = [*commands["atmosphere"], "--verify"]

        # The saved session names the PDS on loopback, and a session's PDS is
        # checked like one from identity data: the CLI needs the documented
        # local-development switch (it cannot take a keyword).
        cli_env = {**env, "ATMOSPHERE_ALLOW_PRIVATE_HOSTS": "1"}

        def run_one(case: str, _round: int) -> dict[str, Any]:
            t0 = time.monotonic()
            proc = subprocess.run(
                commands[case],
                capture_output=True,
                text=True,
                env=cli_env if case == "whoami" else env,
                timeout=120,
                check=False,
            )
            t_exit = time.monotonic()
            if proc.returncode != 0:
                raise RuntimeError(f"{case} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
            result: dict[str, Any] = {"process_s": t_exit - t0}
            if case == "whoami":
                if acct.handle not in proc.stdout:
                    raise RuntimeError(f"whoami did not name {acct.handle}: {proc.stdout!r}")
                return result
            t = json.loads(proc.stdout.strip().splitlines()[-1])
            result |= {
                "first_record_s": t["t_write"] - t0,
                "startup_s": t["t_script"] - t0,
                "import_s": t["t_import"] - t["t_script"],
                "restore_s": t["t_restore"] - t["t_import"],
                "write_s": t["t_write"] - t["t_restore"],
            }
            return result

        log(f"coldstart: {len(CASES)} cases x {args.rounds} rounds (+1 warm-up) against {url}")
        runs = alternate(list(CASES), args.rounds, run_one, warmup=1, label="coldstart")

    keys = ("first_record_s", "startup_s", "import_s", "restore_s", "write_s", "process_s")
    summary: dict[str, dict[str, Any]] = {}
    for case, case_runs in runs.items():
        row: dict[str, Any] = {}
        for key in keys:
            if any(key in r for r in case_runs):
                row[key] = medians(case_runs, key)
        row["samples_first_record_s"] = [
            round(r.get("first_record_s", r["process_s"]), 4) for r in case_runs
        ]
        summary[case] = row
    paired = {
        "atmosphere/httpx": paired_ratio(runs["atmosphere"], runs["httpx"], "first_record_s"),
        "atmosphere/sdk": paired_ratio(runs["atmosphere"], runs["sdk"], "first_record_s"),
        "atmosphere (verify)/httpx": paired_ratio(
            runs["atmosphere (verify)"], runs["httpx"], "first_record_s"
        ),
        "whoami/atmosphere": paired_ratio(runs["whoami"], runs["atmosphere"], "process_s"),
    }
    save_result(
        "coldstart",
        {
            "rounds": args.rounds,
            "collection": COLLECTION,
            "commands": {
                case: " ".join(Path(c).name if "/" in c else c for c in cmd)
                for case, cmd in commands.items()
            },
            "cases": summary,
            "paired_ratios": paired,
        },
    )
    for case, row in summary.items():
        first = row.get("first_record_s")
        log(
            f"  {case:20s} first record {first * 1000 if first else float('nan'):7.1f} ms"
            f"   process {row['process_s'] * 1000:7.1f} ms"
        )
    for name, (med, q1, q3) in paired.items():
        log(f"  {name:26s} {med:.2f}x [{q1:.2f}-{q3:.2f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
