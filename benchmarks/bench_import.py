"""Cold import time and peak RSS after import, in fresh interpreters.

Each sample is a new ``python -I -c`` process (so nothing is already
imported) of the measured env: bytecode is compiled and the OS page cache warm
(a warm-up round runs first), which is what a CLI or a serverless cold start
sees on its second launch. The process times the import statement itself with
``perf_counter`` and reports ``ru_maxrss`` right after it; the cases run
alternately (A B C D A B C D ...) and each figure is the median of the rounds.

Cases:

- ``atmosphere``: ``from atmosphere import AtmosphereClient`` (what a user
  writes; ``import atmosphere`` alone is lazy and is reported separately);
- ``atmosphere (AsyncAtmosphereClient)``, ``atmosphere (Atmosphere)``: the
  other entry points (``Atmosphere`` only if the installed package has it);
- ``sdk``: ``from atproto import Client``;
- ``floor``: ``import httpx, pydantic, dns.resolver`` (the dependencies alone);
- ``floor+models``: the floor plus ``from pydantic import BaseModel, ConfigDict,
  Field`` (``import pydantic`` alone is lazy; a library that declares models
  with aliases pays this);
- ``python``: an empty interpreter, the baseline for RSS growth.

    python benchmarks/bench_import.py [--rounds N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import alternate, log, medians, paired_ratio, run_json, save_result, worker_env
from envs import ensure_envs

CASES: dict[str, tuple[str, str]] = {
    # name: (env, statement)
    "atmosphere": ("atmosphere", "from atmosphere import AtmosphereClient"),
    "atmosphere (AsyncAtmosphereClient)": (
        "atmosphere",
        "from atmosphere import AsyncAtmosphereClient",
    ),
    "atmosphere (Atmosphere)": ("atmosphere", "from atmosphere import Atmosphere"),
    "atmosphere (bare `import atmosphere`)": ("atmosphere", "import atmosphere"),
    "sdk": ("sdk", "from atproto import Client"),
    "floor": ("floor", "import httpx, pydantic, dns.resolver"),
    "floor+models": (
        "floor",
        "import httpx, dns.resolver; from pydantic import BaseModel, ConfigDict, Field",
    ),
    "python": ("floor", "pass"),
}

# Only ``time``/``resource``/``sys`` (built-ins) are loaded before the timed
# statement; the JSON line is formatted by hand so ``json`` is not imported.
_TEMPLATE = """\
import sys, time, resource
t0 = time.perf_counter()
{stmt}
t1 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = len(sys.modules)
m = sys.modules
print('{{"import_s": %r, "maxrss_kib": %d, "modules": %d, "pydantic_models": %d, "dns": %d}}'
      % (t1 - t0, rss, n, "pydantic.main" in m, "dns.resolver" in m or "dns.message" in m))
"""
# ``pydantic_models``: pydantic's model machinery (``pydantic.main``) is loaded;
# ``dns``: dnspython's resolver is loaded. Issue 14 wants neither after
# ``from atmosphere import AtmosphereClient``.


# Where atmosphere's import time goes beyond the floor, stage by stage, in one
# process: each stage only pays for what the earlier ones did not load.
_STAGED = """\
import sys, time
stages = []
def stage(name, stmt):
    before = set(sys.modules)
    t0 = time.perf_counter()
    exec(stmt, {})
    stages.append((name, time.perf_counter() - t0, sorted(set(sys.modules) - before)))
stage("floor", "import httpx, pydantic, dns.resolver")
stage("pydantic models", "from pydantic import BaseModel, ConfigDict, Field")
import importlib.util
for _models in ("atmosphere._models", "atmosphere.models"):
    if importlib.util.find_spec(_models) is not None:
        stage("atmosphere models", "import " + _models)
        break
stage("rest of atmosphere", "from atmosphere import AtmosphereClient")
import json
out = {name: secs for name, secs, _ in stages}
top = lambda names: {m.split(".")[0].lstrip("_") for m in names}
floor = top(stages[0][2])
out["extra_packages"] = sorted(top(stages[-1][2] + stages[-2][2]) - floor - {"atmosphere"})
print(json.dumps(out))
"""


def staged(python: Path, rounds: int) -> dict[str, Any]:
    """Median time of each stage of atmosphere's import over ``rounds`` fresh processes."""
    runs = [
        run_json([str(python), "-I", "-c", _STAGED], env=worker_env()) for _ in range(rounds + 1)
    ][1:]
    names = [k for k in runs[0] if k != "extra_packages"]
    return {
        "stages_ms": {name: medians(runs, name) * 1000 for name in names},
        "extra_packages": runs[-1]["extra_packages"],
    }


