"""AtmosphereClient against the real reference PDS (and a local PLC + loopback DNS).

Every test here carries the ``pds`` marker; the PDS is started once per
session by the ``pds`` fixture in conftest.py and never skipped.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from atmosphere import (
    AtmosphereClient,
    AtUri,
    AuthenticationError,
    BlobNotFoundError,
    HandleResolutionError,
    IdentityResolver,
    InvalidArgumentError,
    InvalidIdentifierError,
    InvalidRecordError,
    InvalidSwapError,
    NotAuthenticatedError,
    RecordNotFoundError,
    SessionRefreshError,
    XrpcError,
    compute_cid,
)
from tests.support.dns_server import DnsServer
from tests.support.flavours import Flavour
from tests.support.pds import PdsProcess, mint_expired_access_token
from tests.support.routing import RoutingTransport

pytestmark = pytest.mark.pds

NS = "ac.foundation.dataset"
COLL = "com.example.atmosphere.item"


def _record(collection: str = COLL, **fields: Any) -> dict[str, Any]:
    return {"$type": collection, "createdAt": "2026-11-28T00:00:00.000Z", **fields}


def _blob(size: int, seed: str = "x") -> bytes:
    block = hashlib.sha256(seed.encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture
def resolver(
    pds: PdsProcess, dns_server: DnsServer, flavour: Flavour
) -> Iterator[IdentityResolver]:
    """A resolver of the test's flavour that sees the local PLC, the loopback DNS
    and the PDS's well-known."""
    routes = {a.handle: pds.pds_url for a in pds.accounts}
    http = flavour.http(transport=RoutingTransport(routes, passthrough=True))
    with flavour.resolver(
        http=http, dns_resolver=dns_server.make_resolver(), plc_url=pds.plc_url, timeout=5
    ) as res:
        yield res


@pytest.fixture
def make_client(flavour: Flavour) -> Callable[..., Any]:
    """Build an ``AtmosphereClient`` or, in the async run, a sync view of an
    ``AsyncAtmosphereClient`` (the ``flavour`` fixture): the same tests drive both."""

    def make(base_url: str | None = None, *, count: Counter | None = None, **kwargs: Any) -> Any:
        if count is not None:
            kwargs["_client"] = flavour.http(event_hooks={"request": [flavour.callback(count)]})
        return flavour.client(base_url, **kwargs)

    return make


@pytest.fixture
def alice(pds: PdsProcess, resolver: IdentityResolver, make_client: Any) -> Iterator[Any]:
    acct = pds.account("alice.test")
    with make_client(pds.pds_url, resolver=resolver) as client:
        client.login(acct.handle, acct.password)
        yield client


@pytest.fixture
def bob(pds: PdsProcess, resolver: IdentityResolver, make_client: Any) -> Iterator[Any]:
    acct = pds.account("bob.test")
    with make_client(pds.pds_url, resolver=resolver) as client:
        client.login(acct.handle, acct.password)
        yield client


