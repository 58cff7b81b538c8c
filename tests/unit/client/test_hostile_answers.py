"""Hostile answers (issue 13, items 5, 7-11): records, sessions, blobs, JSON, time.

A foreign PDS (anyone can run one and name it in a DID document) answers
these tests. Each test failed on main before its fix.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from atmosphere import (
    InvalidArgumentError,
    InvalidResponseError,
    NetworkTimeoutError,
    RecordMismatchError,
    ResponseTooLargeError,
    RetryPolicy,
    SessionRefreshError,
)
from atmosphere._async.client import DEFAULT_MAX_BLOB_MEMORY, DEFAULT_MAX_BLOB_SIZE
from atmosphere._jsonlimits import check_density, json_cap
from atmosphere._nsid import GET_RECORD, LIST_RECORDS
from atmosphere.errors import AtmosphereError
from tests.support.fake_pds import FakePds, blob_cid, did_document, route_by_host
from tests.support.fault_server import FaultServer, trickle
from tests.support.flavours import Flavour, NoDns

PASSWORD = "correct horse battery staple"
MALLORY = "did:plc:mmmmmmmmmmmmmmmmmmmmmmmm"
ALICE = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
FOREIGN = "https://pds.example.com"
COLL = "ac.foundation.dataset.record"

Handler = Callable[[httpx.Request], httpx.Response]


def _foreign(answer: Callable[[httpx.Request], Any]) -> Handler:
    """PLC says mallory's PDS is pds.example.com; that PDS answers with ``answer(request)``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "plc.directory":
            return httpx.Response(200, json=did_document(MALLORY, "mallory.test", FOREIGN))
        return httpx.Response(200, json=answer(request))

    return handler


def _rec(uri: str, **value: Any) -> dict[str, Any]:
    return {"uri": uri, "cid": "bafyreib", "value": {"$type": COLL, **value}}


# -- item 7: records read are checked against the request ---------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        f"at://{ALICE}/{COLL}/k1",  # another repo
        f"at://{MALLORY}/app.bsky.feed.post/k1",  # another collection
        f"at://{MALLORY}/{COLL}/other",  # another record key
        f"at://{MALLORY}/{COLL}/k1/extra",
        f"at://{MALLORY}/{COLL}/",
        "not a uri",
    ],
)
def test_get_record_answering_another_record_is_an_error(flavour: Flavour, uri: str) -> None:
    client = flavour.client(None, _client=flavour.http(_foreign(lambda r: _rec(uri))))
    with pytest.raises(RecordMismatchError):
        client.get_record_envelope(f"at://{MALLORY}/{COLL}/k1")
    with pytest.raises(RecordMismatchError):
        client.get_record(f"at://{MALLORY}/{COLL}/k1")


def test_get_record_with_another_type_is_an_error(flavour: Flavour) -> None:
    def answer(request: httpx.Request) -> dict[str, Any]:
        rec = _rec(f"at://{MALLORY}/{COLL}/k1")
        rec["value"]["$type"] = "app.bsky.feed.post"
        return rec

    client = flavour.client(None, _client=flavour.http(_foreign(answer)))
    with pytest.raises(RecordMismatchError, match=r"\$type"):
        client.get_record(f"at://{MALLORY}/{COLL}/k1")


def test_the_right_record_is_returned(flavour: Flavour) -> None:
    client = flavour.client(
        None, _client=flavour.http(_foreign(lambda r: _rec(f"at://{MALLORY}/{COLL}/k1", n=1)))
    )
    assert client.get_record(f"at://{MALLORY}/{COLL}/k1") == {"$type": COLL, "n": 1}


def test_listing_a_foreign_repo_refuses_records_of_another(flavour: Flavour) -> None:
    def answer(request: httpx.Request) -> dict[str, Any]:
        mine = _rec(f"at://{MALLORY}/{COLL}/k1")
        alices = _rec(f"at://{ALICE}/{COLL}/k2")
        return {"records": [mine, alices]}

    client = flavour.client(None, _client=flavour.http(_foreign(answer)))
    with pytest.raises(RecordMismatchError, match=ALICE):
        client.list_records(COLL, repo=MALLORY)
    with pytest.raises(RecordMismatchError):
        client.list_datasets(repo=MALLORY)
    with pytest.raises(RecordMismatchError):
        list(client.iter_records(COLL, repo=MALLORY))


