"""What the CLI prints cannot drive the terminal: server text is escaped, JSON stays JSON.

A hostile PDS (a real loopback server) answers with ESC/OSC/CSI sequences, C1
controls and bidi overrides in record values, error messages and handles.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atmosphere._cli import EXIT_OK, main
from atmosphere._cli.terminal import printable, safe_json
from tests.support.fault_server import FaultServer, error

COLL = "com.example.atmosphere.cliTest"
# OSC 0 retitles the window, OSC 8 plants a hyperlink, CSI 2J clears the
# screen; U+009B is a one-byte CSI for terminals that read C1; U+202E
# reverses what follows.
HOSTILE = "\x1b]0;pwned\x07\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\x1b[2J\x9b31m\u202etxt.exe\x7f"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\x7f")


def assert_inert(text: str) -> None:
    for char in RAW:
        assert char not in text, f"raw {char!r} reached the terminal: {text!r}"


def test_printable_escapes_controls_c1_and_bidi() -> None:
    assert printable("plain text, ünïcödé, emoji \U0001f600 \u200d") == (
        "plain text, ünïcödé, emoji \U0001f600 \u200d"
    )
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("line\nbreak\ttab\r") == "line\\x0abreak\\x09tab\\x0d"
    assert printable("\x9b\x85\x7f") == "\\x9b\\x85\\x7f"
    assert (
        printable("\u202eevil\u2066\u2069\u200f\u2028") == "\\u202eevil\\u2066\\u2069\\u200f\\u2028"
    )


def test_safe_json_is_still_the_same_json() -> None:
    value = {"name": HOSTILE, "nested": ["\u2029", "ok"], "n": 1}
    for indent in (None, 2):
        text = safe_json(json.dumps(value, ensure_ascii=False, indent=indent))
        assert_inert(text)
        assert "\u2029" not in text
        assert json.loads(text) == value
    assert safe_json('"ünï \U0001f600"') == '"ünï \U0001f600"'


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def run(tmp_path: Path, server: FaultServer, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--plc-url", server.url, "--session-file", str(tmp_path / "cfg" / "session"), *argv],
        env={"ATMOSPHERE_ALLOW_PRIVATE_HOSTS": "1"},  # the fake servers are on loopback
        stdin=io.StringIO(""),
        stdout=out,
        stderr=err,
    )
    return code, out.getvalue(), err.getvalue()


def test_record_values_are_escaped_in_every_output(tmp_path: Path, server: FaultServer) -> None:
    alice = server.register("alice.test", "pw")
    value: dict[str, Any] = {"$type": COLL, "name": HOSTILE}
    uri = server.pds.add_record(alice, COLL, value)

    code, out, err = run(tmp_path, server, "ls", COLL, "--repo", alice.did)
    assert code == EXIT_OK, err
    assert_inert(out + err)
    assert out.startswith(uri)

    for argv in (("--json", "ls", COLL, "--repo", alice.did), ("--json", "get", uri)):
        code, out, err = run(tmp_path, server, *argv)
        assert code == EXIT_OK, err
        assert_inert(out + err)
        decoded = json.loads(out)
        assert decoded.get("value", decoded) == value

    code, out, err = run(tmp_path, server, "get", uri)  # pretty JSON for humans
    assert code == EXIT_OK, err
    assert_inert(out)
    assert json.loads(out) == value


def test_error_messages_are_escaped(tmp_path: Path, server: FaultServer) -> None:
    alice = server.register("alice.test", "pw")
    uri = f"at://{alice.did}/{COLL}/3kabc"
    server.script("com.atproto.repo.getRecord", error(400, "InvalidRequest", HOSTILE))
    code, out, err = run(tmp_path, server, "get", uri)
    assert code != EXIT_OK
    assert out == ""
    assert_inert(err)
    assert err.startswith("atmosphere: error: ")
    assert "\\x1b]0;pwned" in err  # shown, not obeyed
    assert err.count("\n") == 1


def test_a_hostile_handle_is_escaped(tmp_path: Path, server: FaultServer) -> None:
    alice = server.register("alice.test", "pw")
    session = tmp_path / "cfg" / "session"
    session.parent.mkdir(mode=0o700)
    session.write_text(server.pds.session_string(alice) + "\n")
    session.chmod(0o600)
    alice.handle = "\x1b]0;pwned\x07evil\u202e.test"  # what getSession now answers
    code, out, err = run(tmp_path, server, "--pds", server.url, "whoami")
    # Refusing such a handle is as good as escaping it: it must not reach the
    # terminal raw either way.
    assert_inert(out + err)
    if code == EXIT_OK:
        assert "\\x1b]0;pwned" in out