class Counter:
    """Counts the requests an injected httpx client sends."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)


# -- sessions ------------------------------------------------------------------


def test_login_by_handle(pds: PdsProcess, alice: AtmosphereClient) -> None:
    acct = pds.account("alice.test")
    assert alice.is_authenticated
    assert alice.did == acct.did
    assert alice.handle == "alice.test"
    assert alice.pds_url is not None
    assert alice.pds_url.startswith("http://")


@pytest.mark.parametrize("how", ["email", "did"])
def test_login_by_email_and_did(
    pds: PdsProcess, resolver: IdentityResolver, how: str, make_client: Any
) -> None:
    acct = pds.account("alice.test")
    with make_client(pds.pds_url, resolver=resolver) as client:
        client.login(getattr(acct, how), acct.password)
        assert client.did == acct.did
        assert client.handle == acct.handle


def test_bad_password(pds: PdsProcess, resolver: IdentityResolver, make_client: Any) -> None:
    with make_client(pds.pds_url, resolver=resolver) as client:
        with pytest.raises(AuthenticationError) as info:
            client.login("alice.test", "not-the-password")
        assert info.value.status == 401
        assert "not-the-password" not in str(info.value)
        assert not client.is_authenticated
        with pytest.raises(NotAuthenticatedError):
            _ = client.did


def test_login_without_base_url_resolves_through_dns_and_plc(
    pds: PdsProcess, dns_server: DnsServer, resolver: IdentityResolver, make_client: Any
) -> None:
    acct = pds.account("bob.test")
    dns_server.set_txt(f"_atproto.{acct.handle}", f"did={acct.did}")
    try:
        with make_client(resolver=resolver) as client:
            client.login(acct.handle, acct.password)
            assert client.did == acct.did
            assert client.pds_url == resolver.resolve_pds(acct.did)
            uri = client.create_record(COLL, _record(note="resolved login"))
            assert client.get_record(uri)["note"] == "resolved login"
            client.delete_record(uri)
    finally:
        dns_server.remove(f"_atproto.{acct.handle}")


def test_login_without_base_url_by_did(
    pds: PdsProcess, resolver: IdentityResolver, make_client: Any
) -> None:
    acct = pds.account("alice.test")
    with make_client(resolver=resolver) as client:
        client.login(acct.did, acct.password)
        assert client.handle == acct.handle


def test_export_and_login_with_session(
    pds: PdsProcess, alice: AtmosphereClient, make_client: Any
) -> None:
    saved = alice.export_session()
    parts = saved.split(":::")
    assert parts[0] == "alice.test"
    assert parts[1] == alice.did
    assert len(parts) == 5
    with make_client(pds.pds_url) as other:
        other.login_with_session(saved)
        assert other.did == alice.did
        assert other.export_session() == saved
        uri = other.create_record(COLL, _record(note="from restored session"))
        assert alice.get_record(uri)["note"] == "from restored session"
        other.delete_record(uri)


def test_expired_access_token_is_refreshed(
    pds: PdsProcess, alice: AtmosphereClient, make_client: Any
) -> None:
    handle, did, _access, refresh, pds_url = alice.export_session().split(":::")
    expired = mint_expired_access_token(pds.jwt_secret, did)
    # The PDS itself rejects the minted token as expired …
    probe = httpx.get(
        f"{pds_url}/xrpc/com.atproto.server.getSession",
        headers={"Authorization": f"Bearer {expired}"},
    )
    assert probe.status_code == 400
    assert probe.json()["error"] == "ExpiredToken"
    # … and the client refreshes it transparently, reporting the rotated session.
    seen: list[str] = []
    with make_client(pds.pds_url, on_session_change=seen.append) as client:
        client.login_with_session(":::".join([handle, did, expired, refresh, pds_url]))
        assert client.did == did
        assert len(seen) == 1
        new_access, new_refresh = seen[0].split(":::")[2:4]
        assert new_access != expired
        assert new_refresh != refresh
        records, _ = client.list_records(COLL, limit=1)
        assert isinstance(records, list)


def test_logout_revokes_the_session(
    pds: PdsProcess, resolver: IdentityResolver, make_client: Any
) -> None:
    acct = pds.account("alice.test")
    with make_client(pds.pds_url, resolver=resolver) as client:
        client.login(acct.handle, acct.password)
        handle, did, _access, refresh, pds_url = client.export_session().split(":::")
        client.logout()
        assert not client.is_authenticated
    expired = mint_expired_access_token(pds.jwt_secret, did)
    with make_client(pds.pds_url) as again:
        with pytest.raises(SessionRefreshError) as info:
            again.login_with_session(":::".join([handle, did, expired, refresh, pds_url]))
        assert "revoked" in str(info.value).lower()
        assert refresh not in str(info.value)
        assert not again.is_authenticated


# -- records -------------------------------------------------------------------


def test_create_get_put_delete(alice: AtmosphereClient) -> None:
    uri = alice.create_record(COLL, _record(n=1))
    assert isinstance(uri, AtUri)
    assert uri.authority == alice.did
    assert uri.collection == COLL
    assert uri.rkey
    assert alice.get_record(uri) == _record(n=1)
    same = alice.put_record(COLL, uri.rkey, _record(n=2))
    assert str(same) == str(uri)
    assert alice.get_record(str(uri))["n"] == 2
    alice.delete_record(uri)
    with pytest.raises(RecordNotFoundError):
        alice.get_record(uri)


def test_explicit_rkey(alice: AtmosphereClient) -> None:
    rkey = "explicit-key-1"
    uri = alice.create_record(COLL, _record(k=True), rkey=rkey)
    try:
        assert uri.rkey == rkey
        assert alice.get_record(f"at://{alice.did}/{COLL}/{rkey}")["k"] is True
        put = alice.put_record(COLL, "self", _record(k="self"))
        assert put.rkey == "self"
        alice.delete_record(put)
    finally:
        alice.delete_record(uri)


def test_get_record_by_handle_authority(alice: AtmosphereClient) -> None:
    uri = alice.create_record(COLL, _record(by="handle"))
    try:
        assert alice.get_record(f"at://alice.test/{COLL}/{uri.rkey}")["by"] == "handle"
    finally:
        alice.delete_record(uri)


def test_swap_commit_mismatch(alice: AtmosphereClient) -> None:
    uri = alice.create_record(COLL, _record(v=1))
    try:
        records, _ = alice.list_record_page(COLL, limit=1)
        stale = records[0]["cid"]  # a record CID, not the repo's current commit
        with pytest.raises(InvalidSwapError):
            alice.put_record(COLL, uri.rkey, _record(v=2), swap_commit=stale)
        assert alice.get_record(uri)["v"] == 1
    finally:
        alice.delete_record(uri)


def test_delete_with_swap_commit_mismatch(alice: AtmosphereClient) -> None:
    uri = alice.create_record(COLL, _record(v="keep"))
    try:
        records, _ = alice.list_record_page(COLL, limit=1)
        with pytest.raises(InvalidSwapError):
            alice.delete_record(uri, swap_commit=records[0]["cid"])
        assert alice.get_record(uri)["v"] == "keep"
    finally:
        alice.delete_record(uri)


def test_validate_flag_reaches_the_pds(alice: AtmosphereClient) -> None:
    # validate=True against a lexicon the PDS does not know is refused by the PDS.
    with pytest.raises(XrpcError) as info:
        alice.create_record(COLL, _record(), validate=True)
    assert info.value.status == 400


def test_delete_refuses_another_accounts_uri(
    alice: AtmosphereClient, bob: AtmosphereClient
) -> None:
    bobs = bob.create_record(COLL, _record(owner="bob"))
    try:
        with pytest.raises(InvalidArgumentError):
            alice.delete_record(bobs)
        assert bob.get_record(bobs)["owner"] == "bob"
    finally:
        bob.delete_record(bobs)


def test_reads_of_another_account_go_through_resolution(
    pds: PdsProcess, alice: AtmosphereClient, resolver: IdentityResolver, make_client: Any
) -> None:
    uri = alice.create_record(COLL, _record(public=True))
    try:
        # A client with no session and no base URL: the PDS comes from DID → PLC doc.
        with make_client(resolver=resolver) as stranger:
            assert stranger.get_record(uri)["public"] is True
            records, _ = stranger.list_records(COLL, repo=alice.did, limit=5)
            assert _record(public=True) in records
            page = stranger.list_record_page(COLL, repo=alice.did, limit=5)
            assert str(uri) in {r["uri"] for r in page.records}
    finally:
        alice.delete_record(uri)


def test_bob_reads_alice_by_handle_via_dns(
    alice: AtmosphereClient, bob: AtmosphereClient, dns_server: DnsServer
) -> None:
    dns_server.set_txt("_atproto.alice.test", f"did={alice.did}")
    uri = alice.create_record(COLL, _record(for_bob=True))
    try:
        assert bob.get_record(f"at://alice.test/{COLL}/{uri.rkey}")["for_bob"] is True
        records, _ = bob.list_record_page(COLL, repo="alice.test", limit=3)
        assert all(r["uri"].startswith(f"at://{alice.did}/") for r in records)
        values, _ = bob.list_records(COLL, repo="alice.test", limit=3)
        assert values == [r["value"] for r in records]
    finally:
        dns_server.remove("_atproto.alice.test")
        alice.delete_record(uri)


# -- listing -------------------------------------------------------------------

PAGED = "com.example.atmosphere.paged"
PAGED_COUNT = 260


@pytest.fixture(scope="module")
def paged(pds: PdsProcess) -> Iterator[tuple[str, list[str]]]:
    """PAGED_COUNT records in one collection of bob's, created once for the module."""
    acct = pds.account("bob.test")
    with AtmosphereClient(pds.pds_url) as client:
        client.login(acct.handle, acct.password)
        uris = [str(client.create_record(PAGED, _record(PAGED, i=i))) for i in range(PAGED_COUNT)]
        yield acct.did, uris
        for uri in uris:
            client.delete_record(uri)


