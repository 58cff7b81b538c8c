"""The ``atmosphere`` command line.

Argument parsing, the session file, exit codes and progress formatting,
in-process (tests/pds/test_cli_pds.py runs the command against the real PDS).
"""

from __future__ import annotations

import io
import stat
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from atmosphere import (
    AuthenticationError,
    BlobNotFoundError,
    DidResolutionError,
    IntegrityError,
    InvalidIdentifierError,
    InvalidRecordError,
    NetworkTimeoutError,
    NotAuthenticatedError,
    RecordNotFoundError,
    SessionRefreshError,
    TransportError,
    compute_cid,
)
from atmosphere._cli import (
    EXIT_AUTH,
    EXIT_ERROR,
    EXIT_NETWORK,
    EXIT_USAGE,
    build_parser,
    default_session_file,
    exit_code_for,
    load_session,
    main,
    save_session,
)
from atmosphere._cli.progress import ProgressBar, format_bytes, format_duration, render_progress
from tests.support.cli import error_line, run_cli

NS = "ac.foundation.dataset"
TEST_COLLECTION = "com.example.atmosphere.cliTest"


# -- fast tests: no PDS -----------------------------------------------------------


def test_format_bytes() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(5 * 1024**3) == "5.0 GiB"


def test_format_duration() -> None:
    assert format_duration(0) == "0:00"
    assert format_duration(65.4) == "1:05"
    assert format_duration(3 * 3600 + 61) == "3:01:01"


def test_render_progress_known_total() -> None:
    line = render_progress("upload x", 512 * 1024, 1024 * 1024, 2.0)
    assert line.startswith("upload x   50% [############............]")
    assert "512.0 KiB / 1.0 MiB" in line
    assert "256.0 KiB/s" in line
    assert "ETA 0:02" in line
    done = render_progress("upload x", 1024, 1024, 4.0)
    assert "100%" in done
    assert "in 0:04" in done


def test_render_progress_unknown_total() -> None:
    line = render_progress("download", 2048, None, 1.0)
    assert line == "download  2.0 KiB  2.0 KiB/s"
    assert "--" in render_progress("download", 0, None, 0.0)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_only_on_a_tty() -> None:
    quiet = io.StringIO()
    bar = ProgressBar(quiet, "x")
    bar(10, 100)
    bar.close()
    assert quiet.getvalue() == ""

    now = [0.0]
    tty = _Tty()
    bar = ProgressBar(tty, "x", interval=1.0, clock=lambda: now[0])
    now[0] = 0.5
    bar(10, 100)
    now[0] = 0.6
    bar(20, 100)  # throttled
    now[0] = 0.7
    bar(100, 100)  # the final state is always drawn
    bar.close()
    out = tty.getvalue()
    assert out.count("\r") == 2
    assert "100%" in out
    assert out.endswith("\n")


def test_global_options_work_before_and_after_the_command() -> None:
    parser = build_parser()
    before = parser.parse_args(["--json", "--pds", "http://a.example", "whoami"])
    after = parser.parse_args(["whoami", "--json", "--pds", "http://a.example"])
    for args in (before, after):
        assert args.json is True
        assert args.pds == "http://a.example"
    plain = parser.parse_args(["--pds", "http://a.example", "whoami"])
    assert plain.json is False
    assert plain.pds == "http://a.example"


def test_parser_reads_commands() -> None:
    parser = build_parser()
    args = parser.parse_args(["ls", "app.bsky.feed.post", "--repo", "alice.test", "--limit", "7"])
    assert (args.collection, args.repo, args.limit, args.array) == (
        "app.bsky.feed.post",
        "alice.test",
        7,
        False,
    )
    args = parser.parse_args(["schemas"])
    assert (args.command, args.limit, args.repo) == ("schemas", 100, None)
    args = parser.parse_args(["get", "at://did:plc:abc/app.bsky.feed.post/3k2a"])
    assert args.uri.rkey == "3k2a"
    cid = compute_cid(b"x")
    args = parser.parse_args(["blob", "get", "did:plc:abc", cid, "-o", "out.bin"])
    assert (args.did, args.cid, args.output) == ("did:plc:abc", cid, "out.bin")


