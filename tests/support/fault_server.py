"""A real loopback HTTP server that plays PDS and PLC directory, and misbehaves on command.

The application logic is the in-memory :class:`~tests.support.fake_pds.FakePds`
(sessions, records, blobs) and :class:`~tests.support.fake_pds.FakePlc` (DID
documents); this module puts them behind a real socket on ``127.0.0.1`` so the
client's whole stack (httpx, httpcore, sockets, timeouts) is exercised. Each
request is keyed by its NSID (``/xrpc/<nsid>``) or else by its path; a test
queues :class:`Fault` objects per key, and each request takes the next one:

- answers the server never meant (``respond``, ``error``, ``rate_limited``,
  ``html``, ``wrong_type``, ``bad_json``, ``redirect``, ``oversized``);
- broken exchanges (``reset``: RST without an answer; ``reset_mid_body``:
  headers and half the body, then RST; ``truncated``: a ``Content-Length``
  the body never reaches; ``stall``: no answer for a while; ``trickle``: a
  body one byte at a time);
- ``slow``: a normal answer after a delay (to make races real).

Faults marked ``process=True`` let the application handle the request first
(a write lands) and break only the answer: the worst case for duplicates.
What arrived is counted in ``received`` (by key, faulted or not); what was
applied is in the fake PDS's state (``server.pds.accounts[...].records``).

Usage::

    with FaultServer() as server:
        alice = server.pds.add_account("alice.test", "pw")
        server.script("com.atproto.repo.getRecord", error(503), reset_mid_body())
        client = AtmosphereClient(server.url)
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import struct
import threading
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httpx

from tests.support.fake_pds import FakePds, FakePlc

__all__ = [
    "Fault",
    "FaultServer",
    "Received",
    "bad_json",
    "error",
    "html",
    "oversized",
    "rate_limited",
    "redirect",
    "reset",
    "reset_mid_body",
    "respond",
    "slow",
    "stall",
    "trickle",
    "truncated",
    "wrong_type",
]

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, consumed by one request."""

    kind: str
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    size: int = 0
    declared: bool = True
    process: bool = False


