"""AT Protocol identifier syntax: validate, parse and generate.

Strict validators for the string formats of the atproto specs (handle, DID,
NSID, record key, TID, AT-URI, datetime, CID, language, URI), checked
against every vector in ``fixtures/interop/syntax``. Each ``validate_x``
returns its argument unchanged or raises
:class:`~atmosphere.errors.InvalidIdentifierError` (a ``ValueError``), also
for non-``str`` input; each ``is_valid_x`` answers the same question with a
bool and never raises.

Pure: no I/O, standard library only.
"""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Final, NoReturn

from .errors import InvalidIdentifierError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeGuard

__all__ = [
    "MAX_AT_URI_LENGTH",
    "MAX_DID_LENGTH",
    "MAX_HANDLE_LENGTH",
    "MAX_NSID_LENGTH",
    "MAX_RECORD_KEY_LENGTH",
    "MAX_URI_LENGTH",
    "RESERVED_TLDS",
    "AtUri",
    "RecordUri",
    "generate_tid",
    "is_reserved_handle",
    "is_valid_at_identifier",
    "is_valid_at_uri",
    "is_valid_cid",
    "is_valid_datetime",
    "is_valid_did",
    "is_valid_handle",
    "is_valid_language",
    "is_valid_nsid",
    "is_valid_record_key",
    "is_valid_tid",
    "is_valid_uri",
    "normalize_handle",
    "parse_datetime",
    "validate_at_identifier",
    "validate_at_uri",
    "validate_cid",
    "validate_datetime",
    "validate_did",
    "validate_handle",
    "validate_language",
    "validate_nsid",
    "validate_record_key",
    "validate_tid",
    "validate_uri",
]

MAX_HANDLE_LENGTH: Final = 253
MAX_DID_LENGTH: Final = 2048
MAX_NSID_LENGTH: Final = 317
MAX_RECORD_KEY_LENGTH: Final = 512
MAX_AT_URI_LENGTH: Final = 8 * 1024
MAX_URI_LENGTH: Final = 8 * 1024

#: Top-level domains that pass handle syntax but must never resolve (handle spec).
RESERVED_TLDS: Final = frozenset(
    {".alt", ".arpa", ".example", ".internal", ".invalid", ".local", ".localhost", ".onion"}
)

_LABEL_RE: Final = re.compile(r"[A-Za-z0-9-]+")
_NSID_NAME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_DID_RE: Final = re.compile(r"did:[a-z]+:[A-Za-z0-9._:%-]*[A-Za-z0-9._-]")
_RECORD_KEY_RE: Final = re.compile(r"[A-Za-z0-9._:~-]+")
_TID_ALPHABET: Final = "234567abcdefghijklmnopqrstuvwxyz"
_TID_RE: Final = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
_CID_RE: Final = re.compile(r"[A-Za-z0-9+=]{8,256}")
# Scheme per RFC 3986, then at least one printable, non-space ASCII character.
_URI_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[!-~]+")
_DATETIME_RE: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,20}))?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def _fail(kind: str, value: object, reason: str) -> NoReturn:
    shown = value if isinstance(value, str) else repr(value)
    raise InvalidIdentifierError(kind, shown, reason)


def _require_str(kind: str, value: object) -> str:
    if not isinstance(value, str):
        _fail(kind, value, f"expected str, got {type(value).__name__}")
    return value


def _is_valid(validate: Callable[[str], str], value: object) -> bool:
    try:
        validate(value)  # type: ignore[arg-type]  # validators reject non-str themselves
    except InvalidIdentifierError:
        return False
    return True


# --- handle ---------------------------------------------------------------------------


def _domain_label_error(label: str) -> str | None:
    """Why ``label`` is not a valid DNS label (letters, digits, inner hyphens; 1–63)."""
    if not label:
        return "empty label (leading, trailing or doubled '.')"
    if len(label) > 63:
        return f"label {label[:16]!r}… is longer than 63 characters"
    if not _LABEL_RE.fullmatch(label):
        return f"label {label!r} may only contain ASCII letters, digits and '-'"
    if label[0] == "-" or label[-1] == "-":
        return f"label {label!r} starts or ends with '-'"
    return None


