"""Tests for atmosphere.syntax: the interop vectors, AtUri, handles, datetimes and TIDs."""

from __future__ import annotations

import copy
import itertools
import pickle
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from atmosphere import _syntax as syntax
from atmosphere._syntax import (
    RESERVED_TLDS,
    AtUri,
    generate_tid,
    is_reserved_handle,
    is_valid_handle,
    is_valid_tid,
    normalize_handle,
    parse_datetime,
    validate_at_uri,
    validate_datetime,
    validate_handle,
    validate_language,
    validate_tid,
    validate_uri,
)
from atmosphere.errors import InvalidIdentifierError

VECTOR_DIR = Path(__file__).resolve().parents[3] / "fixtures" / "interop" / "syntax"
VECTOR_FILE_RE = re.compile(
    r"(?P<name>[a-z]+)_(?P<stage>syntax|parse)_(?P<outcome>valid|invalid)\.txt"
)

# Vector file prefix -> (validator, predicate).
VALIDATORS: dict[str, tuple[Callable[[str], str], Callable[[object], bool]]] = {
    "atidentifier": (syntax.validate_at_identifier, syntax.is_valid_at_identifier),
    "aturi": (syntax.validate_at_uri, syntax.is_valid_at_uri),
    "cid": (syntax.validate_cid, syntax.is_valid_cid),
    "datetime": (syntax.validate_datetime, syntax.is_valid_datetime),
    "did": (syntax.validate_did, syntax.is_valid_did),
    "handle": (syntax.validate_handle, syntax.is_valid_handle),
    "language": (syntax.validate_language, syntax.is_valid_language),
    "nsid": (syntax.validate_nsid, syntax.is_valid_nsid),
    "recordkey": (syntax.validate_record_key, syntax.is_valid_record_key),
    "tid": (syntax.validate_tid, syntax.is_valid_tid),
    "uri": (syntax.validate_uri, syntax.is_valid_uri),
}


def read_vectors(path: Path) -> list[tuple[int, str]]:
    """(line number, value) pairs, byte-exact: only the newline is removed."""
    vectors = []
    for lineno, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        line = raw.decode("utf-8")
        if line and not line.startswith("#"):
            vectors.append((lineno, line))
    return vectors


def vector_params(outcome: str) -> list[object]:
    params: list[object] = []
    for path in sorted(VECTOR_DIR.glob("*.txt")):
        m = VECTOR_FILE_RE.fullmatch(path.name)
        if m is None or m["outcome"] != outcome or m["name"] not in VALIDATORS:
            continue
        for lineno, value in read_vectors(path):
            params.append(pytest.param(m["name"], value, id=f"{path.stem}:{lineno}"))
    return params


def test_every_vector_file_is_mapped_and_not_empty() -> None:
    files = sorted(VECTOR_DIR.glob("*"))
    assert len(files) == 24
    seen = set()
    for path in files:
        m = VECTOR_FILE_RE.fullmatch(path.name)
        assert m is not None, f"unexpected file {path.name}"
        assert m["name"] in VALIDATORS, f"{path.name} has no validator"
        assert not (m["stage"] == "parse" and m["outcome"] == "valid"), path.name
        assert read_vectors(path), f"{path.name} has no vectors"
        seen.add(m["name"])
    assert seen == set(VALIDATORS)


def test_vectors_keep_whitespace() -> None:
    handles = dict(read_vectors(VECTOR_DIR / "handle_syntax_invalid.txt"))
    assert handles[29] == " john.test"
    assert handles[30] == "john.test "


@pytest.mark.parametrize(("name", "value"), vector_params("valid"))
def test_valid_vectors_accepted(name: str, value: str) -> None:
    validate, is_valid = VALIDATORS[name]
    assert validate(value) is value
    assert is_valid(value) is True


@pytest.mark.parametrize(("name", "value"), vector_params("invalid"))
def test_invalid_vectors_rejected(name: str, value: str) -> None:
    validate, is_valid = VALIDATORS[name]
    with pytest.raises(InvalidIdentifierError) as info:
        validate(value)
    assert info.value.value == value
    assert info.value.reason
    assert is_valid(value) is False


@pytest.mark.parametrize(("name", "value"), vector_params("valid"))
def test_valid_aturi_and_datetime_vectors_parse(name: str, value: str) -> None:
    if name == "aturi":
        assert str(AtUri.parse(value)) == value
    elif name == "datetime" and not value.startswith("0000"):
        parsed = parse_datetime(value)
        assert parsed.tzinfo is not None
        assert parsed.year == int(value[:4])


