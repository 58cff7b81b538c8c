"""DPoP proofs (RFC 9449) and the per-origin server nonces they carry.

A proof is a JWT signed with the session's :class:`~.keys.DpopKey`::

    header  {"typ": "dpop+jwt", "alg": "ES256", "jwk": <public key>}
    payload {"jti", "htm", "htu", "iat", ["nonce"], ["ath"]}

``htu`` is the request URL without query and fragment, with scheme and host
lower-cased and a default port dropped. It must name the host the server
believes it is (``http://localhost:<port>`` for the test PDS), not whatever
address the socket went to. ``ath`` binds a proof to an access token.

Servers answer a proof without a (current) nonce with ``use_dpop_nonce``: the
authorization server as a 400 JSON error, the resource server as a 401 with
``WWW-Authenticate: DPoP error="use_dpop_nonce"``. Both send the nonce to use in
a ``DPoP-Nonce`` header, which :class:`NonceStore` keeps per origin.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from ._b64 import b64url_encode, compact_json
from .keys import DpopKey

__all__ = [
    "NonceStore",
    "access_token_hash",
    "build_proof",
    "is_use_dpop_nonce",
    "normalize_htu",
    "origin_of",
    "parse_www_authenticate",
    "retry_with_new_nonce",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split_origin(url: str) -> tuple[str, str, str]:
    """``(scheme, host[:port], path)`` of an http(s) URL, normalized; ``ValueError`` otherwise."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("URL with credentials")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return scheme, netloc, parts.path or "/"


def origin_of(url: str) -> str:
    """The normalized origin ``scheme://host[:port]`` of an http(s) URL."""
    scheme, netloc, _ = _split_origin(url)
    return f"{scheme}://{netloc}"


def normalize_htu(url: str) -> str:
    """The ``htu`` claim for a request URL: no query, no fragment, normalized origin."""
    scheme, netloc, path = _split_origin(url)
    return f"{scheme}://{netloc}{path}"


def access_token_hash(access_token: str) -> str:
    """The ``ath`` claim: base64url SHA-256 of the ASCII access token."""
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


def build_proof(
    key: DpopKey,
    method: str,
    url: str,
    *,
    nonce: str | None = None,
    access_token: str | None = None,
    iat: int | None = None,
    jti: str | None = None,
) -> str:
    """A signed DPoP proof JWT for one request (a fresh random ``jti`` unless given)."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk}
    payload: dict[str, object] = {
        "jti": jti or secrets.token_urlsafe(16),
        "htm": method.upper(),
        "htu": normalize_htu(url),
        "iat": int(time.time()) if iat is None else iat,
    }
    if nonce is not None:
        payload["nonce"] = nonce
    if access_token is not None:
        payload["ath"] = access_token_hash(access_token)
    signing_input = f"{b64url_encode(compact_json(header))}.{b64url_encode(compact_json(payload))}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


class NonceStore:
    """The latest ``DPoP-Nonce`` per server origin; safe to share between threads."""

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        """Start empty, or from ``{origin: nonce}`` (e.g. saved with :meth:`snapshot`)."""
        self._lock = threading.Lock()
        self._nonces: dict[str, str] = {}
        for origin, nonce in (initial or {}).items():
            self.set(origin, nonce)

    def get(self, url: str) -> str | None:
        """The nonce to put in a proof for ``url``, if the server gave one."""
        with self._lock:
            return self._nonces.get(origin_of(url))

    def set(self, url: str, nonce: str) -> None:
        """Remember ``nonce`` for ``url``'s origin."""
        with self._lock:
            self._nonces[origin_of(url)] = nonce

    def update_from(self, url: str, headers: Mapping[str, str]) -> bool:
        """Store a ``DPoP-Nonce`` response header if present; ``True`` when it changed."""
        nonce = _header(headers, "dpop-nonce")
        if not nonce:
            return False
        key = origin_of(url)
        with self._lock:
            changed = self._nonces.get(key) != nonce
            self._nonces[key] = nonce
        return changed

    def snapshot(self) -> dict[str, str]:
        """A copy of ``{origin: nonce}``."""
        with self._lock:
            return dict(self._nonces)

    def __repr__(self) -> str:
        return f"NonceStore(origins={sorted(self.snapshot())!r})"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        for key, val in headers.items():
            if key.lower() == name:
                return val
    return value


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|{_TOKEN}=*)\s*(,|$)')
_SCHEME = re.compile(rf"\s*({_TOKEN})(?=[\s,]|$)\s*")


def parse_www_authenticate(value: str) -> list[tuple[str, dict[str, str]]]:
    """The challenges of a ``WWW-Authenticate`` value: ``[(scheme, {param: value})]``.

    Schemes are lower-cased; quoted values are unescaped. Token68 forms are skipped.
    """
    challenges: list[tuple[str, dict[str, str]]] = []
    pos = 0
    while pos < len(value):
        if value[pos] in ", ":
            pos += 1
            continue
        scheme = _SCHEME.match(value, pos)
        if not scheme:
            break
        pos = scheme.end()
        params: dict[str, str] = {}
        while pos < len(value):
            param = _PARAM.match(value, pos)
            if not param:
                break
            raw = param.group(2)
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            params[param.group(1).lower()] = raw
            pos = param.end()
        challenges.append((scheme.group(1).lower(), params))
    return challenges


def is_use_dpop_nonce(status: int, headers: Mapping[str, str], body: object) -> bool:
    """Whether an answer asks for a (new) DPoP nonce, in either server's form.

    ``body`` is the decoded JSON body (anything else is ignored).
    """
    if status == 400 and isinstance(body, dict) and body.get("error") == "use_dpop_nonce":
        return True
    if status == 401:
        challenge = _header(headers, "www-authenticate") or ""
        return any(
            scheme == "dpop" and params.get("error") == "use_dpop_nonce"
            for scheme, params in parse_www_authenticate(challenge)
        )
    return False


def retry_with_new_nonce(
    sent_nonce: str | None, status: int, headers: Mapping[str, str], body: object
) -> bool:
    """Whether to resend: the server asks for a nonce and offers one the proof did not carry.

    Compared with the nonce *sent*, not with the store, so concurrent callers that
    all raced on a stale nonce each retry once.
    """
    offered = _header(headers, "dpop-nonce")
    return bool(offered) and offered != sent_nonce and is_use_dpop_nonce(status, headers, body)
