"""The loopback redirect target: a one-shot HTTP server on ``127.0.0.1``.

It listens on an ephemeral port, takes the first ``GET`` on the callback path,
answers it with a short page saying the window may be closed, and hands the
query parameters to :meth:`CallbackServer.wait`. Other paths (a browser's
``/favicon.ico``) get a 404. Nothing is logged: the query holds the code.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .client_id import DEFAULT_SCOPE, ClientIdentity, loopback_client
from .errors import OAuthCallbackError

__all__ = ["CallbackServer"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; margin: 3em;">
<h1>{title}</h1><p>{text}</p><p>You may close this window.</p>
</body></html>
"""


class _Server(HTTPServer):
    callback_path: str
    result: dict[str, str] | None
    done: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "atmosphere-oauth-callback"
    sys_version = ""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.callback_path:
            self._answer(404, "Not found", "This is not the sign-in callback.")
            return
        params: dict[str, str] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            params.setdefault(name, value)
        if self.server.result is None:
            self.server.result = params
        if "error" in params:
            self._answer(200, "Sign-in not completed", "The authorization was not granted.")
        else:
            self._answer(200, "Signed in", "The application has received the authorization.")
        self.server.done.set()

    def _answer(self, status: int, title: str, text: str) -> None:
        body = _PAGE.format(title=title, text=text).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: request lines carry the authorization code."""


class CallbackServer:
    """A one-shot redirect target on ``http://127.0.0.1:<ephemeral port><path>``.

    Use as a context manager; :meth:`wait` returns the callback's query parameters.
    """

    def __init__(self, path: str = "/", *, host: str = "127.0.0.1") -> None:
        """Bind now (so the port is known before the PAR); serve once entered."""
        self._server = _Server((host, 0), _Handler)
        self._server.callback_path = path
        self._server.result = None
        self._server.done = threading.Event()
        self._path = path
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on."""
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        """The exact ``redirect_uri`` to send in the PAR and token requests."""
        return f"http://127.0.0.1:{self.port}{self._path}"

    def client(self, scope: str = DEFAULT_SCOPE) -> ClientIdentity:
        """The loopback client identity that redirects here."""
        return loopback_client(self.port, scope=scope, path=self._path)

    def start(self) -> None:
        """Serve in a daemon thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="oauth-callback",
                daemon=True,
            )
            self._thread.start()

    def wait(self, timeout: float | None = 300.0) -> dict[str, str]:
        """The first callback's query parameters; :class:`OAuthCallbackError` on timeout."""
        self.start()
        if not self._server.done.wait(timeout):
            raise OAuthCallbackError(f"no authorization callback within {timeout:g} s")
        assert self._server.result is not None
        return dict(self._server.result)

    def close(self) -> None:
        """Stop serving and free the port (idempotent)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> CallbackServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CallbackServer({self.redirect_uri!r})"