@pytest.mark.parametrize(("name", "value"), vector_params("invalid"))
def test_invalid_aturi_and_datetime_vectors_do_not_parse(name: str, value: str) -> None:
    if name == "aturi":
        with pytest.raises(InvalidIdentifierError):
            AtUri.parse(value)
    elif name == "datetime":
        with pytest.raises(InvalidIdentifierError):
            parse_datetime(value)


@pytest.mark.parametrize("name", sorted(VALIDATORS))
@pytest.mark.parametrize("value", [None, b"john.test", 42, ["x"]])
def test_non_str_is_rejected_not_type_error(name: str, value: object) -> None:
    validate, is_valid = VALIDATORS[name]
    with pytest.raises(InvalidIdentifierError, match="expected str"):
        validate(value)  # type: ignore[arg-type]
    assert is_valid(value) is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("handle", "john.test"),
        ("did", "did:plc:7iza6de2dwap2sbkpav7c6c6"),
        ("nsid", "com.example.fooBar"),
        ("recordkey", "self"),
        ("tid", "3jzfcijpj2z2a"),
        ("aturi", "at://did:plc:asdf123/com.atproto.feed.post/record"),
        ("datetime", "1985-04-12T23:20:50.123Z"),
        ("language", "pt-BR"),
        ("uri", "https://example.com"),
        ("cid", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"),
        ("atidentifier", "john.test"),
    ],
)
def test_trailing_newline_rejected(name: str, value: str) -> None:
    validate, _ = VALIDATORS[name]
    validate(value)
    for bad in (value + "\n", value + "\r\n", "\n" + value, value + "\x00"):
        with pytest.raises(InvalidIdentifierError):
            validate(bad)


def test_error_is_value_error_with_kind() -> None:
    with pytest.raises(ValueError, match="invalid handle") as info:
        validate_handle("jo_hn.test")
    assert isinstance(info.value, InvalidIdentifierError)
    assert info.value.kind == "handle"
    assert "letters, digits" in info.value.reason


def test_non_ascii_letters_are_not_accepted() -> None:
    # Python's str.isalpha()/isdigit() accept non-ASCII characters; the validators must not.
    for value in ("bücher.test", "john.tést", "com.exämple.foo", "did:plc:ä", "٣jzfcijpj2z2a"):
        assert not syntax.is_valid_at_identifier(value)
        assert not syntax.is_valid_nsid(value)
        assert not syntax.is_valid_tid(value)
    assert not syntax.is_valid_language("ja-ÄÄ")
    assert not syntax.is_valid_language("jä")


# --- handles --------------------------------------------------------------------------


def test_normalize_handle() -> None:
    assert normalize_handle("John.TEST") == "john.test"
    assert normalize_handle("xn--ls8h.test") == "xn--ls8h.test"
    with pytest.raises(InvalidIdentifierError):
        normalize_handle("john")


def test_reserved_tlds() -> None:
    assert {
        ".alt",
        ".arpa",
        ".example",
        ".internal",
        ".invalid",
        ".local",
        ".localhost",
        ".onion",
    } == RESERVED_TLDS
    assert isinstance(RESERVED_TLDS, frozenset)


@pytest.mark.parametrize(
    ("handle", "reserved"),
    [
        ("handle.invalid", True),
        ("laptop.local", True),
        ("laptop.arpa", True),
        ("friend.expyuzz4wqqyqhjn.onion", True),
        ("SOME.EXAMPLE", True),
        ("x.localhost", True),
        ("x.internal", True),
        ("x.alt", True),
        ("john.test", False),
        ("alice.bsky.social", False),
        ("local.com", False),
        ("invalid.org", False),
        ("invalid", False),
        (".onion", False),
        (None, False),
    ],
)
def test_is_reserved_handle(handle: object, reserved: bool) -> None:
    assert is_reserved_handle(handle) is reserved


def test_handle_length_limit() -> None:
    label = "a" * 63
    handle = ".".join([label, label, label, "a" * 56, "test"])
    assert len(handle) == 253
    assert is_valid_handle(handle)
    assert not is_valid_handle("a" + handle)


# --- datetimes ------------------------------------------------------------------------


