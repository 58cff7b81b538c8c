"""Content identifiers (CIDs) as atproto uses them: compute, parse, compare.

atproto blesses one CID shape: CIDv1, sha2-256 (32-byte digest), written in
base32 lower case without padding behind the multibase prefix ``b``. Blobs
use the ``raw`` codec (``bafkrei…``), records ``dag-cbor`` (``bafyrei…``).
This module computes blob CIDs from bytes or streams and parses both kinds.

Pure: no I/O except reading the file handed to :func:`cid_of_file`; standard
library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from typing import BinaryIO, Final

from .errors import InvalidArgumentError, InvalidIdentifierError

__all__ = [
    "CIDV1",
    "DAG_CBOR_CODEC",
    "RAW_CODEC",
    "SHA2_256",
    "SHA2_256_SIZE",
    "Cid",
    "CidHasher",
    "cid_of_file",
    "cids_equal",
    "compute_cid",
    "parse_cid",
]

CIDV1: Final = 1
RAW_CODEC: Final = 0x55  # multicodec "raw": blobs
DAG_CBOR_CODEC: Final = 0x71  # multicodec "dag-cbor": records, commits
SHA2_256: Final = 0x12  # multihash code for sha2-256
SHA2_256_SIZE: Final = 32

_CODEC_NAMES: Final = {RAW_CODEC: "raw", DAG_CBOR_CODEC: "dag-cbor", 0x70: "dag-pb"}
_BLOB_PREFIX: Final = bytes((CIDV1, RAW_CODEC, SHA2_256, SHA2_256_SIZE))
_BASE32_LOWER_RE: Final = re.compile(r"[a-z2-7]+")

BytesLike = bytes | bytearray | memoryview


def _encode(cid_bytes: bytes) -> str:
    """Multibase base32 lower, no padding, ``b`` prefix."""
    return "b" + base64.b32encode(cid_bytes).decode("ascii").rstrip("=").lower()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def compute_cid(data: BytesLike) -> str:
    """Return the blob CID (CIDv1, raw, sha2-256, base32) of ``data``."""
    return _encode(_BLOB_PREFIX + hashlib.sha256(data).digest())


class CidHasher:
    """Incremental blob CID: feed chunks with :meth:`update`, read :attr:`cid`.

    Reading :attr:`cid` does not finish the hasher; more chunks may follow.
    """

    __slots__ = ("_hash", "_size")

    def __init__(self, data: BytesLike = b"") -> None:
        self._hash = hashlib.sha256()
        self._size = 0
        if data:
            self.update(data)

    def update(self, chunk: BytesLike) -> None:
        """Hash another chunk of the blob."""
        view = memoryview(chunk)
        self._hash.update(view)
        self._size += view.nbytes

    @property
    def size(self) -> int:
        """Number of bytes hashed so far."""
        return self._size

    @property
    def cid(self) -> str:
        """The blob CID of the bytes hashed so far."""
        return _encode(_BLOB_PREFIX + self._hash.digest())

    def digest(self) -> bytes:
        """The sha2-256 digest of the bytes hashed so far."""
        return self._hash.digest()

    def hexdigest(self) -> str:
        """The sha2-256 digest of the bytes hashed so far, as hex."""
        return self._hash.hexdigest()

    def copy(self) -> CidHasher:
        """An independent hasher with the same state."""
        clone = type(self).__new__(type(self))
        clone._hash = self._hash.copy()
        clone._size = self._size
        return clone

    def __repr__(self) -> str:
        return f"<CidHasher size={self._size} cid={self.cid}>"


def cid_of_file(
    source: str | os.PathLike[str] | BinaryIO, chunk_size: int = 1 << 20
) -> tuple[str, int]:
    """Stream a file through :class:`CidHasher`; return ``(cid, size)``.

    ``source`` is a path, or a binary file object read from its current
    position to EOF (it is not closed or rewound).
    """
    if chunk_size <= 0:
        raise InvalidArgumentError(f"chunk_size must be positive, got {chunk_size}")
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return _hash_stream(f, chunk_size)
    return _hash_stream(source, chunk_size)


def _hash_stream(f: BinaryIO, chunk_size: int) -> tuple[str, int]:
    hasher = CidHasher()
    readinto = getattr(f, "readinto", None)
    if readinto is not None:  # reuse one buffer
        buf = memoryview(bytearray(chunk_size))
        while n := readinto(buf):
            hasher.update(buf[:n])
        if n is None:
            raise InvalidArgumentError("non-blocking stream had no data ready")
    else:
        while chunk := f.read(chunk_size):
            if isinstance(chunk, str):
                raise TypeError("file object must be opened in binary mode")
            hasher.update(chunk)
        if chunk is None:
            raise InvalidArgumentError("non-blocking stream had no data ready")
    return hasher.cid, hasher.size


@dataclass(frozen=True, repr=False)
class Cid:
    """A parsed atproto CID: CIDv1, raw or dag-cbor codec, sha2-256.

    ``str(cid)`` is the canonical base32 form; ``bytes(cid)`` the binary form.
    Construction validates the fields.
    """

    version: int
    codec: int
    hash_code: int
    digest: bytes

    def __post_init__(self) -> None:
        reason = None
        if self.version != CIDV1:
            reason = f"CID version {self.version} is not supported (only CIDv1)"
        elif self.codec not in (RAW_CODEC, DAG_CBOR_CODEC):
            name = _CODEC_NAMES.get(self.codec, "unknown")
            reason = f"codec 0x{self.codec:x} ({name}) is not supported (raw or dag-cbor only)"
        elif self.hash_code != SHA2_256:
            reason = f"hash 0x{self.hash_code:x} is not supported (sha2-256 only)"
        elif not isinstance(self.digest, bytes) or len(self.digest) != SHA2_256_SIZE:
            reason = f"digest must be {SHA2_256_SIZE} bytes"
        if reason:
            fields = (self.version, self.codec, self.hash_code, self.digest)
            raise InvalidIdentifierError("CID", f"Cid{fields!r}", reason)

    @property
    def is_blob(self) -> bool:
        """Whether this is a blob CID (raw codec)."""
        return self.codec == RAW_CODEC

    def __bytes__(self) -> bytes:
        head = _varint(self.version) + _varint(self.codec)
        return head + _varint(self.hash_code) + _varint(len(self.digest)) + self.digest

    def __str__(self) -> str:
        return _encode(bytes(self))

    def __repr__(self) -> str:
        return f"Cid({str(self)!r})"


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an unsigned varint at ``pos``; return (value, next position)."""
    value = shift = 0
    while pos < len(data) and shift < 63:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ValueError("truncated or oversized varint")


