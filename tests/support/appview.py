"""A small AppView on loopback, for testing service proxying through the real PDS.

It has a ``did:web`` identity the reference PDS can resolve (``did:web:localhost%3A<port>``,
document at ``http://localhost:<port>/.well-known/did.json``, service ``#atdata_appview`` of
type ``AtdataAppView`` whose endpoint is ``http://localhost:<port>``) and answers XRPC:

- :data:`QUERY` (``science.alt.dataset.getEntries``, GET, auth optional) echoes its
  params and the caller's DID;
- :data:`PROCEDURE` (``science.alt.dataset.putTestEntry``, POST, auth required) echoes
  its JSON input and the caller's DID;
- :data:`FAIL` (``science.alt.dataset.failWith``, GET or POST, auth optional) answers the
  XRPC error named by its params ``status``, ``error``, ``message`` (``error=-`` means no
  JSON body at all, an HTML page instead);
- any other NSID answers 501 ``MethodNotImplemented``; a handler set with :meth:`AppView.on`
  replaces or adds a method.

Every ``Authorization: Bearer`` token is verified as a service JWT
(:func:`tests.support.service_auth.verify_service_jwt`): audience = this AppView's DID
(bare, or with ``#atdata_appview``), ``lxm`` = the called NSID, not expired, signed by
the issuer's key from its DID document (``did:plc`` from the PLC directory given at
construction, ``did:web`` from its well-known URL). A bad token answers 401 with the
error name. Each request is recorded in :attr:`AppView.received` (headers, params,
body, the verified JWT or the refusal) for tests to assert on.

The server listens on ``127.0.0.1`` and, when the machine has IPv6 loopback, on
``[::1]`` with the same port (``localhost`` may resolve to either). Its threads are
daemons and :meth:`AppView.stop` closes open keep-alive connections too, so a
stopped AppView is really down. Ports are never reused within a process, because the
PDS caches DID documents by DID (= by port) for an hour.

Usage::

    with AppView(plc_url=pds.plc_url) as appview:
        httpx.get(f"{pds.pds_url}/xrpc/{QUERY}", headers={
            "authorization": f"Bearer {access_jwt}",
            "atproto-proxy": appview.proxy_header,
        })
        (call,) = appview.received
        assert call.auth is not None and call.auth.issuer_did == alice.did
"""

from __future__ import annotations

import contextlib
import errno
import http.server
import json
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from tests.support.service_auth import ServiceAuthError, VerifiedServiceJwt, verify_service_jwt

__all__ = [
    "FAIL",
    "PROCEDURE",
    "QUERY",
    "SERVICE_ID",
    "SERVICE_TYPE",
    "AppView",
    "Handler",
    "Received",
    "Reply",
]

QUERY = "science.alt.dataset.getEntries"
PROCEDURE = "science.alt.dataset.putTestEntry"
FAIL = "science.alt.dataset.failWith"
SERVICE_ID = "atdata_appview"
SERVICE_TYPE = "AtdataAppView"

