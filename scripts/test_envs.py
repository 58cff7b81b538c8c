"""Run the unit suite in throwaway virtualenvs: on the dependency floors, on every Python.

    python scripts/test_envs.py floor     # `make test-floor`: oldest allowed httpx, pydantic,
                                          # dnspython (read from pyproject.toml), Python 3.10
    python scripts/test_envs.py matrix    # `make test-matrix`: Python 3.10 ... 3.13

The project's wheel is built once, from a clean copy of the tree; each run
gets a fresh venv under ``.venv-test/<name>/`` with that wheel (what a user
installs, not an editable checkout) plus the ``test`` extra; the floor run then
pins each runtime dependency to the lower bound that ``pyproject.toml``
declares. A missing interpreter is a failure, never a skip: the classifiers
promise these versions. Interpreters are found as ``pythonX.Y`` on ``PATH``
or under ``pyenv root`` (``$PYENV_ROOT``, ``~/.pyenv``).

The legs run two at a time (``TEST_ENVS_JOBS``), each logging to
``.venv-test/<name>.log``; a failed leg's log tail is printed.

Uses only the standard library, so ``python3 scripts/test_envs.py`` works
before ``make install``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENVS = ROOT / ".venv-test"

# The Python versions the classifiers in pyproject.toml declare (checked below).
MATRIX = ("3.10", "3.11", "3.12", "3.13")
# The runtime dependencies whose floors `floor` proves.
FLOORED = ("httpx", "pydantic", "dnspython")
# What each run tests: the unit suite; the floor run adds the loopback DNS test that
# tells dnspython 2.6.0 (truncated UDP answers dropped, no TCP retry) from 2.6.1.
UNIT = ["tests/unit"]
FLOOR_EXTRA = ["tests/pds/test_pds_fixture.py::test_dns_tcp_truncation_and_failures"]


def pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def floors() -> dict[str, str]:
    """``{name: lowest allowed version}`` for the runtime dependencies, from pyproject.toml."""
    block = re.search(r"^dependencies = \[(.*?)^\]", pyproject(), re.S | re.M)
    if block is None:
        raise SystemExit("test_envs: no dependencies list in pyproject.toml")
    found = dict(re.findall(r'"([A-Za-z0-9_.-]+)>=([0-9][^,"]*)', block.group(1)))
    missing = [name for name in FLOORED if name not in found]
    if missing:
        raise SystemExit(f"test_envs: no '>=' floor in pyproject.toml for {missing}")
    return {name: found[name] for name in FLOORED}


def declared_pythons() -> list[str]:
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject())


def find_python(version: str) -> Path | None:
    """A working interpreter for ``version`` (``X.Y``): under pyenv, else ``pythonX.Y`` on PATH."""
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        out = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        roots.insert(0, out.stdout.strip())
    candidates: list[Path] = []
    for root in filter(None, roots):
        versions = Path(root) / "versions"
        if versions.is_dir():
            found = [
                p for p in versions.iterdir() if re.fullmatch(rf"{re.escape(version)}\.\d+", p.name)
            ]
            found.sort(key=lambda p: int(p.name.rsplit(".", 1)[1]), reverse=True)
            candidates += [p / "bin" / "python" for p in found]
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(Path(on_path))
    for exe in candidates:
        # A pyenv shim for a version that is not selected exits non-zero: not usable.
        check = (
            f"import sys; sys.exit(sys.version_info[:2] != {tuple(map(int, version.split('.')))})"
        )
        if exe.exists() and subprocess.run([str(exe), "-c", check], check=False).returncode == 0:
            return exe
    return None


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


# Left out of the clean copy a wheel is built from (a stale build/lib would leak into it).
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "node_modules",
    ".node",
    "build",
    "dist",
    "_build",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".bench",
)


def build_wheel(out: Path) -> Path:
    """Build the project's wheel once, from a clean copy of the tree, into ``out``."""
    tree = out / "tree"
    shutil.copytree(ROOT, tree, ignore=NOT_SOURCE)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(tree)])
    (wheel,) = out.glob("*.whl")
    return wheel


class LegFailed(Exception):
    """One venv's install or test run failed; its log says why."""


