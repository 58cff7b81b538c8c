"""Unit tests for ``Atmosphere`` (atdata 0.7's face) and what both atdata faces share.

Every test that takes ``flavour`` runs on ``Atmosphere`` and on its source,
``AsyncAtmosphere``; the fake PDS and a fake AppView answer over
``httpx.MockTransport``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from atmosphere import (
    AppViewRequiredError,
    AuthenticationError,
    HandleResolutionError,
    InvalidArgumentError,
    InvalidIdentifierError,
    InvalidResponseError,
    LexiconLayout,
    MissingCredentialsError,
    NotAuthenticatedError,
    RetryPolicy,
    ServerError,
    XrpcError,
)
from tests.support.fake_pds import FakePds, FakePlc, route_by_host
from tests.support.flavours import Flavour, NoDns

PDS_URL = "https://pds.test"
APPVIEW_URL = "https://appview.test"
APPVIEW_DID = "did:web:appview.test"
PASSWORD = "correct horse battery staple"
NS = "science.alt.dataset"
FAST = RetryPolicy(max_attempts=2, backoff_base=0.0, backoff_max=0.0, jitter=0.0)


class FakeAppView:
    """Answers ``/xrpc/<nsid>`` from ``answers`` (nsid -> (status, JSON)); records requests."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, Any]] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        nsid = request.url.path.removeprefix("/xrpc/")
        status, body = self.answers.get(nsid, (501, {"error": "MethodNotImplemented"}))
        return httpx.Response(status, json=body)


class World:
    """The fake PDS (alice), a fake AppView, and every request routed by host."""

    def __init__(self) -> None:
        self.pds = FakePds(PDS_URL)
        self.alice = self.pds.add_account("alice.test", PASSWORD)
        self.appview = FakeAppView()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "appview.test":
            return self.appview(request)
        return self.pds(request)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def make(flavour: Flavour, world: World) -> Callable[..., Any]:
    """``make(**options)``: an ``Atmosphere`` over the fake world, not logged in."""
    http = flavour.http(world)

    def build(*args: Any, **options: Any) -> Any:
        options.setdefault("retry", FAST)
        return flavour.atmosphere(*(args or (PDS_URL,)), _client=http, **options)

    return build


@pytest.fixture
def atmo(flavour: Flavour, world: World) -> Iterator[Any]:
    """alice, logged in through the ``login`` classmethod, with the AppView configured."""
    client = flavour.atmosphere_class.login(
        "alice.test",
        PASSWORD,
        base_url=PDS_URL,
        appview=APPVIEW_URL,
        _client=flavour.http(world),
        retry=FAST,
    )
    world.pds.requests.clear()
    yield client
    client.close()


def rec(collection: str, **fields: Any) -> dict[str, Any]:
    return {"$type": collection, **fields}


# -- construction ------------------------------------------------------------------


def test_login_classmethod_returns_a_logged_in_client(
    flavour: Flavour, world: World, atmo: Any
) -> None:
    assert isinstance(getattr(atmo, "target", atmo), flavour.Atmosphere)
    assert (atmo.did, atmo.handle, atmo.is_authenticated) == (world.alice.did, "alice.test", True)
    assert atmo.namespace == NS
    assert (atmo.has_appview, atmo.appview_url, atmo.appview_did) == (
        True,
        APPVIEW_URL,
        APPVIEW_DID,
    )


def test_login_classmethod_with_bad_credentials(flavour: Flavour, world: World) -> None:
    with pytest.raises(AuthenticationError):
        flavour.atmosphere_class.login(
            "alice.test", "wrong", base_url=PDS_URL, _client=flavour.http(world)
        )


def test_from_session_restores_without_the_password(
    flavour: Flavour, world: World, atmo: Any
) -> None:
    again = flavour.atmosphere_class.from_session(
        atmo.export_session(), base_url=PDS_URL, appview=APPVIEW_DID, _client=flavour.http(world)
    )
    assert (again.did, again.handle) == (world.alice.did, "alice.test")
    assert again.appview_url == APPVIEW_URL
    assert world.pds.calls["com.atproto.server.createSession"] == 1  # the first login only