@pytest.mark.parametrize(
    "argv",
    [
        ["get", "not-an-at-uri"],
        ["get", "at://did:plc:abc/app.bsky.feed.post"],  # names no record
        ["ls", "not an nsid"],
        ["ls", "app.bsky.feed.post", "--limit", "0"],
        ["put", "app.bsky.feed.post", "a/b", "x.json"],
        ["blob", "get", "did:plc:abc", "not-a-cid", "-o", "x"],
        ["resolve", "-bad-"],
        ["--pds", "ftp://x", "whoami"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == EXIT_USAGE
    assert "atmosphere" in capsys.readouterr().err


def test_default_session_file() -> None:
    assert default_session_file({"XDG_CONFIG_HOME": "/cfg"}) == Path("/cfg/atmosphere/session")
    home = Path.home() / ".config" / "atmosphere" / "session"
    assert default_session_file({}) == home
    assert default_session_file({"XDG_CONFIG_HOME": "relative"}) == home


def test_save_session_is_private_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "session"
    save_session(path, "first")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_session(path) == "first"
    path.chmod(0o644)  # a loosened file is replaced by a private one
    save_session(path, "second")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_session(path) == "second"
    # no temp files left; the lock file stays (removing it would race with waiters)
    assert sorted(p.name for p in path.parent.iterdir()) == [".session.lock", "session"]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (AuthenticationError(401, "AuthenticationRequired", "Invalid identifier or password"), 3),
        (SessionRefreshError(400, "ExpiredToken", "Token has been revoked"), 3),
        (NotAuthenticatedError("not authenticated"), 3),
        (RecordNotFoundError(400, "RecordNotFound", "Could not locate record"), 4),
        (BlobNotFoundError(400, "InvalidRequest", "Blob not found"), 4),
        (DidResolutionError("did:plc:abc", "DID not found"), 4),
        (TransportError("connection refused"), 5),
        (NetworkTimeoutError("timed out"), 5),
        (InvalidIdentifierError("AT-URI", "x"), 2),
        (InvalidRecordError("record has no '$type' field"), 1),
        (IntegrityError("bafkreia", "bafkreib"), 1),
    ],
)
def test_exit_codes(error: Exception, code: int) -> None:
    assert exit_code_for(error) == code


def test_missing_session_file_is_an_auth_error(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    missing = tmp_path / "nope" / "session"
    code = main(["--session-file", str(missing), "whoami"], env={}, stdout=out, stderr=err)
    assert code == EXIT_AUTH
    assert out.getvalue() == ""
    assert err.getvalue().startswith("atmosphere: error: not logged in")
    assert str(missing) in err.getvalue()


def test_record_file_must_be_an_object_with_type(tmp_path: Path) -> None:
    session = tmp_path / "session"
    session.write_text("unused")
    for content, message in (
        ('{"name": "x"}', '"$type"'),
        ("[1, 2]", "JSON object"),
        ("{not json", "not valid JSON"),
    ):
        err = io.StringIO()
        code = main(
            ["--session-file", str(session), "create", TEST_COLLECTION, "-"],
            env={},
            stdin=io.StringIO(content),
            stdout=io.StringIO(),
            stderr=err,
        )
        assert code == EXIT_ERROR
        assert message in err.getvalue()
        assert err.getvalue().count("\n") == 1


def test_unreachable_pds_exits_5(tmp_path: Path) -> None:
    session = tmp_path / "session"
    result = run_cli(
        "--pds",
        "http://127.0.0.1:9",
        "login",
        "alice.test",
        "--password-stdin",
        tmp_path=tmp_path,
        session_file=session,
        stdin="s3cret-pw\n",
    )
    assert result.code == EXIT_NETWORK
    assert "network error" in error_line(result)
    assert "s3cret-pw" not in result.stdout + result.stderr
    assert not session.exists()


def test_env_var_settings_are_used(tmp_path: Path) -> None:
    session = tmp_path / "from-env"
    result = run_cli(
        "whoami",
        tmp_path=tmp_path,
        env={"ATMOSPHERE_SESSION_FILE": str(session)},
    )
    assert result.code == EXIT_AUTH
    assert str(session) in result.stderr
    result = run_cli("whoami", tmp_path=tmp_path, env={"ATMOSPHERE_PDS": "not-a-url"})
    assert result.code == EXIT_USAGE
    assert "ATMOSPHERE_PDS" in error_line(result)


def test_console_script_is_declared() -> None:
    scripts = entry_points(group="console_scripts", name="atmosphere")
    assert [ep.value for ep in scripts] == ["atmosphere._cli:main"]


def test_default_session_file_follows_xdg(tmp_path: Path) -> None:
    result = run_cli("whoami", tmp_path=tmp_path)
    assert result.code == EXIT_AUTH
    assert str(tmp_path / "xdg" / "atmosphere" / "session") in result.stderr
