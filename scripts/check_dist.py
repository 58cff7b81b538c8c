"""Build the sdist and the wheel from the tree, and prove what they carry (`make check-dist`).

1. ``python -m build`` writes both into a temporary directory (the wheel is
   built from the sdist, as ``build`` does by default, so the sdist is proved
   sufficient to build from).
2. The wheel holds the package (with ``py.typed``), its version is the
   package's ``__version__``, its metadata names the distribution
   ``atmosphere-atproto``, and it carries no tests.
3. The sdist is unpacked; a fresh venv installs the wheel plus the ``test``
   extra, and the unpacked copy's own unit tests run against it, from the
   unpacked directory (``tests/``, ``fixtures/``, ``scripts/unasync.py`` and the
   Makefile all come from the sdist, not from this tree).

Standard library only (plus ``build``, a dev dependency).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from test_envs import NOT_SOURCE  # noqa: E402

DIST_NAME = "atmosphere-atproto"
# What a user or packager needs in the unpacked sdist to test and regenerate.
SDIST_MUST_HAVE = (
    "pyproject.toml",
    "Makefile",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    "src/atmosphere/py.typed",
    "scripts/unasync.py",
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/support/__init__.py",
    "tests/unit/__init__.py",
    "fixtures/interop/syntax/did_syntax_valid.txt",
    "fixtures/pds/package-lock.json",
    "fixtures/pds/install.sh",
)


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def version() -> str:
    init = (ROOT / "src" / "atmosphere" / "__init__.py").read_text(encoding="utf-8")
    m = re.search(r'^__version__ = "([^"]+)"', init, re.M)
    if m is None:
        raise SystemExit("check-dist: no __version__ in src/atmosphere/__init__.py")
    return m.group(1)


def main() -> int:
    started = time.monotonic()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="check-dist-") as tmp_name:
        tmp = Path(tmp_name)
        out = tmp / "dist"
        # From a clean copy: an in-tree build would leave build/ behind and reuse it.
        tree = tmp / "tree"
        shutil.copytree(ROOT, tree, ignore=NOT_SOURCE)
        print(f"+ python -m build --outdir {out} {tree}", flush=True)
        built = subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(out), str(tree)],
            capture_output=True,
            text=True,
            check=False,
        )
        if built.returncode != 0:
            print(built.stdout + built.stderr, file=sys.stderr)
            print("FAIL check-dist: python -m build failed", file=sys.stderr)
            return 1
        ver = version()
        sdists = list(out.glob("*.tar.gz"))
        wheels = list(out.glob("*.whl"))
        expected_stem = f"{DIST_NAME.replace('-', '_')}-{ver}"
        if [p.name for p in sdists] != [f"{expected_stem}.tar.gz"]:
            failures.append(f"sdist: expected {expected_stem}.tar.gz, got {sdists}")
        if [p.name for p in wheels] != [f"{expected_stem}-py3-none-any.whl"]:
            failures.append(f"wheel: expected {expected_stem}-py3-none-any.whl, got {wheels}")
        if failures:
            print("\n".join(failures), file=sys.stderr)
            return 1
        sdist, wheel = sdists[0], wheels[0]

        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            metadata = zf.read(f"{expected_stem}.dist-info/METADATA").decode()
        if "atmosphere/py.typed" not in names or "atmosphere/__init__.py" not in names:
            failures.append("wheel: the atmosphere package or its py.typed marker is missing")
        if any(n.startswith("tests/") for n in names):
            failures.append("wheel: carries tests/ (they belong in the sdist only)")
        if f"\nName: {DIST_NAME}\n" not in metadata or f"\nVersion: {ver}\n" not in metadata:
            failures.append(f"wheel: METADATA does not say Name: {DIST_NAME} / Version: {ver}")

        with tarfile.open(sdist) as tf:
            members = tf.getnames()
            tf.extractall(tmp / "unpacked", filter="data")
        top = tmp / "unpacked" / expected_stem
        for needed in SDIST_MUST_HAVE:
            if not (top / needed).exists():
                failures.append(f"sdist: {needed} is missing")
        if any("node_modules" in m for m in members):
            failures.append("sdist: carries node_modules")
        if failures:
            print("\n".join(failures), file=sys.stderr)
            return 1

        env_dir = tmp / "venv"
        run([sys.executable, "-m", "venv", str(env_dir)])
        py = str(env_dir / "bin" / "python")
        quiet = ["--quiet", "--disable-pip-version-check"]
        run([py, "-m", "pip", "install", *quiet, f"{wheel}[test]"])
        # The unpacked sdist's tests against the installed wheel (src/ layout: the
        # unpacked copy of the package is not on sys.path).
        run([py, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"], cwd=top)
        where = subprocess.run(
            [py, "-c", "import atmosphere; print(atmosphere.__file__)"],
            cwd=top,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not where.startswith(str(env_dir)):
            failures.append(f"tests imported atmosphere from {where}, not the installed wheel")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    if failures:
        return 1
    print(f"check-dist: sdist and wheel {ver} passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
