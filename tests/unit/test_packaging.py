"""What the published package promises about itself: its name, its version, its loggers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import atmosphere
from atmosphere._defaults import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "atmosphere"


def test_distribution_name_and_single_version_source() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^name = "atmosphere-atproto"$', pyproject, re.M)
    assert DISTRIBUTION == "atmosphere-atproto"
    # The version lives in one place: __version__, read by setuptools.
    assert re.search(r'^dynamic = \["version"\]$', pyproject, re.M)
    assert 'version = { attr = "atmosphere.__version__" }' in pyproject
    assert re.fullmatch(r"\d+\.\d+\.\d+", atmosphere.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {atmosphere.__version__}" in changelog


def test_cli_version_names_the_distribution() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "atmosphere", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"atmosphere-atproto {atmosphere.__version__}"


def test_every_logger_is_named_by_its_module() -> None:
    """One rule, so a vendored copy's loggers follow its new package name."""
    calls = []
    for path in SRC.rglob("*.py"):
        for match in re.finditer(r"getLogger\(([^)]*)\)", path.read_text(encoding="utf-8")):
            calls.append((path.relative_to(SRC).as_posix(), match.group(1)))
    assert calls
    assert [c for c in calls if c[1] != "__name__"] == []
