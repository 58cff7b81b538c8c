"""``make bench``: every benchmark, then ``benchmarks/RESULTS.md`` and ``results.png``.

Steps (each a subprocess, so one failing does not stop the others):

1. ``envs``      build/reuse the venvs in ``.bench/envs`` (envs.py)
2. ``import``    cold import time and RSS (bench_import.py)
3. ``footprint`` installed size, files, distributions (bench_footprint.py)
4. ``overhead``  per-call client overhead on a canned loopback server (bench_overhead.py)
5. ``pds``       login, records, listing, blobs on the real PDS (bench_pds.py)
6. ``blobs``     benchmarks/bench_blobs.py (the blob methods vs raw httpx; maintained with
                 the blob code), if present; its log goes to .bench/results/bench_blobs.log
7. ``report``    RESULTS.md + results.png, in the ``report`` env (report.py)

    python benchmarks/run_all.py            # the full run (about 11 minutes on 2 cores)
    python benchmarks/run_all.py --quick    # fewer rounds, 64 MiB blobs only (about 3 minutes)
    python benchmarks/run_all.py --only import,report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_SRC, RESULTS_DIR, ROOT, log, machine_info, save_result
from envs import WHEEL_ENV, build_wheel, ensure_envs, versions

STEPS = ("envs", "import", "footprint", "overhead", "pds", "blobs", "report")

FULL = {
    "import": ["--rounds", "21"],
    "overhead": ["--rounds", "31", "--calls", "600"],
    "pds": ["--rounds", "5", "--sizes", "64,512"],
}
QUICK = {
    "import": ["--rounds", "5"],
    "overhead": ["--rounds", "9", "--calls", "600"],
    "pds": ["--rounds", "5", "--sizes", "64"],
}


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
    parser.add_argument("--quick", action="store_true", help="fewer rounds, 64 MiB blobs only")
    parser.add_argument(
        "--only", default=",".join(STEPS), help=f"comma-separated: {','.join(STEPS)}"
    )
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.only.split(",") if s.strip()]
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

    for step in steps:
        t0 = time.monotonic()
        log(f"=== {step} ===")
        if step == "envs":
            pythons = ensure_envs()
            meta_versions = versions(pythons)
            ok = True
        elif step in ("import", "footprint", "overhead", "pds"):
            ok = run_step([py, str(BENCH_SRC / f"bench_{step}.py"), *params.get(step, [])])
        elif step == "blobs":
            script = BENCH_SRC / "bench_blobs.py"
            if not script.is_file():
                log("blobs: benchmarks/bench_blobs.py is not there; skipped")
                durations[step] = 0.0
                continue
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            extra: list[str] = []
            if args.quick:  # its own options: shrink the blob if it lets us
                help_text = subprocess.run(
                    [py, str(script), "--help"],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout
                if "--quick" in help_text:
                    extra = ["--quick"]
                elif "--size-mib" in help_text:
                    extra = ["--size-mib", "64"]
            log_path = RESULTS_DIR / "bench_blobs.log"
            ok = run_step([py, str(script), *extra], log_path)
            log(f"blobs: output in {log_path.relative_to(ROOT)}")
        else:  # report
            _write_timing(time.monotonic() - started, durations)
            report_py = ensure_envs(("report",))["report"]
            ok = run_step([str(report_py), str(BENCH_SRC / "report.py")])
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
                    "versions": meta_versions,
                    "params": params,
                },
            )

    total = time.monotonic() - started
    _write_timing(total, durations)
    log(f"done in {total / 60:.1f} min" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
