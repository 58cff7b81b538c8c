"""A small web app that signs users in with atproto OAuth (standard library only).

    pip install 'atmosphere-atproto[oauth]'
    python examples/oauth_web_app.py            # then open http://127.0.0.1:8080/

It drives the two split steps a web framework would: ``/login`` calls
``client.oauth_start(...)``, keeps the pending authorization server-side (keyed
by its ``state``) and redirects the browser to the authorization server;
``/callback`` calls ``client.oauth_finish(params, pending)``. The OAuth session
(tokens and DPoP key: secrets) stays on the server, found through a random
cookie; refreshed tokens are saved through ``on_session_change``. ``/post``
publishes a record as the user; ``/logout`` revokes the session.

Without ``OAUTH_CLIENT_ID`` the app is a loopback development client
(redirect ``http://127.0.0.1:<port>/callback``). Deployed on https, set
``OAUTH_CLIENT_ID`` to the URL of your client metadata document (it lists the
redirect URI, the scope, ``token_endpoint_auth_method: none`` and
``dpop_bound_access_tokens: true``) and ``OAUTH_REDIRECT_URI``.

Options: ``ATMOSPHERE_PDS`` (start from a PDS or entryway URL instead of
resolving handles), ``ATMOSPHERE_PLC_URL``, ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1``
(a local development PDS on loopback http), ``PORT`` (default 8080).
"""

from __future__ import annotations

import html
import os
import secrets
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from atmosphere import AtmosphereClient, AtmosphereError, PendingAuthorization

COLLECTION = "com.example.atmosphere.webDemo"


class Store:
    """Server-side state: pending authorizations by ``state``, sessions by cookie.

    A real app keeps these in its database (they hold secrets: never in a cookie).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[str, PendingAuthorization] = {}
        self.sessions: dict[str, str] = {}


class App:
    """The routes, over one :class:`Store`."""

    def __init__(self, port: int, store: Store | None = None) -> None:
        self.store = store or Store()
        self.client_id = os.environ.get("OAUTH_CLIENT_ID")
        self.redirect_uri = os.environ.get(
            "OAUTH_REDIRECT_URI", f"http://127.0.0.1:{port}/callback"
        )
        self.pds = os.environ.get("ATMOSPHERE_PDS")
        self.options: dict[str, Any] = {}
        if os.environ.get("ATMOSPHERE_PLC_URL"):
            self.options["plc_url"] = os.environ["ATMOSPHERE_PLC_URL"]

    def client(self, sid: str | None = None) -> AtmosphereClient:
        """A client for one request; with ``sid``, refreshed tokens are saved for that user."""

        def save(session: str) -> None:
            if sid is not None:
                with self.store.lock:
                    self.store.sessions[sid] = session

        return AtmosphereClient(self.pds, on_session_change=save, **self.options)

    def login(self, handle: str) -> str:
        """Step 1: the URL to send the browser to."""
        with self.client() as client:
            pending = client.oauth_start(
                handle, redirect_uri=self.redirect_uri, client_id=self.client_id
            )
        with self.store.lock:
            self.store.pending[pending.state] = pending
        return pending.url

    def callback(self, params: dict[str, str]) -> str:
        """Step 2: finish; the new user's cookie value."""
        with self.store.lock:
            pending = self.store.pending.pop(params.get("state", ""), None)
        if pending is None:
            raise LookupError("unknown or used state: start again")
        sid = secrets.token_urlsafe(24)
        with self.client(sid) as client:
            client.oauth_finish(params, pending)  # saves the session through on_session_change
        return sid

    def post(self, sid: str, text: str) -> str:
        """Publish a record as the signed-in user; its AT-URI."""
        with self.store.lock:
            saved = self.store.sessions[sid]
        with self.client(sid) as client:
            client.login_with_session(saved, verify=False)
            now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
            record = {"$type": COLLECTION, "text": text, "createdAt": now}
            return str(client.create_record(COLLECTION, record))

    def whoami(self, sid: str) -> str:
        with self.store.lock:
            saved = self.store.sessions[sid]
        with self.client(sid) as client:
            client.login_with_session(saved, verify=False)
            return f"{client.handle} ({client.did})"

    def logout(self, sid: str) -> None:
        with self.store.lock:
            saved = self.store.sessions.pop(sid, None)
        if saved is not None:
            with self.client() as client:
                client.login_with_session(saved, verify=False)
                client.logout()


def handler_for(app: App) -> type[BaseHTTPRequestHandler]:
    """The request handler class serving ``app``."""

    class Handler(BaseHTTPRequestHandler):
        def _sid(self) -> str | None:
            for part in self.headers.get("Cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == "sid" and value in app.store.sessions:
                    return value
            return None

        def _send(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
            data = body.encode()
            self.send_response(status)
            all_headers = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
            for name, value in all_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query))
            sid = self._sid()
            try:
                if url.path == "/":
                    if sid is None:
                        page = (
                            '<form action="/login">Handle: <input name="handle">'
                            "<button>Sign in</button></form>"
                        )
                    else:
                        who = html.escape(app.whoami(sid))
                        page = (
                            f"<p>Signed in as {who}</p>"
                            '<form action="/post"><input name="text"><button>Post</button></form>'
                            '<p><a href="/logout">Log out</a></p>'
                        )
                    self._send(200, page)
                elif url.path == "/login":
                    self._send(303, headers={"Location": app.login(params.get("handle", ""))})
                elif url.path == "/callback":
                    new = app.callback(params)
                    cookie = f"sid={new}; HttpOnly; SameSite=Lax; Path=/"
                    self._send(303, headers={"Location": "/", "Set-Cookie": cookie})
                elif url.path == "/post" and sid is not None:
                    uri = app.post(sid, params.get("text", "hello"))
                    self._send(200, f"<p>Published {html.escape(uri)}</p>")
                elif url.path == "/logout" and sid is not None:
                    app.logout(sid)
                    self._send(303, headers={"Location": "/", "Set-Cookie": "sid=; Max-Age=0"})
                else:
                    self._send(404, "<p>Not found</p>")
            except (AtmosphereError, LookupError) as exc:
                self._send(400, f"<p>Sign-in failed: {html.escape(str(exc))}</p>")

        def log_message(self, format: str, *args: Any) -> None:
            """Log nothing: callback URLs carry the authorization code."""

    return Handler


def serve(port: int = 8080) -> ThreadingHTTPServer:
    """The app's HTTP server on ``127.0.0.1:port`` (0: any free port; call ``serve_forever()``)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    server.RequestHandlerClass = handler_for(App(int(server.server_address[1])))
    return server


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    with serve(port) as httpd:
        print(f"Open http://127.0.0.1:{port}/")
        httpd.serve_forever()