def validate_handle(value: str) -> str:
    """Return ``value`` if it is a syntactically valid handle (any case)."""
    kind = "handle"
    s = _require_str(kind, value)
    if len(s) > MAX_HANDLE_LENGTH:
        _fail(kind, s, f"longer than {MAX_HANDLE_LENGTH} characters")
    labels = s.split(".")
    if len(labels) < 2:
        _fail(kind, s, "needs at least two '.'-separated labels")
    for label in labels:
        reason = _domain_label_error(label)
        if reason:
            _fail(kind, s, reason)
    if not labels[-1][0].isalpha():
        _fail(kind, s, "the top-level domain must start with a letter")
    return s


def is_valid_handle(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a syntactically valid handle."""
    return _is_valid(validate_handle, value)


def normalize_handle(value: str) -> str:
    """Validate a handle and return it lower-cased (handles compare case-insensitively)."""
    return validate_handle(value).lower()


def is_reserved_handle(value: object) -> bool:
    """Whether a valid handle ends in a reserved TLD (``.invalid``, ``.local`` …).

    Such handles pass syntax checks but must never resolve. Returns ``False``
    for anything that is not a valid handle.
    """
    if not is_valid_handle(value):
        return False
    return "." + value.rsplit(".", 1)[1].lower() in RESERVED_TLDS


# --- DID ------------------------------------------------------------------------------


def validate_did(value: str) -> str:
    """Return ``value`` if it is a syntactically valid DID (any method).

    Percent-encoding is not checked (the DID spec says atproto need not).
    """
    kind = "DID"
    s = _require_str(kind, value)
    if len(s) > MAX_DID_LENGTH:
        _fail(kind, s, f"longer than {MAX_DID_LENGTH} characters")
    if not s.startswith("did:"):
        _fail(kind, s, "must start with 'did:'")
    if not _DID_RE.fullmatch(s):
        _fail(kind, s, "expected did:<lowercase method>:<identifier> in [A-Za-z0-9._:%-]")
    return s


def is_valid_did(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a syntactically valid DID."""
    return _is_valid(validate_did, value)


# --- AT identifier --------------------------------------------------------------------


def validate_at_identifier(value: str) -> str:
    """Return ``value`` if it is a valid handle or DID (``at-identifier`` format)."""
    kind = "AT identifier"
    s = _require_str(kind, value)
    # Unambiguous: a DID starts with "did:", and handles cannot contain ':'.
    validate = validate_did if s.startswith("did:") else validate_handle
    try:
        validate(s)
    except InvalidIdentifierError as exc:
        raise InvalidIdentifierError(kind, s, f"not a valid {exc.kind}: {exc.reason}") from exc
    return s


def is_valid_at_identifier(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a valid handle or DID."""
    return _is_valid(validate_at_identifier, value)


# --- NSID -----------------------------------------------------------------------------


def validate_nsid(value: str) -> str:
    """Return ``value`` if it is a valid NSID (reversed domain authority + name).

    Not enforced: the spec's 253-character cap on the domain-authority part,
    which the interop vectors contradict (a valid vector has 283); the overall
    cap of 317 characters is enforced.
    """
    kind = "NSID"
    s = _require_str(kind, value)
    if len(s) > MAX_NSID_LENGTH:
        _fail(kind, s, f"longer than {MAX_NSID_LENGTH} characters")
    segments = s.split(".")
    if len(segments) < 3:
        _fail(kind, s, "needs at least three '.'-separated segments")
    *authority, name = segments
    for segment in authority:
        reason = _domain_label_error(segment)
        if reason:
            _fail(kind, s, reason.replace("label", "segment"))
    if authority[0][0].isdigit():
        _fail(kind, s, "the first segment must not start with a digit")
    if len(name) > 63:
        _fail(kind, s, "the name segment is longer than 63 characters")
    if not _NSID_NAME_RE.fullmatch(name):
        _fail(kind, s, "the name must be ASCII letters and digits, starting with a letter")
    return s


def is_valid_nsid(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a valid NSID."""
    return _is_valid(validate_nsid, value)


# --- record key -----------------------------------------------------------------------


def validate_record_key(value: str) -> str:
    """Return ``value`` if it is a record key: 1–512 of ``[A-Za-z0-9._:~-]``, not ``.``/``..``."""
    kind = "record key"
    s = _require_str(kind, value)
    if not 1 <= len(s) <= MAX_RECORD_KEY_LENGTH:
        _fail(kind, s, f"must be 1 to {MAX_RECORD_KEY_LENGTH} characters")
    if s in (".", ".."):
        _fail(kind, s, "'.' and '..' are not allowed")
    if not _RECORD_KEY_RE.fullmatch(s):
        _fail(kind, s, "may only contain ASCII letters, digits and '._:~-'")
    return s


def is_valid_record_key(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a valid record key."""
    return _is_valid(validate_record_key, value)


# --- TID ------------------------------------------------------------------------------


def validate_tid(value: str) -> str:
    """Return ``value`` if it is a valid TID (13 base32-sortable characters, top bit clear)."""
    kind = "TID"
    s = _require_str(kind, value)
    if not _TID_RE.fullmatch(s):
        _fail(kind, s, "expected 13 characters of 234567a-z, the first one in 234567a-j")
    return s


def is_valid_tid(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a valid TID."""
    return _is_valid(validate_tid, value)


class _TidClock:
    """Strictly increasing microsecond timestamps plus a random 10-bit clock id."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        # Also run in a forked child: new lock (the parent's may be held) and a
        # fresh clock id so parent and child do not mint the same TIDs.
        self.lock = threading.Lock()
        self.last = 0
        self.clock_id = int.from_bytes(os.urandom(2), "big") & 0x3FF

    def next(self) -> tuple[int, int]:
        with self.lock:
            now = max(time.time_ns() // 1000, self.last + 1)
            self.last = now
            return now, self.clock_id


_tid_clock: Final = _TidClock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_tid_clock.reseed)


def generate_tid() -> str:
    """Return a new TID for the current time; strictly increasing within the process.

    Thread-safe. Two calls in the same microsecond get consecutive timestamps.
    """
    micros, clock_id = _tid_clock.next()
    n = ((micros & ((1 << 53) - 1)) << 10) | clock_id
    chars = [_TID_ALPHABET[(n >> shift) & 31] for shift in range(60, -1, -5)]
    return "".join(chars)


# --- datetime -------------------------------------------------------------------------

_DAYS_IN_MONTH: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _check_datetime(value: object) -> tuple[int, int, int, int, int, int, str, int]:
    """Validate; return year, month, day, hour, minute, second, fraction, offset (minutes)."""
    kind = "datetime"
    s = _require_str(kind, value)
    m = _DATETIME_RE.fullmatch(s)
    if not m:
        _fail(kind, s, "expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    fraction = m.group(7) or ""
    tz = m.group(8)
    if not 1 <= month <= 12:
        _fail(kind, s, f"month {month:02d} out of range")
    days = 29 if month == 2 and _is_leap(year) else _DAYS_IN_MONTH[month - 1]
    if not 1 <= day <= days:
        _fail(kind, s, f"day {day:02d} out of range")
    if hour > 23 or minute > 59 or second > 59:
        _fail(kind, s, "time of day out of range (leap seconds are not accepted)")
    offset = 0
    if tz != "Z":
        if tz == "-00:00":
            _fail(kind, s, "'-00:00' is not allowed (ISO 8601); use 'Z'")
        off_h, off_m = int(tz[1:3]), int(tz[4:6])
        if off_h > 23 or off_m > 59:
            _fail(kind, s, "timezone offset out of range")
        offset = (off_h * 60 + off_m) * (-1 if tz[0] == "-" else 1)
    if year == 0 and month == 1 and day == 1 and (hour * 60 + minute) < offset:
        # Before 0000-01-01T00:00:00Z once normalized to UTC.
        _fail(kind, s, "normalizes to a time before year 0000")
    return year, month, day, hour, minute, second, fraction, offset


def validate_datetime(value: str) -> str:
    """Return ``value`` if it is a valid atproto datetime: syntax and calendar.

    The format is the intersection of RFC 3339 and ISO 8601: upper-case ``T``
    and ``Z``, whole seconds required, 1–20 fraction digits, ``Z`` or a
    ``±HH:MM`` offset (not ``-00:00``); the date must exist and the instant
    must not fall before year 0000 in UTC.
    """
    _check_datetime(value)
    return value


def is_valid_datetime(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a valid atproto datetime."""
    return _is_valid(validate_datetime, value)


def parse_datetime(value: str) -> datetime:
    """Validate an atproto datetime and return an aware :class:`~datetime.datetime`.

    The offset is kept as written. Fraction digits beyond microseconds are
    truncated. Year 0000 is valid atproto but has no ``datetime``: it raises
    :class:`InvalidIdentifierError`.
    """
    year, month, day, hour, minute, second, fraction, offset = _check_datetime(value)
    if year == 0:
        _fail("datetime", value, "year 0000 cannot be represented as a Python datetime")
    tz = timezone.utc if offset == 0 else timezone(timedelta(minutes=offset))
    micros = int((fraction + "000000")[:6])
    return datetime(year, month, day, hour, minute, second, micros, tzinfo=tz)


# --- CID, language, URI ---------------------------------------------------------------


def validate_cid(value: str) -> str:
    """Return ``value`` if it has the syntax of a CID string (``cid`` format).

    Syntax only: 8–256 characters of ``[A-Za-z0-9+=]``; CIDv0 (``Qm…``) is
    rejected. Use :func:`atmosphere.parse_cid` to decode and check the
    codec and hash.
    """
    kind = "CID"
    s = _require_str(kind, value)
    if not _CID_RE.fullmatch(s):
        _fail(kind, s, "expected 8 to 256 characters of [A-Za-z0-9+=]")
    if s.startswith("Qm"):
        _fail(kind, s, "CIDv0 is not supported")
    return s


def is_valid_cid(value: object) -> TypeGuard[str]:
    """Whether ``value`` has CID string syntax."""
    return _is_valid(validate_cid, value)


# RFC 5646 §2.2.8: tags that are well-formed only because they are listed.
_GRANDFATHERED_TAGS: Final = (
    "en-gb-oed i-ami i-bnn i-default i-enochian i-hak i-klingon i-lux i-mingo i-navajo"
    " i-pwn i-tao i-tay i-tsu sgn-be-fr sgn-be-nl sgn-ch-de art-lojban cel-gaulish"
    " no-bok no-nyn zh-guoyu zh-hakka zh-min zh-min-nan zh-xiang"
)
_GRANDFATHERED: Final = frozenset(_GRANDFATHERED_TAGS.split())


def _language_error(tag: str) -> str | None:
    """Why ``tag`` is not an acceptable BCP 47 language tag, or ``None``."""
    subtags = tag.split("-")
    first = subtags[0]
    if first.lower() != "x" and not (first.isascii() and first.isalpha() and first.islower()):
        return "the primary language subtag must be lower-case ASCII letters"
    if tag.lower() in _GRANDFATHERED:
        return None
    for sub in subtags:
        if not (1 <= len(sub) <= 8 and sub.isascii() and sub.isalnum()):
            return "subtags are 1 to 8 ASCII letters or digits, separated by single '-'"
    n, i = len(subtags), 1
    if first.lower() == "x":  # a private-use tag: 'x' 1*("-" 1*8alphanum)
        return None if n > 1 else "'x' needs at least one private-use subtag"
    if len(first) == 1:
        return "a single-letter subtag cannot start a tag"
    if len(first) == 4:
        return "four-letter primary language subtags are reserved"
    if len(first) <= 3:  # up to three extended-language subtags
        while i < n and i <= 3 and len(subtags[i]) == 3 and subtags[i].isalpha():
            i += 1
    if i < n and len(subtags[i]) == 4 and subtags[i].isalpha():  # script
        i += 1
    if i < n and (
        (len(subtags[i]) == 2 and subtags[i].isalpha())
        or (len(subtags[i]) == 3 and subtags[i].isdigit())
    ):  # region
        i += 1
    variants: set[str] = set()
    while i < n and (len(subtags[i]) >= 5 or (len(subtags[i]) == 4 and subtags[i][0].isdigit())):
        variant = subtags[i].lower()
        if variant in variants:
            return f"variant subtag {subtags[i]!r} is repeated"
        variants.add(variant)
        i += 1
    singletons: set[str] = set()
    while i < n and len(subtags[i]) == 1 and subtags[i].lower() != "x":
        singleton = subtags[i].lower()
        if singleton in singletons:
            return f"extension {subtags[i]!r} is repeated"
        singletons.add(singleton)
        i += 1
        start = i
        while i < n and len(subtags[i]) >= 2:
            i += 1
        if i == start:
            return f"extension {singleton!r} needs at least one subtag of 2 to 8 characters"
    if i < n and subtags[i].lower() == "x":
        return None if i + 1 < n else "'x' needs at least one private-use subtag"
    if i < n:
        return f"unexpected subtag {subtags[i]!r}"
    return None


def validate_language(value: str) -> str:
    """Return ``value`` if it is a BCP 47 (RFC 5646) language tag.

    Well-formed per the RFC grammar, plus: no repeated variant or extension
    singleton (RFC 5646 "valid"), a lower-case primary language subtag (``ja``,
    not ``JA``) and no reserved four-letter primary subtag, as the atproto
    vectors require. Subtags are not checked against the IANA registry.
    """
    kind = "language"
    s = _require_str(kind, value)
    reason = _language_error(s)
    if reason:
        _fail(kind, s, reason)
    return s


def is_valid_language(value: object) -> TypeGuard[str]:
    """Whether ``value`` is an acceptable BCP 47 language tag."""
    return _is_valid(validate_language, value)


def validate_uri(value: str) -> str:
    """Return ``value`` if it looks like an RFC 3986 URI (``uri`` format).

    Checks an RFC 3986 scheme followed by ``:`` and at least one printable,
    non-space ASCII character, at most 8 KiB; not the full RFC grammar
    (characters such as ``{}`` in WebDataset shard patterns pass, as in the
    reference implementations).
    """
    kind = "URI"
    s = _require_str(kind, value)
    if len(s) > MAX_URI_LENGTH:
        _fail(kind, s, f"longer than {MAX_URI_LENGTH} characters")
    if not _URI_RE.fullmatch(s):
        _fail(kind, s, "expected scheme ':' and printable ASCII without spaces")
    return s


def is_valid_uri(value: object) -> TypeGuard[str]:
    """Whether ``value`` looks like a URI."""
    return _is_valid(validate_uri, value)


# --- AT-URI ---------------------------------------------------------------------------


def _split_at_uri(value: object) -> tuple[str, str | None, str | None]:
    """Validate an AT-URI (Lexicon form); return (authority, collection, rkey)."""
    kind = "AT-URI"
    s = _require_str(kind, value)
    if len(s) > MAX_AT_URI_LENGTH:
        _fail(kind, s, f"longer than {MAX_AT_URI_LENGTH} characters")
    if not s.startswith("at://"):
        _fail(kind, s, "must start with 'at://'")
    if "?" in s or "#" in s:
        _fail(kind, s, "query and fragment parts are not allowed")
    parts = s[5:].split("/")
    if len(parts) > 3:
        _fail(kind, s, "expected at://AUTHORITY[/COLLECTION[/RKEY]]")
    if "" in parts:
        _fail(kind, s, "empty path segment (trailing or doubled '/')")
    checks = (
        (validate_at_identifier, "authority"),
        (validate_nsid, "collection"),
        (validate_record_key, "record key"),
    )
    for part, (check, name) in zip(parts, checks[: len(parts)], strict=True):
        try:
            check(part)
        except InvalidIdentifierError as exc:
            raise InvalidIdentifierError(kind, s, f"bad {name}: {exc.reason}") from exc
    authority = parts[0]
    collection = parts[1] if len(parts) > 1 else None
    rkey = parts[2] if len(parts) > 2 else None
    return authority, collection, rkey


def validate_at_uri(value: str) -> str:
    """Return ``value`` if it is a valid AT-URI as Lexicon ``at-uri`` fields use it.

    ``at://AUTHORITY[/COLLECTION[/RKEY]]``: authority a handle or DID,
    collection an NSID, rkey a record key; no query, fragment or trailing
    slash; at most 8 KiB. This is the spec's "restricted" syntax, which is
    what the interop vectors test; the general AT-URI syntax (with query and
    fragment) is not accepted.
    """
    _split_at_uri(value)
    return value


def is_valid_at_uri(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a valid AT-URI."""
    return _is_valid(validate_at_uri, value)


class AtUri:
    """An immutable, validated AT-URI: ``at://authority[/collection[/rkey]]``.

    Accepts exactly what :func:`validate_at_uri` accepts. Components are kept
    as written (a handle authority is not lower-cased). Equal to another
    ``AtUri`` or a ``str`` with the same text, and hashes like that text.
    ``host`` and :meth:`from_str` mirror the atproto SDK's ``AtUri``.
    """

    __slots__ = ("_authority", "_collection", "_rkey", "_text")

    _authority: str
    _collection: str | None
    _rkey: str | None
    _text: str

    def __init__(
        self, authority: str, collection: str | None = None, rkey: str | None = None
    ) -> None:
        for part in (authority, collection, rkey):
            if part is not None:
                _require_str("AT-URI", part)
        if rkey is not None and collection is None:
            _fail("AT-URI", f"at://{authority}//{rkey}", "a record key needs a collection")
        text = "at://" + "/".join(p for p in (authority, collection, rkey) if p is not None)
        if _split_at_uri(text) != (authority, collection, rkey):
            _fail("AT-URI", text, "a component contains '/'")
        self._init(authority, collection, rkey, text)

    def _init(self, authority: str, collection: str | None, rkey: str | None, text: str) -> None:
        object.__setattr__(self, "_authority", authority)
        object.__setattr__(self, "_collection", collection)
        object.__setattr__(self, "_rkey", rkey)
        object.__setattr__(self, "_text", text)

    @classmethod
    def parse(cls, value: str) -> AtUri:
        """Parse and validate an AT-URI string."""
        authority, collection, rkey = _split_at_uri(value)
        uri = cls.__new__(cls)
        uri._init(authority, collection, rkey, value)
        return uri

    @classmethod
    def make(cls, authority: str, collection: str | None = None, rkey: str | None = None) -> AtUri:
        """Build an AT-URI from its components, validating each."""
        return cls(authority, collection, rkey)

    @classmethod
    def from_str(cls, value: str) -> AtUri:
        """Alias of :meth:`parse` (atproto SDK compatibility)."""
        return cls.parse(value)

    @property
    def authority(self) -> str:
        """The handle or DID."""
        return self._authority

    @property
    def host(self) -> str:
        """Alias of :attr:`authority` (atproto SDK compatibility)."""
        return self._authority

    @property
    def collection(self) -> str | None:
        """The collection NSID, if any."""
        return self._collection

    @property
    def rkey(self) -> str | None:
        """The record key, if any."""
        return self._rkey

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AtUri):
            return self._text == other._text
        if isinstance(other, str):
            return self._text == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._text)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"AtUri is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"AtUri is immutable; cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[AtUri], tuple[str, str | None, str | None]]:
        return (type(self), (self._authority, self._collection, self._rkey))


class RecordUri(AtUri):
    """The AT-URI of one record: ``at://authority/collection/rkey``, all three present.

    What ``create_record``, ``put_record``, ``apply_writes`` and
    ``create_records`` return. An :class:`AtUri` in every way (equal to an
    ``AtUri`` or ``str`` with the same text, accepted wherever one is), whose
    :attr:`collection` and :attr:`rkey` are ``str``, never ``None``, so
    ``client.put_record(uri.collection, uri.rkey, ...)`` type-checks.
    """

    __slots__ = ()

    def __init__(self, authority: str, collection: str, rkey: str) -> None:
        if collection is None or rkey is None:
            _fail("record URI", f"at://{authority}", "needs a collection and a record key")
        super().__init__(authority, collection, rkey)

    @classmethod
    def parse(cls, value: str) -> RecordUri:
        """Parse an AT-URI that names a record (collection and record key required)."""
        authority, collection, rkey = _split_at_uri(value)
        if collection is None or rkey is None:
            _fail("record URI", value, "needs a collection and a record key")
        uri = cls.__new__(cls)
        uri._init(authority, collection, rkey, value)
        return uri

    @classmethod
    def from_uri(cls, uri: str | AtUri) -> RecordUri:
        """A :class:`RecordUri` from an AT-URI string or :class:`AtUri` that names a record."""
        if isinstance(uri, RecordUri):
            return uri
        return cls.parse(str(uri))

    @property
    def collection(self) -> str:
        """The collection NSID."""
        return self._collection  # type: ignore[return-value]  # checked in parse/__init__

    @property
    def rkey(self) -> str:
        """The record key."""
        return self._rkey  # type: ignore[return-value]  # checked in parse/__init__