def parse_cid(value: str) -> Cid:
    """Parse a CID string in atproto's blessed form.

    Accepts CIDv1 in canonical base32 lower (``b`` prefix) with the raw or
    dag-cbor codec and a sha2-256 digest; anything else (CIDv0 ``Qm…``, other
    multibases, codecs or hashes, truncated or padded input) raises
    :class:`InvalidIdentifierError` with kind ``"CID"``.
    """
    kind = "CID"
    if not isinstance(value, str):
        raise InvalidIdentifierError(kind, repr(value), f"expected str, got {type(value).__name__}")
    if value.startswith("Qm") and len(value) == 46:
        raise InvalidIdentifierError(kind, value, "CIDv0 is not supported; expected CIDv1")
    if not value.startswith("b"):
        raise InvalidIdentifierError(kind, value, "expected base32 lower case ('b' prefix)")
    body = value[1:]
    if not _BASE32_LOWER_RE.fullmatch(body):
        raise InvalidIdentifierError(kind, value, "expected base32 lower case ('b' prefix)")
    try:
        raw = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
        version, pos = _read_varint(raw, 0)
        codec, pos = _read_varint(raw, pos)
        hash_code, pos = _read_varint(raw, pos)
        length, pos = _read_varint(raw, pos)
    except (binascii.Error, ValueError) as exc:
        raise InvalidIdentifierError(kind, value, "not a well-formed CID") from exc
    digest = raw[pos:]
    if len(digest) != length:
        raise InvalidIdentifierError(
            kind, value, f"digest is {len(digest)} bytes, its header says {length}"
        )
    try:
        cid = Cid(version, codec, hash_code, digest)
    except InvalidIdentifierError as exc:
        raise InvalidIdentifierError(kind, value, exc.reason) from exc
    if str(cid) != value:
        raise InvalidIdentifierError(kind, value, "not in canonical form")
    return cid


def cids_equal(a: str | Cid, b: str | Cid) -> bool:
    """Whether two CIDs are the same; strings are parsed first (invalid ones raise)."""
    first = a if isinstance(a, Cid) else parse_cid(a)
    second = b if isinstance(b, Cid) else parse_cid(b)
    return first == second
