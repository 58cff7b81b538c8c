"""Real-PDS workload for one client (run in the measured env); prints one JSON line.

    python pds_worker.py CLIENT CONFIG.json

CLIENT is ``atmosphere`` or ``sdk`` (atproto). Phases, each timed:

- ``login``: ``createSession`` (the SDK with ``fetch_bsky_profile=False``:
  there is no AppView on a bare PDS);
- ``get_record``: 200 ``getRecord`` calls, each a different record;
- ``list_records``: all 1,000 records of a collection, following cursors;
- ``upload_<size>`` / ``download_<size>``: a blob from a file on disk to a
  blob ref, and from (DID, CID) back to a file on disk. atmosphere streams
  (``upload_blob(path)``, ``download_blob(did, cid, path)``); the SDK takes and
  returns ``bytes`` (``upload_blob(data)``, ``sync.get_blob(...)``), so its
  phase includes reading or writing the file.

For the blob phases the peak RSS growth is measured too: the kernel's peak
(``VmHWM``) is reset through ``/proc/self/clear_refs`` before the phase and
compared with the RSS at its start.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


class PeakRss:
    """Peak RSS growth of this process over a block, in bytes."""

    def __enter__(self) -> PeakRss:
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        self.start_kib = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_kib = _status_kib("VmHWM")
        self.growth = max(0, self.peak_kib - self.start_kib) * 1024


class AtmosphereRunner:
    def __init__(self, cfg: dict[str, Any]) -> None:
        from atmosphere import AtmosphereClient

        self.cfg = cfg
        self.client = AtmosphereClient(cfg["pds_url"])

    def login(self) -> None:
        self.client.login(self.cfg["handle"], self.cfg["password"])

    def get_record(self, rkey: str) -> str:
        value = self.client.get_record(f"at://{self.cfg['did']}/{self.cfg['collection']}/{rkey}")
        return str(value["name"])

    def list_all(self) -> int:
        return sum(1 for _ in self.client.iter_records(self.cfg["collection"]))

    def upload(self, path: str) -> str:
        ref = self.client.upload_blob(path, "application/octet-stream")
        return str(ref["ref"]["$link"])

    def download(self, cid: str, path: str) -> int:
        return self.client.download_blob(self.cfg["did"], cid, path)


class SdkRunner:
    def __init__(self, cfg: dict[str, Any]) -> None:
        from atproto import Client
        from atproto_client.request import Request

        self.cfg = cfg
        # The SDK's default httpx timeout (5 s) is too short for large blobs.
        self.client = Client(cfg["pds_url"], request=Request(timeout=300))

    def login(self) -> None:
        self.client.login(self.cfg["handle"], self.cfg["password"], fetch_bsky_profile=False)

    def get_record(self, rkey: str) -> str:
        answer = self.client.com.atproto.repo.get_record(
            {"repo": self.cfg["did"], "collection": self.cfg["collection"], "rkey": rkey}
        )
        value = answer.value
        return str(value["name"] if isinstance(value, dict) else value.name)

    def list_all(self) -> int:
        count = 0
        cursor = None
        while True:
            params = {"repo": self.cfg["did"], "collection": self.cfg["collection"], "limit": 100}
            if cursor:
                params["cursor"] = cursor
            page = self.client.com.atproto.repo.list_records(params)
            count += len(page.records)
            cursor = page.cursor
            if not cursor or not page.records:
                return count

    def upload(self, path: str) -> str:
        with open(path, "rb") as fh:
            data = fh.read()
        answer = self.client.upload_blob(data)
        return str(answer.blob.ref.link)

    def download(self, cid: str, path: str) -> int:
        data = self.client.com.atproto.sync.get_blob({"did": self.cfg["did"], "cid": cid})
        with open(path, "wb") as fh:
            fh.write(data)
        return len(data)


RUNNERS: dict[str, type[AtmosphereRunner] | type[SdkRunner]] = {
    "atmosphere": AtmosphereRunner,
    "sdk": SdkRunner,
}


def main() -> int:
    kind, cfg = sys.argv[1], json.loads(Path(sys.argv[2]).read_text())
    runner = RUNNERS[kind](cfg)
    out: dict[str, Any] = {"client": kind}
    clock = time.perf_counter

    t0 = clock()
    runner.login()
    out["login_s"] = clock() - t0

    runner.get_record(cfg["rkeys"][0])  # connection warm-up, not timed
    t0 = clock()
    for rkey in cfg["rkeys"]:
        runner.get_record(rkey)
    out["get_record_s"] = clock() - t0

    t0 = clock()
    listed = runner.list_all()
    out["list_records_s"] = clock() - t0
    if listed != cfg["expected_records"]:
        raise SystemExit(f"{kind}: listed {listed} records, expected {cfg['expected_records']}")

    for blob in cfg["blobs"]:
        label = blob["label"]
        with PeakRss() as rss:
            t0 = clock()
            cid = runner.upload(blob["path"])
            out[f"upload_{label}_s"] = clock() - t0
        out[f"upload_{label}_rss_bytes"] = rss.growth
        if cid != blob["cid"]:
            raise SystemExit(f"{kind}: uploaded {label} as {cid}, expected {blob['cid']}")
        target = cfg["download_path"]
        with PeakRss() as rss:
            t0 = clock()
            size = runner.download(blob["cid"], target)
            out[f"download_{label}_s"] = clock() - t0
        out[f"download_{label}_rss_bytes"] = rss.growth
        os.unlink(target)
        if size != blob["size"]:
            raise SystemExit(f"{kind}: downloaded {size} bytes of {label}, expected {blob['size']}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