def test_listing_refuses_another_collection(flavour: Flavour) -> None:
    answer = {"records": [_rec(f"at://{MALLORY}/{COLL}.other/k1")]}
    client = flavour.client(None, _client=flavour.http(_foreign(lambda r: answer)))
    with pytest.raises(RecordMismatchError):
        client.list_records(COLL, repo=MALLORY)


def test_mismatch_is_an_invalid_response() -> None:
    assert issubclass(RecordMismatchError, InvalidResponseError)


# -- item 8: the session's identity is cross-checked -----------------------------------------


def _session(did: str, handle: str = "alice.test", **extra: Any) -> dict[str, Any]:
    return {"did": did, "handle": handle, "accessJwt": "a.b.c", "refreshJwt": "d.e.f", **extra}


def test_get_session_for_another_did_is_refused(flavour: Flavour) -> None:
    pds = FakePds("https://my.pds")
    alice = pds.add_account("alice.test", PASSWORD)
    pds.inject(
        "com.atproto.server.getSession",
        httpx.Response(200, json={"did": MALLORY, "handle": "mallory.test"}),
    )
    client = flavour.client("https://my.pds", _client=flavour.http(pds))
    with pytest.raises(InvalidResponseError, match=MALLORY):
        client.login_with_session(pds.session_string(alice))
    assert not client.is_authenticated


def test_get_session_without_a_did_does_not_rename(flavour: Flavour) -> None:
    pds = FakePds("https://my.pds")
    alice = pds.add_account("alice.test", PASSWORD)
    pds.inject("com.atproto.server.getSession", httpx.Response(200, json={"handle": "x.test"}))
    client = flavour.client("https://my.pds", _client=flavour.http(pds))
    client.login_with_session(pds.session_string(alice))
    assert client.handle == "alice.test"


@pytest.mark.parametrize("handle", ["evil:::did:plc:x", "not a handle", "a" * 300])
def test_unexportable_handles_are_refused(flavour: Flavour, handle: str) -> None:
    login = flavour.client(
        "https://my.pds",
        _client=flavour.http(lambda r: httpx.Response(200, json=_session(ALICE, handle))),
    )
    with pytest.raises(InvalidResponseError, match="handle"):
        login.login("alice.test", PASSWORD)
    assert not login.is_authenticated

    pds = FakePds("https://my.pds")
    alice = pds.add_account("alice.test", PASSWORD)
    pds.inject(
        "com.atproto.server.getSession",
        httpx.Response(200, json={"did": alice.did, "handle": handle}),
    )
    restored = flavour.client("https://my.pds", _client=flavour.http(pds))
    with pytest.raises(InvalidResponseError, match="handle"):
        restored.login_with_session(pds.session_string(alice))
    assert not restored.is_authenticated


def test_a_refresh_with_an_unexportable_handle_ends_the_session(flavour: Flavour) -> None:
    pds = FakePds("https://my.pds")
    alice = pds.add_account("alice.test", PASSWORD)
    pds.inject(
        "com.atproto.server.refreshSession",
        httpx.Response(200, json=_session(alice.did, "evil:::x")),
    )
    client = flavour.client("https://my.pds", _client=flavour.http(pds))
    client.login_with_session(pds.session_string(alice, access_exp=1.0), verify=False)
    with pytest.raises(SessionRefreshError):
        client.list_records(COLL)
    assert not client.is_authenticated


def test_login_by_handle_refuses_a_session_for_another_did(flavour: Flavour) -> None:
    pds = FakePds(FOREIGN)
    alice = pds.add_account("alice.example.com", PASSWORD)
    pds.inject("com.atproto.server.createSession", httpx.Response(200, json=_session(MALLORY)))

    def plc(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=did_document(alice.did, alice.handle, FOREIGN))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "plc.directory":
            return plc(request)
        return route_by_host(pds)(request)

    resolver = flavour.resolver(http=flavour.http(handler), dns_resolver=NoDns())
    client = flavour.client(None, _client=flavour.http(handler), resolver=resolver)
    with pytest.raises(InvalidResponseError, match=MALLORY):
        client.login(alice.handle, PASSWORD)
    assert not client.is_authenticated
    pds.inject("com.atproto.server.createSession", httpx.Response(200, json=_session(MALLORY)))
    with pytest.raises(InvalidResponseError, match=MALLORY):
        client.login(alice.did, PASSWORD)


def test_login_by_did_on_a_named_pds_refuses_another_did(flavour: Flavour) -> None:
    client = flavour.client(
        "https://my.pds",
        _client=flavour.http(lambda r: httpx.Response(200, json=_session(MALLORY))),
    )
    with pytest.raises(InvalidResponseError, match=MALLORY):
        client.login(ALICE, PASSWORD)
    assert not client.is_authenticated