def test_parse_datetime_values() -> None:
    assert parse_datetime("1985-04-12T23:20:50.123Z") == datetime(
        1985, 4, 12, 23, 20, 50, 123000, tzinfo=timezone.utc
    )
    with_offset = parse_datetime("1985-04-12T23:20:50.123-07:00")
    assert with_offset.utcoffset() == timedelta(hours=-7)
    assert with_offset == datetime(1985, 4, 13, 6, 20, 50, 123000, tzinfo=timezone.utc)
    assert parse_datetime("1985-04-12T23:20:50Z").microsecond == 0
    assert parse_datetime("1985-04-12T23:20:50.1Z").microsecond == 100000
    # Digits beyond microseconds are truncated, never rounded up.
    assert parse_datetime("1985-04-12T23:20:50.9999999Z").microsecond == 999999
    assert parse_datetime("1985-04-12T23:20:50.123+00:00").tzinfo == timezone.utc


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2000-02-29T00:00:00Z", True),
        ("2024-02-29T00:00:00Z", True),
        ("1900-02-29T00:00:00Z", False),
        ("2023-02-29T00:00:00Z", False),
        ("0000-02-29T00:00:00Z", True),  # year 0 is a leap year (proleptic Gregorian)
        ("2023-04-31T00:00:00Z", False),
        ("2023-12-31T23:59:59Z", True),
        ("2023-12-31T23:59:60Z", False),  # no leap seconds
        ("2023-12-31T24:00:00Z", False),
        ("2023-12-31T12:00:00+23:59", True),
        ("2023-12-31T12:00:00+24:00", False),
        ("2023-12-31T12:00:00+01:60", False),
        ("2023-12-31T12:00:00-00:00", False),
        ("2023-12-31T12:00:00.123456789012345678901Z", False),  # 21 fraction digits
        ("2023-12-31T12:00:00.12345678901234567890Z", True),  # 20 fraction digits
        ("0000-01-01T01:00:00+01:00", True),  # exactly 0000-01-01T00:00:00Z
        ("0000-01-01T00:59:59.999+01:00", False),
        ("0000-01-01T00:00:00-01:00", True),
    ],
)
def test_datetime_calendar_edges(value: str, valid: bool) -> None:
    assert syntax.is_valid_datetime(value) is valid


def test_parse_datetime_year_zero_is_valid_but_unrepresentable() -> None:
    assert validate_datetime("0000-01-01T00:00:00.000Z")
    with pytest.raises(InvalidIdentifierError, match="year 0000"):
        parse_datetime("0000-01-01T00:00:00.000Z")


# --- language and URI -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("x-whatever", True),
        ("zh-min-nan", True),
        ("zh-yue-HK", True),
        ("en-Latn-US-u-ca-gregory-x-foo", True),
        ("en-1994", True),
        ("en-a", False),
        ("en-x", False),
        ("x", False),
        ("en-a-b-c", False),
        ("en-toolongsubtag", False),
        ("en--US", False),
        ("I-default", False),
        ("en-US-US", False),
        ("", False),
    ],
)
def test_language_extra_cases(value: str, valid: bool) -> None:
    assert syntax.is_valid_language(value) is valid


def test_language_duplicate_reason() -> None:
    with pytest.raises(InvalidIdentifierError, match="repeated"):
        validate_language("de-DE-1901-1901")


def test_uri_allows_shard_brace_patterns_and_caps_length() -> None:
    assert validate_uri("https://example.com/data/shard-{000000..000009}.tar")
    assert validate_uri("https://example.com/" + "x" * (8192 - 20))
    with pytest.raises(InvalidIdentifierError, match="longer than"):
        validate_uri("https://example.com/" + "x" * (8193 - 20))


# --- AtUri ----------------------------------------------------------------------------

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
POST = f"at://{DID}/app.bsky.feed.post/3jzfcijpj2z2a"


def test_at_uri_components() -> None:
    uri = AtUri.parse(POST)
    assert uri.authority == DID
    assert uri.host == DID
    assert uri.collection == "app.bsky.feed.post"
    assert uri.rkey == "3jzfcijpj2z2a"
    assert str(uri) == POST
    assert repr(uri) == f"AtUri({POST!r})"

    repo = AtUri.parse("at://Alice.Example.COM")
    assert repo.authority == "Alice.Example.COM"  # kept as written
    assert repo.collection is None
    assert repo.rkey is None

    collection = AtUri.parse(f"at://{DID}/app.bsky.feed.post")
    assert collection.collection == "app.bsky.feed.post"
    assert collection.rkey is None


def test_at_uri_make() -> None:
    assert AtUri.make(DID, "app.bsky.feed.post", "3jzfcijpj2z2a") == AtUri.parse(POST)
    assert str(AtUri.make(DID)) == f"at://{DID}"
    assert (
        str(AtUri.make("alice.test", "app.bsky.feed.post")) == "at://alice.test/app.bsky.feed.post"
    )
    assert AtUri(DID, "app.bsky.feed.post", "3jzfcijpj2z2a") == POST


