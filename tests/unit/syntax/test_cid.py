"""Tests for atmosphere.cid: blob CIDs, incremental hashing, file streaming, parsing."""

from __future__ import annotations

import array
import hashlib
import io
import random
from pathlib import Path

import pytest

from atmosphere._cid import (
    CIDV1,
    DAG_CBOR_CODEC,
    RAW_CODEC,
    SHA2_256,
    Cid,
    CidHasher,
    cid_of_file,
    cids_equal,
    compute_cid,
    parse_cid,
)
from atmosphere._syntax import is_valid_cid
from atmosphere.errors import InvalidArgumentError, InvalidIdentifierError

# Published elsewhere (IPFS tooling, other atproto/IPFS test suites): raw-codec
# sha2-256 CIDv1 of the empty byte string and of b"hello world".
EMPTY_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
HELLO_WORLD_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
# A record (dag-cbor) CID as seen in the wild.
RECORD_CID = "bafyreidfayvfkicffzikfhbdrqvjobjzpmvcfc7kzbih2noclhf3vqywue"

B32 = "abcdefghijklmnopqrstuvwxyz234567"


def base32_lower(data: bytes) -> str:
    """RFC 4648 base32, lower case, no padding: written out bit by bit."""
    bits = "".join(f"{byte:08b}" for byte in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(B32[int(bits[i : i + 5], 2)] for i in range(0, len(bits), 5))


def expected_cid(data: bytes, codec: int = 0x55) -> str:
    """Build the CID by hand: version 1, codec, multihash(sha2-256, 32, digest)."""
    multihash = bytes([0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base32_lower(bytes([0x01, codec]) + multihash)


def blob(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


# --- computing ------------------------------------------------------------------------


def test_known_published_vectors() -> None:
    assert compute_cid(b"") == EMPTY_CID
    assert compute_cid(b"hello world") == HELLO_WORLD_CID
    assert expected_cid(b"") == EMPTY_CID
    assert expected_cid(b"hello world") == HELLO_WORLD_CID


@pytest.mark.parametrize("data", [b"", b"hello", b"\x00", bytes(range(256)), blob(100_003)])
def test_compute_cid_matches_hand_built(data: bytes) -> None:
    cid = compute_cid(data)
    assert cid == expected_cid(data)
    assert cid.startswith("bafkrei")
    assert len(cid) == 59


def test_compute_cid_accepts_buffers() -> None:
    data = blob(1000)
    assert compute_cid(bytearray(data)) == compute_cid(memoryview(data)) == expected_cid(data)


def test_compute_cid_rejects_str() -> None:
    with pytest.raises(TypeError):
        compute_cid("hello")  # type: ignore[arg-type]


# --- incremental ----------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1000, 4096, 9_999, 10_000, 20_000])
def test_hasher_fixed_chunkings_match_one_shot(chunk: int) -> None:
    data = blob(10_000)
    hasher = CidHasher()
    for i in range(0, len(data), chunk):
        hasher.update(data[i : i + chunk])
    assert hasher.cid == compute_cid(data)
    assert hasher.size == len(data)


@pytest.mark.parametrize("seed", range(20))
def test_hasher_random_chunkings_match_one_shot(seed: int) -> None:
    rng = random.Random(seed)
    data = blob(rng.randrange(0, 50_000), seed)
    cuts = sorted(rng.randrange(0, len(data) + 1) for _ in range(rng.randrange(0, 30)))
    hasher = CidHasher()
    start = 0
    for cut in [*cuts, len(data)]:
        hasher.update(memoryview(data)[start:cut])  # includes empty chunks
        start = cut
    assert hasher.cid == compute_cid(data)
    assert hasher.size == len(data)


def test_hasher_state_and_digests() -> None:
    hasher = CidHasher()
    assert hasher.size == 0
    assert hasher.cid == EMPTY_CID
    hasher.update(b"hello ")
    assert hasher.cid == compute_cid(b"hello ")  # reading does not finish the hash
    hasher.update(bytearray(b"world"))
    assert hasher.cid == HELLO_WORLD_CID
    assert hasher.size == 11
    assert hasher.digest() == hashlib.sha256(b"hello world").digest()
    assert hasher.hexdigest() == hashlib.sha256(b"hello world").hexdigest()
    assert CidHasher(b"hello world").cid == HELLO_WORLD_CID
    assert "size=11" in repr(hasher)


def test_hasher_counts_bytes_not_items() -> None:
    items = array.array("I", range(100))
    hasher = CidHasher()
    hasher.update(memoryview(items))
    assert hasher.size == items.itemsize * 100
    assert hasher.cid == compute_cid(items.tobytes())


def test_hasher_copy_is_independent() -> None:
    hasher = CidHasher(b"hello ")
    clone = hasher.copy()
    clone.update(b"world")
    assert clone.cid == HELLO_WORLD_CID
    assert clone.size == 11
    assert hasher.cid == compute_cid(b"hello ")
    assert hasher.size == 6


def test_hasher_rejects_str() -> None:
    with pytest.raises(TypeError):
        CidHasher().update("text")  # type: ignore[arg-type]


# --- files ----------------------------------------------------------------------------


@pytest.fixture
def data_file(tmp_path: Path) -> tuple[Path, bytes]:
    data = blob(3 * 1024 * 1024 + 17)
    path = tmp_path / "shard.tar"
    path.write_bytes(data)
    return path, data


def test_cid_of_file_path(data_file: tuple[Path, bytes]) -> None:
    path, data = data_file
    expected = (compute_cid(data), len(data))
    assert cid_of_file(path) == expected
    assert cid_of_file(str(path)) == expected
    assert cid_of_file(path, chunk_size=4093) == expected


def test_cid_of_file_object_reads_from_current_position(data_file: tuple[Path, bytes]) -> None:
    path, data = data_file
    with path.open("rb") as f:
        f.seek(1000)
        assert cid_of_file(f, chunk_size=65536) == (compute_cid(data[1000:]), len(data) - 1000)
        assert not f.closed
        assert f.tell() == len(data)
        assert cid_of_file(f) == (EMPTY_CID, 0)


def test_cid_of_file_unbuffered_and_in_memory(data_file: tuple[Path, bytes]) -> None:
    path, data = data_file
    with path.open("rb", buffering=0) as raw:
        assert cid_of_file(raw, chunk_size=10_000) == (compute_cid(data), len(data))
    stream = io.BytesIO(b"hello world")
    stream.seek(6)
    assert cid_of_file(stream) == (compute_cid(b"world"), 5)


class ReadOnly:
    """A minimal file-like object with ``read`` only (no ``readinto``)."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(min(size, 3))  # short reads


def test_cid_of_file_read_only_object() -> None:
    assert cid_of_file(ReadOnly(b"hello world"), chunk_size=8) == (HELLO_WORLD_CID, 11)  # type: ignore[arg-type]


def test_cid_of_file_rejects_text_mode_and_bad_chunk_size(data_file: tuple[Path, bytes]) -> None:
    with pytest.raises(TypeError):
        cid_of_file(io.StringIO("text"))  # type: ignore[arg-type]
    path, _ = data_file
    with pytest.raises(InvalidArgumentError):
        cid_of_file(path, chunk_size=0)
    with pytest.raises(ValueError):
        cid_of_file(path, chunk_size=-1)


def test_cid_of_file_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        cid_of_file(tmp_path / "missing")


# --- parsing --------------------------------------------------------------------------


def test_parse_blob_cid() -> None:
    cid = parse_cid(HELLO_WORLD_CID)
    assert cid.version == CIDV1 == 1
    assert cid.codec == RAW_CODEC == 0x55
    assert cid.hash_code == SHA2_256 == 0x12
    assert cid.digest == hashlib.sha256(b"hello world").digest()
    assert cid.is_blob
    assert str(cid) == HELLO_WORLD_CID
    assert repr(cid) == f"Cid({HELLO_WORLD_CID!r})"
    assert bytes(cid) == bytes([1, 0x55, 0x12, 0x20]) + cid.digest


def test_parse_record_cid() -> None:
    cid = parse_cid(RECORD_CID)
    assert cid.codec == DAG_CBOR_CODEC == 0x71
    assert not cid.is_blob
    assert str(cid) == RECORD_CID
    built = Cid(1, DAG_CBOR_CODEC, SHA2_256, hashlib.sha256(b"{}").digest())
    assert str(built) == expected_cid(b"{}", codec=0x71)
    assert str(built).startswith("bafyrei")
    assert parse_cid(str(built)) == built


@pytest.mark.parametrize("data", [b"", b"a", blob(5000)])
def test_parse_round_trip(data: bytes) -> None:
    text = compute_cid(data)
    cid = parse_cid(text)
    assert str(cid) == text
    assert parse_cid(str(cid)) == cid
    assert hash(cid) == hash(parse_cid(text))
    assert is_valid_cid(text)


def test_cids_equal() -> None:
    parsed = parse_cid(HELLO_WORLD_CID)
    assert cids_equal(HELLO_WORLD_CID, HELLO_WORLD_CID)
    assert cids_equal(HELLO_WORLD_CID, parsed)
    assert cids_equal(parsed, HELLO_WORLD_CID)
    assert cids_equal(parsed, Cid(1, RAW_CODEC, SHA2_256, parsed.digest))
    assert not cids_equal(HELLO_WORLD_CID, EMPTY_CID)
    # Same digest, different codec: different CIDs.
    assert not cids_equal(parsed, Cid(1, DAG_CBOR_CODEC, SHA2_256, parsed.digest))
    with pytest.raises(InvalidIdentifierError):
        cids_equal(HELLO_WORLD_CID, "not-a-cid")


def cid_text(*header: int, digest: bytes = b"\x00" * 32) -> str:
    return "b" + base32_lower(bytes(header) + digest)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR", id="cidv0"),
        pytest.param("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n", id="cidv0-2"),
        pytest.param("zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7", id="base58"),
        pytest.param(HELLO_WORLD_CID.upper(), id="base32-upper"),
        pytest.param("B" + HELLO_WORLD_CID[1:], id="upper-prefix"),
        pytest.param("f01551220" + hashlib.sha256(b"").hexdigest(), id="base16"),
        pytest.param(HELLO_WORLD_CID[1:], id="no-prefix"),
        pytest.param(HELLO_WORLD_CID + "=", id="padded"),
        pytest.param(HELLO_WORLD_CID + "\n", id="newline"),
        pytest.param(" " + HELLO_WORLD_CID, id="space"),
        pytest.param(HELLO_WORLD_CID[:-1], id="truncated-char"),
        pytest.param(HELLO_WORLD_CID[:-8], id="truncated"),
        pytest.param(HELLO_WORLD_CID[:-1] + "1", id="bad-char"),
        pytest.param(EMPTY_CID[:-1] + "v", id="non-canonical-bits"),
        pytest.param("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", id="dag-pb"),
        pytest.param(cid_text(1, 0x70, 0x12, 0x20), id="dag-pb-built"),
        pytest.param(cid_text(1, 0x55, 0x13, 0x40, digest=b"\x00" * 64), id="sha2-512"),
        pytest.param(cid_text(1, 0x55, 0x00, 0x20), id="identity-hash"),
        pytest.param(cid_text(1, 0x55, 0x1E, 0x20), id="blake3"),
        pytest.param(cid_text(2, 0x55, 0x12, 0x20), id="version-2"),
        pytest.param(cid_text(0x12, 0x20), id="binary-cidv0"),
        pytest.param(cid_text(1, 0x55, 0x12, 0x20, digest=b"\x00" * 31), id="short-digest"),
        pytest.param(cid_text(1, 0x55, 0x12, 0x20, digest=b"\x00" * 33), id="long-digest"),
        pytest.param(cid_text(1, 0x55, 0x12, 0x1F, digest=b"\x00" * 31), id="length-31"),
        pytest.param(cid_text(1, 0xD5, 0x00, 0x12, 0x20), id="non-minimal-varint"),
        pytest.param(cid_text(1, 0x55, 0x12), id="no-digest-length"),
        pytest.param("b", id="empty-body"),
        pytest.param("", id="empty"),
    ],
)
def test_parse_cid_rejects(value: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        parse_cid(value)
    assert info.value.kind == "CID"
    assert info.value.value == value
    assert info.value.reason


def test_parse_cid_rejection_reasons() -> None:
    with pytest.raises(InvalidIdentifierError, match="CIDv0"):
        parse_cid("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR")
    with pytest.raises(InvalidIdentifierError, match="base32"):
        parse_cid("zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7")
    with pytest.raises(InvalidIdentifierError, match="dag-pb"):
        parse_cid(cid_text(1, 0x70, 0x12, 0x20))
    with pytest.raises(InvalidIdentifierError, match="sha2-256"):
        parse_cid(cid_text(1, 0x55, 0x13, 0x40, digest=b"\x00" * 64))


@pytest.mark.parametrize("value", [None, b"bafkrei", 42])
def test_parse_cid_rejects_non_str(value: object) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        parse_cid(value)  # type: ignore[arg-type]
    assert info.value.kind == "CID"


@pytest.mark.parametrize(
    ("version", "codec", "hash_code", "digest"),
    [
        (0, RAW_CODEC, SHA2_256, b"\x00" * 32),
        (1, 0x70, SHA2_256, b"\x00" * 32),
        (1, RAW_CODEC, 0x13, b"\x00" * 32),
        (1, RAW_CODEC, SHA2_256, b"\x00" * 31),
        (1, RAW_CODEC, SHA2_256, "0" * 32),
    ],
)
def test_cid_constructor_validates(version: int, codec: int, hash_code: int, digest: bytes) -> None:
    with pytest.raises(InvalidIdentifierError):
        Cid(version, codec, hash_code, digest)


def test_cid_is_frozen() -> None:
    cid = parse_cid(EMPTY_CID)
    with pytest.raises(AttributeError):
        cid.codec = DAG_CBOR_CODEC  # type: ignore[misc]
