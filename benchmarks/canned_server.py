"""A loopback HTTP/1.1 server that answers XRPC calls with canned JSON bodies.

It exists to measure *client* overhead: every answer is a prebuilt byte
string (status line, headers and body) written with one ``sendall``, so the
server's share of a call is a few tens of microseconds and identical for
every client. Stdlib only, one thread per connection, keep-alive.

Routes (by path; the query string is ignored):

- ``com.atproto.server.createSession`` -> a session for ``did:plc:...``
  with JWT-shaped tokens that expire in 30 days (so no client refreshes);
- ``com.atproto.repo.getRecord`` -> one atdata dataset record;
- ``com.atproto.repo.listRecords`` -> a full page of 100 such records and a cursor;
- anything else -> ``404 {"error": "MethodNotImplemented"}``.

The headers mirror what a production PDS sends (including the
``RateLimit-*`` set), so header handling is part of what gets measured.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import socket
import socketserver
import threading
import time
from typing import Any

__all__ = ["COLLECTION", "HANDLE", "PASSWORD", "CannedServer", "canned_fixture"]

COLLECTION = "ac.foundation.dataset.record"
HANDLE = "bench.test"
PASSWORD = "bench-password"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(payload: dict[str, Any], rng: random.Random) -> str:
    header = {"typ": "at+jwt", "alg": "HS256"}
    sig = bytes(rng.getrandbits(8) for _ in range(32))
    return (
        ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
        )
        + f".{_b64url(sig)}"
    )


def _dag_cbor_cid(seed: bytes) -> str:
    digest = hashlib.sha256(seed).digest()
    raw = bytes([0x01, 0x71, 0x12, 0x20]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def _tid(micros: int, clock_id: int) -> str:
    value = (micros << 10) | clock_id
    return "".join(_TID_CHARS[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


def canned_fixture(seed: int = 7) -> dict[str, Any]:
    """The identities and bodies the server answers with (deterministic)."""
    rng = random.Random(seed)
    did = "did:plc:" + "".join(rng.choice(_B32) for _ in range(24))
    now = int(time.time())
    access = _jwt(
        {
            "scope": "com.atproto.access",
            "sub": did,
            "iat": now,
            "exp": now + 30 * 86400,
            "aud": "did:web:bench.example.com",
        },
        rng,
    )
    refresh = _jwt(
        {
            "scope": "com.atproto.refresh",
            "sub": did,
            "aud": "did:web:bench.example.com",
            "jti": _b64url(rng.randbytes(24)),
            "iat": now,
            "exp": now + 90 * 86400,
        },
        rng,
    )
    session = {
        "did": did,
        "handle": HANDLE,
        "email": "bench@example.com",
        "emailConfirmed": True,
        "emailAuthFactor": False,
        "accessJwt": access,
        "refreshJwt": refresh,
        "active": True,
    }
    schema_uri = f"at://{did}/ac.foundation.dataset.sampleSchema/{_tid(1_700_000_000_000_000, 1)}"

    def envelope(i: int) -> dict[str, Any]:
        rkey = _tid(1_700_000_000_000_000 + i * 1_000_003, i % 1024)
        return {
            "uri": f"at://{did}/{COLLECTION}/{rkey}",
            "cid": _dag_cbor_cid(f"record-{i}".encode()),
            "value": {
                "$type": COLLECTION,
                "name": f"imagenet-shards-{i:05d}",
                "schemaRef": schema_uri,
                "description": "Sharded WebDataset tar files of 256x256 JPEG images with labels.",
                "license": "CC-BY-4.0",
                "tags": ["vision", "classification", "webdataset"],
                "storage": {
                    "$type": f"{COLLECTION}#storageExternal",
                    "urls": [
                        f"https://data.example.com/imagenet/shard-{i:06d}-{j}.tar" for j in range(2)
                    ],
                },
                "size": {"samples": 1_281_167, "bytes": 146_800_000_000 + i},
                "createdAt": "2025-01-15T12:34:56.789Z",
            },
        }

    records = [envelope(i) for i in range(100)]
    return {
        "did": did,
        "handle": HANDLE,
        "password": PASSWORD,
        "collection": COLLECTION,
        "session": session,
        "record": records[0],
        "rkey": records[0]["uri"].rsplit("/", 1)[1],
        "page": {"records": records, "cursor": records[-1]["uri"].rsplit("/", 1)[1]},
    }


def _response(status: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: keep-alive\r\n"
        "Keep-Alive: timeout=90\r\n"
        "Vary: Authorization, Accept-Encoding\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        "X-Powered-By: Express\r\n"
        "RateLimit-Limit: 3000\r\n"
        "RateLimit-Remaining: 2999\r\n"
        f"RateLimit-Reset: {int(time.time()) + 300}\r\n"
        "RateLimit-Policy: 3000;w=300\r\n"
        'ETag: W/"1f4-canned"\r\n'
        "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
        "\r\n"
    )
    return head.encode() + payload


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        routes = self.server.routes
        not_found = self.server.not_found
        rfile, wfile = self.rfile, self.wfile
        while True:
            line = rfile.readline(65537)
            if not line:
                return
            if line in (b"\r\n", b"\n"):
                continue
            parts = line.split(b" ")
            if len(parts) != 3:
                return
            length = 0
            close = False
            while True:
                header = rfile.readline(65537)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.partition(b":")
                key = name.strip().lower()
                if key == b"content-length":
                    length = int(value)
                elif key == b"connection" and value.strip().lower() == b"close":
                    close = True
            while length > 0:
                chunk = rfile.read(min(length, 1 << 20))
                if not chunk:
                    return
                length -= len(chunk)
            path = parts[1].split(b"?", 1)[0]
            wfile.write(routes.get(path, not_found))
            self.server.requests += 1
            if close:
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    routes: dict[bytes, bytes]
    not_found: bytes
    requests: int = 0


class CannedServer:
    """Serve :func:`canned_fixture` bodies on ``127.0.0.1:<free port>`` (context manager)."""

    def __init__(self, fixture: dict[str, Any] | None = None) -> None:
        self.fixture = fixture or canned_fixture()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        fx = self.fixture
        self._server.routes = {
            b"/xrpc/com.atproto.server.createSession": _response("200 OK", fx["session"]),
            b"/xrpc/com.atproto.repo.getRecord": _response("200 OK", fx["record"]),
            b"/xrpc/com.atproto.repo.listRecords": _response("200 OK", fx["page"]),
        }
        self._server.not_found = _response(
            "404 Not Found", {"error": "MethodNotImplemented", "message": "not canned"}
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="canned-server", daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def requests(self) -> int:
        """How many requests were answered."""
        return self._server.requests

    def __enter__(self) -> CannedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
