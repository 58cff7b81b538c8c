"""Who the client is: its ``client_id``, the redirect it uses, and the scope it asks for.

The loopback client needs no published metadata: its ``client_id`` is
``http://localhost`` with the redirect URIs and the scope in the query. The
registered redirect ``http://127.0.0.1/`` has no port, so any port matches,
which lets the callback server take an ephemeral one; the redirect actually
sent (in the PAR and the token request) carries the port.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from ..errors import InvalidArgumentError

__all__ = [
    "DEFAULT_SCOPE",
    "ClientIdentity",
    "check_client_id",
    "loopback_client",
    "loopback_client_id",
    "scope_tokens",
]

DEFAULT_SCOPE = "atproto transition:generic"
"""What the usual record and blob calls need (app-password-level access)."""


def scope_tokens(scope: str) -> tuple[str, ...]:
    """The space-separated scope values, in order, without duplicates."""
    seen: dict[str, None] = {}
    for token in scope.split():
        seen.setdefault(token, None)
    return tuple(seen)


def _check_scope(scope: str) -> str:
    tokens = scope_tokens(scope)
    if "atproto" not in tokens:
        raise InvalidArgumentError("an atproto OAuth scope must include 'atproto'")
    return " ".join(tokens)


@dataclass(frozen=True)
class ClientIdentity:
    """A client as one authorization request sees it.

    Attributes:
        client_id: the client's URL (a client-metadata document, or a loopback id).
        redirect_uri: where the server sends the browser back (must be registered).
        scope: the space-separated scopes this request asks for (with ``atproto``).
    """

    client_id: str
    redirect_uri: str
    scope: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", _check_scope(self.scope))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_client_id(client_id: object) -> str:
    """``client_id`` if it is a client-metadata document URL or a loopback development id.

    A web app's ``client_id`` is the https URL of its metadata document: no
    credentials, fragment or IP-address host, and a path that is neither empty
    nor ends in ``/`` (e.g. ``https://app.example/oauth-client-metadata.json``).
    The only plain-http form accepted is the loopback development client,
    ``http://localhost`` (no port, no path) with its optional query.

    Raises:
        InvalidArgumentError: (a ``ValueError``) anything else.
    """
    if not isinstance(client_id, str):
        raise InvalidArgumentError("client_id must be a str (the client metadata URL)")
    try:
        parts = urlsplit(client_id)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise InvalidArgumentError("client_id is not a valid URL") from None
    if parts.scheme == "http" and parts.netloc == "localhost" and parts.path in ("", "/"):
        if parts.fragment:
            raise InvalidArgumentError("a loopback client_id must have no fragment")
        return client_id  # a loopback development client
    if parts.scheme != "https":
        raise InvalidArgumentError(
            "client_id must be the https URL of the client metadata document"
            " (or http://localhost for a loopback development client)"
        )
    if not host or port == 0 or "@" in parts.netloc:
        raise InvalidArgumentError("client_id must name a host, without credentials")
    if _is_ip(host):
        raise InvalidArgumentError("client_id's host must be a domain name, not an IP address")
    if parts.fragment or client_id.endswith("#"):
        raise InvalidArgumentError("client_id must have no fragment")
    if parts.path in ("", "/") or parts.path.endswith("/"):
        raise InvalidArgumentError(
            "client_id must have a path (e.g. /oauth-client-metadata.json), not ending in '/'"
        )
    return client_id


def loopback_client_id(redirect_uris: tuple[str, ...] | list[str], scope: str) -> str:
    """``http://localhost?redirect_uri=...&scope=...`` (every requested scope must be declared)."""
    pairs = [("redirect_uri", uri) for uri in redirect_uris]
    pairs.append(("scope", _check_scope(scope)))
    return "http://localhost?" + urlencode(pairs, quote_via=quote)


def loopback_client(port: int, *, scope: str = DEFAULT_SCOPE, path: str = "/") -> ClientIdentity:
    """The loopback client answering on ``http://127.0.0.1:<port><path>``."""
    if not 0 < port < 65536:
        raise InvalidArgumentError(f"port {port} is out of range")
    if not path.startswith("/") or "?" in path or "#" in path:
        raise InvalidArgumentError("the callback path must start with '/' and have no query")
    registered = f"http://127.0.0.1{path}"
    return ClientIdentity(
        client_id=loopback_client_id([registered], scope),
        redirect_uri=f"http://127.0.0.1:{port}{path}",
        scope=scope,
    )
