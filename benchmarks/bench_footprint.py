"""Installed footprint: what ``pip install`` of each client leaves on disk.

For each candidate a brand-new venv (``--without-pip``, so pip itself is not
counted) gets one ``pip install``: the project's wheel, ``atproto==0.0.73``,
or ``httpx pydantic dnspython`` (the floor). Reported, minus an empty venv of
the same Python: bytes on disk (allocated blocks, as ``du`` counts them) and
apparent size, file count (bytecode pip compiles at install included), and the
number of distributions installed. Shared packages are pinned to the same
versions in all three (``.bench/constraints.txt``). The result is
deterministic, so it is measured once; with ``--reuse`` (quick runs) each saved
case whose inputs (wheel, constraints, Python) are unchanged is kept as it is.

    python benchmarks/bench_footprint.py [--reuse]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load_result, log, save_result
from envs import (
    CONSTRAINTS,
    FLOOR_SPEC,
    SDK_SPEC,
    base_python,
    build_wheel,
    ensure_envs,
    freeze,
    make_venv,
    pip_install,
)


def tree_stats(root: Path) -> dict[str, int]:
    """Files, apparent bytes and allocated bytes under ``root`` (symlinks not followed)."""
    files = 0
    apparent = 0
    allocated = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            files += 1
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return {"files": files, "apparent_bytes": apparent, "disk_bytes": allocated}


def measure(
    label: str, install_args: list[str], workdir: Path, base: dict[str, int]
) -> dict[str, Any]:
    """Install into a fresh venv and measure it against the empty-venv baseline."""
    log(f"footprint: installing {label} into a fresh venv ...")
    venv = workdir / label
    python = make_venv(venv)
    pip_install(python, install_args, f"footprint install of {label}")
    stats = tree_stats(venv)
    dists = freeze(python)
    return {
        "install": " ".join(Path(a).name if a.endswith(".whl") else a for a in install_args),
        "files": stats["files"] - base["files"],
        "disk_mib": (stats["disk_bytes"] - base["disk_bytes"]) / 2**20,
        "apparent_mib": (stats["apparent_bytes"] - base["apparent_bytes"]) / 2**20,
        "distributions": len(dists),
        "distribution_names": sorted(dists),
    }


def reused_all(cases: dict[str, Any], saved: dict[str, Any]) -> bool:
    """Whether every case is the saved one (then the saved file stays as it is)."""
    return all(row is saved.get("cases", {}).get(name) for name, row in cases.items())


def main(argv: list[str] | None = None) -> int:
    """Measure, then save ``.bench/results/footprint.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--reuse", action="store_true", help="keep a saved result for the same inputs"
    )
    args = parser.parse_args(argv)
    ensure_envs(("atmosphere",))  # writes the shared constraints
    wheel = build_wheel()
    pins = ["-c", str(CONSTRAINTS)]
    installs = {
        "atmosphere": [*pins, str(wheel)],
        "sdk": [*pins, SDK_SPEC],
        "floor": [*pins, *FLOOR_SPEC],
    }
    shared = [CONSTRAINTS.read_text(), sys.version, base_python()]
    keys = {
        name: hashlib.sha256("\0".join([*shared, *args_]).encode()).hexdigest()[:16]
        for name, args_ in installs.items()
    }
    saved = load_result("footprint") or {}
    cases: dict[str, Any] = {}
    inputs = saved.get("inputs")
    if args.reuse and isinstance(inputs, dict):  # unchanged inputs: keep the saved figures
        for name, row in saved.get("cases", {}).items():
            if name in keys and inputs.get(name) == keys[name]:
                cases[name] = row
                log(f"footprint: {name}: same inputs as the saved result; reused")
    base = saved.get("baseline", {})
    workdir = Path(tempfile.mkdtemp(prefix="atmosphere-footprint-"))
    try:
        if len(cases) < len(installs):
            make_venv(workdir / "empty")
            base = tree_stats(workdir / "empty")
        for name, install in installs.items():
            if name not in cases:
                cases[name] = measure(name, install, workdir, base)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not reused_all(cases, saved):
        cases = {name: cases[name] for name in installs}
        save_result("footprint", {"inputs": keys, "baseline": base, "cases": cases})
    for name, row in cases.items():
        log(
            f"  {name:12s} {row['disk_mib']:7.1f} MiB on disk  {row['files']:6d} files"
            f"  {row['distributions']:3d} distributions"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
