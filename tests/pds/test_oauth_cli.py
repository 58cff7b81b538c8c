"""``atmosphere login --oauth`` end to end, as a subprocess, against the reference PDS.

``BROWSER`` points :mod:`webbrowser` at tests/support/oauth_consent.py, which signs
in and consents through the provider's own API and follows the redirect to the
command's loopback callback server, as a browser would.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from atmosphere import AtmosphereClient, AuthenticationError, OAuthGrantError, OAuthSession
from atmosphere._cli import EXIT_AUTH, EXIT_OK, EXIT_USAGE
from tests.support.cli import Result, error_line, run_cli
from tests.support.pds import PdsProcess

pytestmark = pytest.mark.pds

CONSENT = Path(__file__).resolve().parents[1] / "support" / "oauth_consent.py"
COLLECTION = "com.example.atmosphere.oauthCliTest"


def _cli(pds: PdsProcess, tmp_path: Path, *args: str, deny: bool = False) -> Result:
    alice = pds.account("alice.test")
    env = {
        "BROWSER": f"{sys.executable} {CONSENT} %s",
        "OAUTH_TEST_USERNAME": alice.handle,
        "OAUTH_TEST_PASSWORD": alice.password,
        "OAUTH_TEST_DENY": "1" if deny else "0",
        "ATMOSPHERE_ALLOW_PRIVATE_HOSTS": "1",
    }
    return run_cli(
        "--pds",
        pds.pds_url,
        "--plc-url",
        pds.plc_url,
        *args,
        tmp_path=tmp_path,
        session_file=tmp_path / "session",
        env=env,
        stdin="this must not be read\n",
    )


def test_login_oauth_then_write_upload_and_logout(pds: PdsProcess, tmp_path: Path) -> None:
    alice = pds.account("alice.test")
    login = _cli(pds, tmp_path, "--json", "login", "--oauth", alice.handle)
    assert login.code == EXIT_OK, login.stderr
    info = login.json()
    assert info["did"] == alice.did
    assert info["handle"] == alice.handle
    assert info["scope"] == "atproto transition:generic"
    assert f"{pds.pds_url}/oauth/authorize?" in login.stderr  # the URL, for a browserless machine

    session_file = tmp_path / "session"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    saved_text = session_file.read_text().strip()
    saved = OAuthSession.from_json(saved_text, allow_private_hosts=True)
    assert saved.did == alice.did
    for secret in (saved.access_token, saved.to_dict()["dpop_key"]["d"]):
        assert secret not in login.stdout + login.stderr

    whoami = _cli(pds, tmp_path, "--json", "whoami")
    assert whoami.code == EXIT_OK, whoami.stderr
    assert whoami.json() == {
        "did": alice.did,
        "handle": alice.handle,
        "pds": pds.pds_url,
        "scope": "atproto transition:generic",
    }

    record = tmp_path / "record.json"
    record.write_text(json.dumps({"$type": COLLECTION, "text": "from the CLI over OAuth"}))
    created = _cli(pds, tmp_path, "--json", "create", COLLECTION, str(record))
    assert created.code == EXIT_OK, created.stderr
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"a CLI blob over OAuth\n" * 1000)
    uploaded = _cli(pds, tmp_path, "--json", "blob", "upload", str(blob))
    assert uploaded.code == EXIT_OK, uploaded.stderr

    logout = _cli(pds, tmp_path, "--json", "logout")
    assert logout.code == EXIT_OK, logout.stderr
    assert logout.json()["revoked"] is True
    assert not session_file.exists()

    # The revoked session is dead at the server too.
    client = AtmosphereClient(pds.pds_url, plc_url=pds.plc_url, allow_private_hosts=True)
    with client, pytest.raises((OAuthGrantError, AuthenticationError)):
        client.login_with_session(saved_text)


def test_login_oauth_with_a_narrow_scope_and_a_denied_consent(
    pds: PdsProcess, tmp_path: Path
) -> None:
    alice = pds.account("alice.test")
    scope = "atproto repo:app.bsky.feed.post?action=create"
    login = _cli(pds, tmp_path, "--json", "login", "--oauth", alice.handle, "--scope", scope)
    assert login.code == EXIT_OK, login.stderr
    assert login.json()["scope"] == scope
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"$type": COLLECTION, "text": "outside the scope"}))
    refused = _cli(pds, tmp_path, "create", COLLECTION, str(record))
    assert refused.code == EXIT_AUTH
    assert "scope" in error_line(refused)
    assert _cli(pds, tmp_path, "logout").code == EXIT_OK

    denied = _cli(pds, tmp_path, "login", "--oauth", alice.handle, deny=True)
    assert denied.code == EXIT_AUTH
    assert "access_denied" in error_line(denied)
    assert not (tmp_path / "session").exists()


def test_login_oauth_usage_errors(pds: PdsProcess, tmp_path: Path) -> None:
    both = _cli(pds, tmp_path, "login", "--oauth", "--password-stdin", "alice.test")
    assert both.code == EXIT_USAGE
    scope_alone = _cli(pds, tmp_path, "login", "--scope", "atproto", "alice.test")
    assert scope_alone.code == EXIT_USAGE
