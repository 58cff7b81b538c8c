"""atdata 0.7's own flows with ``atmosphere.Atmosphere`` (``science.alt.dataset``).

Every test hands our client to atdata's publishers, loaders, blob store,
index or ``load_dataset`` exactly where atdata takes its own client, and
checks what atdata reads back from the real PDS (and, for the AppView
members, from a scripted AppView on loopback).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import atdata.atmosphere as atdata_atmosphere
import pytest
from atdata import load_dataset
from atdata.atmosphere import (
    DatasetLoader,
    DatasetPublisher,
    LabelLoader,
    LabelPublisher,
    LensLoader,
    PDSBlobStore,
    SchemaLoader,
    SchemaPublisher,
    VerificationLoader,
    VerificationPublisher,
)
from atdata.index import Index

from atmosphere import compute_cid
from tests.atdata.appview import AppView
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

NS = "science.alt.dataset"
LENS_COMMIT_CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"


@pytest.fixture
def appview() -> Iterator[AppView]:
    """A scripted AppView on loopback (fresh answers and log per test)."""
    with AppView() as view:
        yield view


@pytest.fixture
def atdata_plc_cache(pds: Any) -> Iterator[None]:
    """Teach atdata's module-level PDS cache the loopback PDS.

    ``AtmosphereIndexEntry.data_urls`` (used by ``load_dataset("@handle/name")``)
    resolves blob-stored datasets through atdata's own ``_resolve_pds_endpoint``,
    which asks ``https://plc.directory`` and nothing else (an atdata defect,
    not our client's): without this the flow needs the public network.
    """
    cache = atdata_atmosphere._pds_endpoint_cache
    saved = dict(cache)
    cache.update({acct.did: pds.pds_url for acct in pds.accounts})
    yield
    cache.clear()
    cache.update(saved)


def _jwt_claims(authorization: str) -> dict[str, Any]:
    token = authorization.removeprefix("Bearer ")
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# -- the client itself ---------------------------------------------------------


def test_login_classmethod_and_session(
    atmosphere_cls: Any, client_options: dict[str, Any], pds: Any
) -> None:
    acct = pds.account("alice.test")
    atmo = atmosphere_cls.login(acct.handle, acct.password, base_url=pds.pds_url, **client_options)
    assert isinstance(atmo, atmosphere_cls)
    assert atmo.is_authenticated
    assert (atmo.did, atmo.handle) == (acct.did, "alice.test")
    assert (atmo.has_appview, atmo.appview_url, atmo.appview_did) == (False, None, None)

    again = atmosphere_cls.from_session(
        atmo.export_session(), base_url=pds.pds_url, **client_options
    )
    assert (again.did, again.handle) == (acct.did, "alice.test")
    records, _ = again.list_records(f"{NS}.schema", limit=1)
    assert isinstance(records, list)


def test_from_env(atmosphere_cls: Any, pds: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    acct = pds.account("bob.test")
    monkeypatch.delenv("ATDATA_APPVIEW", raising=False)
    monkeypatch.delenv("ATDATA_PASSWORD", raising=False)
    monkeypatch.setenv("ATDATA_HANDLE", acct.handle)
    with pytest.raises(OSError, match="ATDATA_HANDLE and ATDATA_PASSWORD"):
        atmosphere_cls.from_env(base_url=pds.pds_url)

    monkeypatch.setenv("ATDATA_PASSWORD", acct.password)
    monkeypatch.setenv("ATDATA_PDS_URL", pds.pds_url)  # wins over base_url
    atmo = atmosphere_cls.from_env(base_url="http://localhost:9")
    assert atmo.did == acct.did
    assert not atmo.has_appview


def test_unauthenticated_errors(
    atmosphere_cls: Any, client_options: dict[str, Any], pds: Any
) -> None:
    atmo = atmosphere_cls(pds.pds_url, **client_options)
    assert not atmo.is_authenticated
    with pytest.raises(ValueError, match="Not authenticated"):
        _ = atmo.did
    with pytest.raises(ValueError, match="Not authenticated"):
        _ = atmo.handle
    with pytest.raises(ValueError, match="Not authenticated"):
        atmo.export_session()
    with pytest.raises(ValueError, match="must be authenticated"):
        atmo._ensure_authenticated()
    with pytest.raises(ValueError, match="must be authenticated"):
        atmo.upload_blob(b"x")


@pytest.mark.parametrize(
    ("given", "url", "did"),
    [
        ("did:web:datasets.example", "https://datasets.example", "did:web:datasets.example"),
        ("https://datasets.example/", "https://datasets.example", "did:web:datasets.example"),
        ("http://localhost:8443", "http://localhost:8443", "did:web:localhost%3A8443"),
        ("did:web:localhost%3A8443", "https://localhost:8443", "did:web:localhost%3A8443"),
    ],
)
def test_appview_configuration(
    atmosphere_cls: Any, client_options: dict[str, Any], given: str, url: str, did: str
) -> None:
    atmo = atmosphere_cls(appview=given, **client_options)
    assert (atmo.has_appview, atmo.appview_url, atmo.appview_did) == (True, url, did)


def test_appview_value_must_be_url_or_did_web(
    atmosphere_cls: Any, client_options: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="Invalid appview value"):
        atmosphere_cls(appview="datasets.example", **client_options)


def test_appview_members_need_an_appview(alice: Any) -> None:
    for call in (
        lambda: alice.xrpc_query(f"{NS}.describeService"),
        lambda: alice.xrpc_procedure(f"{NS}.publishSchema", {"record": {}}),
        lambda: alice.search_datasets("mnist"),
        lambda: alice.search_lenses(),
        lambda: alice.describe_service(),
        lambda: alice.get_entries(["at://did:plc:x/science.alt.dataset.entry/a"]),
        lambda: alice.get_entry_stats("at://did:plc:x/science.alt.dataset.entry/a"),
    ):
        with pytest.raises(Exception, match="requires an AppView"):
            call()
    too_many = [f"at://did:plc:x/{NS}.entry/{i}" for i in range(26)]
    with pytest.raises(ValueError, match="at most 25 URIs"):
        alice.get_entries(too_many)


def test_xrpc_query_goes_to_the_appview(make_client: Any, appview: AppView) -> None:
    atmo = make_client("alice.test", appview=appview.url)
    entry = {"uri": f"at://{atmo.did}/{NS}.entry/a", "name": "mnist"}
    appview.answers = {
        f"{NS}.searchDatasets": (200, {"entries": [entry]}),
        f"{NS}.searchLenses": (200, {"lenses": [{"name": "l"}]}),
        f"{NS}.describeService": (200, {"did": appview.did, "recordCount": {"entry": 1}}),
        f"{NS}.getEntries": (200, {"entries": [entry, entry]}),
        f"{NS}.getEntryStats": (200, {"views": 3, "searchAppearances": 1, "period": "day"}),
    }
    assert atmo.search_datasets(
        "mnist", tags=["vision", "small"], schema_ref="at://s", repo=atmo.did, limit=500
    ) == [entry]
    assert atmo.search_lenses(source_schema="at://a", target_schema="at://b", limit=5) == [
        {"name": "l"}
    ]
    assert atmo.describe_service() == {"did": appview.did, "recordCount": {"entry": 1}}
    assert atmo.get_entries(["at://u1", "at://u2"]) == [entry, entry]
    assert atmo.get_entry_stats("at://u1", period="day")["views"] == 3
    assert atmo.xrpc_query(f"{NS}.describeService", {"x": "1"})["did"] == appview.did

    (search,) = appview.requests_for(f"{NS}.searchDatasets")
    assert search.method == "GET"
    assert sorted(search.query) == sorted(
        [
            ("q", "mnist"),
            ("limit", "100"),
            ("tags", "vision"),
            ("tags", "small"),
            ("schemaRef", "at://s"),
            ("repo", atmo.did),
        ]
    )
    (lenses,) = appview.requests_for(f"{NS}.searchLenses")
    assert sorted(lenses.query) == [
        ("limit", "5"),
        ("sourceSchema", "at://a"),
        ("targetSchema", "at://b"),
    ]
    (entries,) = appview.requests_for(f"{NS}.getEntries")
    assert entries.query == [("uris", "at://u1"), ("uris", "at://u2")]
    (stats,) = appview.requests_for(f"{NS}.getEntryStats")
    assert sorted(stats.query) == [("period", "day"), ("uri", "at://u1")]
    for seen in appview.seen:
        assert "authorization" not in seen.headers, "AppView queries are unauthenticated"
        assert "atproto-proxy" not in seen.headers


def test_xrpc_query_failures(make_client: Any, appview: AppView) -> None:
    atmo = make_client("alice.test", appview=appview.url)
    appview.answers = {
        f"{NS}.getEntry": (500, {"error": "InternalServerError"}),
        f"{NS}.resolveLabel": (400, {"error": "InvalidRequest", "message": "no"}),
    }
    with pytest.raises(Exception, match=r"unavailable|500|InternalServerError"):
        atmo.xrpc_query(f"{NS}.getEntry", {"uri": "at://x"})
    with pytest.raises(Exception, match=r"400|InvalidRequest"):
        atmo.xrpc_query(f"{NS}.resolveLabel", {"name": "x"})
    port = appview.port
    appview.__exit__(None, None, None)  # the AppView goes away
    down = make_client("alice.test", appview=f"http://localhost:{port}")
    with pytest.raises(Exception):  # atdata raises AppViewUnavailableError
        down.describe_service()


def test_atdata_loaders_read_through_xrpc_query(make_client: Any, appview: AppView) -> None:
    atmo = make_client("alice.test", appview=appview.url)
    pages = iter(
        [
            (200, {"entries": [{"name": "e1"}, {"name": "e2"}], "cursor": "c1"}),
            (200, {"entries": [{"name": "e3"}]}),
        ]
    )
    appview.answers = {f"{NS}.listEntries": lambda seen: next(pages)}
    assert [e["name"] for e in DatasetLoader(atmo).list_all(limit=5)] == ["e1", "e2", "e3"]
    first, second = appview.requests_for(f"{NS}.listEntries")
    assert ("cursor", "c1") in second.query
    assert ("cursor", "c1") not in first.query


def test_xrpc_procedure_is_proxied_by_the_pds(make_client: Any, appview: AppView) -> None:
    atmo = make_client("alice.test", appview=appview.url)
    made = f"at://{atmo.did}/{NS}.schema/3kproxied"
    appview.answers = {f"{NS}.publishSchema": (200, {"uri": made, "cid": LENS_COMMIT_CID})}
    uri = SchemaPublisher(atmo).publish(Reading, version="3.0.0")
    assert str(uri) == made

    (seen,) = appview.requests_for(f"{NS}.publishSchema")
    assert seen.method == "POST"
    assert seen.body["record"]["$type"] == f"{NS}.schema"
    assert seen.body["record"]["name"] == "Reading"
    claims = _jwt_claims(seen.headers["authorization"])
    assert claims["iss"].split("#")[0] == atmo.did
    assert claims["aud"].split("#")[0] == appview.did
    assert claims["lxm"] == f"{NS}.publishSchema"


def test_resolve_did(alice: Any, bob: Any) -> None:
    assert alice.resolve_did("bob.test") == bob.did
    assert alice.resolve_did(bob.did) == bob.did


def test_upload_blob_takes_a_timeout(alice: Any) -> None:
    data = b"atdata blob " * 100
    ref = alice.upload_blob(data, mime_type="application/x-tar", timeout=30.0)
    assert ref == {
        "$type": "blob",
        "ref": {"$link": compute_cid(data)},
        "mimeType": "application/x-tar",
        "size": len(data),
    }


def test_list_records_returns_values_and_a_cursor(alice: Any) -> None:
    collection = f"{NS}.label"
    names = [unique("page") for _ in range(3)]
    for name in names:
        LabelPublisher(alice).publish(name, f"at://{alice.did}/{NS}.entry/x")
    seen: list[str] = []
    records, cursor = alice.list_records(collection, limit=2)
    assert len(records) == 2
    assert cursor
    seen += [r["name"] for r in records]
    while cursor:
        records, cursor = alice.list_records(collection, limit=2, cursor=cursor)
        seen += [r["name"] for r in records]
    assert set(names) <= set(seen)
    assert all(isinstance(r, dict) and r["$type"] == collection for r in records)


# -- atdata's flows --------------------------------------------------------------


def test_schema_publish_get_list(alice: Any) -> None:
    name = unique("ReadingSchema")
    uri = SchemaPublisher(alice).publish(
        Reading, name=name, version="2.1.0", description="readings"
    )
    assert str(uri).startswith(f"at://{alice.did}/{NS}.schema/")
    loader = SchemaLoader(alice)
    record = loader.get(uri)
    assert record["$type"] == f"{NS}.schema"
    assert (record["name"], record["version"]) == (name, "2.1.0")
    assert set(record["schema"]["properties"]) == {"name", "value"}
    assert name in [r.get("name") for r in loader.list_all()]
    assert name in [r.get("name") for r in alice.list_schemas()]
    # "@handle/Type@version": resolve_did + list_schemas(repo=did) values
    assert loader.get(f"@alice.test/{name}@2.1.0")["name"] == name
    assert loader.get_typed(uri).name == name


def test_another_account_reads(alice: Any, bob: Any, schema_uri: str) -> None:
    # atdata sends these to https://bsky.social; ours asks alice's own PDS.
    assert SchemaLoader(bob).get(schema_uri)["name"] == "Reading"
    assert "Reading" in [r.get("name") for r in SchemaLoader(bob).list_all(repo=alice.did)]
    assert "Reading" in [r.get("name") for r in bob.list_schemas(repo="alice.test")]


def test_dataset_publish_with_urls(alice: Any, schema_uri: str) -> None:
    uri, name = publish_urls(
        alice,
        schema_uri,
        description="two shards",
        tags=["demo"],
        license="MIT",
        metadata={"split": "train", "rows": 3},
    )
    loader = DatasetLoader(alice)
    record = loader.get(uri)
    assert record["$type"] == f"{NS}.entry"
    assert (record["name"], record["schemaRef"], record["tags"]) == (name, schema_uri, ["demo"])
    assert loader.get_storage_type(uri) == "http"
    assert loader.get_urls(uri) == list(SHARD_URLS)
    assert loader.get_metadata(uri) == {"split": "train", "rows": 3}
    assert name in [r.get("name") for r in loader.list_all()]
    assert name in [r.get("name") for r in alice.list_datasets()]


def test_dataset_publish_with_blobs_and_to_dataset(
    alice: Any, schema_uri: str, tmp_path: Path
) -> None:
    uri, samples, data = publish_blobs(alice, schema_uri, tmp_path, 5, tag="blob")
    loader = DatasetLoader(alice)
    assert loader.get_storage_type(uri) == "blobs"
    (entry,) = loader.get_blobs(uri)
    assert entry["blob"]["ref"] == {"$link": compute_cid(data)}
    assert entry["checksum"]["algorithm"] == "sha256"
    (url,) = loader.get_blob_urls(uri)
    assert parse_qs(urlsplit(url).query) == {"did": [alice.did], "cid": [compute_cid(data)]}
    assert alice.get_blob(alice.did, compute_cid(data)) == data
    assert pairs(loader.to_dataset(uri, Reading).ordered()) == pairs(samples)


def test_pds_blob_store_and_blob_refs(alice: Any, schema_uri: str, tmp_path: Path) -> None:
    samples = readings(4, tag="store")
    ds, data = shard(tmp_path, samples)
    store = PDSBlobStore(alice)
    result = store.write_shards(ds, prefix="store-test", timeout=30.0)
    cid = compute_cid(data)
    assert list(result) == [f"at://{alice.did}/blob/{cid}"]
    assert result.blob_refs == [
        {"$type": "blob", "ref": {"$link": cid}, "mimeType": "application/x-tar", "size": len(data)}
    ]
    assert store.read_url(result[0]) == alice.get_blob_url(alice.did, cid)

    uri = DatasetPublisher(alice).publish_with_blob_refs(
        result.blob_refs, schema_uri, name=unique("store")
    )
    assert pairs(DatasetLoader(alice).to_dataset(uri, Reading).ordered()) == pairs(samples)


def test_lens_publish_get_list_find(alice: Any, schema_uri: str) -> None:
    target = str(SchemaPublisher(alice).publish(Celsius, version="1.0.0"))
    uri, name = publish_lens(alice, schema_uri, target, tag="to-celsius", language="python")
    loader = LensLoader(alice)
    record = loader.get(uri)
    assert record["$type"] == f"{NS}.lens"
    assert (record["sourceSchema"], record["targetSchema"]) == (schema_uri, target)
    assert record["getterCode"]["path"] == LENS_CODE["getter_path"]
    assert name in [r.get("name") for r in loader.list_all()]
    assert name in [r.get("name") for r in alice.list_lenses()]
    assert name in [r.get("name") for r in loader.find_by_schemas(schema_uri, target)]
    assert loader.find_by_schemas(target) == []


def test_label_publish_get_list_resolve(alice: Any, bob: Any, schema_uri: str) -> None:
    dataset_uri = str(publish_urls(alice, schema_uri, tag="labelled")[0])
    name = unique("mnist")
    uri = LabelPublisher(alice).publish(name, dataset_uri, version="1.0.0", description="v1")
    loader = LabelLoader(alice)
    record = loader.get(uri)
    assert record["$type"] == f"{NS}.label"
    assert (record["name"], record["datasetUri"], record["version"]) == (
        name,
        dataset_uri,
        "1.0.0",
    )
    assert name in [r.get("name") for r in loader.list_all()]
    assert name in [r.get("name") for r in alice.list_labels()]
    assert loader.resolve("alice.test", name) == dataset_uri
    assert LabelLoader(bob).resolve(alice.did, name, version="1.0.0") == dataset_uri
    with pytest.raises(KeyError):
        loader.resolve("alice.test", name, version="9.9.9")


def test_verification_publish_get_find(alice: Any, schema_uri: str) -> None:
    lens_uri = str(publish_lens(alice, schema_uri, schema_uri)[0])
    uri = VerificationPublisher(alice).publish(
        lens_uri=lens_uri,
        lens_commit=LENS_COMMIT_CID,
        verification_method="codeReview",
        description="read it",
    )
    loader = VerificationLoader(alice)
    record = loader.get(uri)
    assert record["$type"] == f"{NS}.lensVerification"
    assert (record["lens"], record["lensCommit"]) == (lens_uri, LENS_COMMIT_CID)
    assert [r["lens"] for r in loader.list_for_lens(lens_uri)] == [lens_uri]
    assert lens_uri in [r["lens"] for r in loader.find_by_method("codeReview")]


def test_index_with_adapted_client(
    alice: Any, adapt: Any, tmp_path: Path, atdata_plc_cache: None
) -> None:
    index = Index(provider="sqlite", path=tmp_path / "index.db", atmosphere=adapt(alice))
    assert index.atmosphere is not None
    samples = readings(6, tag="index")
    name = unique("indexed")
    entry = index.write_samples(samples, name=f"@alice.test/{name}", description="six")
    assert entry.name == name
    assert entry.uri.startswith(f"at://{alice.did}/{NS}.entry/")

    assert index.get_dataset(entry.uri).name == name
    by_label = index.get_dataset(f"@alice.test/{name}")
    assert by_label.uri == entry.uri
    assert index.get_label(f"@alice.test/{name}").uri == entry.uri
    assert name in [e.name for e in index.list_datasets(repo="_atmosphere")]
    (url,) = by_label.data_urls
    assert parse_qs(urlsplit(url).query)["did"] == [alice.did]

    ds = load_dataset(f"@alice.test/{name}", index=index, split="train")
    assert pairs(ds.ordered()) == pairs(samples)


def test_load_dataset_from_at_uri(alice: Any, schema_uri: str, tmp_path: Path) -> None:
    uri, samples, _ = publish_blobs(alice, schema_uri, tmp_path, 5, tag="load")
    # sample_type=None: atdata decodes the schema record into a type itself.
    ds = load_dataset(str(uri), atmosphere=alice, split="train")
    assert pairs(ds.ordered()) == pairs(samples)
    typed = load_dataset(str(uri), Reading, atmosphere=alice, split="train")
    assert pairs(typed.ordered()) == pairs(samples)