def test_from_env(flavour: Flavour, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ATDATA_HANDLE", "ATDATA_PASSWORD", "ATDATA_APPVIEW", "ATDATA_PDS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ATDATA_HANDLE", "alice.test")
    with pytest.raises(MissingCredentialsError, match="ATDATA_HANDLE and ATDATA_PASSWORD") as info:
        flavour.atmosphere_class.from_env(base_url=PDS_URL, _client=flavour.http(world))
    assert isinstance(info.value, OSError)  # atdata raises EnvironmentError
    assert world.pds.requests == []

    monkeypatch.setenv("ATDATA_PASSWORD", PASSWORD)
    monkeypatch.setenv("ATDATA_PDS_URL", PDS_URL)  # wins over base_url
    monkeypatch.setenv("ATDATA_APPVIEW", APPVIEW_DID)
    atmo = flavour.atmosphere_class.from_env(
        base_url="https://elsewhere.test", _client=flavour.http(world)
    )
    assert atmo.did == world.alice.did
    assert atmo.appview_did == APPVIEW_DID
    assert {r.nsid for r in world.pds.requests} == {"com.atproto.server.createSession"}


@pytest.mark.parametrize(
    ("given", "url", "did"),
    [
        ("did:web:datasets.example", "https://datasets.example", "did:web:datasets.example"),
        ("https://datasets.example/", "https://datasets.example", "did:web:datasets.example"),
        ("http://localhost:8443", "http://localhost:8443", "did:web:localhost%3A8443"),
        ("did:web:localhost%3A8443", "https://localhost:8443", "did:web:localhost%3A8443"),
    ],
)
def test_appview_configuration(make: Callable[..., Any], given: str, url: str, did: str) -> None:
    atmo = make(appview=given)
    assert (atmo.has_appview, atmo.appview_url, atmo.appview_did) == (True, url, did)


@pytest.mark.parametrize(
    "bad", ["datasets.example", "did:plc:abc", "ftp://x.example", "https://", "did:web:a.b:user"]
)
def test_appview_value_must_be_a_url_or_did_web(make: Callable[..., Any], bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="Invalid appview value") as info:
        make(appview=bad)
    assert isinstance(info.value, ValueError)


def test_no_appview_by_default(make: Callable[..., Any]) -> None:
    atmo = make()
    assert (atmo.has_appview, atmo.appview_url, atmo.appview_did) == (False, None, None)


# -- atdata's error wording ---------------------------------------------------------


def test_unauthenticated_messages_keep_atdatas_wording(make: Callable[..., Any]) -> None:
    atmo = make()
    for call in (lambda: atmo.did, lambda: atmo.handle, atmo.export_session):
        with pytest.raises(NotAuthenticatedError, match=r"^Not authenticated"):
            call()
    with pytest.raises(ValueError, match="must be authenticated to perform this operation"):
        atmo._ensure_authenticated()
    with pytest.raises(ValueError, match="must be authenticated"):
        atmo.upload_blob(b"x")


def test_ensure_authenticated_passes_when_logged_in(atmo: Any) -> None:
    atmo._ensure_authenticated()


# -- layouts and listings -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "collection"),
    [
        ("list_schemas", f"{NS}.schema"),
        ("list_datasets", f"{NS}.entry"),
        ("list_lenses", f"{NS}.lens"),
        ("list_labels", f"{NS}.label"),
    ],
)
def test_listings_read_the_07_layout_as_values(
    atmo: Any, world: World, method: str, collection: str
) -> None:
    for i in range(3):
        world.pds.add_record(world.alice, collection, rec(collection, i=i))
    assert getattr(atmo, method)(limit=2) == [rec(collection, i=2), rec(collection, i=1)]
    assert [r.params["collection"] for r in world.pds.sent("com.atproto.repo.listRecords")] == [
        [collection]
    ]


def test_list_records_values_and_the_typed_page(atmo: Any, world: World) -> None:
    collection = f"{NS}.label"
    uris = [world.pds.add_record(world.alice, collection, rec(collection, i=i)) for i in range(3)]
    records, cursor = atmo.list_records(collection, limit=2)
    assert records == [rec(collection, i=2), rec(collection, i=1)]
    assert cursor is not None
    page = atmo.list_record_page(collection, limit=2)
    assert [r["uri"] for r in page.records] == uris[::-1][:2]
    assert all(r["cid"] for r in page.records)
    assert [r["uri"] for r in atmo.iter_records(collection, page_size=1)] == uris[::-1]


