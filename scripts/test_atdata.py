"""Run atdata's own flows against this project's client (``make test-atdata``).

atdata (https://pypi.org/project/atdata/) needs Python >= 3.12, newer than
this project's floor, so the flows run in their own virtual environments,
one per pinned atdata release, under ``.venv-atdata/<version>/``. Each is
built once and reused; it is rebuilt only when its pins, this project's
``pyproject.toml`` or the interpreter change. This project is installed
editable, so source edits need no rebuild.

Usage::

    python3 scripts/test_atdata.py                 # every pinned atdata version
    python3 scripts/test_atdata.py --only 0.3.0b1  # one of them
    python3 scripts/test_atdata.py -- -k schema -x # extra pytest arguments

The interpreter is the first that reports >= 3.12 among: ``$ATDATA_PYTHON``,
``python3.13``/``python3.12`` on ``PATH``, and ``~/.pyenv/versions/3.1x*``.
Without one the script says so and exits with status 2.

Stdlib only: it runs under whatever ``python3`` the Makefile has.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venv-atdata"
TESTS = ROOT / "tests" / "atdata"

#: atdata release -> the face of our client its flows drive (selects tests).
ATDATA_VERSIONS: dict[str, str] = {
    "0.3.0b1": "v03",
    "0.7.0b1": "v07",
}
#: Test tools installed beside atdata (exact pins: part of the cache key).
TOOLS = ("pytest==8.4.2", "pytest-timeout==2.4.0")
MIN_PYTHON = (3, 12)


def _log(msg: str) -> None:
    print(f"test-atdata: {msg}", flush=True)


def _version_of(python: str) -> tuple[int, int] | None:
    """The (major, minor) an interpreter reports, or None when it does not run."""
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    major, minor = out.stdout.split()
    return int(major), int(minor)


def _candidates() -> list[str]:
    found: list[str] = []
    env = os.environ.get("ATDATA_PYTHON")
    if env:
        found.append(env)
    for name in ("python3.13", "python3.12"):
        path = shutil.which(name)
        if path:
            found.append(path)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    versions = pyenv_root / "versions"
    if versions.is_dir():
        pattern = re.compile(r"^3\.(\d+)\.(\d+)$")
        ranked = []
        for entry in versions.iterdir():
            m = pattern.match(entry.name)
            if m and (3, int(m.group(1))) >= MIN_PYTHON:
                ranked.append(((int(m.group(1)), int(m.group(2))), entry))
        for _, entry in sorted(ranked, reverse=True):
            found.append(str(entry / "bin" / "python3"))
    return found


def find_python() -> str:
    """A Python >= 3.12 that actually runs (pyenv shims may exist yet fail)."""
    for candidate in _candidates():
        version = _version_of(candidate)
        if version is not None and version >= MIN_PYTHON:
            return candidate
    wanted = ".".join(map(str, MIN_PYTHON))
    _log(
        f"no Python >= {wanted} found (atdata requires it). Tried $ATDATA_PYTHON, "
        "python3.13/python3.12 on PATH and ~/.pyenv/versions/3.1x. Install one "
        "(e.g. `pyenv install 3.12`) or set ATDATA_PYTHON=/path/to/python3.12."
    )
    sys.exit(2)


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _base_key(python: str, atdata_version: str) -> str:
    """What the venv itself depends on: the interpreter, atdata and the tools."""
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return _digest(
        {
            "python": os.path.realpath(python),
            "version": version,
            "atdata": atdata_version,
            "tools": TOOLS,
        }
    )


def _project_key() -> str:
    """What the editable install of this project depends on: its pyproject.toml."""
    return _digest(hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest())


def _pip(venv: Path, *args: str) -> None:
    """``pip install`` into ``venv``; its chatter goes to install.log, shown on failure."""
    log = venv / "install.log"
    cmd = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        *args,
    ]
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text().splitlines()[-40:]
        _log("pip failed; the end of " + str(log.relative_to(ROOT)) + ":\n" + "\n".join(tail))
        sys.exit(done.returncode)


def ensure_venv(python: str, atdata_version: str) -> Path:
    """The venv for one atdata version: built when missing or when its pins or
    interpreter changed; this project reinstalled when pyproject.toml changed."""
    venv = VENVS / atdata_version
    base_stamp = venv / ".stamp-base"
    project_stamp = venv / ".stamp-project"
    base_key = _base_key(python, atdata_version)
    if not (base_stamp.is_file() and base_stamp.read_text().strip() == base_key):
        _log(f"building {venv.relative_to(ROOT)} (atdata=={atdata_version}); takes minutes once")
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        _pip(venv, "--upgrade", "pip")
        _pip(venv, f"atdata=={atdata_version}", *TOOLS)
        base_stamp.write_text(base_key + "\n")
    project_key = _project_key()
    if not (project_stamp.is_file() and project_stamp.read_text().strip() == project_key):
        _log(f"installing this project (editable) into {venv.relative_to(ROOT)}")
        _pip(venv, "-e", str(ROOT))
        project_stamp.write_text(project_key + "\n")
    return venv


def run_tests(venv: Path, atdata_version: str, extra: list[str]) -> int:
    """Run tests/atdata for one atdata version; returns pytest's exit status."""
    env = dict(os.environ)
    # The loopback PDS is plain http on a private address: allow it explicitly.
    env["ATMOSPHERE_ALLOW_PRIVATE_HOSTS"] = "1"
    face = ATDATA_VERSIONS[atdata_version]
    env["ATMOSPHERE_ATDATA_FACE"] = face
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Never reach out to the public network from atdata's code paths.
    for var in ("ATDATA_HANDLE", "ATDATA_PASSWORD", "ATDATA_APPVIEW", "ATDATA_PDS_URL"):
        env.pop(var, None)
    cmd = [
        str(venv / "bin" / "python"),
        "-m",
        "pytest",
        "-c",
        str(TESTS / "pytest.ini"),
        "--rootdir",
        str(ROOT),
        "--confcutdir",
        str(TESTS),
        "-p",
        "no:cacheprovider",
        *[str(path) for path in sorted(TESTS.glob(f"test_{face}_*.py"))],
        *extra,
    ]
    _log(f"atdata {atdata_version}: {' '.join(cmd[1:])}")
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    """Entry point: build what is missing, run every selected atdata version."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(ATDATA_VERSIONS), action="append")
    parser.add_argument("--setup-only", action="store_true", help="build the venvs, run nothing")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args(argv)
    python = find_python()
    _log(f"using {python}")
    versions = args.only or list(ATDATA_VERSIONS)
    venvs = {v: ensure_venv(python, v) for v in versions}
    if args.setup_only:
        return 0
    failed = []
    for version, venv in venvs.items():
        if run_tests(venv, version, args.pytest_args) != 0:
            failed.append(version)
    if failed:
        _log(f"FAILED for atdata {', '.join(failed)}")
        return 1
    _log(f"passed for atdata {', '.join(versions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