@pytest.mark.parametrize(
    ("authority", "collection", "rkey"),
    [
        ("alice", None, None),
        ("did:plc:", None, None),
        (DID, None, "3jzfcijpj2z2a"),  # rkey without collection
        (DID, "app.bsky", None),
        (DID, "app.bsky.feed.post", ".."),
        (DID, "app.bsky.feed.post/extra", None),  # would re-parse differently
        (DID, "app.bsky.feed.post", "a/b"),
        (f"{DID}/app.bsky.feed.post", "x.y.z", None),
        (DID, "app.bsky.feed.post", "rkey?q=1"),
        (DID, "app.bsky.feed.post", "rkey#frag"),
        (DID, "app.bsky.feed.post", ""),
        ("", None, None),
        (None, None, None),
        (DID, 42, None),
    ],
)
def test_at_uri_make_rejects(authority: object, collection: object, rkey: object) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        AtUri.make(authority, collection, rkey)  # type: ignore[arg-type]
    assert info.value.kind == "AT-URI"


@pytest.mark.parametrize(
    "value",
    [
        f"at://{DID}/",
        f"at://{DID}/app.bsky.feed.post/",
        f"at://{DID}?x=1",
        f"at://{DID}/app.bsky.feed.post/rkey#/frag",
        f"at://{DID}/app.bsky.feed.post/rkey/extra",
        f"AT://{DID}",
        f"at://@{DID}",
        "at://user:pass@foo.com",
        "at://example.com:3000",
        "at://foo.com/example/123",
        "",
        "at://",
    ],
)
def test_at_uri_parse_rejects(value: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        AtUri.parse(value)
    assert info.value.kind == "AT-URI"
    assert info.value.value == value
    with pytest.raises(InvalidIdentifierError):
        validate_at_uri(value)


def test_at_uri_parse_rejects_non_str() -> None:
    with pytest.raises(InvalidIdentifierError):
        AtUri.parse(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidIdentifierError):
        AtUri.parse(POST.encode())  # type: ignore[arg-type]


def test_at_uri_equality_and_hash() -> None:
    a = AtUri.parse(POST)
    b = AtUri.from_str(POST)
    other = AtUri.parse(f"at://{DID}/app.bsky.feed.post/3jzfcijpj2z2b")
    assert a == b
    assert a is not b
    assert hash(a) == hash(b) == hash(POST)
    assert a == POST
    assert POST == a  # noqa: SIM300  (the reflected comparison is the point)
    assert a != other
    assert a != POST + "x"
    assert a != 42
    assert len({a, b, other}) == 2
    by_uri: dict[object, int] = {a: 1}
    by_str: dict[object, int] = {POST: 1}
    assert by_uri[POST] == 1
    assert by_str[a] == 1


def test_at_uri_is_immutable() -> None:
    uri = AtUri.parse(POST)
    with pytest.raises(AttributeError):
        uri.rkey = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        uri._text = "at://x.test"
    with pytest.raises(AttributeError):
        del uri._authority
    with pytest.raises(AttributeError):
        uri.extra = 1
    assert str(uri) == POST


def test_at_uri_copy_and_pickle() -> None:
    uri = AtUri.parse(POST)
    assert copy.copy(uri) == uri
    assert copy.deepcopy(uri) == uri
    restored = pickle.loads(pickle.dumps(uri))
    assert restored == uri
    assert restored.rkey == "3jzfcijpj2z2a"


# --- TIDs -----------------------------------------------------------------------------

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def decode_tid(tid: str) -> tuple[int, int]:
    n = 0
    for char in tid:
        n = n * 32 + TID_ALPHABET.index(char)
    return n >> 10, n & 0x3FF


def test_generate_tid_is_valid_and_current() -> None:
    before = time.time_ns() // 1000
    tid = generate_tid()
    after = time.time_ns() // 1000
    assert validate_tid(tid) == tid
    micros, clock_id = decode_tid(tid)
    assert 0 <= clock_id < 1024
    # Monotonic bumping may push a TID slightly past the wall clock, never far.
    assert before - 1_000_000 <= micros <= after + 1_000_000


def test_generate_tid_strictly_monotonic() -> None:
    tids = [generate_tid() for _ in range(20_000)]
    assert all(a < b for a, b in itertools.pairwise(tids))
    assert all(is_valid_tid(t) for t in tids[:100])
    clock_ids = {decode_tid(t)[1] for t in tids}
    assert len(clock_ids) == 1  # one clock id per process


def test_generate_tid_across_threads() -> None:
    per_thread, n_threads = 3000, 8
    results: list[list[str]] = [[] for _ in range(n_threads)]
    barrier = threading.Barrier(n_threads)

    def work(out: list[str]) -> None:
        barrier.wait()
        for _ in range(per_thread):
            out.append(generate_tid())

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [tid for out in results for tid in out]
    assert len(set(everything)) == per_thread * n_threads
    for out in results:
        assert all(a < b for a, b in itertools.pairwise(out))
    assert all(is_valid_tid(t) for t in everything)
