"""Running the ``atmosphere`` command as a subprocess, for the CLI tests of both tiers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Result:
    """What a run of the command printed and returned."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def clean_env(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATMOSPHERE_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    # The CLI's servers in tests (fake and real PDS, PLC) live on loopback over
    # plain http: local development, switched on explicitly (``extra`` may undo it).
    env["ATMOSPHERE_ALLOW_PRIVATE_HOSTS"] = "1"
    env.update(extra or {})
    return env


def run_cli(
    *args: str,
    tmp_path: Path,
    session_file: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    """Run ``python -m atmosphere`` and check it never prints a traceback."""
    argv = [sys.executable, "-m", "atmosphere"]
    if session_file is not None:
        argv += ["--session-file", str(session_file)]
    proc = subprocess.run(
        [*argv, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(tmp_path, env),
        check=False,
        start_new_session=True,  # no controlling terminal: getpass cannot prompt on it
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


def error_line(result: Result) -> str:
    """The last line on stderr, checked to be the CLI's one-line error."""
    lines = result.stderr.strip().splitlines()
    assert lines, "expected an error message on stderr"
    assert lines[-1].startswith("atmosphere: error: "), result.stderr
    return lines[-1]