def test_list_record_pages(bob: AtmosphereClient, paged: tuple[str, list[str]]) -> None:
    _did, uris = paged
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        records, cursor = bob.list_record_page(PAGED, limit=100, cursor=cursor)
        pages += 1
        assert len(records) <= 100
        for rec in records:
            assert set(rec) >= {"uri", "cid", "value"}
            assert rec["value"]["$type"] == PAGED
        seen.extend(r["uri"] for r in records)
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(uris)


def test_list_records_pages_values(bob: AtmosphereClient, paged: tuple[str, list[str]]) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        records, cursor = bob.list_records(PAGED, limit=100, cursor=cursor)
        assert all(rec == _record(PAGED, i=rec["i"]) for rec in records)
        seen.extend(rec["i"] for rec in records)
        if cursor is None:
            break
    assert sorted(seen) == list(range(PAGED_COUNT))


def test_iter_records_walks_everything(bob: AtmosphereClient, paged: tuple[str, list[str]]) -> None:
    _did, uris = paged
    walked = [r["uri"] for r in bob.iter_records(PAGED, page_size=75)]
    assert len(walked) == PAGED_COUNT
    assert set(walked) == set(uris)


def test_list_records_limit_bounds(bob: AtmosphereClient) -> None:
    for bad in (0, 101, -1):
        with pytest.raises(ValueError):
            bob.list_records(PAGED, limit=bad)


