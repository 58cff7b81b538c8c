"""The same jobs against the real reference PDS: atmosphere vs the atproto SDK.

Uses the pinned PDS on loopback (``fixtures/pds``, ``make pds-install``; the
run's shared one when ``run_all.py`` started it, see ``_pds.py``),
seeds it over plain HTTP (1,000 records through ``applyWrites``, and the
benchmark blobs, each kept alive by a record that references it), then runs
``_workers/pds_worker.py`` for each client alternately, once per round:
login, 200 ``getRecord``, listing 1,000 records, and uploading and
downloading blobs of 64 MiB and 512 MiB (time and peak RSS growth). Each
figure is the median over the rounds.

    python benchmarks/bench_pds.py [--rounds N] [--sizes 64,512]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DATA_DIR,
    WORKERS,
    alternate,
    log,
    medians,
    run_json,
    save_result,
    worker_env,
)
from _pds import pds_server
from envs import ensure_envs

COLLECTION = "ac.foundation.dataset.record"
BLOB_HOLDER = "ac.foundation.dataset.benchBlob"
N_RECORDS = 1000
N_GETS = 200
CLIENTS = {"atmosphere": "atmosphere", "sdk": "sdk"}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def blob_cid(path: Path) -> str:
    """CIDv1, raw codec, sha2-256, base32 lower (``bafkrei...``) of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + digest.digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def blob_file(size_mib: int) -> Path:
    """A file of random bytes (made once, kept in ``.bench/data``)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"blob-{size_mib}MiB.bin"
    size = size_mib * 2**20
    if not path.is_file() or path.stat().st_size != size:
        log(f"pds: writing {path.name} ...")
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            for _ in range(size_mib):
                fh.write(os.urandom(2**20))
        tmp.replace(path)
    return path


def _xrpc(
    base: str,
    nsid: str,
    body: Any = None,
    *,
    token: str | None = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
) -> Any:
    hdrs = {"Accept": "application/json", **(headers or {})}
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(f"{base}/xrpc/{nsid}", data=data, headers=hdrs, method="POST")
    with _OPENER.open(req, timeout=600) as resp:
        raw = resp.read()
    return json.loads(raw) if raw.strip() else {}


def seed(pds_url: str, handle: str, password: str, blobs: list[Path]) -> dict[str, Any]:
    """Records and blobs the workers read; returns the session's DID and the blobs' CIDs."""
    session = _xrpc(
        pds_url, "com.atproto.server.createSession", {"identifier": handle, "password": password}
    )
    did, token = session["did"], session["accessJwt"]
    for start in range(0, N_RECORDS, 200):
        writes = [
            {
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": COLLECTION,
                "rkey": f"bench{i:04d}",
                "value": {
                    "$type": COLLECTION,
                    "name": f"dataset-{i:04d}",
                    "description": "Sharded WebDataset tar files of 256x256 JPEG images.",
                    "schemaRef": f"at://{did}/ac.foundation.dataset.sampleSchema/imagesample",
                    "storage": {
                        "$type": f"{COLLECTION}#storageExternal",
                        "urls": [
                            f"https://data.example.com/ds-{i:04d}/shard-{j}.tar" for j in range(2)
                        ],
                    },
                    "tags": ["vision", "bench"],
                    "createdAt": "2025-01-15T12:34:56.789Z",
                },
            }
            for i in range(start, min(start + 200, N_RECORDS))
        ]
        _xrpc(
            pds_url,
            "com.atproto.repo.applyWrites",
            {"repo": did, "validate": False, "writes": writes},
            token=token,
        )
    out = []
    for path in blobs:
        size = path.stat().st_size
        with path.open("rb") as fh:
            answer = _xrpc(
                pds_url,
                "com.atproto.repo.uploadBlob",
                token=token,
                data=fh,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )
        ref = answer["blob"]
        cid = blob_cid(path)
        if ref["ref"]["$link"] != cid:
            raise RuntimeError(f"PDS stored {path.name} as {ref['ref']['$link']}, expected {cid}")
        _xrpc(
            pds_url,
            "com.atproto.repo.createRecord",
            {
                "repo": did,
                "collection": BLOB_HOLDER,
                "validate": False,
                "record": {"$type": BLOB_HOLDER, "blob": ref, "createdAt": "2025-01-15T12:00:00Z"},
            },
            token=token,
        )
        label = path.stem.removeprefix("blob-")
        out.append({"label": label, "path": str(path), "size": size, "cid": cid})
    return {"did": did, "blobs": out}


def main(argv: list[str] | None = None) -> int:
    """Measure, then save ``.bench/results/pds.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="64,512", help="blob sizes in MiB, comma-separated")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    pythons = ensure_envs(("atmosphere", "sdk"))
    blobs = [blob_file(size) for size in sizes]
    env = worker_env()
    worker = str(WORKERS / "pds_worker.py")

    with pds_server() as pds:
        account = pds.accounts[0]
        log(f"pds: {pds.pds_url}; seeding {N_RECORDS} records and {len(blobs)} blobs ...")
        seeded = seed(pds.pds_url, account.handle, account.password, blobs)
        cfg = {
            "pds_url": pds.pds_url,
            "handle": account.handle,
            "password": account.password,
            "did": seeded["did"],
            "collection": COLLECTION,
            "rkeys": [f"bench{i * (N_RECORDS // N_GETS):04d}" for i in range(N_GETS)],
            "expected_records": N_RECORDS,
            "blobs": seeded["blobs"],
            "download_path": str(DATA_DIR / "download.part"),
        }
        cfg_path = DATA_DIR / "pds-worker.json"
        cfg_path.write_text(json.dumps(cfg))

        def run_one(client: str, _round: int) -> dict[str, Any]:
            return run_json(
                [str(pythons[CLIENTS[client]]), worker, client, str(cfg_path)],
                env=env,
                timeout=1200,
            )

        log(f"pds: 2 clients x {args.rounds} rounds")
        runs = alternate(list(CLIENTS), args.rounds, run_one, warmup=0, label="pds")

    keys = sorted(
        {k for client_runs in runs.values() for run in client_runs for k in run} - {"client"}
    )
    summary: dict[str, dict[str, float]] = {
        client: {key: medians(client_runs, key) for key in keys}
        for client, client_runs in runs.items()
    }
    samples = {
        client: {key: [run.get(key) for run in client_runs] for key in keys}
        for client, client_runs in runs.items()
    }
    save_result(
        "pds",
        {
            "rounds": args.rounds,
            "records": N_RECORDS,
            "gets": N_GETS,
            "blob_sizes_mib": sizes,
            "clients": summary,
            "samples": samples,
        },
    )
    for client, row in summary.items():
        parts = [f"login {row['login_s'] * 1000:.0f} ms", f"200 get {row['get_record_s']:.2f} s"]
        parts.append(f"list 1000 {row['list_records_s']:.2f} s")
        for size in sizes:
            for op in ("upload", "download"):
                secs = row.get(f"{op}_{size}MiB_s")
                growth = row.get(f"{op}_{size}MiB_rss_bytes")
                if secs is not None and growth is not None:
                    parts.append(f"{op} {size} MiB {secs:.2f} s (+{growth / 2**20:.0f} MiB)")
        log(f"  {client:11s} " + ", ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
