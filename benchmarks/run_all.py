"""``make bench``: every benchmark, then ``benchmarks/RESULTS.md`` and ``results.png``.

Steps (each a subprocess, so one failing does not stop the others):

1. ``envs``        build/reuse the venvs in ``.bench/envs`` (envs.py)
2. ``import``      cold import time, modules and RSS (bench_import.py)
3. ``footprint``   installed size, files, distributions (bench_footprint.py)
4. ``overhead``    per-call client overhead on a canned loopback server (bench_overhead.py)
   ``instructions`` the same calls' instructions per call under callgrind
                   (bench_instructions.py; full runs only: about 6 minutes)
5. ``pds``         login, records, listing, blobs on the real PDS (bench_pds.py)
6. ``coldstart``   process start to first record written; the CLI's whoami (bench_coldstart.py)
7. ``concurrency`` 1,000 getRecord from 32 coroutines, three async clients (bench_concurrency.py)
8. ``bulk``        1,000 records: one call each, batched, async (bench_bulk.py)
9. ``blobs``       streaming blob upload/download vs raw httpx, 1 GiB (bench_blobs.py); its
                   log goes to .bench/results/bench_blobs.log
10. ``report``     RESULTS.md + results.png + the README table, in the ``report`` env (report.py)

Steps 5-9 share one reference PDS, started here (``_pds.py``). Targets are in
``targets.py``.

    python benchmarks/run_all.py            # the full run (about 15 minutes on 2 cores)
    python benchmarks/run_all.py --quick    # fewer rounds, calls and MiB (< 3 minutes)
    python benchmarks/run_all.py --only import,report
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_SRC, RESULTS_DIR, ROOT, log, machine_info, save_result
from _pds import shared
from envs import WHEEL_ENV, build_wheel, ensure_envs, env_python, versions

STEPS = (
    "envs",
    "import",
    "footprint",
    "overhead",
    "instructions",
    "pds",
    "coldstart",
    "concurrency",
    "bulk",
    "blobs",
    "report",
)
NEEDS_PDS = {"pds", "coldstart", "concurrency", "bulk", "blobs"}

FULL = {
    "import": ["--rounds", "21"],
    "overhead": ["--rounds", "31", "--calls", "600"],
    "instructions": ["--get", "20,120", "--list", "5,30"],
    "pds": ["--rounds", "5", "--sizes", "64,512"],
    "coldstart": ["--rounds", "15"],
    "concurrency": ["--rounds", "7", "--calls", "1000", "--coroutines", "32"],
    "bulk": ["--rounds", "3", "--records", "1000", "--concurrency", "16"],
    "blobs": ["--size-mib", "1024", "--runs", "3", "--warmup", "1"],
}
# Under 3 minutes on 2 busy cores: checks that everything runs, not final figures.
QUICK = {
    "import": ["--rounds", "3"],
    "footprint": ["--reuse"],
    "overhead": ["--rounds", "4", "--calls", "300", "--warmup-rounds", "0"],
    "pds": ["--rounds", "2", "--sizes", "16"],
    "coldstart": ["--rounds", "2"],
    "concurrency": ["--rounds", "2", "--calls", "200", "--coroutines", "32"],
    "bulk": ["--rounds", "1", "--records", "100", "--concurrency", "16"],
    "blobs": ["--size-mib", "64", "--runs", "2", "--warmup", "0"],
}


QUICK_SKIP = {"instructions"}
"""Steps a quick run leaves out (unless named in ``--only``): too slow for its budget."""


def run_step(cmd: list[str], log_path: Path | None = None) -> bool:
    """Run a step, streaming its stderr; True if it succeeded."""
    if log_path is None:
        proc = subprocess.run(cmd, cwd=ROOT, check=False)
    else:
        with log_path.open("w") as out:
            proc = subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False)
    return proc.returncode == 0


def _write_timing(total: float, durations: dict[str, float]) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "timing.json"
    path.write_text(json.dumps({"total_s": total, "steps_s": durations}, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the selected steps; exit non-zero if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, calls and MiB")
    parser.add_argument(
        "--only", default=",".join(STEPS), help=f"comma-separated: {','.join(STEPS)}"
    )
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.only.split(",") if s.strip()]
    if args.quick and args.only == parser.get_default("only"):
        steps = [s for s in steps if s not in QUICK_SKIP]
        for skipped in QUICK_SKIP:  # so the report shows nothing from an older run
            (RESULTS_DIR / f"{skipped}.json").unlink(missing_ok=True)
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    params = QUICK if args.quick else FULL
    # One build of the project for the whole run, even if src/ changes meanwhile.
    os.environ[WHEEL_ENV] = str(build_wheel())
    py = sys.executable
    started = time.monotonic()
    durations: dict[str, float] = {}
    failed: list[str] = []

    with contextlib.ExitStack() as stack:
        pds_started = False
        for step in steps:
            if step in NEEDS_PDS and not pds_started:
                t0 = time.monotonic()
                log("=== starting the shared reference PDS ===")
                pds = stack.enter_context(shared())
                pds_started = True
                durations["pds start"] = time.monotonic() - t0
                log(f"PDS at {pds.pds_url}")
            if step == "report":
                stack.close()  # stop the PDS first
            t0 = time.monotonic()
            log(f"=== {step} ===")
            ok = _step(step, params, py, started, durations)
            durations[step] = time.monotonic() - t0
            if not ok:
                failed.append(step)
                log(f"{step}: FAILED")
            if step == "envs":
                # Saved before the measurements, so the report has it even on a partial run.
                save_result(
                    "meta",
                    {
                        "mode": "quick" if args.quick else "full",
                        "machine": machine_info(),
                        "versions": versions(ensure_envs()),
                        "params": params,
                    },
                )

    total = time.monotonic() - started
    _write_timing(total, durations)
    log(f"done in {total / 60:.1f} min" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _step(
    step: str, params: dict[str, list[str]], py: str, started: float, durations: dict[str, float]
) -> bool:
    """Run one step; True if it succeeded."""
    if step == "envs":
        ensure_envs()
        return True
    if step == "blobs":
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        log_path = RESULTS_DIR / "bench_blobs.log"
        ok = run_step(
            [
                py,
                str(BENCH_SRC / "bench_blobs.py"),
                *params.get(step, []),
                "--python",
                str(env_python("atmosphere")),
                "--output",
                str(RESULTS_DIR / "blobs.json"),
            ],
            log_path,
        )
        log(f"blobs: output in {log_path.relative_to(ROOT)}")
        return ok
    if step == "report":
        _write_timing(time.monotonic() - started, durations)
        report_py = ensure_envs(("report",))["report"]
        return run_step([str(report_py), str(BENCH_SRC / "report.py")])
    return run_step([py, str(BENCH_SRC / f"bench_{step}.py"), *params.get(step, [])])


if __name__ == "__main__":
    raise SystemExit(main())
