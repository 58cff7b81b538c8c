"""SIGTERM during ``atmosphere blob get`` cleans up like Ctrl-C: no ``.part`` file stays."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from atmosphere._cli import EXIT_TERMINATED
from tests.support.cli import clean_env
from tests.support.fake_pds import blob_cid
from tests.support.fault_server import FaultServer, trickle


def _wait_for(predicate: object, timeout: float) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_sigterm_during_blob_get_removes_the_part_file(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "blob.bin"
    with FaultServer() as server:
        alice = server.register("alice.test", "pw")
        # A body that would take minutes: the download is in progress when
        # the signal arrives.
        server.script("com.atproto.sync.getBlob", trickle(100_000, 0.01))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "atmosphere",
                "--plc-url",
                server.url,
                "--session-file",
                str(tmp_path / "cfg" / "session"),
                "blob",
                "get",
                alice.did,
                blob_cid(b"never served whole"),
                "-o",
                str(target),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(tmp_path),
        )
        try:
            started = _wait_for(
                lambda: (
                    any(out_dir.glob(".*.part")) and server.bytes_sent["com.atproto.sync.getBlob"]
                ),
                timeout=30,
            )
            assert started, "the download never started"
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == EXIT_TERMINATED, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "atmosphere: error: terminated"
    assert stdout == ""
    assert list(out_dir.iterdir()) == []  # neither the .part file nor a partial blob.bin
