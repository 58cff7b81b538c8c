"""The CLI's session file: unsafe permissions are refused; refreshes are shared, never resurrect.

The multi-process proof against the real PDS is in tests/pds/test_cli_session_pds.py;
here the same rules are checked with the fake PDS behind ``httpx.MockTransport``.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from atmosphere import AtmosphereClient, NotAuthenticatedError
from atmosphere._cli import EXIT_AUTH, EXIT_OK, main
from atmosphere._cli.sessionfile import SessionFile
from tests.support.cli import run_cli
from tests.support.fake_pds import Account, FakePds
from tests.support.fault_server import FaultServer

REFRESH = "com.atproto.server.refreshSession"
COLL = "com.example.atmosphere.cliTest"


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), env={}, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def private_session(tmp_path: Path, content: str) -> Path:
    directory = tmp_path / "cfg"
    directory.mkdir(mode=0o700)
    path = directory / "session"
    path.write_text(content + "\n")
    path.chmod(0o600)
    return path


# A session for a PDS nobody listens on: reaching the network would exit 5.
UNREACHABLE = (
    "alice.test:::did:plc:aaaaaaaaaaaaaaaaaaaaaaaa:::eyJhbGciOiJIUzI1NiJ9.e30.x"
    ":::eyJhbGciOiJIUzI1NiJ9.e30.y:::http://127.0.0.1:9"
)


# -- permissions (item 13) ---------------------------------------------------------


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722, 0o1777])
def test_a_directory_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    path = private_session(tmp_path, UNREACHABLE)
    path.parent.chmod(mode)
    code, out, err = run("--session-file", str(path), "whoami")
    assert code == EXIT_AUTH
    assert out == ""
    assert err.startswith("atmosphere: error: refusing the session directory")
    assert f"mode {mode:04o}" in err
    assert f"chmod 700 {path.parent}" in err
    assert path.read_text().strip() == UNREACHABLE  # refused, not touched


def test_login_into_a_writable_directory_is_refused_before_the_password(tmp_path: Path) -> None:
    directory = tmp_path / "cfg"
    directory.mkdir()
    directory.chmod(0o777)
    path = directory / "session"
    code, _, err = run(
        "--pds",
        "http://127.0.0.1:9",
        "--session-file",
        str(path),
        "login",
        "alice.test",
        "--password-stdin",
        stdin="s3cret-pw\n",
    )
    assert code == EXIT_AUTH  # not 5: nothing was sent anywhere
    assert "other users can write" in err
    assert "s3cret-pw" not in err
    assert not path.exists()


@pytest.mark.parametrize("mode", [0o666, 0o644, 0o640, 0o604])
def test_a_session_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = private_session(tmp_path, UNREACHABLE)
    path.chmod(mode)
    for argv in (("whoami",), ("ls", "com.example.atmosphere.cliTest")):
        code, out, err = run("--session-file", str(path), *argv)
        assert code == EXIT_AUTH
        assert out == ""
        assert err.startswith("atmosphere: error: refusing the session file")
        assert f"mode {mode:04o}" in err
        assert "atmosphere logout" in err
        assert UNREACHABLE.split(":::")[2] not in err
    assert path.stat().st_mode & 0o777 == mode  # nothing fixed silently


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def test_logout_still_revokes_an_exposed_session_file(tmp_path: Path, server: FaultServer) -> None:
    alice = server.register("alice.test", "pw")
    path = private_session(tmp_path, server.pds.session_string(alice))
    path.chmod(0o644)
    code, out, err = run("--pds", server.url, "--session-file", str(path), "logout")
    assert code == EXIT_OK, err
    assert "session revoked" in out
    assert server.received["com.atproto.server.deleteSession"] == 1
    assert not path.exists()


def test_a_private_file_in_a_private_directory_is_used(tmp_path: Path, server: FaultServer) -> None:
    alice = server.register("alice.test", "pw")
    path = private_session(tmp_path, server.pds.session_string(alice))
    code, out, err = run("--pds", server.url, "--session-file", str(path), "whoami")
    assert code == EXIT_OK, err
    assert out.startswith("alice.test ")


# -- shared refreshes (item 12), one process playing two --------------------------


def client_for(pds: FakePds, store: SessionFile) -> AtmosphereClient:
    return AtmosphereClient(
        pds.url,
        _client=httpx.Client(transport=httpx.MockTransport(pds)),
        on_session_change=store.save,
        session_lock=store.refresh_lock,
    )


@pytest.fixture
def pds() -> FakePds:
    return FakePds()


@pytest.fixture
def alice(pds: FakePds) -> Account:
    return pds.add_account("alice.test", "pw")


def test_a_session_another_process_refreshed_is_adopted(
    tmp_path: Path, pds: FakePds, alice: Account
) -> None:
    path = private_session(tmp_path, pds.session_string(alice))
    first, second = SessionFile(path), SessionFile(path)  # two processes' views
    with client_for(pds, first) as a, client_for(pds, second) as b:
        a.login_with_session(first.load())
        b.login_with_session(second.load())
        pds.expire_access_tokens()  # both now hold an access token the PDS refuses

        b.create_record(COLL, {"$type": COLL})
        assert pds.calls[REFRESH] == 1
        saved = path.read_text().strip()
        assert saved == b.export_session()

        # A's refresh token was rotated by B: A takes B's session from the file
        # instead of refreshing with its spent token (which would fail here, and
        # on the real PDS give an older session than the saved one).
        a.create_record(COLL, {"$type": COLL})
        assert pds.calls[REFRESH] == 1
        assert a.export_session() == saved
        assert path.read_text().strip() == saved


def test_a_logged_out_session_is_not_refreshed_back(
    tmp_path: Path, pds: FakePds, alice: Account
) -> None:
    path = private_session(tmp_path, pds.session_string(alice, access_exp=time.time() + 3600))
    store = SessionFile(path)
    with client_for(pds, store) as a:
        a.login_with_session(store.load())
        assert SessionFile(path).remove()  # another process logged out
        pds.expire_access_tokens()
        with pytest.raises(NotAuthenticatedError):
            a.create_record(COLL, {"$type": COLL})
        assert pds.calls[REFRESH] == 0
        assert not a.is_authenticated
    assert not path.exists()


def test_a_session_replaced_by_another_account_is_not_refreshed(
    tmp_path: Path, pds: FakePds, alice: Account
) -> None:
    bob = pds.add_account("bob.test", "pw")
    path = private_session(tmp_path, pds.session_string(alice))
    store = SessionFile(path)
    with client_for(pds, store) as a:
        a.login_with_session(store.load())
        bobs = pds.session_string(bob)
        SessionFile(path).save(bobs)  # the user logged in as bob elsewhere
        pds.expire_access_tokens()
        with pytest.raises(NotAuthenticatedError):
            a.create_record(COLL, {"$type": COLL})
        assert pds.calls[REFRESH] == 0
    assert path.read_text().strip() == bobs


def test_without_a_lock_the_client_refreshes_as_before(pds: FakePds, alice: Account) -> None:
    saved: list[str] = []
    with AtmosphereClient(
        pds.url,
        _client=httpx.Client(transport=httpx.MockTransport(pds)),
        on_session_change=saved.append,
    ) as client:
        client.login_with_session(pds.session_string(alice))
        pds.expire_access_tokens()
        client.create_record(COLL, {"$type": COLL})
        assert pds.calls[REFRESH] == 1
        assert saved == [client.export_session()]


def test_logout_refreshing_an_expired_session_does_not_wait_for_itself(
    tmp_path: Path, server: FaultServer
) -> None:
    # logout holds the lock while the client refreshes (and saves) inside it:
    # the lock must be reentrant, or the process waits for itself forever.
    alice = server.register("alice.test", "pw")
    path = private_session(tmp_path, server.pds.session_string(alice, access_exp=time.time() - 5))
    result = run_cli("--pds", server.url, "logout", tmp_path=tmp_path, session_file=path)
    assert result.code == EXIT_OK, result.stderr
    assert server.received[REFRESH] == 1
    assert server.received["com.atproto.server.deleteSession"] == 1
    assert not path.exists()


def test_the_lock_excludes_other_processes(tmp_path: Path) -> None:
    path = private_session(tmp_path, "old")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from atmosphere._cli.sessionfile import SessionFile\n"
            "with SessionFile(Path(sys.argv[1])).locked():\n"
            "    print('held', flush=True); time.sleep(1.5)\n",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        SessionFile(path).save("new")  # waits for the other process's lock
        waited = time.monotonic() - start
    finally:
        holder.communicate(timeout=30)
    assert waited >= 0.5
    assert path.read_text().strip() == "new"


def test_an_adopted_session_that_expires_too_is_refreshed_with_its_own_token(
    tmp_path: Path, pds: FakePds, alice: Account
) -> None:
    path = private_session(tmp_path, pds.session_string(alice))
    store = SessionFile(path)
    with client_for(pds, store) as a:
        a.login_with_session(store.load())
        newer = pds.session_string(alice, access_exp=time.time() - 5)  # saved by someone else
        SessionFile(path).save(newer)
        pds.expire_access_tokens()
        a.create_record(COLL, {"$type": COLL})
        refreshes = pds.sent(REFRESH)
        assert [r.bearer for r in refreshes] == [newer.split(":::")[3]]
        assert path.read_text().strip() == a.export_session() != newer