@pytest.mark.parametrize(
    ("namespace", "collections"),
    [
        (None, [f"{NS}.schema", f"{NS}.entry", f"{NS}.lens"]),
        (
            "ac.foundation.dataset",
            [
                "ac.foundation.dataset.sampleSchema",
                "ac.foundation.dataset.record",
                "ac.foundation.dataset.lens",
            ],
        ),
        (
            "org.example.data",
            ["org.example.data.schema", "org.example.data.entry", "org.example.data.lens"],
        ),
        (
            LexiconLayout("org.example.x", "s", "d", "l", "t"),
            ["org.example.x.s", "org.example.x.d", "org.example.x.l"],
        ),
    ],
)
def test_namespace_selects_the_whole_layout(
    make: Callable[..., Any], world: World, namespace: Any, collections: list[str]
) -> None:
    atmo = make() if namespace is None else make(namespace=namespace)
    atmo._login("alice.test", PASSWORD)
    atmo.list_schemas()
    atmo.list_datasets()
    atmo.list_lenses()
    sent = [r.params["collection"][0] for r in world.pds.sent("com.atproto.repo.listRecords")]
    assert sent == collections


def test_the_seed_layout_has_no_labels(make: Callable[..., Any], world: World) -> None:
    atmo = make(namespace="ac.foundation.dataset")
    atmo._login("alice.test", PASSWORD)
    with pytest.raises(InvalidArgumentError, match="no label collection"):
        atmo.list_labels()
    assert world.pds.sent("com.atproto.repo.listRecords") == []


def test_the_seed_face_takes_the_07_namespace_whole(flavour: Flavour, world: World) -> None:
    client = flavour.client(PDS_URL, _client=flavour.http(world), namespace=NS)
    client.login("alice.test", PASSWORD)
    client.list_schemas()
    client.list_datasets()
    assert [r.params["collection"][0] for r in world.pds.sent("com.atproto.repo.listRecords")] == [
        f"{NS}.schema",
        f"{NS}.entry",
    ]
    assert client.layout.label_collection == f"{NS}.label"


def test_a_malformed_namespace_is_refused(make: Callable[..., Any]) -> None:
    with pytest.raises(InvalidIdentifierError):
        make(namespace="not a namespace")


# -- the AppView --------------------------------------------------------------------------


APPVIEW_CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("xrpc_query", lambda a: a.xrpc_query(f"{NS}.describeService")),
    ("xrpc_procedure", lambda a: a.xrpc_procedure(f"{NS}.publishSchema", {"record": {}})),
    ("search_datasets", lambda a: a.search_datasets("mnist")),
    ("search_lenses", lambda a: a.search_lenses()),
    ("describe_service", lambda a: a.describe_service()),
    ("get_entries", lambda a: a.get_entries([f"at://did:plc:x/{NS}.entry/a"])),
    ("get_entry_stats", lambda a: a.get_entry_stats(f"at://did:plc:x/{NS}.entry/a")),
]


@pytest.mark.parametrize(("name", "call"), APPVIEW_CALLS, ids=[n for n, _ in APPVIEW_CALLS])
def test_appview_members_need_an_appview(
    make: Callable[..., Any], world: World, name: str, call: Callable[[Any], Any]
) -> None:
    atmo = make()
    atmo._login("alice.test", PASSWORD)
    world.pds.requests.clear()
    with pytest.raises(AppViewRequiredError, match="requires an AppView") as info:
        call(atmo)
    assert info.value.operation.startswith(f"{NS}.")
    assert world.pds.requests == []
    assert world.appview.requests == []


def test_get_entries_takes_at_most_25_uris(atmo: Any, world: World) -> None:
    with pytest.raises(InvalidArgumentError, match="at most 25 URIs"):
        atmo.get_entries([f"at://did:plc:x/{NS}.entry/{i}" for i in range(26)])
    with pytest.raises(InvalidArgumentError):
        atmo.get_entries("at://did:plc:x/science.alt.dataset.entry/a")
    assert world.appview.requests == []