AuthPolicy = Literal["optional", "required"]
_MAX_BODY = 16 * 1024 * 1024
_USED_PORTS: set[int] = set()
_USED_PORTS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Received:
    """One request as the AppView saw it, and what it answered.

    ``headers`` has lower-cased names (the ``authorization`` value is kept so tests
    can inspect the token; never log it). ``auth`` is the verified service JWT, or
    ``None`` when there was no token or it was refused (then ``auth_error`` is the
    XRPC error name answered with 401).
    """

    method: str
    path: str
    nsid: str | None
    params: Mapping[str, list[str]]
    headers: Mapping[str, str] = field(repr=False)
    body: bytes
    auth: VerifiedServiceJwt | None
    auth_error: str | None
    status: int

    def json(self) -> Any:
        """The request body parsed as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """An answer from a method handler: JSON-serialisable ``body`` unless it is bytes."""

    status: int = 200
    body: Any = None
    content_type: str = "application/json; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


#: A method handler: the request (auth already checked) -> the answer.
Handler = Callable[[Received], Reply]


@dataclass(frozen=True)
class _Method:
    handler: Handler
    http_methods: frozenset[str]
    auth: AuthPolicy


class AppView:
    """The loopback AppView; a context manager that starts and stops it."""

    def __init__(
        self,
        *,
        plc_url: str,
        service_id: str = SERVICE_ID,
        service_type: str = SERVICE_TYPE,
        endpoint: str | None = None,
        did_document: Mapping[str, Any] | None = None,
    ) -> None:
        """Bind the sockets (not yet serving; call :meth:`start` or use ``with``).

        ``endpoint`` overrides the ``serviceEndpoint`` published in the DID document
        (e.g. a closed port, to see the PDS fail to reach it); ``did_document``
        replaces the whole document.
        """
        self.plc_url = plc_url.rstrip("/")
        self.service_id = service_id
        self.service_type = service_type
        self._servers = _bind_loopback()
        self.port: int = self._servers[0].server_address[1]
        self.did = f"did:web:localhost%3A{self.port}"
        self.url = f"http://localhost:{self.port}"
        self._endpoint = endpoint or self.url
        self._did_document = dict(did_document) if did_document is not None else None
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._methods: dict[str, _Method] = {
            QUERY: _Method(_echo_query, frozenset({"GET"}), "optional"),
            PROCEDURE: _Method(_echo_procedure, frozenset({"POST"}), "required"),
            FAIL: _Method(_fail_with, frozenset({"GET", "POST"}), "optional"),
        }
        self._threads: list[threading.Thread] = []
        self._http = httpx.Client(trust_env=False, timeout=5.0)
        for server in self._servers:
            server.appview = self

    # -- identity ---------------------------------------------------------------

    @property
    def service_ref(self) -> str:
        """``<did>#<service id>``: the value of an ``atproto-proxy`` header for this AppView."""
        return f"{self.did}#{self.service_id}"

    proxy_header = service_ref

    def did_document(self) -> dict[str, Any]:
        """The DID document served at ``/.well-known/did.json``."""
        if self._did_document is not None:
            return dict(self._did_document)
        return {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": self.did,
            "service": [
                {
                    "id": f"#{self.service_id}",
                    "type": self.service_type,
                    "serviceEndpoint": self._endpoint,
                }
            ],
        }

    # -- methods and records ------------------------------------------------------

    def on(
        self,
        nsid: str,
        handler: Handler,
        *,
        methods: tuple[str, ...] = ("GET", "POST"),
        auth: AuthPolicy = "optional",
    ) -> None:
        """Serve ``nsid`` with ``handler`` (replacing a built-in one)."""
        with self._lock:
            self._methods[nsid] = _Method(handler, frozenset(methods), auth)

    @property
    def received(self) -> list[Received]:
        """XRPC requests so far (not the DID document fetches), oldest first."""
        with self._lock:
            return [r for r in self._received if r.nsid is not None]

    @property
    def did_document_fetches(self) -> int:
        """How many times ``/.well-known/did.json`` was fetched."""
        with self._lock:
            return sum(1 for r in self._received if r.path == "/.well-known/did.json")

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._received.clear()

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> AppView:
        """Serve in daemon threads; returns ``self``."""
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"appview-{self.port}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections, release the port; idempotent."""
        for server in self._servers:
            if self._threads:
                server.shutdown()
            server.close_connections()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._http.close()

    def __enter__(self) -> AppView:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"AppView(did={self.did!r}, url={self.url!r})"

    # -- request handling (called from server threads) --------------------------

    def _resolve_did_document(self, did: str) -> Mapping[str, Any]:
        if did.startswith("did:plc:"):
            url = f"{self.plc_url}/{did}"
        elif did.startswith("did:web:"):
            host = urllib.parse.unquote(did[len("did:web:") :])
            scheme = "http" if host.split(":")[0] == "localhost" else "https"
            url = f"{scheme}://{host}/.well-known/did.json"
        else:
            raise ServiceAuthError("BadJwtSignature", f"unsupported DID method in {did!r}")
        try:
            response = self._http.get(url)
        except httpx.HTTPError as exc:
            raise ServiceAuthError("BadJwtSignature", f"could not resolve {did}: {exc}") from None
        if response.status_code != 200:
            raise ServiceAuthError("BadJwtSignature", f"could not resolve {did}")
        document = response.json()
        if not isinstance(document, dict):
            raise ServiceAuthError("BadJwtSignature", f"DID document of {did} is not an object")
        return document

    def _authenticate(
        self, headers: Mapping[str, str], nsid: str, policy: AuthPolicy
    ) -> tuple[VerifiedServiceJwt | None, ServiceAuthError | None]:
        value = headers.get("authorization")
        if value is None:
            if policy == "required":
                return None, ServiceAuthError("AuthMissing", "Authentication Required")
            return None, None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None, ServiceAuthError("AuthMissing", "expected a Bearer service token")
        try:
            verified = verify_service_jwt(
                token.strip(),
                audiences=(self.did, self.service_ref),
                lxm=nsid,
                resolve_did_document=self._resolve_did_document,
            )
        except ServiceAuthError as exc:
            return None, exc
        return verified, None

    def _handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[Reply, Received | None]:
        parsed = urllib.parse.urlsplit(path)
        params = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        if parsed.path == "/.well-known/did.json" and method in ("GET", "HEAD"):
            reply = Reply(body=self.did_document())
            self._record(method, path, None, params, headers, body, None, None, reply.status)
            return reply, None
        if not parsed.path.startswith("/xrpc/"):
            return Reply(404, {"error": "NotFound", "message": "Not Found"}), None
        nsid = parsed.path[len("/xrpc/") :]
        with self._lock:
            entry = self._methods.get(nsid)
        if entry is None:
            reply = Reply(
                501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"}
            )
            return reply, self._record(method, path, nsid, params, headers, body, None, None, 501)
        if method not in entry.http_methods:
            expected = "/".join(sorted(entry.http_methods))
            reply = Reply(
                400,
                {
                    "error": "InvalidRequest",
                    "message": f"Incorrect HTTP method, expected {expected}",
                },
            )
            return reply, self._record(method, path, nsid, params, headers, body, None, None, 400)
        verified, refusal = self._authenticate(headers, nsid, entry.auth)
        if refusal is not None:
            reply = Reply(401, {"error": refusal.error, "message": refusal.message})
            received = self._record(
                method, path, nsid, params, headers, body, None, refusal.error, 401
            )
            return reply, received
        pending = Received(method, path, nsid, params, headers, body, verified, None, 0)
        try:
            reply = entry.handler(pending)
        except Exception as exc:
            reply = Reply(500, {"error": "InternalServerError", "message": repr(exc)})
        received = self._record(
            method, path, nsid, params, headers, body, verified, None, reply.status
        )
        return reply, received

    def _record(
        self,
        method: str,
        path: str,
        nsid: str | None,
        params: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
        auth: VerifiedServiceJwt | None,
        auth_error: str | None,
        status: int,
    ) -> Received:
        received = Received(
            method, path, nsid, params, dict(headers), body, auth, auth_error, status
        )
        with self._lock:
            self._received.append(received)
        return received