def profile_top(python: Path, stmt: str, top: int = 12) -> list[dict[str, Any]]:
    """The slowest imports (cumulative µs) under ``-X importtime``, one run."""
    proc = subprocess.run(
        [str(python), "-I", "-X", "importtime", "-c", stmt],
        capture_output=True,
        text=True,
        check=True,
        env=worker_env(),
    )
    rows: list[dict[str, Any]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        self_us, cumulative_us, name = line.split(":", 1)[1].split("|")
        if not self_us.strip().isdigit():  # the header line
            continue
        rows.append(
            {
                "module": name.strip(),
                "self_us": int(self_us),
                "cumulative_us": int(cumulative_us),
            }
        )
    rows.sort(key=lambda r: r["cumulative_us"], reverse=True)
    return rows[:top]


def main(argv: list[str] | None = None) -> int:
    """Measure, then save ``.bench/results/import.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    pythons = ensure_envs(("atmosphere", "sdk", "floor"))
    env = worker_env()
    cases = dict(CASES)
    for case in [c for c in cases if cases[c][0] == "atmosphere"]:
        probe = subprocess.run(
            [str(pythons["atmosphere"]), "-I", "-c", cases[case][1]],
            capture_output=True,
            env=env,
            check=False,
        )
        if probe.returncode != 0:  # e.g. ``Atmosphere`` before it exists
            log(f"import: `{cases[case][1]}` fails in this version; not measured")
            del cases[case]

    def run_one(case: str, _round: int) -> dict[str, Any]:
        env_name, stmt = cases[case]
        t0 = time.perf_counter()
        result = run_json(
            [str(pythons[env_name]), "-I", "-c", _TEMPLATE.format(stmt=stmt)], env=env
        )
        result["process_s"] = time.perf_counter() - t0
        return result

    log(f"import: {len(cases)} cases x {args.rounds} rounds (+1 warm-up)")
    runs = alternate(list(cases), args.rounds, run_one, warmup=1, label="import")
    baseline_kib = medians(runs["python"], "maxrss_kib")
    summary: dict[str, dict[str, Any]] = {}
    for case, case_runs in runs.items():
        env_name, stmt = cases[case]
        summary[case] = {
            "env": env_name,
            "statement": stmt,
            "import_ms": medians(case_runs, "import_s") * 1000,
            "process_ms": medians(case_runs, "process_s") * 1000,
            "maxrss_mib": medians(case_runs, "maxrss_kib") / 1024,
            "rss_growth_mib": (medians(case_runs, "maxrss_kib") - baseline_kib) / 1024,
            "modules": int(medians(case_runs, "modules")),
            "loads_pydantic_models": bool(case_runs[-1].get("pydantic_models")),
            "loads_dns": bool(case_runs[-1].get("dns")),
            "samples_ms": [round(r["import_s"] * 1000, 2) for r in case_runs],
        }
    # Ratios of the runs next to each other in time (same round): slow drifts
    # of a shared machine cancel in each pair; [median, q1, q3].
    paired = {
        f"{case}/{other}": paired_ratio(runs[case], runs[other], "import_s")
        for case in cases
        if case.startswith("atmosphere")
        for other in ("floor", "sdk")
    }
    profiles = {
        case: profile_top(pythons[cases[case][0]], cases[case][1])
        for case in ("atmosphere", "sdk", "floor")
    }
    breakdown = staged(pythons["atmosphere"], args.rounds)
    save_result(
        "import",
        {
            "rounds": args.rounds,
            "cases": summary,
            "paired_ratios": paired,
            "profiles": profiles,
            "staged": breakdown,
        },
    )
    for case, row in summary.items():
        log(
            f"  {case:40s} {row['import_ms']:8.1f} ms  rss {row['maxrss_mib']:6.1f} MiB"
            f"  (+{row['rss_growth_mib']:.1f})  {row['modules']} modules"
            + ("  pydantic models" if row["loads_pydantic_models"] else "")
            + ("  dnspython" if row["loads_dns"] else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
