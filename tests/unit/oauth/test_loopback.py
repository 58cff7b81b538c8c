"""The one-shot loopback callback server and the ``oauth`` extra being optional."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import httpx
import pytest

from atmosphere._oauth.errors import OAuthCallbackError
from atmosphere._oauth.loopback import CallbackServer


def test_callback_is_captured_once_and_answered(capfd: pytest.CaptureFixture[str]) -> None:
    with CallbackServer() as server:
        assert server.redirect_uri == f"http://127.0.0.1:{server.port}/"
        client = server.client("atproto")
        assert client.redirect_uri == server.redirect_uri
        assert "redirect_uri=http%3A%2F%2F127.0.0.1%2F" in client.client_id
        with httpx.Client(trust_env=False) as http:
            assert http.get(f"http://127.0.0.1:{server.port}/favicon.ico").status_code == 404
            page = http.get(server.redirect_uri + "?state=s1&iss=https%3A%2F%2Fa&code=secret-code")
            assert page.status_code == 200
            assert "You may close this window" in page.text
            assert page.headers["cache-control"] == "no-store"
            again = http.get(server.redirect_uri + "?state=s2&code=other")
            assert again.status_code == 200
        assert server.wait(timeout=5) == {"state": "s1", "iss": "https://a", "code": "secret-code"}
    out, err = capfd.readouterr()  # http.server would log request lines to stderr
    assert "secret-code" not in out + err


def test_error_callbacks_get_their_own_page() -> None:
    with CallbackServer("/cb") as server, httpx.Client(trust_env=False) as http:
        assert server.redirect_uri.endswith("/cb")
        assert http.get(f"http://127.0.0.1:{server.port}/").status_code == 404
        page = http.get(server.redirect_uri + "?error=access_denied&state=s")
        assert "not granted" in page.text
        assert server.wait(1)["error"] == "access_denied"


def test_wait_times_out_and_close_frees_the_port() -> None:
    server = CallbackServer()
    port = server.port
    with server, pytest.raises(OAuthCallbackError):
        server.wait(timeout=0.2)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", trust_env=False, timeout=2)


def test_wait_returns_when_the_browser_arrives_later() -> None:
    with CallbackServer() as server:
        timer = threading.Timer(
            0.2, lambda: httpx.get(server.redirect_uri + "?code=c", trust_env=False)
        )
        timer.start()
        try:
            assert server.wait(timeout=10) == {"code": "c"}
        finally:
            timer.join()


def test_without_the_extra_import_works_and_oauth_names_it() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["cryptography"] = None  # as if the 'oauth' extra were not installed
        import atmosphere
        from atmosphere.errors import AtmosphereError, OAuthUnavailableError
        from atmosphere._oauth.client_id import loopback_client
        from atmosphere._oauth.dpop import NonceStore
        from atmosphere._oauth.keys import DpopKey
        import httpx
        from atmosphere._oauth import flow
        from atmosphere._oauth.drive import run_sync
        from atmosphere._oauth.identity import SimpleIdentityLookup
        try:
            DpopKey.generate()
        except OAuthUnavailableError as exc:
            assert isinstance(exc, AtmosphereError) and isinstance(exc, ImportError)
            print(exc)
        sent = []
        transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
        start = flow.start_from_identifier(
            "alice.example", loopback_client(5000),
            identity=SimpleIdentityLookup(handle_service="https://pds.example"),
            nonces=NonceStore(),
        )
        try:
            run_sync(start, httpx.Client(transport=transport))
        except OAuthUnavailableError:
            print("flow refused before sending", len(sent))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'atmosphere-atproto[oauth]'" in done.stdout
    assert "flow refused before sending 0" in done.stdout