def suite(
    name: str,
    python: Path,
    wheel: Path,
    pins: dict[str, str],
    tests: list[str],
    pytest_args: list[str],
) -> float:
    """Make ``.venv-test/<name>``, install the wheel (+ pins), run the tests; seconds taken.

    Everything the leg prints goes to ``.venv-test/<name>.log`` (legs run side by side).
    """
    start = time.monotonic()
    env_dir = ENVS / name
    shutil.rmtree(env_dir, ignore_errors=True)
    ENVS.mkdir(parents=True, exist_ok=True)
    log_path = ENVS / f"{name}.log"
    with log_path.open("w", encoding="utf-8") as log:

        def step(cmd: list[str], **kwargs: Any) -> None:
            log.write("+ " + " ".join(cmd) + "\n")
            log.flush()
            code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False, **kwargs)
            if code.returncode != 0:
                raise LegFailed(f"{name}: `{' '.join(cmd[:4])} ...` exited {code.returncode}")

        step([str(python), "-m", "venv", str(env_dir)])
        py = str(env_dir / "bin" / "python")
        wanted = [f"{wheel}[test]", *(f"{n}=={v}" for n, v in pins.items())]
        step([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted])
        frozen = subprocess.run(
            [py, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
        ).stdout.lower()
        for dist, version in pins.items():
            if f"{dist.lower()}=={version}" not in frozen.splitlines():
                raise LegFailed(f"{name}: {dist}=={version} did not end up installed")
        versions = subprocess.run(
            [py, "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        log.write(f"== {name}: Python {versions} {' '.join(wanted[1:])}\n")
        log.flush()
        # From the tree (tests/ and scripts/ live there) against the installed package: the
        # src/ layout keeps the tree's copy off sys.path.
        step([py, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider", *pytest_args], cwd=ROOT)
    return time.monotonic() - start


def report(name: str, ok: bool) -> None:
    """Print a leg's summary (its Python, its pins, pytest's last line), or its log on failure."""
    lines = (ENVS / f"{name}.log").read_text(encoding="utf-8").splitlines()
    summary = [line for line in lines if line.startswith("== ")] + lines[-1:]
    shown = summary if ok else lines[-60:]
    print("\n".join(shown), flush=True)


def run_legs(
    legs: list[tuple[str, Path, dict[str, str], list[str]]], pytest_args: list[str]
) -> int:
    """Run the legs (``jobs`` at a time) against one freshly built wheel; 0 when all pass."""
    jobs = max(1, min(len(legs), int(os.environ.get("TEST_ENVS_JOBS", "2"))))
    times: dict[str, float] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="test-envs-") as tmp:
        wheel = build_wheel(Path(tmp))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {
                pool.submit(suite, name, python, wheel, pins, tests, pytest_args): name
                for name, python, pins, tests in legs
            }
            for future in as_completed(futures):
                name = futures[future]
                try:
                    times[name] = future.result()
                except LegFailed as exc:
                    failed.append(name)
                    print(f"FAIL {exc}", flush=True)
                    report(name, ok=False)
                else:
                    report(name, ok=True)
    if failed:
        print(f"test_envs: FAIL: {', '.join(sorted(failed))} (logs in {ENVS})")
        return 1
    print("test_envs: passed: " + ", ".join(f"{n} ({s:.0f} s)" for n, s in sorted(times.items())))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("floor", "matrix"))
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments")
    args = parser.parse_args()

    declared = declared_pythons()
    if sorted(declared) != sorted(MATRIX):
        raise SystemExit(
            f"test_envs: pyproject.toml classifiers declare {declared}, the matrix runs "
            f"{list(MATRIX)}: make them agree"
        )
    if args.what == "floor":
        python = find_python(MATRIX[0])
        if python is None:
            raise SystemExit(f"test_envs: FAIL: no Python {MATRIX[0]} interpreter found")
        return run_legs([("floor", python, floors(), UNIT + FLOOR_EXTRA)], args.pytest_args)

    found = {version: find_python(version) for version in MATRIX}
    missing = [v for v, python in found.items() if python is None]
    if missing:
        # A missing interpreter fails the run: the classifiers promise these versions.
        raise SystemExit(
            f"test_envs: FAIL: no interpreter for Python {', '.join(missing)} "
            "(install it, e.g. `pyenv install X.Y`)"
        )
    legs = [(f"py{v}", python, {}, UNIT) for v, python in found.items() if python is not None]
    return run_legs(legs, args.pytest_args)


if __name__ == "__main__":
    sys.exit(main())