# -- built-in methods -----------------------------------------------------------


def _viewer(request: Received) -> str | None:
    return request.auth.issuer_did if request.auth is not None else None


def _echo_query(request: Received) -> Reply:
    return Reply(
        body={"nsid": request.nsid, "params": dict(request.params), "viewer": _viewer(request)}
    )


def _echo_procedure(request: Received) -> Reply:
    try:
        data = request.json()
    except ValueError:
        return Reply(400, {"error": "InvalidRequest", "message": "input is not JSON"})
    return Reply(
        body={
            "nsid": request.nsid,
            "viewer": _viewer(request),
            "input": data,
            "contentType": request.headers.get("content-type"),
        }
    )


def _fail_with(request: Received) -> Reply:
    status = int(request.params.get("status", ["400"])[0])
    error = request.params.get("error", ["InvalidRequest"])[0]
    message = request.params.get("message", [None])[0]
    headers = {}
    if "retryAfter" in request.params:
        headers["retry-after"] = request.params["retryAfter"][0]
    if error == "-":
        page = b"<html><body>appview says no</body></html>"
        return Reply(status, page, content_type="text/html", headers=headers)
    body: dict[str, Any] = {"error": error}
    if message is not None:
        body["message"] = message
    return Reply(status, body, headers=headers)


# -- HTTP plumbing --------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    appview: AppView

    def __init__(self, family: socket.AddressFamily, address: tuple[str, int]) -> None:
        self.address_family = family
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would do a reverse DNS lookup (getfqdn): skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "localhost"
        self.server_port = self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a peer went away (e.g. the PDS timed out a slow answer)."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "atmosphere-test-appview"
    sys_version = ""
    timeout = 30
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read :attr:`AppView.received` instead."""

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > _MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        if length > _MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            body = self._read_body()
        except ValueError:
            self._send(Reply(413, {"error": "PayloadTooLarge", "message": "too large"}))
            self.close_connection = True
            return
        reply, _ = self.server.appview._handle(self.command, self.path, headers, body)
        if reply.delay:
            time.sleep(reply.delay)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if isinstance(reply.body, bytes):
            payload = reply.body
        else:
            payload = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        self.send_header("content-length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _bind_loopback() -> list[_Server]:
    """Servers on 127.0.0.1 (and [::1] when it exists) sharing a port never used before."""
    with_v6 = _has_ipv6_loopback()
    for _ in range(50):
        v4 = _Server(socket.AF_INET, ("127.0.0.1", 0))
        port = v4.server_address[1]
        with _USED_PORTS_LOCK:
            fresh = port not in _USED_PORTS
            _USED_PORTS.add(port)
        if not fresh:
            v4.server_close()
            continue
        if not with_v6:
            return [v4]
        try:
            v6 = _Server(socket.AF_INET6, ("::1", port))
        except OSError as exc:
            v4.server_close()
            if exc.errno == errno.EADDRINUSE:
                continue
            raise
        return [v4, v6]
    raise RuntimeError("could not find a fresh loopback port for the AppView")
