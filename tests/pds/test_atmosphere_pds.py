"""``Atmosphere`` (atdata 0.7's face) against the real reference PDS, on both flavours.

The classmethods, the 0.7 layout's listings (values, and the project's own
listing with URIs and CIDs), blobs with a timeout, bytes fields, identities,
and the AppView: queries straight to the loopback AppView, procedures proxied
by the PDS with a service token.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from atmosphere import (
    AppViewRequiredError,
    IdentityResolver,
    MissingCredentialsError,
    RetryPolicy,
    XrpcError,
    compute_cid,
)
from tests.support.appview import FAIL, PROCEDURE, QUERY, AppView, Reply
from tests.support.dns_server import DnsServer
from tests.support.flavours import Flavour
from tests.support.pds import PdsProcess
from tests.support.routing import RoutingTransport

NS = "science.alt.dataset"
FAST = RetryPolicy(max_attempts=2, backoff_base=0.0, backoff_max=0.0, jitter=0.0)


@pytest.fixture
def resolver(
    pds: PdsProcess, dns_server: DnsServer, flavour: Flavour
) -> Iterator[IdentityResolver]:
    """A resolver of the test's flavour: the local PLC, the loopback DNS, the PDS's well-known."""
    routes = {a.handle: pds.pds_url for a in pds.accounts}
    http = flavour.http(transport=RoutingTransport(routes, passthrough=True))
    with flavour.resolver(
        http=http, dns_resolver=dns_server.make_resolver(), plc_url=pds.plc_url, timeout=5
    ) as res:
        yield res


@pytest.fixture
def options(pds: PdsProcess, resolver: IdentityResolver) -> dict[str, Any]:
    return {"plc_url": pds.plc_url, "resolver": resolver, "retry": FAST}


@pytest.fixture
def atmo(flavour: Flavour, pds: PdsProcess, options: dict[str, Any]) -> Iterator[Any]:
    """alice.test, logged in through the ``login`` classmethod."""
    acct = pds.account("alice.test")
    client = flavour.atmosphere_class.login(
        acct.handle, acct.password, base_url=pds.pds_url, **options
    )
    yield client
    client.close()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_login_from_session_and_from_env(
    flavour: Flavour,
    pds: PdsProcess,
    options: dict[str, Any],
    atmo: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    acct = pds.account("alice.test")
    assert (atmo.did, atmo.handle, atmo.namespace) == (acct.did, "alice.test", NS)
    again = flavour.atmosphere_class.from_session(
        atmo.export_session(), base_url=pds.pds_url, **options
    )
    assert again.did == acct.did
    again.close()

    for name in ("ATDATA_HANDLE", "ATDATA_PASSWORD", "ATDATA_APPVIEW", "ATDATA_PDS_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingCredentialsError):
        flavour.atmosphere_class.from_env(base_url=pds.pds_url, **options)
    bob = pds.account("bob.test")
    monkeypatch.setenv("ATDATA_HANDLE", bob.handle)
    monkeypatch.setenv("ATDATA_PASSWORD", bob.password)
    monkeypatch.setenv("ATDATA_PDS_URL", pds.pds_url)
    from_env = flavour.atmosphere_class.from_env(base_url="http://localhost:9", **options)
    assert from_env.did == bob.did
    assert not from_env.has_appview
    from_env.close()


def test_listings_return_values_and_the_page_keeps_uris(atmo: Any) -> None:
    names = [_unique("label") for _ in range(3)]
    uris = [
        str(atmo.create_record(f"{NS}.label", {"$type": f"{NS}.label", "name": n})) for n in names
    ]
    try:
        labels = atmo.list_labels(limit=1000)
        assert set(names) <= {label["name"] for label in labels}
        assert all(label["$type"] == f"{NS}.label" for label in labels)
        values, cursor = atmo.list_records(f"{NS}.label", limit=2)
        assert len(values) == 2
        assert cursor is not None
        assert "uri" not in values[0]
        page = atmo.list_record_page(f"{NS}.label", limit=3)
        assert [r["uri"] for r in page.records] == uris[::-1]
        assert [r["value"]["name"] for r in page.records] == names[::-1]
        assert all(r["cid"].startswith("bafyrei") for r in page.records)
        walked = [r["uri"] for r in atmo.iter_records(f"{NS}.label", page_size=2)]
        assert set(uris) <= set(walked)
        assert atmo.list_schemas(limit=5) == atmo.list_records(f"{NS}.schema", limit=5)[0]
    finally:
        for uri in uris:
            atmo.delete_record(uri)


def test_upload_blob_with_a_timeout_and_a_bytes_field(atmo: Any) -> None:
    data = b"atmosphere shard " * 512
    ref = atmo.upload_blob(data, mime_type="application/x-tar", timeout=30.0)
    assert ref["ref"] == {"$link": compute_cid(data)}
    packed = b"\x82\xa5split\xa5train\x00\xff"
    uri = atmo.create_record(
        f"{NS}.entry",
        {"$type": f"{NS}.entry", "name": _unique("bytes"), "blob": ref, "metadata": packed},
    )
    try:
        stored = atmo.get_record(uri)["metadata"]
        assert set(stored) == {"$bytes"}
        text = stored["$bytes"]
        assert base64.b64decode(text + "=" * (-len(text) % 4)) == packed
        assert atmo.get_blob(atmo.did, compute_cid(data)) == data
    finally:
        atmo.delete_record(uri)


def test_resolve_did_and_the_pds_endpoint(
    atmo: Any, pds: PdsProcess, dns_server: DnsServer
) -> None:
    bob = pds.account("bob.test")
    dns_server.set_txt("_atproto.bob.test", f"did={bob.did}")
    try:
        assert atmo.resolve_did("bob.test") == bob.did
    finally:
        dns_server.remove("_atproto.bob.test")
    assert atmo.resolve_did(bob.did) == bob.did
    assert atmo._resolve_pds_endpoint(bob.did) == pds.pds_url
    assert atmo._resolve_pds_endpoint(atmo.did) == pds.pds_url
    atmo._ensure_authenticated()


def test_appview_query_direct_and_procedure_proxied(
    flavour: Flavour, pds: PdsProcess, options: dict[str, Any], appview: AppView
) -> None:
    acct = pds.account("alice.test")
    atmo = flavour.atmosphere_class.login(
        acct.handle, acct.password, base_url=pds.pds_url, appview=appview.url, **options
    )
    try:
        assert (atmo.appview_url, atmo.appview_did) == (appview.url, appview.did)
        answer = atmo.xrpc_query(QUERY, {"uris": ["at://x/y/z"]})
        assert answer["viewer"] is None  # straight to the AppView: no token
        assert answer["params"] == {"uris": ["at://x/y/z"]}
        posted = atmo.xrpc_procedure(PROCEDURE, {"name": "entry"})
        assert posted["viewer"] == acct.did  # the PDS signed for alice
        assert posted["input"] == {"name": "entry"}
        query, procedure = appview.received
        assert "authorization" not in query.headers
        assert procedure.auth is not None
        assert procedure.auth.claims["lxm"] == PROCEDURE
        assert procedure.auth.claims["aud"] == appview.did
        with pytest.raises(XrpcError) as info:
            atmo.xrpc_query(FAIL, {"status": 404, "error": "EntryNotFound", "message": "no"})
        assert (info.value.status, info.value.error) == (404, "EntryNotFound")
    finally:
        atmo.close()


def test_appview_members_without_an_appview(atmo: Any) -> None:
    with pytest.raises(AppViewRequiredError):
        atmo.search_datasets("mnist")
    with pytest.raises(AppViewRequiredError):
        atmo.xrpc_procedure(PROCEDURE, {})


def test_the_appview_calls_against_a_live_appview(
    flavour: Flavour, options: dict[str, Any], appview: AppView
) -> None:
    def answer(key: str, value: Any) -> Any:
        def handler(request: Any) -> Reply:
            return Reply(body={key: value, "params": dict(request.params)})

        return handler

    appview.on(f"{NS}.searchDatasets", answer("entries", [{"name": "mnist"}]), methods=("GET",))
    appview.on(f"{NS}.searchLenses", answer("lenses", [{"name": "l"}]), methods=("GET",))
    appview.on(f"{NS}.getEntries", answer("entries", [{"name": "e"}]), methods=("GET",))
    appview.on(f"{NS}.describeService", answer("did", appview.did), methods=("GET",))
    appview.on(f"{NS}.getEntryStats", answer("views", 3), methods=("GET",))
    atmo = flavour.atmosphere(appview=appview.url, **options)  # no session needed
    try:
        assert atmo.search_datasets("mnist", tags=["a", "b"], limit=500) == [{"name": "mnist"}]
        assert atmo.search_lenses(source_schema="at://s") == [{"name": "l"}]
        assert atmo.get_entries(["at://u1", "at://u2"]) == [{"name": "e"}]
        described = atmo.describe_service()
        assert described["did"] == appview.did
        stats = atmo.get_entry_stats("at://u1", period="day")
        assert stats["views"] == 3
        assert stats["params"] == {"uri": ["at://u1"], "period": ["day"]}
        search = appview.received[0]
        assert search.params == {"q": ["mnist"], "limit": ["100"], "tags": ["a", "b"]}
        assert all("authorization" not in r.headers for r in appview.received)
    finally:
        atmo.close()