def test_appview_queries_go_straight_to_it_unauthenticated(atmo: Any, world: World) -> None:
    entry = {"uri": f"at://{atmo.did}/{NS}.entry/a", "name": "mnist"}
    world.appview.answers = {
        f"{NS}.searchDatasets": (200, {"entries": [entry]}),
        f"{NS}.searchLenses": (200, {"lenses": [{"name": "l"}]}),
        f"{NS}.describeService": (200, {"did": APPVIEW_DID}),
        f"{NS}.getEntries": (200, {"entries": [entry, entry]}),
        f"{NS}.getEntryStats": (200, {"views": 3, "period": "day"}),
    }
    assert atmo.search_datasets(
        "mnist", tags=["vision", "small"], schema_ref="at://s", repo=atmo.did, limit=500
    ) == [entry]
    assert atmo.search_lenses(source_schema="at://a", target_schema="at://b", limit=5) == [
        {"name": "l"}
    ]
    assert atmo.describe_service() == {"did": APPVIEW_DID}
    assert atmo.get_entries(["at://u1", "at://u2"]) == [entry, entry]
    assert atmo.get_entry_stats("at://u1", period="day") == {"views": 3, "period": "day"}
    assert atmo.xrpc_query(f"{NS}.describeService", {"x": 1}) == {"did": APPVIEW_DID}

    search, lenses, describe, entries, stats, raw = world.appview.requests
    assert search.method == "GET"
    assert sorted(search.url.params.multi_items()) == sorted(
        [
            ("q", "mnist"),
            ("limit", "100"),  # capped, as atdata does
            ("tags", "vision"),
            ("tags", "small"),
            ("schemaRef", "at://s"),
            ("repo", atmo.did),
        ]
    )
    assert sorted(lenses.url.params.multi_items()) == [
        ("limit", "5"),
        ("sourceSchema", "at://a"),
        ("targetSchema", "at://b"),
    ]
    assert describe.url.params.multi_items() == []
    assert entries.url.params.multi_items() == [("uris", "at://u1"), ("uris", "at://u2")]
    assert sorted(stats.url.params.multi_items()) == [("period", "day"), ("uri", "at://u1")]
    assert raw.url.params.multi_items() == [("x", "1")]
    for sent in world.appview.requests:
        assert sent.url.host == "appview.test"
        assert "authorization" not in sent.headers
        assert "atproto-proxy" not in sent.headers
    assert world.pds.requests == []


def test_appview_defaults_and_empty_answers(atmo: Any, world: World) -> None:
    world.appview.answers = {
        f"{NS}.searchDatasets": (200, {}),
        f"{NS}.searchLenses": (200, {}),
        f"{NS}.getEntries": (200, {}),
    }
    assert atmo.search_datasets("q") == []
    assert atmo.search_lenses() == []
    assert atmo.get_entries([]) == []
    search, lenses, _ = world.appview.requests
    assert search.url.params["limit"] == "25"
    assert lenses.url.params["limit"] == "25"


def test_appview_answers_of_the_wrong_shape(atmo: Any, world: World) -> None:
    world.appview.answers = {
        f"{NS}.searchDatasets": (200, {"entries": "nope"}),
        f"{NS}.describeService": (200, ["not", "an", "object"]),
    }
    with pytest.raises(InvalidResponseError):
        atmo.search_datasets("q")
    with pytest.raises(InvalidResponseError):
        atmo.describe_service()


def test_appview_failures_are_typed(atmo: Any, world: World) -> None:
    world.appview.answers = {
        f"{NS}.getEntry": (500, {"error": "InternalServerError"}),
        f"{NS}.resolveLabel": (400, {"error": "InvalidRequest", "message": "no"}),
    }
    with pytest.raises(ServerError):
        atmo.xrpc_query(f"{NS}.getEntry", {"uri": "at://x"})
    assert len(world.appview.requests) == 2  # a query is retried
    with pytest.raises(XrpcError) as info:
        atmo.xrpc_query(f"{NS}.resolveLabel", {"name": "x"})
    assert (info.value.status, info.value.error) == (400, "InvalidRequest")
    assert atmo.is_authenticated


def test_a_search_limit_must_be_positive(atmo: Any, world: World) -> None:
    with pytest.raises(InvalidArgumentError):
        atmo.search_datasets("q", limit=0)
    assert world.appview.requests == []


