"""Several ``atmosphere`` processes sharing one session file, against the real PDS.

The PDS rotates the refresh token on every refresh and honours a rotated one
only for a grace period (two hours), answering its reuse with the *same*
successor. So a process that refreshes with a token another process already
rotated gets an older session than the one saved; writing it over the newer
one logs the user out once the grace period ends. And a process that
refreshes after ``logout`` must not bring the session back.

A long-lived process is made deterministic: ``ls`` blocks writing to a pipe
the test does not read (a full pipe: ``FIONREAD`` stops growing), holding an
access token minted to enter the client's refresh margin (60 s) a few seconds
later; once the test drains the pipe, the next page needs a refresh.
"""

from __future__ import annotations

import base64
import fcntl
import json
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from atmosphere import AtmosphereClient
from atmosphere._cli import EXIT_AUTH, EXIT_OK, save_session
from tests.support.cli import Result, clean_env, run_cli
from tests.support.pds import PdsProcess, mint_expired_access_token

COLLECTION = "com.example.atmosphere.cliShared"
RECORDS = 150  # two pages of 100; the first alone overfills a pipe (2 KiB each)
REFRESH_MARGIN = 60  # the client refreshes when the access token expires this soon
HOLD = 18  # seconds the long process's token stays outside the margin


@dataclass
class Shared:
    """The CLI against the test PDS, all runs sharing one session file."""

    pds: PdsProcess
    tmp_path: Path
    session_file: Path

    def argv(self, *args: str) -> list[str]:
        return [
            "--pds",
            self.pds.pds_url,
            "--plc-url",
            self.pds.plc_url,
            "--session-file",
            str(self.session_file),
            *args,
        ]

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        return run_cli(*self.argv(*args), tmp_path=self.tmp_path, stdin=stdin)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "atmosphere", *self.argv(*args)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(self.tmp_path),
            start_new_session=True,
        )

    def fields(self) -> list[str]:
        return self.session_file.read_text().strip().split(":::")

    def with_access(self, access: str) -> None:
        """Keep the saved refresh token, replace the access token."""
        handle, did, _access, refresh, pds_url = self.fields()
        save_session(self.session_file, ":::".join([handle, did, access, refresh, pds_url]))

    def expire_access(self) -> None:
        self.with_access(mint_expired_access_token(self.pds.jwt_secret, self.fields()[1]))

    def refresh_now(self) -> list[str]:
        """Make one process refresh the saved session (its access token expired)."""
        self.expire_access()
        result = self("--json", "whoami")
        assert result.code == EXIT_OK, result.stderr
        return self.fields()


@pytest.fixture
def shared(pds: PdsProcess, tmp_path: Path) -> Iterator[Shared]:
    alice = pds.account("alice.test")
    cli = Shared(pds, tmp_path, tmp_path / "config" / "atmosphere" / "session")
    login = cli("--json", "login", "alice.test", "--password-stdin", stdin=alice.password + "\n")
    assert login.code == EXIT_OK, login.stderr
    yield cli
    if cli.session_file.exists():
        cli("logout")


@pytest.fixture
def listing(pds: PdsProcess) -> Iterator[None]:
    alice = pds.account("alice.test")
    with AtmosphereClient(pds.pds_url) as client:
        client.login(alice.handle, alice.password)
        uris = client.create_records(
            COLLECTION, ({"$type": COLLECTION, "i": i, "pad": "x" * 2000} for i in range(RECORDS))
        )
        try:
            yield
        finally:
            for uri in uris:
                client.delete_record(uri)


def _pending(pipe: IO[bytes]) -> int:
    buf = bytearray(4)
    fcntl.ioctl(pipe.fileno(), termios.FIONREAD, buf)
    return int.from_bytes(buf, sys.byteorder)


