"""atdata 0.3.0b1's own flows with ``atmosphere.AtmosphereClient`` (``ac.foundation.dataset``).

Every test hands our client to atdata's publishers, loaders, blob store,
index or ``load_dataset`` exactly where atdata takes its own client, and
checks what atdata reads back from the real PDS.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgpack
import pytest
from atdata import load_dataset
from atdata.atmosphere import (
    DatasetLoader,
    LensLoader,
    PDSBlobStore,
    SchemaLoader,
    SchemaPublisher,
)
from atdata.local import Index

from atmosphere import compute_cid
from tests.atdata.samples import (
    LENS_CODE,
    SHARD_URLS,
    Celsius,
    Reading,
    pairs,
    publish_blobs,
    publish_lens,
    publish_urls,
    readings,
    shard,
    unique,
)
from tests.atdata.shared_flows import (  # noqa: F401  (pytest runs the tests a module imports)
    test_network_beyond_loopback_is_refused,
    test_to_dataset_over_http_urls,
)

pytestmark = pytest.mark.pds

NS = "ac.foundation.dataset"


def test_session_surface(alice: Any, pds: Any) -> None:
    acct = pds.account("alice.test")
    assert alice.is_authenticated
    assert alice.did == acct.did
    assert alice.handle == "alice.test"
    alice._ensure_authenticated()  # atdata 0.3 defines it; its store checks `client.did`


def test_schema_publish_get_list(alice: Any) -> None:
    name = unique("ReadingSchema")
    uri = SchemaPublisher(alice).publish(
        Reading, name=name, version="2.1.0", description="readings"
    )
    assert str(uri).startswith(f"at://{alice.did}/{NS}.sampleSchema/")

    record = SchemaLoader(alice).get(uri)
    assert record["$type"] == f"{NS}.sampleSchema"
    assert record["name"] == name
    assert record["version"] == "2.1.0"
    assert [f["name"] for f in record["fields"]] == ["name", "value"]

    listed = SchemaLoader(alice).list_all()
    assert name in [r.get("name") for r in listed], "list_all must yield record values"


def test_schema_read_by_another_account(alice: Any, bob: Any, schema_uri: str) -> None:
    # atdata-on-the-SDK asks bob's own PDS; ours asks alice's PDS (same here).
    record = SchemaLoader(bob).get(schema_uri)
    assert record["name"] == "Reading"
    names = [r.get("name") for r in SchemaLoader(bob).list_all(repo=alice.did)]
    assert "Reading" in names


def test_dataset_publish_with_urls(alice: Any, schema_uri: str) -> None:
    uri, name = publish_urls(
        alice, schema_uri, description="two shards", tags=["demo"], license="MIT"
    )
    loader = DatasetLoader(alice)
    record = loader.get(uri)
    assert record["$type"] == f"{NS}.record"
    assert record["name"] == name
    assert record["schemaRef"] == schema_uri
    assert record["tags"] == ["demo"]
    assert loader.get_storage_type(uri) == "external"
    assert loader.get_urls(uri) == list(SHARD_URLS)
    assert name in [r.get("name") for r in loader.list_all()]


def test_dataset_metadata_bytes(alice: Any, schema_uri: str) -> None:
    # atdata 0.3 puts metadata in the record as msgpack *bytes*. The data
    # model's JSON form of bytes is {"$bytes": base64}: the client must write
    # that (atdata-on-the-SDK cannot: pydantic refuses non-UTF-8 bytes) and
    # give the record back as JSON, which atdata 0.7's decode_metadata_raw reads
    # (0.3's own get_metadata wants raw bytes back: an atdata 0.3 defect).
    uri, _ = publish_urls(
        alice, schema_uri, tag="meta-dataset", metadata={"split": "train", "rows": 3}
    )
    raw = DatasetLoader(alice).get(uri)["metadata"]
    assert set(raw) == {"$bytes"}
    padded = raw["$bytes"] + "=" * (-len(raw["$bytes"]) % 4)
    assert msgpack.unpackb(base64.b64decode(padded), raw=False) == {"split": "train", "rows": 3}


def test_dataset_publish_with_blobs_and_to_dataset(
    alice: Any, schema_uri: str, tmp_path: Path
) -> None:
    uri, samples, data = publish_blobs(alice, schema_uri, tmp_path, 5, tag="blob")
    loader = DatasetLoader(alice)
    assert loader.get_storage_type(uri) == "blobs"
    (blob,) = loader.get_blobs(uri)
    assert blob == {
        "$type": "blob",
        "ref": {"$link": compute_cid(data)},
        "mimeType": "application/x-tar",
        "size": len(data),
    }
    (url,) = loader.get_blob_urls(uri)
    query = parse_qs(urlsplit(url).query)
    assert query == {"did": [alice.did], "cid": [compute_cid(data)]}

    assert alice.get_blob(alice.did, compute_cid(data)) == data
    ds = loader.to_dataset(uri, Reading)
    assert pairs(ds.ordered()) == pairs(samples)


def test_pds_blob_store_write_and_resolve(alice: Any, pds: Any, tmp_path: Path) -> None:
    ds, _ = shard(tmp_path, readings(4, tag="store"))
    store = PDSBlobStore(alice)
    urls = store.write_shards(ds, prefix="store-test")
    assert len(urls) == 1
    did, kind, cid = urls[0].removeprefix("at://").split("/")
    assert (did, kind) == (alice.did, "blob")
    assert cid.startswith("bafkrei")
    http_url = store.read_url(urls[0])
    assert http_url.startswith(f"{pds.pds_url}/xrpc/com.atproto.sync.getBlob?")
    assert parse_qs(urlsplit(http_url).query) == {"did": [alice.did], "cid": [cid]}
    source = store.create_source(urls)
    assert source.blob_refs == [{"did": alice.did, "cid": cid}]


def test_lens_publish_get_list_find(alice: Any, schema_uri: str) -> None:
    target = str(SchemaPublisher(alice).publish(Celsius, version="1.0.0"))
    uri, name = publish_lens(
        alice, schema_uri, target, tag="to-celsius", description="value/10 as celsius"
    )
    loader = LensLoader(alice)
    record = loader.get(uri)
    assert record["$type"] == f"{NS}.lens"
    assert record["sourceSchema"] == schema_uri
    assert record["targetSchema"] == target
    assert record["getterCode"]["path"] == LENS_CODE["getter_path"]
    assert name in [r.get("name") for r in loader.list_all()]
    found = loader.find_by_schemas(schema_uri, target)
    assert name in [r.get("name") for r in found]
    assert loader.find_by_schemas(target) == []


def test_index_with_adapted_client(alice: Any, adapt: Any, schema_uri: str, tmp_path: Path) -> None:
    index = Index(provider="sqlite", path=tmp_path / "index.db", atmosphere=adapt(alice))
    ds, _ = shard(tmp_path, readings(3, tag="index"))
    name = unique("indexed")
    entry = index.insert_dataset(ds, name=f"@alice.test/{name}", schema_ref=schema_uri)
    assert entry.name == name
    assert entry.uri.startswith(f"at://{alice.did}/{NS}.record/")
    assert entry.data_urls == ds.list_shards()

    again = index.get_dataset(entry.uri)
    assert again.name == name
    assert again.schema_ref == schema_uri
    listed = index.list_datasets(repo="_atmosphere")
    assert name in [e.name for e in listed]


def test_load_dataset_from_blob_url(alice: Any, schema_uri: str, tmp_path: Path) -> None:
    # atdata 0.3's load_dataset has no at:// path and its "@handle/name" form
    # only looks in the local index; a blob URL from our client is what works.
    uri, samples, _ = publish_blobs(alice, schema_uri, tmp_path, 6, tag="load")
    (url,) = DatasetLoader(alice).get_blob_urls(uri)
    ds = load_dataset(url, Reading, split="train")
    assert pairs(ds.ordered()) == pairs(samples)