@pytest.fixture(scope="module")
def atdata_records(pds: PdsProcess) -> Iterator[dict[str, int]]:
    """Schemas, datasets and lenses (more than one page each) in alice's repo."""
    counts = {"sampleSchema": 130, "record": 105, "lens": 102}
    acct = pds.account("alice.test")
    with AtmosphereClient(pds.pds_url) as client:
        client.login(acct.handle, acct.password)
        uris = [
            client.create_record(f"{NS}.{name}", _record(f"{NS}.{name}", i=i))
            for name, n in counts.items()
            for i in range(n)
        ]
        yield counts
        for uri in uris:
            client.delete_record(uri)


def test_atdata_list_helpers_follow_cursors(
    alice: AtmosphereClient, atdata_records: dict[str, int]
) -> None:
    schemas = alice.list_schemas(limit=120)
    assert len(schemas) == 120
    assert all(s["$type"] == f"{NS}.sampleSchema" for s in schemas)  # values, as atdata's
    assert len(alice.list_schemas(limit=1000)) == atdata_records["sampleSchema"]
    assert len(alice.list_datasets(limit=500)) == atdata_records["record"]
    lenses = alice.list_lenses(limit=101)
    assert len(lenses) == 101
    assert len(alice.list_lenses()) == 100


def test_atdata_helpers_for_another_repo(
    bob: AtmosphereClient, alice: AtmosphereClient, atdata_records: dict[str, int]
) -> None:
    datasets = bob.list_datasets(repo=alice.did, limit=200)
    assert len(datasets) == atdata_records["record"]
    assert all(d["$type"] == f"{NS}.record" for d in datasets)


def test_custom_namespace(pds: PdsProcess, resolver: IdentityResolver, make_client: Any) -> None:
    acct = pds.account("bob.test")
    with make_client(pds.pds_url, resolver=resolver, namespace="com.example.ns") as client:
        client.login(acct.handle, acct.password)
        uri = client.create_record("com.example.ns.lens", _record("com.example.ns.lens"))
        try:
            assert client.list_lenses() == [_record("com.example.ns.lens")]
        finally:
            client.delete_record(uri)


# -- blobs ---------------------------------------------------------------------


def _embed(client: AtmosphereClient, ref: dict[str, Any]) -> AtUri:
    return client.create_record(COLL, _record(blob=ref))


def test_blob_1mb_round_trip(alice: AtmosphereClient) -> None:
    data = _blob(1_000_000, "1mb")
    ref = alice.upload_blob(data, "application/octet-stream")
    cid = compute_cid(data)
    assert ref == {
        "$type": "blob",
        "ref": {"$link": cid},
        "mimeType": "application/octet-stream",
        "size": len(data),
    }
    uri = _embed(alice, ref)
    try:
        assert alice.get_record(uri)["blob"]["ref"]["$link"] == cid
        assert alice.get_blob(alice.did, cid) == data
    finally:
        alice.delete_record(uri)