def respond(
    status: int,
    body: bytes | str = b"",
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Fault:
    """Answer ``status`` with ``body`` (the request is not processed)."""
    raw = body.encode() if isinstance(body, str) else body
    hdrs = (("Content-Type", content_type), *(headers or {}).items())
    return Fault("respond", status=status, body=raw, headers=hdrs)


def error(status: int, name: str | None = None, message: str = "scripted failure") -> Fault:
    """An XRPC error answer ``{"error": name, "message": ...}``."""
    payload = {"error": name or HTTPStatus(status).phrase.replace(" ", ""), "message": message}
    return respond(status, json.dumps(payload))


def rate_limited(
    *,
    reset_at: int | None = None,
    retry_after: str | None = None,
    limit: int = 30,
    remaining: int = 0,
) -> Fault:
    """``429 RateLimitExceeded`` with the reference PDS's headers (and ``Retry-After``)."""
    headers = {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Policy": f"{limit};w=300",
    }
    if reset_at is not None:
        headers["RateLimit-Reset"] = str(reset_at)
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = json.dumps({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"})
    return respond(429, body, headers=headers)


def html(status: int = 502) -> Fault:
    """A proxy's HTML error page."""
    phrase = HTTPStatus(status).phrase
    page = f"<html>\n<head><title>{status} {phrase}</title></head>\n<body>nginx</body>\n</html>\n"
    return respond(status, page, content_type="text/html")


def wrong_type() -> Fault:
    """``200`` with an HTML page where JSON belongs (a captive portal)."""
    return respond(
        200, "<!doctype html><html><body>Sign in to Wi-Fi</body></html>", content_type="text/html"
    )


def bad_json(*, process: bool = True) -> Fault:
    """A complete ``200`` answer whose JSON is cut off (``Content-Length`` matches)."""
    return Fault("bad_json", process=process)


def redirect(location: str, status: int = 302) -> Fault:
    """A redirect to ``location`` (the same URL makes a loop)."""
    return respond(status, b"", content_type="text/plain", headers={"Location": location})


def oversized(size: int, *, declared: bool = True, status: int = 200) -> Fault:
    """A JSON-typed body of ``size`` bytes, with or without a ``Content-Length``."""
    return Fault("oversized", status=status, size=size, declared=declared)


def reset(*, process: bool = False) -> Fault:
    """Read the request, then reset the connection without answering."""
    return Fault("reset", process=process)


def reset_mid_body(*, process: bool = True) -> Fault:
    """Send the headers and half the body, then reset the connection."""
    return Fault("reset_mid_body", process=process)


def truncated(*, process: bool = True) -> Fault:
    """Announce the full ``Content-Length``, send half the body, close cleanly."""
    return Fault("truncated", process=process)


def stall(seconds: float, *, process: bool = True) -> Fault:
    """Say nothing for ``seconds`` (the client's read timeout fires), then answer."""
    return Fault("stall", seconds=seconds, process=process)


def trickle(size: int, seconds_per_byte: float) -> Fault:
    """A ``200`` chunked body sent one byte every ``seconds_per_byte``."""
    return Fault("trickle", size=size, seconds=seconds_per_byte)


def slow(seconds: float) -> Fault:
    """Answer normally, after ``seconds``."""
    return Fault("slow", seconds=seconds, process=True)


@dataclass(frozen=True)
class Received:
    """One request as the server read it."""

    method: str
    path: str
    key: str
    headers: dict[str, str]
    body: bytes = field(repr=False)


class FaultServer:
    """The PDS (``/xrpc/...``, ``/.well-known/atproto-did``), PLC directory
    (``/did:plc:...``) and did:web host (``/.well-known/did.json``) on one
    loopback port, with a per-key queue of scripted faults.

    Attributes:
        url: ``http://127.0.0.1:<port>``, also the PDS's endpoint and PLC URL.
        pds: the fake PDS answering XRPC calls.
        plc: the fake PLC directory (``plc.documents[did] = {...}``).
        well_known: ``host -> DID`` answers for ``/.well-known/atproto-did``
            beyond the PDS's own accounts.
        did_web: ``host -> document`` for ``/.well-known/did.json``.
        received: requests seen, by key (NSID or path), faulted ones included.
        log: every :class:`Received` request, in order.
        bytes_sent: body bytes written per key for ``oversized``/``trickle``.
    """

    def __init__(self, *, port: int = 0) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._connections: set[socket.socket] = set()
        self.received: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self.log: list[Received] = []
        self.well_known: dict[str, str] = {}
        self.did_web: dict[str, dict[str, Any]] = {}
        self._httpd = _Server(("127.0.0.1", port), _Handler, self)
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.pds = FakePds(self.url)
        self.plc = FakePlc(self.url)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    # -- test controls ---------------------------------------------------------

    def script(self, key: str, *faults: Fault) -> None:
        """Queue faults for the next requests with this NSID (or path)."""
        with self._lock:
            self._faults[key].extend(faults)

    def pending(self, key: str) -> int:
        """Faults still queued for ``key``."""
        with self._lock:
            return len(self._faults[key])

    def register(self, handle: str, password: str) -> Any:
        """Add an account to the PDS and its DID document to the PLC directory."""
        account = self.pds.add_account(handle, password)
        self.plc.register(self.pds, account)
        return account

    # -- lifecycle -------------------------------------------------------------

    def close(self) -> None:
        """Stop serving, wake stalled handlers and drop open connections; idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- used by the handler ---------------------------------------------------

    def _arrived(self, entry: Received) -> Fault | None:
        with self._lock:
            self.received[entry.key] += 1
            self.log.append(entry)
            queue = self._faults.get(entry.key)
            return queue.popleft() if queue else None

    def _dispatch(self, entry: Received, host: str, query: str) -> tuple[int, str, bytes]:
        """The application's answer: (status, content type, body)."""
        path = entry.path
        if path == "/.well-known/atproto-did" and host.split(":")[0] in self.well_known:
            return 200, "text/plain", self.well_known[host.split(":")[0]].encode()
        if path == "/.well-known/did.json":
            doc = self.did_web.get(host.split(":")[0])
            if doc is None:
                return 404, "text/plain", b"not found"
            return 200, "application/json", json.dumps(doc).encode()
        url = f"http://{host}{path}" + (f"?{query}" if query else "")
        request = httpx.Request(entry.method, url, headers=entry.headers, content=entry.body)
        if path.startswith("/xrpc/") or path == "/.well-known/atproto-did":
            response = self.pds(request)
        elif path.startswith("/did:"):
            response = self.plc(request)
        else:
            response = httpx.Response(404, text="not found")
        ctype = response.headers.get("content-type", "application/octet-stream")
        return response.status_code, ctype, response.content


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs when 16 threads connect at once

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[http.server.BaseHTTPRequestHandler],
        app: FaultServer,
    ) -> None:
        self.app = app
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.app._lock:
            self.app._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.app._lock:
            self.app._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Broken connections are the point here: stay quiet."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    # -- reading ---------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- writing ---------------------------------------------------------------

    def _head(
        self, status: int, ctype: str, length: int | None, extra: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()

    def _answer(
        self, status: int, ctype: str, body: bytes, extra: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self._head(status, ctype, len(body), extra)
        self.wfile.write(body)

    def _rst(self) -> None:
        """Reset the connection (SO_LINGER 0 makes close() send RST)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    # -- serving ---------------------------------------------------------------

    def _serve(self) -> None:
        app = self.server.app
        path, _, query = self.path.partition("?")
        body = self._read_body()
        key = path[len("/xrpc/") :] if path.startswith("/xrpc/") else path
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = Received(self.command, path, key, headers, body)
        fault = app._arrived(entry)
        host = self.headers.get("Host", f"127.0.0.1:{app.port}")
        try:
            self._apply(app, fault, entry, host, query)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    def _apply(
        self, app: FaultServer, fault: Fault | None, entry: Received, host: str, query: str
    ) -> None:
        if fault is None:
            self._answer(*app._dispatch(entry, host, query))
            return
        answer = app._dispatch(entry, host, query) if fault.process else None
        kind = fault.kind
        if kind == "respond":
            self.send_response(fault.status)
            for name, value in fault.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(fault.body)))
            self.end_headers()
            self.wfile.write(fault.body)
        elif kind == "slow":
            app._stop.wait(fault.seconds)
            assert answer is not None
            self._answer(*answer)
        elif kind == "stall":
            app._stop.wait(fault.seconds)
            self._answer(*(answer or app._dispatch(entry, host, query)))
        elif kind == "reset":
            self._rst()
        elif kind in ("reset_mid_body", "truncated", "bad_json"):
            status, ctype, body = answer or (
                200,
                "application/json",
                b'{"pad": "' + b"x" * 200 + b'"}',
            )
            half = body[: max(1, len(body) // 2)]
            if kind == "bad_json":
                self._answer(status, ctype, half)
                return
            self._head(status, ctype, len(body))
            self.wfile.write(half)
            if kind == "reset_mid_body":
                self._rst()
            else:
                self.close_connection = True
        elif kind == "oversized":
            self._stream(app, entry.key, fault.status, fault.size, declared=fault.declared)
        elif kind == "trickle":
            self._trickle(app, entry.key, fault.size, fault.seconds)
        else:
            raise ValueError(f"unknown fault {kind!r}")

    def _stream(
        self, app: FaultServer, key: str, status: int, size: int, *, declared: bool
    ) -> None:
        self.close_connection = True
        self._head(status, "application/json", size if declared else None)
        block = b"[" + b"0," * (_CHUNK // 2 - 1) + b"0"
        sent = 0
        while sent < size and not app._stop.is_set():
            chunk = block[: size - sent]
            self.wfile.write(chunk if declared else b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            with app._lock:
                app.bytes_sent[key] += len(chunk)
        if not declared:
            self.wfile.write(b"0\r\n\r\n")

    def _trickle(self, app: FaultServer, key: str, size: int, seconds: float) -> None:
        self.close_connection = True
        self._head(200, "application/json", None)
        for _ in range(size):
            if app._stop.wait(seconds):
                return
            self.wfile.write(b"1\r\n \r\n")
            with app._lock:
                app.bytes_sent[key] += 1
        self.wfile.write(b"0\r\n\r\n")
