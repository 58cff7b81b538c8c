"""Create (or reuse) the benchmark environments under ``.bench/envs/``.

- ``atmosphere``: this project, installed from a freshly built wheel (not
  editable), with its runtime dependencies and nothing else.
- ``sdk``: ``atproto==0.0.73`` (the atproto SDK; bench-only, never a
  dependency of the project).
- ``floor``: only ``httpx``, ``pydantic`` and ``dnspython``: what any client on
  these dependencies must pay.
- ``report``: ``matplotlib`` for ``report.py``'s chart (never measured).

``sdk`` and ``floor`` are installed with the ``atmosphere`` env's versions of
the shared packages as constraints, so the three differ only in what sits on
top of httpx/pydantic. The venvs are made ``--without-pip`` (pip runs from the
project's ``.venv`` with ``--python``), so they hold only what is measured.

Each env carries a stamp (a hash of its spec, the Python version and, for
``atmosphere``, the source tree); a matching stamp means the env is reused.

    python benchmarks/envs.py            # make sure all four exist; print their pythons
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ENVS_DIR, ROOT, STATE, log

SDK_SPEC = "atproto==0.0.73"
FLOOR_SPEC = ("httpx", "pydantic", "dnspython")
REPORT_SPEC = ("matplotlib",)
ENV_NAMES = ("atmosphere", "sdk", "floor", "report")
# This project's distribution (its import name is `atmosphere`) and its wheel's file prefix.
DISTRIBUTION = "atmosphere-atproto"
WHEEL_PREFIX = DISTRIBUTION.replace("-", "_")
STAMP = ".bench-stamp"
WHEELS = STATE / "wheels"
CONSTRAINTS = STATE / "constraints.txt"
WHEEL_ENV = "ATMOSPHERE_BENCH_WHEEL"


def base_python() -> str:
    """The interpreter the venvs are made from (the one behind the running venv)."""
    return str(getattr(sys, "_base_executable", None) or sys.executable)


def env_python(name: str) -> Path:
    """The ``python`` of benchmark env ``name``."""
    return ENVS_DIR / name / "bin" / "python"


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def pip_install(python: Path, args: list[str], what: str) -> None:
    """``pip install`` into another interpreter, with the pip of this process's env."""
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-input",
            "--disable-pip-version-check",
            *args,
        ],
        what,
    )


def make_venv(path: Path) -> Path:
    """A fresh pip-less venv at ``path``; returns its python."""
    if path.exists():
        shutil.rmtree(path)
    _run([base_python(), "-m", "venv", "--without-pip", str(path)], f"venv {path}")
    return path / "bin" / "python"