def test_procedures_go_through_the_pds_with_the_proxy_header(atmo: Any, world: World) -> None:
    made = {"uri": f"at://{atmo.did}/{NS}.schema/3kproxied", "cid": "bafyrei"}
    world.pds.inject(f"{NS}.publishSchema", httpx.Response(200, json=made))
    assert atmo.xrpc_procedure(f"{NS}.publishSchema", {"record": {"name": "x"}}) == made
    (sent,) = world.pds.sent(f"{NS}.publishSchema")
    assert sent.method == "POST"
    assert sent.headers["atproto-proxy"] == f"{APPVIEW_DID}#atdata_appview"
    assert sent.bearer is not None
    assert sent.json() == {"record": {"name": "x"}}
    assert world.appview.requests == []


def test_a_procedure_without_input_sends_an_empty_object(atmo: Any, world: World) -> None:
    world.pds.inject(f"{NS}.ping", httpx.Response(200, json={}))
    assert atmo.xrpc_procedure(f"{NS}.ping") == {}
    (sent,) = world.pds.sent(f"{NS}.ping")
    assert sent.json() == {}


def test_a_failed_procedure_is_not_resent(atmo: Any, world: World) -> None:
    world.pds.inject(f"{NS}.publishSchema", httpx.Response(502, json={"error": "UpstreamFailure"}))
    with pytest.raises(ServerError):
        atmo.xrpc_procedure(f"{NS}.publishSchema", {"record": {}})
    assert len(world.pds.sent(f"{NS}.publishSchema")) == 1


def test_procedures_need_a_session(make: Callable[..., Any], world: World) -> None:
    atmo = make(appview=APPVIEW_URL)
    with pytest.raises(NotAuthenticatedError):
        atmo.xrpc_procedure(f"{NS}.publishSchema", {"record": {}})
    assert world.pds.requests == []


def test_queries_need_no_session(make: Callable[..., Any], world: World) -> None:
    atmo = make(appview=APPVIEW_URL)
    world.appview.answers = {f"{NS}.describeService": (200, {"did": APPVIEW_DID})}
    assert atmo.describe_service() == {"did": APPVIEW_DID}


# -- blobs, identities ------------------------------------------------------------------