# -- item 5: blob downloads are bounded ---------------------------------------------------------

SMALL_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"  # any CID will do
MIB = 1024 * 1024


class _Firehose:
    """A getBlob body of ``chunks`` MiB, counting how much of it was pulled."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.pulled = 0

    def __iter__(self) -> Any:
        for _ in range(self.chunks):
            self.pulled += 1
            yield b"\0" * MIB


def _blob_server(
    flavour: Flavour,
    body: _Firehose | None = None,
    *,
    headers: dict[str, str] | None = None,
    limit: int | None = None,
    content: bytes | None = None,
) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "plc.directory":
            return httpx.Response(200, json=did_document(MALLORY, "mallory.test", FOREIGN))
        if request.url.path.endswith("describeServer"):
            described: dict[str, Any] = {"did": "did:web:pds.example.com"}
            if limit is not None:
                described["blobUploadLimit"] = limit
            return httpx.Response(200, json=described)
        assert request.headers["accept-encoding"] == "identity"
        if content is not None:
            return httpx.Response(200, content=content, headers=headers)
        assert body is not None
        return httpx.Response(200, content=flavour.stream(body), headers=headers)

    return handler


def test_get_blob_stops_at_the_callers_max_size(flavour: Flavour) -> None:
    body = _Firehose(256)
    client = flavour.client(None, _client=flavour.http(_blob_server(flavour, body)))
    with pytest.raises(ResponseTooLargeError):
        client.get_blob(MALLORY, SMALL_CID, max_size=2 * MIB)
    assert body.pulled <= 4  # stopped as soon as the bound was passed


def test_iter_blob_stops_at_the_servers_advertised_limit(flavour: Flavour) -> None:
    body = _Firehose(256)
    client = flavour.client(None, _client=flavour.http(_blob_server(flavour, body, limit=MIB)))
    received: list[int] = []

    def consume() -> None:
        for chunk in client.iter_blob(MALLORY, SMALL_CID):
            received.append(len(chunk))

    with pytest.raises(ResponseTooLargeError):
        consume()
    assert sum(received) <= 2 * MIB
    assert body.pulled <= 3


def test_download_blob_never_grows_past_the_bound(flavour: Flavour, tmp_path: Path) -> None:
    body = _Firehose(256)
    client = flavour.client(None, _client=flavour.http(_blob_server(flavour, body)))
    target = tmp_path / "blob.bin"
    with pytest.raises(ResponseTooLargeError):
        client.download_blob(MALLORY, SMALL_CID, target, max_size=3 * MIB)
    assert body.pulled <= 5
    assert list(tmp_path.iterdir()) == []  # no file, no .part left behind


def test_a_declared_length_over_the_bound_is_refused_before_reading(flavour: Flavour) -> None:
    body = _Firehose(256)
    headers = {"Content-Length": str(256 * MIB)}
    client = flavour.client(
        None, _client=flavour.http(_blob_server(flavour, body, headers=headers, limit=MIB))
    )
    with pytest.raises(ResponseTooLargeError, match="declares"):
        client.get_blob(MALLORY, SMALL_CID)
    assert body.pulled == 0


def test_the_default_bound_applies_without_any_limit(flavour: Flavour) -> None:
    assert DEFAULT_MAX_BLOB_SIZE == 1024**3
    headers = {"Content-Length": str(2 * 1024**3)}
    body = _Firehose(1)
    client = flavour.client(
        None, _client=flavour.http(_blob_server(flavour, body, headers=headers))
    )
    with pytest.raises(ResponseTooLargeError):
        client.get_blob(MALLORY, SMALL_CID)
    assert body.pulled == 0


def test_an_unrequested_gzip_answer_is_refused(flavour: Flavour) -> None:
    bomb = gzip.compress(b"\0" * (8 * MIB))
    handler = _blob_server(flavour, headers={"Content-Encoding": "gzip"}, content=bomb)
    client = flavour.client(None, _client=flavour.http(handler))
    with pytest.raises(InvalidResponseError, match="gzip"):
        client.get_blob(MALLORY, SMALL_CID)
    with pytest.raises(InvalidResponseError, match="gzip"):
        list(client.iter_blob(MALLORY, SMALL_CID))


def test_a_blob_within_its_bounds_still_downloads(flavour: Flavour) -> None:
    data = b"twelve bytes"
    handler = _blob_server(flavour, content=data, limit=MIB)
    client = flavour.client(None, _client=flavour.http(handler))
    assert client.get_blob(MALLORY, blob_cid(data), max_size=12) == data
    with pytest.raises(ResponseTooLargeError):
        client.get_blob(MALLORY, blob_cid(data), max_size=11)


def test_get_blob_holds_at_most_256_mib_by_default(flavour: Flavour) -> None:
    assert DEFAULT_MAX_BLOB_MEMORY == 256 * MIB
    body = _Firehose(1)
    headers = {"Content-Length": str(300 * MIB)}
    client = flavour.client(
        None, _client=flavour.http(_blob_server(flavour, body, headers=headers))
    )
    with pytest.raises(ResponseTooLargeError):
        client.get_blob(MALLORY, SMALL_CID)
    assert body.pulled == 0


# -- item 10: JSON answers are capped per method, and by density -----------------------------


def _answering(body: bytes) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "plc.directory":
            return httpx.Response(200, json=did_document(MALLORY, "mallory.test", FOREIGN))
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    return handler


def _padded(size: int) -> bytes:
    """A valid getRecord-shaped JSON answer of about ``size`` bytes (one long string)."""
    uri = f"at://{MALLORY}/{COLL}/k1"
    return json.dumps({"uri": uri, "value": {"$type": COLL, "text": "x" * size}}).encode()


def test_a_single_record_answer_is_capped_small(flavour: Flavour) -> None:
    client = flavour.client(None, _client=flavour.http(_answering(_padded(5 * MIB))))
    with pytest.raises(ResponseTooLargeError):
        client.get_record(f"at://{MALLORY}/{COLL}/k1")
    ok = flavour.client(None, _client=flavour.http(_answering(_padded(MIB))))
    assert len(ok.get_record(f"at://{MALLORY}/{COLL}/k1")["text"]) == MIB


def test_a_session_answer_is_capped_small(flavour: Flavour) -> None:
    session = _session(ALICE, pad="x" * MIB)
    client = flavour.client(
        "https://my.pds", _client=flavour.http(lambda r: httpx.Response(200, json=session))
    )
    with pytest.raises(ResponseTooLargeError):
        client.login("alice.test", PASSWORD)


def test_a_listing_is_capped_at_16_mib(flavour: Flavour) -> None:
    records = [_rec(f"at://{MALLORY}/{COLL}/k{i}", text="y" * (200 * 1024)) for i in range(90)]
    body = json.dumps({"records": records}).encode()
    assert len(body) > 16 * MIB
    client = flavour.client(None, _client=flavour.http(_answering(body)))
    with pytest.raises(ResponseTooLargeError):
        client.list_records(COLL, repo=MALLORY)


def test_a_dense_listing_is_refused_before_parsing(flavour: Flavour) -> None:
    # 8 MiB of empty objects would cost ~200 MiB once parsed.
    body = b'{"records":[' + b"{}," * (8 * MIB // 3) + b"{}]}"
    client = flavour.client(None, _client=flavour.http(_answering(body)))
    with pytest.raises(InvalidResponseError, match="JSON values"):
        client.list_records(COLL, repo=MALLORY)


def test_a_real_listing_is_not_too_dense(flavour: Flavour) -> None:
    value = {"name": "dataset", "schemaRef": f"at://{MALLORY}/{COLL}/s", "tags": ["a", "b"]}
    records = [_rec(f"at://{MALLORY}/{COLL}/k{i:04}", **value) for i in range(100)]
    body = json.dumps({"records": records, "cursor": "k0099"}).encode()
    assert len(body) > 16 * 1024
    check_density(body * 4, "x")  # the same density, over the floor: accepted
    client = flavour.client(None, _client=flavour.http(_answering(body)))
    page, _ = client.list_records(COLL, repo=MALLORY)
    assert len(page) == 100


def test_density_rule_itself() -> None:
    check_density(b"[" + b"{}," * 1000 + b"{}]", "small")  # small bodies pass
    with pytest.raises(InvalidResponseError):
        check_density(b"[" + b"0," * (64 * 1024) + b"0]", "ints")
    check_density(json.dumps({"text": "prose, with commas: " * 10_000}).encode(), "text")
    assert json_cap(GET_RECORD, 16 * MIB) == 4 * MIB
    assert json_cap(LIST_RECORDS, 16 * MIB) == 16 * MIB
    assert json_cap("app.bsky.feed.getTimeline", 16 * MIB) == 16 * MIB


# -- item 11: an overall deadline for JSON calls ---------------------------------------------


def test_a_dripped_answer_is_cut_off_by_the_deadline(flavour: Flavour) -> None:
    with FaultServer() as server:
        alice = server.register("alice.test", PASSWORD)
        uri = server.pds.add_record(alice, COLL, {"$type": COLL})
        # 10,000 bytes, one every 50 ms: each byte is well within the 5 s read
        # timeout, the whole answer would take over 8 minutes.
        server.script("com.atproto.repo.getRecord", trickle(10_000, 0.05))
        client = flavour.client(
            server.url,
            plc_url=server.url,
            timeout=5.0,
            deadline=0.5,
            retry=RetryPolicy(max_attempts=1),
            allow_private_hosts=True,
        )
        with client, pytest.raises(NetworkTimeoutError, match="deadline"):
            client.get_record(uri)


def test_deadline_is_checked(flavour: Flavour) -> None:
    for bad in (0, -1.0, "soon", True):
        with pytest.raises(InvalidArgumentError):
            flavour.client("https://pds.test", deadline=bad)
    assert flavour.client("https://pds.test", deadline=None) is not None


def test_blob_downloads_keep_only_the_step_timeouts(flavour: Flavour) -> None:
    data = b" " * 20  # what trickle() sends: a space every 20 ms, 0.4 s in all
    with FaultServer() as server:
        alice = server.register("alice.test", PASSWORD)
        server.script("com.atproto.sync.getBlob", trickle(len(data), 0.02))
        client = flavour.client(
            server.url, plc_url=server.url, timeout=5.0, deadline=0.2, allow_private_hosts=True
        )
        with client:
            assert client.get_blob(alice.did, blob_cid(data)) == data


# -- item 9: every failure a server or user can cause is an AtmosphereError ------------------


def test_deeply_nested_json_is_an_invalid_response(flavour: Flavour) -> None:
    body = b"[" * 60_000 + b"]" * 60_000
    client = flavour.client(None, _client=flavour.http(_answering(body)))
    with pytest.raises(InvalidResponseError):
        client.get_record(f"at://{MALLORY}/{COLL}/k1")


@pytest.mark.parametrize("url", ["http://256.1.1.1", "http://0177.0.0.1", "https://a b.test"])
def test_a_base_url_httpx_cannot_use_is_refused_up_front(flavour: Flavour, url: str) -> None:
    with pytest.raises(InvalidArgumentError):
        flavour.client(url)


def test_a_service_url_httpx_cannot_use_is_an_atmosphere_error(flavour: Flavour) -> None:
    client = flavour.client("https://pds.test", _client=flavour.http(lambda r: httpx.Response(200)))
    with pytest.raises(InvalidArgumentError):
        client.query("com.example.ping", service_url="http://256.1.1.1")


def test_the_cli_never_prints_a_traceback(tmp_path: Path) -> None:
    from atmosphere._cli import EXIT_ERROR, _run, build_parser

    args = build_parser().parse_args(["--session-file", str(tmp_path / "s"), "whoami"])

    def boom(ctx: Any) -> int:
        raise RecursionError("maximum recursion depth exceeded")

    args.handler = boom
    out, err = io.StringIO(), io.StringIO()
    assert _run(args, {}, io.StringIO(""), out, err) == EXIT_ERROR
    assert "Traceback" not in err.getvalue()
    assert err.getvalue().startswith("atmosphere: error: internal error (RecursionError)")


@pytest.mark.parametrize("declared", ["9" * 5000, "²", "99999999999999999999999"])
def test_absurd_content_lengths_are_atmosphere_errors(flavour: Flavour, declared: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "plc.directory":
            return httpx.Response(200, json=did_document(MALLORY, "mallory.test", FOREIGN))
        value = declared.encode("latin-1")  # "²" arrives as the byte 0xb2
        return httpx.Response(200, content=b"{}", headers=[(b"Content-Length", value)])

    client = flavour.client(None, _client=flavour.http(handler))
    with pytest.raises(AtmosphereError):
        client.get_record(f"at://{MALLORY}/{COLL}/k1")
    with pytest.raises(AtmosphereError):
        client.get_blob(MALLORY, SMALL_CID)


def test_every_face_takes_the_deadline(flavour: Flavour) -> None:
    from atmosphere._async.atmosphere import AsyncAtmosphere
    from atmosphere._sync.atmosphere import Atmosphere

    cls = AsyncAtmosphere if flavour.is_async else Atmosphere
    assert flavour.wrap(cls("https://pds.test", deadline=5.0))._xrpc.deadline == 5.0
    assert flavour.client("https://pds.test", deadline=None)._xrpc.deadline is None
