"""A scripted AppView on loopback: records every request, answers from a table.

atdata 0.7 sends queries straight to its AppView (``xrpc_query``) and
procedures to the user's PDS with ``atproto-proxy: <appview did>#atdata_appview``
(``xrpc_procedure``), which the PDS forwards with a service JWT. This server
stands in for the AppView in both roles: it serves its ``did:web`` document
at ``/.well-known/did.json`` and answers ``/xrpc/<nsid>`` from ``answers``.
It listens on 127.0.0.1 and ::1 (when available) so ``localhost`` reaches it
whichever address a client tries first.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Answer = tuple[int, Any]


@dataclass
class Seen:
    """One request the AppView received."""

    method: str
    nsid: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any


@dataclass
class AppView:
    """The running stub: ``url``, ``did``, ``answers`` (nsid -> answer) and ``seen``."""

    port: int = 0
    answers: dict[str, Answer | Callable[[Seen], Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    _servers: list[ThreadingHTTPServer] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        """``http://localhost:<port>``."""
        return f"http://localhost:{self.port}"

    @property
    def did(self) -> str:
        """``did:web:localhost%3A<port>`` (atdata's rule for a URL with a port)."""
        return f"did:web:localhost%3A{self.port}"

    def requests_for(self, nsid: str) -> list[Seen]:
        """The requests received for ``nsid``, oldest first."""
        return [s for s in self.seen if s.nsid == nsid]

    def __enter__(self) -> AppView:
        handler = _handler_for(self)
        first = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = first.server_address[1]
        self._servers.append(first)
        if socket.has_ipv6:
            try:
                six = _V6Server(("::1", self.port), handler)
            except OSError:
                pass
            else:
                self._servers.append(six)
        for server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _handler_for(view: AppView) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            if method == "GET" and parts.path == "/.well-known/did.json":
                self._reply(200, _did_document(view))
                return
            if not parts.path.startswith("/xrpc/"):
                self._reply(404, {"error": "NotFound"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            seen = Seen(
                method=method,
                nsid=parts.path.removeprefix("/xrpc/"),
                query=parse_qsl(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=json.loads(raw) if raw else None,
            )
            view.seen.append(seen)
            answer = view.answers.get(seen.nsid)
            if answer is None:
                self._reply(501, {"error": "MethodNotImplemented", "message": seen.nsid})
                return
            status, payload = answer(seen) if callable(answer) else answer
            self._reply(status, payload)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler


def _did_document(view: AppView) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": view.did,
        "service": [
            {
                "id": "#atdata_appview",
                "type": "AtdataAppView",
                "serviceEndpoint": view.url,
            }
        ],
    }