def test_blob_50mb_from_path(alice: AtmosphereClient, tmp_path: Path) -> None:
    data = _blob(50 * 1024 * 1024, "50mb")
    src = tmp_path / "shard.tar"
    src.write_bytes(data)
    ref = alice.upload_blob(src, "application/x-tar")
    cid = compute_cid(data)
    assert ref["ref"]["$link"] == cid
    assert ref["size"] == len(data)
    uri = _embed(alice, ref)
    try:
        out = tmp_path / "down.tar"
        progress: list[tuple[int, int | None]] = []
        n = alice.download_blob(alice.did, cid, out, progress=lambda d, t: progress.append((d, t)))
        assert n == len(data)
        assert out.read_bytes() == data
        assert progress[-1][0] == len(data)
        assert [d for d, _ in progress] == sorted(d for d, _ in progress)
        assert alice.get_blob(alice.did, cid) == data
    finally:
        alice.delete_record(uri)


def test_blob_from_file_object_and_generator(alice: AtmosphereClient) -> None:
    data = _blob(300_000, "fo")
    from_file = alice.upload_blob(io.BytesIO(data), "image/png")
    from_gen = alice.upload_blob(data[i : i + 4096] for i in range(0, len(data), 4096))
    assert from_file["ref"] == from_gen["ref"] == {"$link": compute_cid(data)}
    assert from_file["mimeType"] == "image/png"
    assert from_gen["mimeType"] == "application/octet-stream"


def test_unreferenced_blob_is_not_served(alice: AtmosphereClient) -> None:
    data = _blob(1234, "orphan")
    ref = alice.upload_blob(data)
    with pytest.raises(BlobNotFoundError):
        alice.get_blob(alice.did, ref["ref"]["$link"])


def test_get_blob_url_with_plain_httpx(
    alice: AtmosphereClient, resolver: IdentityResolver, make_client: Any
) -> None:
    data = _blob(70_000, "url")
    ref = alice.upload_blob(data, "text/plain")
    uri = _embed(alice, ref)
    try:
        cid = ref["ref"]["$link"]
        url = alice.get_blob_url(alice.did, cid)
        assert "com.atproto.sync.getBlob?" in url
        assert f"did={alice.did.replace(':', '%3A')}" in url
        response = httpx.get(url)
        assert response.status_code == 200
        assert response.content == data
        # The same URL from a client that has to resolve the DID.
        with make_client(resolver=resolver) as stranger:
            assert stranger.get_blob_url(alice.did, cid) == url
            assert stranger.get_blob(alice.did, cid) == data
    finally:
        alice.delete_record(uri)


# -- identity ------------------------------------------------------------------


def test_resolve_identity_dns_and_https(
    pds: PdsProcess, resolver: IdentityResolver, dns_server: DnsServer
) -> None:
    alice = pds.account("alice.test")
    bob = pds.account("bob.test")
    # bob: no TXT record → HTTPS /.well-known/atproto-did on the PDS (routed by host).
    assert resolver.resolve_handle("bob.test") == bob.did
    dns_server.set_txt("_atproto.alice.test", f"did={alice.did}")
    try:
        ident = resolver.resolve("alice.test")
        assert ident.did == alice.did
        assert ident.handle == "alice.test"
        assert ident.pds_endpoint.startswith("http://")
        by_did = resolver.resolve(bob.did)
        assert by_did.handle == "bob.test"
    finally:
        dns_server.remove("_atproto.alice.test")


def test_conflicting_txt_records_fail(
    pds: PdsProcess, resolver: IdentityResolver, dns_server: DnsServer
) -> None:
    alice = pds.account("alice.test")
    bob = pds.account("bob.test")
    dns_server.set_txt("_atproto.conflict.test", f"did={alice.did}", f"did={bob.did}")
    try:
        with pytest.raises(HandleResolutionError):
            resolver.resolve_handle("conflict.test")
    finally:
        dns_server.remove("_atproto.conflict.test")


# -- validation before any request -----------------------------------------------


