"""Identity resolution rules, with no I/O.

Everything here is pure: it builds the names and URLs to look up, and judges
what came back (DNS TXT strings, a ``/.well-known/atproto-did`` body, a DID
document). The resolvers (``_async/resolver.py`` and its generated sync twin)
do the I/O around these rules.

Specs: https://atproto.com/specs/handle and https://atproto.com/specs/did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ._defaults import DEFAULT_PLC_URL
from ._syntax import is_reserved_handle, is_valid_handle, normalize_handle, validate_did
from .errors import DidResolutionError, HandleResolutionError, InvalidIdentifierError

if TYPE_CHECKING:
    from ._models import DidDocument

__all__ = [
    "DEFAULT_PLC_URL",
    "HANDLE_INVALID",
    "Identity",
    "check_pds_endpoint",
    "check_resolvable_handle",
    "claimed_handle",
    "did_document_url",
    "dns_txt_name",
    "document_pds_endpoint",
    "parse_did_document",
    "parse_dns_txt",
    "parse_well_known_body",
    "verify_handle",
    "well_known_redirect",
    "well_known_url",
]

HANDLE_INVALID = "handle.invalid"
"""The handle reported for a DID whose handle is not bidirectionally verified."""


_DNS_PREFIX = "did="
_DID_PLC = re.compile(r"^did:plc:[a-z2-7]{24}$")
_DID_WEB_PREFIX = "did:web:"
_NETLOC = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?$")
_PORT = re.compile(r"^[0-9]{1,5}$")


# -- handles -------------------------------------------------------------------


def check_resolvable_handle(handle: str) -> str:
    """Validate ``handle`` for resolution and return it normalized (lowercase).

    Raises ``InvalidIdentifierError`` for bad syntax and ``HandleResolutionError``
    for a reserved TLD (``.local``, ``.onion``, ``handle.invalid`` …), which the
    handle spec says must fail resolution before anything is looked up.
    """
    normalized = normalize_handle(handle)
    if is_reserved_handle(normalized):
        raise HandleResolutionError(normalized, "handles under a reserved TLD do not resolve")
    return normalized


def dns_txt_name(handle: str) -> str:
    """The DNS name holding the handle's TXT record: ``_atproto.<handle>``."""
    return f"_atproto.{handle}"


def well_known_url(handle: str) -> str:
    """The HTTPS well-known URL that names the handle's DID."""
    return f"https://{handle}/.well-known/atproto-did"


def parse_dns_txt(handle: str, records: Iterable[Sequence[bytes | str]]) -> str | None:
    """The DID named by the TXT records of ``_atproto.<handle>``, or ``None``.

    Each record's strings are joined; values not starting ``did=`` are ignored.
    A ``did=`` value that is not a valid DID, or two records naming different
    DIDs, make resolution fail (``HandleResolutionError``).
    """
    found: set[str] = set()
    for strings in records:
        value = "".join(
            s.decode("utf-8", "replace") if isinstance(s, bytes) else s for s in strings
        )
        if not value.startswith(_DNS_PREFIX):
            continue
        candidate = value[len(_DNS_PREFIX) :]
        try:
            found.add(validate_did(candidate))
        except InvalidIdentifierError as exc:
            raise HandleResolutionError(handle, "DNS TXT record holds an invalid DID") from exc
    if len(found) > 1:
        raise HandleResolutionError(handle, "DNS TXT records name more than one DID")
    return found.pop() if found else None


