"""Peak memory of a client facing a hostile PDS (issue 13, items 5 and 10).

A loopback server plays a PDS (and the PLC directory naming it) that answers
``getBlob`` with an endless stream of zeros and ``listRecords`` with bodies
built to cost as much memory as possible once parsed. Each scenario runs in a
fresh interpreter that reports its own peak RSS (``VmHWM``, Linux) and what the
call raised; the baseline is the same interpreter making one harmless call.

    .venv/bin/python benchmarks/hostile_memory.py

This is a measurement, not a test: it asserts nothing and times nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
DID = "did:plc:mmmmmmmmmmmmmmmmmmmmmmmm"
COLL = "ac.foundation.dataset.record"
CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
MIB = 1024 * 1024


def _listing(kind: str) -> bytes:
    """A ``listRecords`` body of about 16 MiB (the listing cap) of the given shape."""
    target = 16 * MIB - 4096
    if kind == "empty-objects":  # [{},{},...]: refused by the density rule
        n = target // 3
        return b'{"records":[' + b"{}," * n + b"{}]}"
    if kind == "densest-accepted":
        # One record whose value is a dict of unique keys: one value per 17 bytes,
        # under the density limit, each costing a new key string.
        entries = ",".join(f'"k{i:011d}":0' for i in range(target // 17 - 100))
        uri = f"at://{DID}/{COLL}/k1"
        head = '{"records":[{"uri":"' + uri + '","cid":"bafyreib","value":{"$type":"' + COLL + '",'
        return (head + entries + "}}]}").encode()
    if kind == "big-strings":  # 100 records of ~160 KiB text each: the legit worst case
        text = "x" * (target // 100 - 200)
        recs = [
            {
                "uri": f"at://{DID}/{COLL}/k{i}",
                "cid": "bafyreib",
                "value": {"$type": COLL, "t": text},
            }
            for i in range(100)
        ]
        return json.dumps({"records": recs}).encode()
    raise ValueError(kind)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: ClassVar[dict[str, bytes]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        path = self.path.split("?", 1)[0]
        if path == f"/{DID}":
            doc = {
                "id": DID,
                "alsoKnownAs": ["at://mallory.test"],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": f"http://127.0.0.1:{port}",
                    }
                ],
            }
            self._send(200, json.dumps(doc).encode())
        elif path.endswith("getBlob"):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"\0" * (256 * 1024)
            try:
                for _ in range(16 * 1024):  # up to 4 GiB, unless the client hangs up
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                return
            self.wfile.write(b"0\r\n\r\n")
        elif path.endswith("listRecords"):
            self._send(200, self.bodies[self.headers.get("X-Shape", "empty-objects")])
        else:
            self._send(404, b'{"error":"MethodNotImplemented"}')


CHILD = r"""
import sys, tempfile, os
from atmosphere import AtmosphereClient
url, scenario = sys.argv[1], sys.argv[2]
DID, CID, COLL = sys.argv[3], sys.argv[4], sys.argv[5]
client = AtmosphereClient(plc_url=url, allow_private_hosts=True)
outcome = "ok"
try:
    if scenario == "baseline":
        client.resolver.resolve_pds(DID)
    elif scenario == "get_blob (default bound)":
        client.get_blob(DID, CID)
    elif scenario == "get_blob max_size=16 MiB":
        client.get_blob(DID, CID, max_size=16 * 1024 * 1024)
    elif scenario == "iter_blob (default bound, 1 GiB)":
        for _ in client.iter_blob(DID, CID):
            pass
    elif scenario == "download_blob (default bound, 1 GiB)":
        with tempfile.TemporaryDirectory() as tmp:
            client.download_blob(DID, CID, os.path.join(tmp, "blob"))
    else:
        shape = scenario.split(": ", 1)[1]
        client._http.headers["X-Shape"] = shape
        client.list_records(COLL, repo=DID)
except Exception as exc:
    outcome = f"{type(exc).__name__}: {str(exc)[:90]}"
# VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork+exec.
with open("/proc/self/status") as fh:
    hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
print(f"{hwm / 1024:.0f}\t{outcome}")
"""

SCENARIOS = [
    "baseline",
    "get_blob (default bound)",
    "get_blob max_size=16 MiB",
    "iter_blob (default bound, 1 GiB)",
    "download_blob (default bound, 1 GiB)",
    "listing: empty-objects",
    "listing: densest-accepted",
    "listing: big-strings",
]


def main() -> int:
    _Handler.bodies = {k: _listing(k) for k in ("empty-objects", "densest-accepted", "big-strings")}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"{'scenario':42} {'peak RSS':>9}  outcome")
    base = None
    try:
        for scenario in SCENARIOS:
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, url, scenario, DID, CID, COLL],
                capture_output=True,
                text=True,
                check=False,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                print(f"{scenario:42} failed: {proc.stderr.strip()[-300:]}")
                continue
            peak, outcome = proc.stdout.strip().split("\t", 1)
            base = float(peak) if base is None else base
            extra = f"(+{float(peak) - base:.0f})" if scenario != "baseline" else ""
            print(f"{scenario:42} {peak:>5} MiB {extra:>7}  {outcome}")
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
