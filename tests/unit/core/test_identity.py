"""The pure identity rules: no network, no DNS, no clock but a fake one."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

import pytest

from atmosphere._cache import TtlCache
from atmosphere._identity import (
    HANDLE_INVALID,
    Identity,
    check_pds_endpoint,
    check_resolvable_handle,
    claimed_handle,
    did_document_url,
    dns_txt_name,
    document_pds_endpoint,
    parse_did_document,
    parse_dns_txt,
    parse_well_known_body,
    verify_handle,
    well_known_redirect,
    well_known_url,
)
from atmosphere._models import DidDocument
from atmosphere._syntax import RESERVED_TLDS
from atmosphere.errors import (
    DidResolutionError,
    HandleResolutionError,
    InvalidIdentifierError,
)

ALICE = "did:plc:alice234alice234alice234"
BOB = "did:plc:bob234bob234bob234bob234"


def doc(
    did: str = ALICE,
    *,
    aka: list[str] | None = None,
    pds: Any = "https://pds.example.com",
    service_id: str = "#atproto_pds",
) -> dict[str, Any]:
    services = []
    if pds is not None:
        services.append(
            {"id": service_id, "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}
        )
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "alsoKnownAs": ["at://alice.test"] if aka is None else aka,
        "verificationMethod": [],
        "service": services,
    }


def document(did: str = ALICE, **kwargs: Any) -> DidDocument:
    return DidDocument.model_validate(doc(did, **kwargs))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- handles -------------------------------------------------------------------


def test_check_resolvable_handle_normalizes() -> None:
    assert check_resolvable_handle("Alice.Example.COM") == "alice.example.com"


@pytest.mark.parametrize("tld", sorted(RESERVED_TLDS))
def test_reserved_tlds_do_not_resolve(tld: str) -> None:
    with pytest.raises(HandleResolutionError, match="reserved"):
        check_resolvable_handle(f"alice{tld}")


def test_handle_invalid_does_not_resolve() -> None:
    with pytest.raises(HandleResolutionError):
        check_resolvable_handle("handle.invalid")


@pytest.mark.parametrize("bad", ["alice", "alice..test", "-a.test", "a.0", "@alice.test", ""])
def test_bad_handle_syntax(bad: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        check_resolvable_handle(bad)


def test_names_and_urls() -> None:
    assert dns_txt_name("alice.test") == "_atproto.alice.test"
    assert well_known_url("alice.test") == "https://alice.test/.well-known/atproto-did"


# -- DNS TXT ---------------------------------------------------------------------


def test_dns_txt_single_record() -> None:
    assert parse_dns_txt("a.test", [[f"did={ALICE}".encode()]]) == ALICE


def test_dns_txt_joins_strings_of_one_record() -> None:
    assert parse_dns_txt("a.test", [[b"did=did:plc:", ALICE[8:].encode()]]) == ALICE


def test_dns_txt_ignores_other_values() -> None:
    records = [["v=spf1 -all"], ["did:plc:nope"], [" did=" + BOB], [f"did={ALICE}"]]
    assert parse_dns_txt("a.test", records) == ALICE


def test_dns_txt_none() -> None:
    assert parse_dns_txt("a.test", []) is None
    assert parse_dns_txt("a.test", [["hello"], [b""]]) is None


def test_dns_txt_same_did_twice_is_fine() -> None:
    assert parse_dns_txt("a.test", [[f"did={ALICE}"], [f"did={ALICE}"]]) == ALICE


def test_dns_txt_two_dids_fail() -> None:
    with pytest.raises(HandleResolutionError, match="more than one DID"):
        parse_dns_txt("a.test", [[f"did={ALICE}"], [f"did={BOB}"]])


def test_dns_txt_invalid_did_fails() -> None:
    with pytest.raises(HandleResolutionError, match="invalid DID"):
        parse_dns_txt("a.test", [["did=not a did"]])


# -- well-known --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        ALICE,
        f"{ALICE}\n",
        f"  \n {ALICE}\r\n",
        f"{ALICE}\nsomething else\n",
        ALICE.encode(),
    ],
)
def test_well_known_body(body: str | bytes) -> None:
    assert parse_well_known_body("a.test", body) == ALICE


@pytest.mark.parametrize(
    "body",
    [b"", b"   \n", b"<html>hi</html>", f"garbage\n{ALICE}".encode(), f"{ALICE} x".encode()],
)
def test_well_known_body_rejected(body: bytes) -> None:
    with pytest.raises(HandleResolutionError):
        parse_well_known_body("a.test", body)


def test_well_known_body_not_utf8() -> None:
    with pytest.raises(HandleResolutionError, match="UTF-8"):
        parse_well_known_body("a.test", b"\xff\xfe" + ALICE.encode())


def test_well_known_redirects() -> None:
    url = "https://a.test/.well-known/atproto-did"
    assert well_known_redirect("a.test", url, "/other") == "https://a.test/other"
    assert well_known_redirect("a.test", url, "https://b.test/x") == "https://b.test/x"
    for bad in (None, "", "http://b.test/x", "ftp://b.test/", "https://u:p@b.test/x"):
        with pytest.raises(HandleResolutionError):
            well_known_redirect("a.test", url, bad)


# -- DID document URL ----------------------------------------------------------------


def test_plc_url() -> None:
    assert did_document_url(ALICE) == f"https://plc.directory/{ALICE}"
    assert did_document_url(ALICE, "http://127.0.0.1:2582/") == f"http://127.0.0.1:2582/{ALICE}"


@pytest.mark.parametrize("did", ["did:plc:short", "did:plc:ALICE234ALICE234ALICE234", "did:plc:a1"])
def test_malformed_plc(did: str) -> None:
    with pytest.raises(DidResolutionError, match="malformed"):
        did_document_url(did)


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:example.com", "https://example.com/.well-known/did.json"),
        ("did:web:Sub.Example.com", "https://sub.example.com/.well-known/did.json"),
        ("did:web:localhost", "http://localhost/.well-known/did.json"),
        ("did:web:localhost%3A5000", "http://localhost:5000/.well-known/did.json"),
        ("did:web:localhost%3a5000", "http://localhost:5000/.well-known/did.json"),
    ],
)
def test_did_web_url(did: str, url: str) -> None:
    assert did_document_url(did) == url


@pytest.mark.parametrize(
    "did",
    [
        "did:web:example.com:user:alice",  # path-based did:web
        "did:web:localhost:path",
        "did:web:example.com%3A8443",  # ports only for localhost
        "did:web:localhost%3A99999",
        "did:web:localhost%3Aabc",
        "did:web:localhost%3A",
        "did:web:ex%41mple.com",
        "did:web:intranet",  # not a hostname with a TLD
        "did:web:printer.local",  # reserved TLD
        "did:web:1.2.3.4",
    ],
)
def test_did_web_rejected(did: str) -> None:
    with pytest.raises(DidResolutionError):
        did_document_url(did)


def test_unsupported_method() -> None:
    with pytest.raises(DidResolutionError, match="unsupported"):
        did_document_url("did:key:zQ3shZc2QzApp2oymGvQbzP8eKheVshBHbU4ZYjeXqwSKEn6N")


def test_invalid_did_syntax() -> None:
    with pytest.raises(InvalidIdentifierError):
        did_document_url("did:plc:abc/def")


# -- DID document --------------------------------------------------------------------


def test_parse_did_document() -> None:
    parsed = parse_did_document(ALICE, json.dumps(doc()).encode())
    assert parsed.id == ALICE
    assert parsed.handle == "alice.test"
    assert parsed.pds_endpoint == "https://pds.example.com"
    assert parse_did_document(ALICE, doc()) == parsed


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"null", "not a JSON object"),
        (b"[" * 100_000, "not valid JSON"),
        (json.dumps({"alsoKnownAs": []}).encode(), "malformed"),
        (json.dumps({**doc(), "alsoKnownAs": "at://alice.test"}).encode(), "malformed"),
        (json.dumps(doc(BOB)).encode(), "is for"),
        (json.dumps(doc(ALICE.upper().replace("DID:PLC", "did:plc"))).encode(), "is for"),
    ],
)
def test_bad_did_document(body: bytes, match: str) -> None:
    with pytest.raises(DidResolutionError, match=match):
        parse_did_document(ALICE, body)


# -- PDS endpoint ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("https://pds.example.com", "https://pds.example.com"),
        ("https://pds.example.com/", "https://pds.example.com"),
        ("HTTPS://PDS.Example.com", "https://pds.example.com"),
        ("https://pds.example.com:8443", "https://pds.example.com:8443"),
        ("http://localhost:2583", "http://localhost:2583"),
        ("http://127.0.0.1:2583/", "http://127.0.0.1:2583"),
        ("http://[::1]:2583", "http://[::1]:2583"),
    ],
)
def test_pds_endpoint_ok(endpoint: str, expected: str) -> None:
    assert check_pds_endpoint(ALICE, endpoint) == expected


@pytest.mark.parametrize(
    "endpoint",
    [
        None,
        "",
        "ftp://pds.example.com",
        "pds.example.com",
        "https://",
        "https:///path",
        "https://pds.example.com/xrpc",
        "https://pds.example.com//",
        "https://pds.example.com?x=1",
        "https://pds.example.com/?",
        "https://pds.example.com#frag",
        "https://user:pass@pds.example.com",
        "https://evil.example\\@pds.example.com",
        "https://pds.example.com:99999",
        "https://pds.example.com:0",
        "https://pds.example.com:port",
        " https://pds.example.com",
        "https://pds.exa mple.com",
        "https://pds.exämple.com",
        "javascript:alert(1)",
    ],
)
def test_pds_endpoint_rejected(endpoint: str | None) -> None:
    with pytest.raises(DidResolutionError):
        check_pds_endpoint(ALICE, endpoint)


def test_document_pds_endpoint() -> None:
    assert document_pds_endpoint(document(pds="https://pds.example.com/")) == (
        "https://pds.example.com"
    )
    full_id = document(service_id=f"{ALICE}#atproto_pds")
    assert document_pds_endpoint(full_id) == "https://pds.example.com"
    with pytest.raises(DidResolutionError, match="no atproto PDS"):
        document_pds_endpoint(document(pds=None))
    with pytest.raises(DidResolutionError, match="no atproto PDS"):
        document_pds_endpoint(document(service_id="#other"))
    with pytest.raises(DidResolutionError, match="no atproto PDS"):
        document_pds_endpoint(document(pds={"origins": ["https://pds.example.com"]}))
    with pytest.raises(DidResolutionError, match="http"):
        document_pds_endpoint(document(pds="ftp://pds.example.com"))


# -- bidirectional check -----------------------------------------------------------------


def test_claimed_handle() -> None:
    assert claimed_handle(document(aka=["at://Alice.Test"])) == "alice.test"
    assert claimed_handle(document(aka=["https://x.test", "at://alice.test"])) == "alice.test"
    assert claimed_handle(document(aka=[])) is None
    assert claimed_handle(document(aka=["at://not a handle", "at://alice.test"])) is None


def test_verify_handle() -> None:
    d = document(aka=["at://Alice.test", "at://other.test"])
    assert verify_handle(d, "ALICE.TEST", ALICE) == "alice.test"
    assert verify_handle(d, "alice.test", BOB) == HANDLE_INVALID  # handle names another DID
    assert verify_handle(d, "alice.test", None) == HANDLE_INVALID  # handle did not resolve
    assert verify_handle(d, "other.test", ALICE) == HANDLE_INVALID  # only the first counts
    assert verify_handle(document(aka=[]), "alice.test", ALICE) == HANDLE_INVALID
    reserved = document(aka=["at://alice.local"])
    assert verify_handle(reserved, "alice.local", ALICE) == HANDLE_INVALID


def test_identity_is_frozen() -> None:
    d = document()
    ident = Identity(did=ALICE, handle="alice.test", pds_endpoint="https://p.test", document=d)
    assert ident.handle_is_valid
    assert not dataclasses.replace(ident, handle=HANDLE_INVALID).handle_is_valid
    with pytest.raises(dataclasses.FrozenInstanceError):
        ident.handle = "x.test"  # type: ignore[misc]


# -- cache ---------------------------------------------------------------------------------


def test_cache_hit_and_expiry() -> None:
    clock = FakeClock()
    cache: TtlCache[str, str] = TtlCache(10, ttl=60, negative_ttl=5, clock=clock)
    cache.set("a", "A")
    cache.set("n", "N", negative=True)
    assert cache.get("a") == "A"
    assert cache.get("n") == "N"
    clock.now += 5
    assert cache.get("n") is None  # negative entries expire sooner
    assert cache.get("a") == "A"
    clock.now += 55
    assert cache.get("a") is None
    assert len(cache) == 0


def test_cache_lru_eviction() -> None:
    cache: TtlCache[str, int] = TtlCache(2, clock=FakeClock())
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.set("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1
    assert cache.get("c") == 3
    assert len(cache) == 2


def test_cache_disabled_and_clear() -> None:
    off: TtlCache[str, int] = TtlCache(0)
    off.set("a", 1)
    assert off.get("a") is None
    no_negative: TtlCache[str, int] = TtlCache(5, negative_ttl=0)
    no_negative.set("a", 1, negative=True)
    assert no_negative.get("a") is None
    cache: TtlCache[str, int] = TtlCache(5)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.delete("a")
    assert cache.get("a") is None
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError, match="maxsize"):
        TtlCache(-1)


def test_cache_is_thread_safe_and_bounded() -> None:
    cache: TtlCache[int, int] = TtlCache(50)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(2000):
                cache.set(offset * 10_000 + i, i)
                cache.get(offset * 10_000 + i - 1)
                assert len(cache) <= 50
        except BaseException as exc:  # pragma: no cover - only on failure
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(cache) == 50
