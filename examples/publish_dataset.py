"""Publish a small dataset the way atdata does, then read it back and clean up.

Against your own account (any PDS)::

    ATMOSPHERE_HANDLE=alice.bsky.social ATMOSPHERE_PASSWORD=app-password \\
        python examples/publish_dataset.py

Optional: ``ATMOSPHERE_PDS`` (skip PDS discovery), ``ATMOSPHERE_PLC_URL``
(another PLC directory), ``ATMOSPHERE_KEEP=1`` (leave the records in place).
``make demo`` runs the same flow against a local reference PDS.

The flow: publish a ``sampleSchema`` record, upload a few dataset shards as
blobs, publish a dataset ``record`` that references the schema and the blobs,
list schemas and datasets, resolve the author's identity, download a shard
through DID → PDS resolution and verify it, then delete what it created.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from atmosphere import AtmosphereClient, AtUri, compute_cid

Report = Callable[[str], None]

NUM_SHARDS = 3
SHARD_BYTES = 256 * 1024


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _make_shard(index: int, size: int) -> bytes:
    """Deterministic pseudo-random shard content (stands in for a WebDataset tar)."""
    out = bytearray()
    seed = f"shard-{index}".encode()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


def publish(client: AtmosphereClient, *, report: Report = print, keep: bool = False) -> None:
    """Walk the atdata flow with a logged-in client and report each step."""
    ns = client.namespace
    started = time.perf_counter()
    report(f"logged in as {client.handle} ({client.did}) on {client.pds_url}")

    schema_uri = client.create_record(
        f"{ns}.sampleSchema",
        {
            "$type": f"{ns}.sampleSchema",
            "name": "demo.ImageSample",
            "version": "1.0.0",
            "schemaType": "jsonSchema",
            "schema": {
                "type": "object",
                "properties": {"image": {"type": "string"}, "label": {"type": "integer"}},
                "required": ["image", "label"],
            },
            "createdAt": _now(),
        },
    )
    report(f"schema record     {schema_uri}")

    shards = [_make_shard(i, SHARD_BYTES) for i in range(NUM_SHARDS)]
    blob_refs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, shard in enumerate(shards):
            # Shards go up three ways a tool would hold them: a path, a file object, bytes.
            if i == 0:
                path = Path(tmp, "shard-000000.tar")
                path.write_bytes(shard)
                ref = client.upload_blob(path, "application/x-tar")
            elif i == 1:
                ref = client.upload_blob(io.BytesIO(shard), "application/x-tar")
            else:
                ref = client.upload_blob(shard, "application/x-tar")
            blob_refs.append(ref)
            report(f"uploaded shard {i}  {ref['ref']['$link']} ({ref['size']} bytes)")

    dataset_uri = client.create_record(
        f"{ns}.record",
        {
            "$type": f"{ns}.record",
            "name": "demo-images",
            "schemaRef": str(schema_uri),
            "storage": {"$type": f"{ns}.storageBlobs", "blobs": blob_refs},
            "metadata": {"shards": NUM_SHARDS, "bytes": NUM_SHARDS * SHARD_BYTES},
            "createdAt": _now(),
        },
    )
    report(f"dataset record    {dataset_uri}")

    schemas = client.list_schemas()
    datasets = client.list_datasets()
    report(f"listed            {len(schemas)} schema(s), {len(datasets)} dataset(s)")
    # list_datasets() returns record values, as atdata's does; URIs and CIDs
    # come with the project's own listing, iter_records() / list_record_page().
    listed = {rec["uri"] for rec in client.iter_records(f"{ns}.record")}
    if str(dataset_uri) not in listed or not any(d.get("name") == "demo-images" for d in datasets):
        raise SystemExit("the new dataset is missing from the listings")

    identity = client.resolver.resolve(client.did)
    report(
        f"identity          {identity.did} -> handle {identity.handle}, PDS {identity.pds_endpoint}"
    )

    # Read back as a stranger would: no session, the PDS found from the DID alone.
    with AtmosphereClient(
        resolver=client.resolver, allow_private_hosts=client.allow_private_hosts
    ) as reader:
        record = reader.get_record(dataset_uri)
        first = record["storage"]["blobs"][0]
        cid = first["ref"]["$link"]
        url = reader.get_blob_url(client.did, cid)
        data = reader.get_blob(client.did, cid)
    if data != shards[0] or compute_cid(data) != cid:
        raise SystemExit("downloaded shard does not match what was uploaded")
    report(f"downloaded shard  {cid} verified ({len(data)} bytes)")
    report(f"                  via {url}")

    if keep:
        report("kept the records (ATMOSPHERE_KEEP=1)")
    else:
        for uri in (dataset_uri, schema_uri):
            client.delete_record(uri)
        report(f"cleaned up        deleted {AtUri.parse(str(dataset_uri)).rkey} and schema")
    report(f"done in {time.perf_counter() - started:.2f} s")


def main() -> int:
    """Run against the account named by ``ATMOSPHERE_HANDLE`` / ``ATMOSPHERE_PASSWORD``."""
    handle = os.environ.get("ATMOSPHERE_HANDLE")
    password = os.environ.get("ATMOSPHERE_PASSWORD")
    if not handle or not password:
        print(
            "set ATMOSPHERE_HANDLE and ATMOSPHERE_PASSWORD (an app password), "
            "or run `make demo` for a local PDS",
            file=sys.stderr,
        )
        return 2
    options = {}
    if os.environ.get("ATMOSPHERE_PLC_URL"):
        options["plc_url"] = os.environ["ATMOSPHERE_PLC_URL"]
    with AtmosphereClient(os.environ.get("ATMOSPHERE_PDS"), **options) as client:
        client.login(handle, password)
        publish(client, keep=os.environ.get("ATMOSPHERE_KEEP") == "1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
