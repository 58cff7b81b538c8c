"""The OAuth examples (examples/oauth_login.py, examples/oauth_web_app.py) against the real PDS.

The browser is stood in for by the provider's own API (tests/support/oauth_provider.py)
and, for the script, by tests/support/oauth_consent.py as ``BROWSER``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.oauth_provider import approve
from tests.support.pds import PdsProcess

pytestmark = pytest.mark.pds

ROOT = Path(__file__).resolve().parents[2]
CONSENT = ROOT / "tests" / "support" / "oauth_consent.py"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def local_env(pds: PdsProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATMOSPHERE_PDS", pds.pds_url)
    monkeypatch.setenv("ATMOSPHERE_PLC_URL", pds.plc_url)
    monkeypatch.setenv("ATMOSPHERE_ALLOW_PRIVATE_HOSTS", "1")
    monkeypatch.delenv("OAUTH_CLIENT_ID", raising=False)
    monkeypatch.delenv("OAUTH_REDIRECT_URI", raising=False)


def test_the_script_example_signs_in_publishes_and_logs_out(
    pds: PdsProcess, tmp_path: Path, local_env: None
) -> None:
    alice = pds.account("alice.test")
    env = {
        **os.environ,
        "BROWSER": f"{sys.executable} {CONSENT} %s",
        "OAUTH_TEST_USERNAME": alice.handle,
        "OAUTH_TEST_PASSWORD": alice.password,
    }
    script = str(ROOT / "examples" / "oauth_login.py")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, script, alice.handle, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    first = run()
    assert first.returncode == 0, first.stderr
    assert f"Signed in as {alice.handle} ({alice.did})" in first.stdout
    assert "Published at://" in first.stdout
    assert (tmp_path / "oauth-session.json").stat().st_mode & 0o077 == 0
    second = run("--logout")
    assert second.returncode == 0, second.stderr
    assert "Restored the OAuth session" in second.stdout
    assert "Logged out" in second.stdout
    assert not (tmp_path / "oauth-session.json").exists()


def test_the_web_app_example_signs_in_posts_and_logs_out(pds: PdsProcess, local_env: None) -> None:
    alice = pds.account("alice.test")
    web = _load("oauth_web_app")
    server = web.serve(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with httpx.Client(base_url=base, trust_env=False, timeout=30) as browser:
            start = browser.get("/login", params={"handle": alice.handle})
            assert start.status_code == 303
            authorize = start.headers["location"]
            assert authorize.startswith(f"{pds.pds_url}/oauth/authorize?")
            redirect = approve(authorize, alice.handle, alice.password)
            assert redirect.startswith(f"{base}/callback?")
            back = browser.get(f"/callback?{urlsplit(redirect).query}")
            assert back.status_code == 303, back.text
            home = browser.get("/")
            assert f"Signed in as {alice.handle}" in home.text
            posted = browser.get("/post", params={"text": "from the web app example"})
            assert posted.status_code == 200
            assert f"at://{alice.did}/" in posted.text
            replay = browser.get(f"/callback?{urlsplit(redirect).query}")
            assert replay.status_code == 400  # the state was used up
            assert browser.get("/logout").status_code == 303
            assert "Sign in" in browser.get("/").text
    finally:
        server.shutdown()
        server.server_close()