def start_blocked_ls(cli: Shared) -> tuple[subprocess.Popen[bytes], float]:
    """An ``ls`` holding a short-lived access token, blocked on a full stdout pipe.

    Returns the process and the time from which its next request must refresh.
    """
    did = cli.fields()[1]
    expires_in = REFRESH_MARGIN + HOLD
    cli.with_access(mint_expired_access_token(cli.pds.jwt_secret, did, expired_for=-expires_in))
    refresh_from = time.time() + HOLD + 1
    proc = cli.start("--json", "ls", COLLECTION)
    assert proc.stdout is not None
    # Full: a good amount is waiting and nothing more arrives for a second
    # (how much a pipe takes depends on how the writes fill its pages).
    deadline = time.monotonic() + HOLD - 3
    last, steady_since = -1, time.monotonic()
    while True:
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline, "ls did not fill its pipe in time"
        pending = _pending(proc.stdout)
        if pending != last:
            last, steady_since = pending, time.monotonic()
        elif pending >= 16_384 and time.monotonic() - steady_since >= 1.0:
            return proc, refresh_from
        time.sleep(0.05)


def finish(proc: subprocess.Popen[bytes], refresh_from: float) -> tuple[int, str, str]:
    """Let the blocked ``ls`` go on once its token is inside the refresh margin."""
    time.sleep(max(0.0, refresh_from - time.time()))
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out.decode(), err.decode()


def _jti(token: str) -> str:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    jti = claims["jti"]
    assert isinstance(jti, str)
    return jti


@pytest.mark.pds
@pytest.mark.usefixtures("listing")
def test_a_long_process_never_saves_an_older_session(shared: Shared) -> None:
    proc, refresh_from = start_blocked_ls(shared)  # holds refresh token R1
    try:
        shared.refresh_now()  # R1 -> R2, saved
        newest = shared.refresh_now()  # R2 -> R3, saved
        assert shared.fields()[3] == newest[3]
        code, out, err = finish(proc, refresh_from)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == EXIT_OK, err
    assert "Traceback" not in err
    assert len([line for line in out.splitlines() if line.strip()]) == RECORDS
    # The long process needed a refresh with R1, which another process had
    # already rotated: it adopted the saved session instead. Refreshing with
    # R1 would have given R2's successor again and saved it over R3.
    assert shared.fields() == newest
    # And the saved session is alive: its next refresh works.
    after = shared.refresh_now()
    assert _jti(after[3]) != _jti(newest[3])


@pytest.mark.pds
@pytest.mark.usefixtures("listing")
def test_a_logout_is_not_undone_by_a_running_process(shared: Shared, pds: PdsProcess) -> None:
    proc, refresh_from = start_blocked_ls(shared)  # holds refresh token R1
    try:
        before_logout = shared.refresh_now()  # R1 -> R2 (R1 stays usable for the grace period)
        logout = shared("--json", "logout")
        assert logout.code == EXIT_OK, logout.stderr
        assert logout.json()["revoked"] is True  # R2 revoked on the PDS
        assert not shared.session_file.exists()
        code, _out, err = finish(proc, refresh_from)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == EXIT_AUTH, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("atmosphere: error: not logged in")
    assert not shared.session_file.exists()  # not re-created
    # Nothing new was minted on the PDS behind the user's back: the logged-out
    # session's last refresh token stays dead.
    response = httpx.post(
        f"{pds.pds_url}/xrpc/com.atproto.server.refreshSession",
        headers={"Authorization": f"Bearer {before_logout[3]}"},
    )
    assert response.status_code in (400, 401)


@pytest.mark.pds
def test_many_processes_refresh_one_session_once(shared: Shared) -> None:
    first = shared.fields()
    shared.expire_access()
    procs = [shared.start("--json", "whoami") for _ in range(6)]
    results = [(p.wait(timeout=120), p.communicate()) for p in procs]
    for code, (out, err) in results:
        assert code == EXIT_OK, err.decode()
        assert json.loads(out)["handle"] == "alice.test"
    saved = shared.fields()
    assert saved[3] != first[3]
    # Every process started from the expired token: one refreshed, the others
    # waited on the lock and adopted its session. The saved session is the
    # newest and alive.
    again = shared.refresh_now()
    assert _jti(again[3]) != _jti(saved[3])
    assert shared("whoami").code == EXIT_OK
