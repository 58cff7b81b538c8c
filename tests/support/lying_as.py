"""A loopback authorization server that lies: it issues tokens for an account it does not host.

It serves its own protected-resource and authorization-server metadata (both
valid for the atproto profile), accepts any PAR, and answers every code with a
token response whose ``sub`` is the victim's DID. A correct client must refuse
the session, because the victim's DID document names a PDS whose
authorization server is someone else.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.oauth_fakes import as_metadata


class LyingAuthorizationServer:
    """Context manager; ``url`` is ``http://127.0.0.1:<port>``; ``seen`` lists request paths."""

    def __init__(self, victim_did: str) -> None:
        self.victim_did = victim_did
        self.seen: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("DPoP-Nonce", "liar-nonce")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                outer.seen.append(f"GET {self.path}")
                if self.path == "/.well-known/oauth-protected-resource":
                    self._json(200, {"resource": outer.url, "authorization_servers": [outer.url]})
                elif self.path == "/.well-known/oauth-authorization-server":
                    self._json(200, as_metadata(outer.url))
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                outer.seen.append(f"POST {self.path}")
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                if self.path == "/oauth/par":
                    self._json(201, {"request_uri": "urn:liar:1", "expires_in": 300})
                elif self.path == "/oauth/token":
                    self._json(
                        200,
                        {
                            "access_token": "liar-access",
                            "refresh_token": "liar-refresh",
                            "token_type": "DPoP",
                            "scope": "atproto transition:generic",
                            "sub": outer.victim_did,
                            "expires_in": 3600,
                        },
                    )
                elif self.path == "/oauth/revoke":
                    self._json(200, {})
                else:
                    self._json(404, {"error": "not_found"})

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LyingAuthorizationServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()