def test_upload_blob_takes_a_timeout(flavour: Flavour, world: World) -> None:
    seen: list[dict[str, Any]] = []

    def spy(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("uploadBlob"):
            seen.append(dict(request.extensions["timeout"]))
        return world(request)

    atmo = flavour.atmosphere_class.login(
        "alice.test", PASSWORD, base_url=PDS_URL, _client=flavour.http(spy)
    )
    ref = atmo.upload_blob(b"shard bytes", mime_type="application/x-tar", timeout=12.5)
    assert ref["mimeType"] == "application/x-tar"
    atmo.upload_blob(b"other bytes")
    assert seen[0] == {"connect": 12.5, "read": 12.5, "write": 12.5, "pool": 12.5}
    assert seen[1] != seen[0]  # without timeout=: the client's own
    for bad in (0, -1, "10", True):
        with pytest.raises(InvalidArgumentError):
            atmo.upload_blob(b"x", timeout=bad)


def test_bytes_in_a_record_go_as_dollar_bytes(atmo: Any, world: World) -> None:
    collection = f"{NS}.entry"
    atmo.create_record(collection, rec(collection, metadata=b"\x81\xa1a\x01", name="n"))
    (sent,) = world.pds.sent("com.atproto.repo.createRecord")
    record = sent.json()["record"]
    assert record["metadata"] == {"$bytes": base64.b64encode(b"\x81\xa1a\x01").decode().rstrip("=")}
    assert "=" not in record["metadata"]["$bytes"]


@pytest.fixture
def two_pds(flavour: Flavour) -> Iterator[tuple[Any, FakePds]]:
    """alice on her PDS with ``Atmosphere``; bob on another; a PLC directory knows both."""
    home = FakePds("https://pds.test")
    home.add_account("alice.test", PASSWORD)
    away = FakePds("https://pds2.test")
    bob = away.add_account("bob.test", "bob's password")
    plc = FakePlc("https://plc.test")
    plc.register(home, next(iter(home.accounts.values())))
    plc.register(away, bob)
    resolver = flavour.resolver(
        http=flavour.http(route_by_host(plc, home, away)), dns_resolver=NoDns(), plc_url=plc.url
    )
    atmo = flavour.atmosphere_class.login(
        "alice.test",
        PASSWORD,
        base_url=home.url,
        _client=flavour.http(route_by_host(home, away)),
        resolver=resolver,
    )
    yield atmo, away
    atmo.close()
    resolver.close()


def test_resolve_did(two_pds: tuple[Any, FakePds]) -> None:
    atmo, away = two_pds
    bob = next(iter(away.accounts.values()))
    assert atmo.resolve_did("bob.test") == bob.did
    assert atmo.resolve_did(bob.did) == bob.did
    assert atmo.resolve_did("ALICE.TEST") == atmo.did  # itself: no lookup
    with pytest.raises(InvalidIdentifierError):
        atmo.resolve_did("not a handle")
    with pytest.raises(InvalidIdentifierError):
        atmo.resolve_did("did:bad")
    with pytest.raises(HandleResolutionError):
        atmo.resolve_did("nobody.test")


def test_resolve_pds_endpoint(two_pds: tuple[Any, FakePds]) -> None:
    atmo, away = two_pds
    bob = next(iter(away.accounts.values()))
    assert atmo._resolve_pds_endpoint(atmo.did) == "https://pds.test"
    assert atmo._resolve_pds_endpoint(bob.did) == "https://pds2.test"


# -- the seed face shares the helpers ----------------------------------------------------------


def test_the_seed_face_has_the_shared_helpers(flavour: Flavour, world: World) -> None:
    client = flavour.client(PDS_URL, _client=flavour.http(world))
    with pytest.raises(ValueError, match="must be authenticated"):
        client._ensure_authenticated()
    client.login("alice.test", PASSWORD)
    client._ensure_authenticated()
    assert client.resolve_did("alice.test") == world.alice.did
    assert not hasattr(client, "list_labels")
    assert not hasattr(client, "xrpc_query")


# -- local development switch -------------------------------------------------------------


@pytest.mark.parametrize("allow", [True, False])
def test_allow_private_hosts_passes_through_every_constructor(
    flavour: Flavour, world: World, monkeypatch: pytest.MonkeyPatch, allow: bool
) -> None:
    monkeypatch.delenv("ATMOSPHERE_ALLOW_PRIVATE_HOSTS", raising=False)
    http = flavour.http(world)
    atmo = flavour.atmosphere_class.login(
        "alice.test", PASSWORD, base_url=PDS_URL, _client=http, allow_private_hosts=allow
    )
    assert atmo.allow_private_hosts is allow
    again = flavour.atmosphere_class.from_session(
        atmo.export_session(), base_url=PDS_URL, _client=http, allow_private_hosts=allow
    )
    assert again.allow_private_hosts is allow
    monkeypatch.setenv("ATDATA_HANDLE", "alice.test")
    monkeypatch.setenv("ATDATA_PASSWORD", PASSWORD)
    from_env = flavour.atmosphere_class.from_env(
        base_url=PDS_URL, _client=http, allow_private_hosts=allow
    )
    assert from_env.allow_private_hosts is allow
    assert flavour.atmosphere(_client=http, allow_private_hosts=allow).allow_private_hosts is allow
    seed = flavour.client(PDS_URL, _client=http, allow_private_hosts=allow)
    assert seed.allow_private_hosts is allow


def test_the_environment_switch_reaches_the_classmethods(
    flavour: Flavour, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATMOSPHERE_ALLOW_PRIVATE_HOSTS", "1")
    atmo = flavour.atmosphere_class.login(
        "alice.test", PASSWORD, base_url=PDS_URL, _client=flavour.http(world)
    )
    assert atmo.allow_private_hosts is True


def test_a_local_appview_is_the_users_choice(
    flavour: Flavour, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the local-development switch a plain-http loopback AppView still
    # works: its URL is one the user named, like base_url.
    monkeypatch.delenv("ATMOSPHERE_ALLOW_PRIVATE_HOSTS", raising=False)
    appview = FakeAppView()
    appview.answers = {f"{NS}.describeService": (200, {"did": "did:web:localhost%3A8443"})}
    atmo = flavour.atmosphere(
        appview="http://localhost:8443", _client=flavour.http(appview), allow_private_hosts=False
    )
    assert atmo.describe_service() == {"did": "did:web:localhost%3A8443"}
    (sent,) = appview.requests
    assert str(sent.url) == f"http://localhost:8443/xrpc/{NS}.describeService"