def source_hash() -> str:
    """A hash of what goes into the project's wheel and can change what is measured.

    README.md is left out: it only becomes the wheel's long description, and
    ``report.py`` rewrites its table on every run, which would otherwise
    rebuild the wheel and the ``atmosphere`` env on the next one.
    """
    digest = hashlib.sha256()
    files = [ROOT / "pyproject.toml", ROOT / "LICENSE"]
    files += sorted(
        p for p in (ROOT / "src").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


_built: list[Path] = []


def build_wheel() -> Path:
    """The project's wheel for the source tree (built once per source hash).

    Within one process the first wheel is reused, and ``run_all.py`` hands it
    to every step through ``ATMOSPHERE_BENCH_WHEEL``, so a run measures one
    consistent build even while the tree is being edited.
    """
    if _built:
        return _built[0]
    pinned = os.environ.get(WHEEL_ENV)
    wheel = Path(pinned) if pinned and Path(pinned).is_file() else _build_wheel()
    _built.append(wheel)
    return wheel


def _build_wheel() -> Path:
    out = WHEELS / source_hash()
    wheels = sorted(out.glob(f"{WHEEL_PREFIX}-*.whl")) if out.is_dir() else []
    if wheels:
        return wheels[-1]
    log("building the project wheel ...")
    out.mkdir(parents=True, exist_ok=True)
    # Build from a clean copy: an in-tree build reuses ./build/lib, where files
    # deleted from src/ would linger and end up in the wheel.
    tree = Path(tempfile.mkdtemp(prefix="atmosphere-wheel-"))
    try:
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (ROOT / name).is_file():
                shutil.copy2(ROOT / name, tree / name)
        shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__"))
        _build_wheel_from(tree, out)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    wheels = sorted(out.glob(f"{WHEEL_PREFIX}-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip wheel produced no wheel in {out}")
    # Keep the few most recent builds only.
    builds = sorted((d for d in WHEELS.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime)
    for old in builds[:-3]:
        shutil.rmtree(old, ignore_errors=True)
    return wheels[-1]


def _build_wheel_from(tree: Path, out: Path) -> None:
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            str(out),
            str(tree),
        ],
        "pip wheel",
    )


def freeze(python: Path) -> dict[str, str]:
    """``{distribution name: version}`` installed in an env (via importlib.metadata)."""
    code = (
        "import json, importlib.metadata as m;"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    proc = subprocess.run(
        [str(python), "-I", "-c", code], capture_output=True, text=True, check=True
    )
    frozen: dict[str, str] = json.loads(proc.stdout)
    return dict(sorted(frozen.items(), key=lambda kv: kv[0].lower()))


def _stamp_ok(name: str, stamp: str) -> bool:
    path = ENVS_DIR / name / STAMP
    return env_python(name).exists() and path.is_file() and path.read_text() == stamp


def _stamp(name: str, spec: dict[str, Any]) -> str:
    spec = {"python": sys.version, "base": base_python(), **spec}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _write_constraints(python: Path) -> str:
    pins = [f"{n}=={v}" for n, v in freeze(python).items() if n.lower() != DISTRIBUTION]
    text = "\n".join(pins) + "\n"
    CONSTRAINTS.parent.mkdir(parents=True, exist_ok=True)
    CONSTRAINTS.write_text(text)
    return text


def _ensure(name: str, spec: dict[str, Any], install_args: list[str]) -> Path:
    stamp = _stamp(name, spec)
    python = env_python(name)
    if _stamp_ok(name, stamp):
        return python
    log(f"creating env {name!r} ...")
    python = make_venv(ENVS_DIR / name)
    pip_install(python, install_args, f"installing env {name}")
    (ENVS_DIR / name / STAMP).write_text(stamp)
    return python


def ensure_envs(names: tuple[str, ...] = ENV_NAMES) -> dict[str, Path]:
    """Make sure the named envs exist and are current; return their pythons."""
    ENVS_DIR.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    wheel = build_wheel()
    out["atmosphere"] = _ensure(
        "atmosphere", {"wheel": wheel.name, "src": wheel.parent.name}, [str(wheel)]
    )
    constraints = _write_constraints(out["atmosphere"])
    pinned = {"constraints": constraints}
    if "floor" in names:
        out["floor"] = _ensure(
            "floor", {"req": FLOOR_SPEC, **pinned}, ["-c", str(CONSTRAINTS), *FLOOR_SPEC]
        )
    if "sdk" in names:
        try:
            out["sdk"] = _ensure(
                "sdk", {"req": SDK_SPEC, **pinned}, ["-c", str(CONSTRAINTS), SDK_SPEC]
            )
        except RuntimeError as exc:  # the SDK's own pins may conflict: install it unconstrained
            log(f"sdk env with shared pins failed ({str(exc).splitlines()[0]}); retrying unpinned")
            out["sdk"] = _ensure("sdk", {"req": SDK_SPEC, "unpinned": True}, [SDK_SPEC])
    if "report" in names:
        out["report"] = _ensure("report", {"req": REPORT_SPEC}, list(REPORT_SPEC))
    return out


def versions(pythons: dict[str, Path]) -> dict[str, dict[str, str]]:
    """Every env's installed distributions and versions."""
    return {name: freeze(python) for name, python in pythons.items()}


def main() -> int:
    """Create the envs and print where their interpreters are."""
    pythons = ensure_envs()
    for name, python in pythons.items():
        print(f"{name:10s} {python}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