def parse_well_known_body(handle: str, body: bytes | str) -> str:
    """The DID in a 2xx ``/.well-known/atproto-did`` body.

    Surrounding whitespace is stripped and the first line must be a valid DID;
    anything else raises ``HandleResolutionError``.
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HandleResolutionError(handle, "well-known body is not UTF-8") from exc
    text = body.strip()
    first = text.split("\n", 1)[0].strip() if text else ""
    if not first:
        raise HandleResolutionError(handle, "well-known body is empty")
    try:
        return validate_did(first)
    except InvalidIdentifierError as exc:
        raise HandleResolutionError(handle, "well-known body is not a DID") from exc


def well_known_redirect(handle: str, url: str, location: str | None) -> str:
    """The absolute URL a well-known redirect leads to, if it is acceptable.

    The handle spec allows a few redirect hops; each must stay on ``https``
    (no downgrade) and carry no credentials. Else ``HandleResolutionError``.
    """
    if not location:
        raise HandleResolutionError(handle, "well-known redirect without a Location")
    target = urljoin(url, location.strip())
    parts = urlsplit(target)
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        raise HandleResolutionError(handle, "well-known redirect to a non-https URL")
    return target


# -- DIDs and documents ----------------------------------------------------------


def did_document_url(did: str, plc_url: str = DEFAULT_PLC_URL) -> str:
    """The URL of the DID document for ``did``.

    ``did:plc`` → ``<plc_url>/<did>``; ``did:web`` → ``https://<host>/.well-known/did.json``.
    Only hostname ``did:web`` DIDs are supported (no paths); a ``%3A``-encoded
    port is allowed only for ``localhost``, which is fetched over plain http as
    the reference implementation does. Other methods raise ``DidResolutionError``.
    """
    did = validate_did(did)
    if did.startswith("did:plc:"):
        if not _DID_PLC.match(did):
            raise DidResolutionError(did, "malformed did:plc identifier")
        return f"{plc_url.rstrip('/')}/{did}"
    if did.startswith(_DID_WEB_PREFIX):
        return _did_web_url(did)
    raise DidResolutionError(did, "unsupported DID method (atproto supports did:plc and did:web)")


def _did_web_url(did: str) -> str:
    ident = did[len(_DID_WEB_PREFIX) :]
    if ":" in ident:
        raise DidResolutionError(did, "did:web with a path is not supported by atproto")
    host_port = ident.replace("%3A", ":").replace("%3a", ":")
    if "%" in host_port:
        raise DidResolutionError(did, "did:web host has unexpected percent-encoding")
    host, sep, port = host_port.partition(":")
    host = host.lower()
    if host == "localhost":
        if sep and not (_PORT.match(port) and 0 < int(port) < 65536):
            raise DidResolutionError(did, "did:web has an invalid port")
        return f"http://{host_port.lower()}/.well-known/did.json"
    if sep:
        raise DidResolutionError(did, "did:web ports are only allowed for localhost")
    if not is_valid_handle(host) or is_reserved_handle(host):
        raise DidResolutionError(did, "did:web host is not a resolvable hostname")
    return f"https://{host}/.well-known/did.json"


def _did_document_model() -> type[DidDocument]:
    """The pydantic model, imported when the first document is parsed (not at import)."""
    from ._models import DidDocument

    return DidDocument


def parse_did_document(did: str, body: bytes | str | Mapping[str, Any]) -> DidDocument:
    """Parse and check a fetched DID document for ``did``.

    The body must be a JSON object that parses as a :class:`DidDocument` whose
    ``id`` equals ``did`` exactly; anything else raises ``DidResolutionError``.
    """
    data: object = body
    if isinstance(body, (bytes, str)):
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise DidResolutionError(did, "DID document is not valid JSON") from exc
    if not isinstance(data, Mapping):
        raise DidResolutionError(did, "DID document is not a JSON object")
    try:
        document = _did_document_model().model_validate(dict(data))
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise DidResolutionError(did, "malformed DID document") from exc
    if document.id != did:
        raise DidResolutionError(did, f"DID document is for {document.id!r}")
    return document


def check_pds_endpoint(did: str, endpoint: str | None) -> str:
    """Validate a PDS ``serviceEndpoint`` and return it normalized (no trailing slash).

    It must be an ``http``/``https`` URL with a host (and optional port), no
    userinfo, no path other than ``/``, no query or fragment. Anything else
    (including a missing endpoint) raises ``DidResolutionError``.
    """
    if not isinstance(endpoint, str) or not endpoint:
        raise DidResolutionError(did, "DID document declares no atproto PDS endpoint")
    if not endpoint.isascii() or any(c in endpoint for c in "?#@\\") or _has_space(endpoint):
        raise DidResolutionError(did, "PDS endpoint is not a plain http(s) origin")
    parts = urlsplit(endpoint)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DidResolutionError(did, "PDS endpoint must be an http(s) URL")
    if not parts.hostname or not _NETLOC.match(parts.netloc):
        raise DidResolutionError(did, "PDS endpoint has no valid host")
    try:
        port = parts.port
    except ValueError as exc:
        raise DidResolutionError(did, "PDS endpoint has an invalid port") from exc
    if port == 0:
        raise DidResolutionError(did, "PDS endpoint has an invalid port")
    if parts.path not in ("", "/"):
        raise DidResolutionError(did, "PDS endpoint must not have a path")
    return f"{scheme}://{parts.netloc.lower()}"


def _has_space(text: str) -> bool:
    return any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def document_pds_endpoint(document: DidDocument) -> str:
    """The validated, normalized PDS endpoint declared by ``document``."""
    return check_pds_endpoint(document.id, document.pds_endpoint)


# -- bidirectional handle check ---------------------------------------------------


def claimed_handle(document: DidDocument) -> str | None:
    """The handle the document claims (first ``at://`` alsoKnownAs), normalized.

    ``None`` when there is no such entry or it is not a valid handle.
    """
    handle = document.handle
    if handle is None or not is_valid_handle(handle):
        return None
    return handle.lower()


def verify_handle(document: DidDocument, handle: str, handle_did: str | None) -> str:
    """The verified handle for ``document``, or ``"handle.invalid"``.

    ``handle`` is trusted only if it resolved to this document's DID
    (``handle_did``) *and* the document's first ``at://`` alsoKnownAs names it
    (compared case-insensitively). Reserved-TLD handles are never trusted.
    """
    claimed = claimed_handle(document)
    if claimed is None or handle_did != document.id or claimed != handle.lower():
        return HANDLE_INVALID
    if is_reserved_handle(claimed):
        return HANDLE_INVALID
    return claimed


@dataclass(frozen=True)
class Identity:
    """A resolved account identity.

    Attributes:
        did: the account's DID.
        handle: the bidirectionally verified handle (lowercase), or
            ``"handle.invalid"`` when the handle could not be verified.
        pds_endpoint: the validated PDS origin, e.g. ``"https://pds.example.com"``.
        document: the DID document the rest was read from.
    """

    did: str
    handle: str
    pds_endpoint: str
    document: DidDocument

    @property
    def handle_is_valid(self) -> bool:
        """Whether the handle was verified (it is not ``"handle.invalid"``)."""
        return self.handle != HANDLE_INVALID


# -- cache -------------------------------------------------------------------------