def test_bad_input_is_rejected_before_any_request(pds: PdsProcess, make_client: Any) -> None:
    acct = pds.account("alice.test")
    counter = Counter()
    with make_client(pds.pds_url, count=counter) as client:
        client.login(acct.handle, acct.password)
        sent = len(counter.requests)
        cases = [
            lambda: client.create_record("not an nsid", _record()),
            lambda: client.create_record(COLL, {"no": "type"}),
            lambda: client.create_record(COLL, _record("com.example.other")),
            lambda: client.create_record(COLL, _record(), rkey="bad key"),
            lambda: client.put_record(COLL, "..", _record()),
            lambda: client.put_record(COLL, "ok", _record(), swap_commit="nope"),
            lambda: client.get_record("https://example.com/x"),
            lambda: client.get_record(f"at://{client.did}/{COLL}"),
            lambda: client.delete_record("at://did:plc:zzzzzzzzzzzzzzzzzzzzzzzz/a.b.c/x"),
            lambda: client.list_records(COLL, limit=500),
            lambda: client.list_records("bad"),
            lambda: client.list_schemas(limit=0),
            lambda: client.upload_blob(b"x", mime_type="nonsense"),
            lambda: client.upload_blob(12345),
            lambda: client.get_blob("not-a-did", compute_cid(b"x")),
            lambda: client.get_blob(client.did, "not-a-cid"),
            lambda: client.get_blob_url(client.did, "Qm-not-a-cid"),
        ]
        for case in cases:
            with pytest.raises(ValueError) as info:
                case()
            assert isinstance(
                info.value,
                (InvalidIdentifierError, InvalidRecordError, InvalidArgumentError),
            ), repr(info.value)
        assert len(counter.requests) == sent


def test_calls_without_session_fail_before_any_request(pds: PdsProcess, make_client: Any) -> None:
    counter = Counter()
    with make_client(pds.pds_url, count=counter) as client:
        for call in (
            lambda: client.create_record(COLL, _record()),
            lambda: client.list_records(COLL),
            lambda: client.upload_blob(b"data"),
            client.export_session,
        ):
            with pytest.raises(NotAuthenticatedError):
                call()
        assert counter.requests == []


def test_secrets_stay_out_of_repr(pds: PdsProcess, alice: AtmosphereClient) -> None:
    _handle, _did, access, refresh, _pds = alice.export_session().split(":::")
    text = repr(alice)
    for secret in (access, refresh, pds.account("alice.test").password):
        assert secret not in text


def test_plc_url_and_timeout_options(
    pds: PdsProcess, alice: AtmosphereClient, make_client: Any
) -> None:
    uri = alice.create_record(COLL, _record(opt="plc_url"))
    try:
        # No resolver given: the client builds its own from plc_url and timeout.
        with make_client(plc_url=pds.plc_url, timeout=7.5) as stranger:
            assert stranger.resolver.plc_url == pds.plc_url
            assert stranger.resolver.timeout == 7.5
            assert stranger.get_record(uri)["opt"] == "plc_url"
            assert stranger.get_blob_url(alice.did, compute_cid(b"")).startswith(
                resolver_pds(stranger, alice.did)
            )
    finally:
        alice.delete_record(uri)


def resolver_pds(client: AtmosphereClient, did: str) -> str:
    return client.resolver.resolve_pds(did)


def test_iter_blob_streams_verified_chunks(alice: AtmosphereClient) -> None:
    data = _blob(3 * 1024 * 1024 + 17, "iter")
    ref = alice.upload_blob(data)
    uri = _embed(alice, ref)
    try:
        chunks = list(alice.iter_blob(alice.did, ref["ref"]["$link"], chunk_size=256 * 1024))
        assert len(chunks) > 1
        assert b"".join(chunks) == data
    finally:
        alice.delete_record(uri)


def test_get_record_envelope_and_swap_record(alice: AtmosphereClient) -> None:
    uri = alice.create_record(COLL, _record(v="first"))
    try:
        envelope = alice.get_record_envelope(uri)
        assert envelope["uri"] == str(uri)
        assert envelope["value"] == _record(v="first")
        listed, _ = alice.list_record_page(COLL, limit=1)
        assert listed[0]["cid"] == envelope["cid"]
        # The envelope's CID is what a compare-and-swap on the record needs.
        assert uri.rkey
        alice.put_record(COLL, uri.rkey, _record(v="second"), swap_record=envelope["cid"])
        with pytest.raises(InvalidSwapError):
            alice.put_record(COLL, uri.rkey, _record(v="third"), swap_record=envelope["cid"])
        assert alice.get_record(uri)["v"] == "second"
    finally:
        alice.delete_record(uri)
