"""Shared helpers for the benchmark scripts: paths, medians, subprocess workers, results.

Stdlib only: the orchestrating scripts run in the project's ``.venv`` but never
import the library themselves; every measurement runs in a worker subprocess
under the Python of the environment being measured (see ``envs.py``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_SRC = ROOT / "benchmarks"
WORKERS = BENCH_SRC / "_workers"
STATE = ROOT / ".bench"
"""Everything generated (venvs, data files, raw results) lives here (gitignored)."""
ENVS_DIR = STATE / "envs"
RESULTS_DIR = STATE / "results"
DATA_DIR = STATE / "data"

_T0 = time.monotonic()


def log(message: str) -> None:
    """Progress line on stderr, prefixed with the time since start."""
    elapsed = time.monotonic() - _T0
    print(f"[bench {elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    """The median (``nan`` for no values)."""
    return statistics.median(values) if values else float("nan")


def run_json(
    cmd: Sequence[str],
    *,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """Run a worker and parse the JSON object on the last line of its stdout."""
    proc = subprocess.run(
        list(cmd),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"worker failed ({proc.returncode}): {' '.join(cmd)[:300]}\n{proc.stderr[-3000:]}"
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"worker printed nothing: {' '.join(cmd)[:300]}\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def worker_env() -> dict[str, str]:
    """The environment for workers: ours, minus what would change what Python imports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.pop("VIRTUAL_ENV", None)
    return env


def alternate(
    cases: Sequence[str],
    rounds: int,
    run_one: Callable[[str, int], dict[str, Any]],
    *,
    warmup: int = 1,
    label: str = "",
) -> dict[str, list[dict[str, Any]]]:
    """Run every case once per round, in the same order each round (A B C A B C ...).

    ``warmup`` extra rounds run first and are discarded (page cache, bytecode).
    Returns each case's list of per-round results.
    """
    out: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
    for r in range(-warmup, rounds):
        for case in cases:
            result = run_one(case, r)
            if r >= 0:
                out[case].append(result)
        if r >= 0:
            log(f"{label} round {r + 1}/{rounds} done")
    return out


def medians(runs: list[dict[str, Any]], key: str) -> float:
    """The median of ``run[key]`` over runs that have it."""
    return median([run[key] for run in runs if run.get(key) is not None])


def paired_ratio(
    a_runs: Sequence[dict[str, Any]],
    b_runs: Sequence[dict[str, Any]],
    key: str,
    b_key: str | None = None,
) -> list[float]:
    """``[median, q1, q3]`` of the per-round ratios ``a[key] / b[b_key or key]``.

    Runs at the same index ran next to each other in time, so slow drifts of a
    shared machine cancel in each pair; the quartiles show the spread.
    """
    ratios = sorted(
        a[key] / b[b_key or key]
        for a, b in zip(a_runs, b_runs, strict=True)
        if a.get(key) is not None and b.get(b_key or key)
    )
    if not ratios:
        return [float("nan")] * 3
    if len(ratios) < 2:
        return [ratios[0]] * 3
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return [statistics.median(ratios), q1, q3]


def save_result(name: str, data: dict[str, Any]) -> Path:
    """Write one benchmark's results to ``.bench/results/<name>.json``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    data = {"benchmark": name, "finished_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"), **data}
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    log(f"wrote {path.relative_to(ROOT)}")
    return path


def load_result(name: str) -> dict[str, Any] | None:
    """A saved result, or ``None``."""
    path = RESULTS_DIR / f"{name}.json"
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except (OSError, ValueError):
        pass
    return None


def _git(*args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip()


def machine_info() -> dict[str, Any]:
    """What this machine is, for the results table."""
    mem = _mem_total_gib()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1) if mem else None,
        "kernel": platform.release(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--", "src", "pyproject.toml")),
    }
