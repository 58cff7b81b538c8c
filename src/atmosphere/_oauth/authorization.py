"""The authorization request: PAR parameters, the browser URL, and the callback check.

:class:`PendingAuthorization` is what a client must keep between sending the
user to the authorization server and receiving the callback (the PKCE verifier
and the DPoP key are secrets). It is serializable, so a web app can store it
server-side, keyed by ``state``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..errors import InvalidSessionError
from .client_id import ClientIdentity
from .errors import OAuthCallbackError, OAuthError
from .keys import DpopKey
from .metadata import AuthorizationServerMetadata
from .pkce import Pkce

__all__ = [
    "PENDING_FORMAT",
    "PendingAuthorization",
    "authorization_url",
    "new_state",
    "par_body",
    "validate_callback",
]

PENDING_FORMAT = "atmosphere.oauth-pending/1"


def new_state() -> str:
    """A fresh random ``state`` (256 bits)."""
    return secrets.token_urlsafe(32)


def par_body(
    client: ClientIdentity, *, state: str, pkce: Pkce, login_hint: str | None = None
) -> dict[str, str]:
    """The form fields of a pushed authorization request (public client)."""
    body = {
        "client_id": client.client_id,
        "response_type": "code",
        "redirect_uri": client.redirect_uri,
        "scope": client.scope,
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": pkce.method,
    }
    if login_hint:
        body["login_hint"] = login_hint
    return body


def authorization_url(authorization_endpoint: str, client_id: str, request_uri: str) -> str:
    """The URL to open in the browser: the endpoint with ``client_id`` and ``request_uri``."""
    parts = urlsplit(authorization_endpoint)
    query = urlencode({"client_id": client_id, "request_uri": request_uri})
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))


@dataclass(frozen=True)
class PendingAuthorization:
    """An authorization request in flight, from the PAR until the callback.

    Attributes:
        state: the ``state`` sent, which the callback must echo.
        issuer: the authorization server, which the callback's ``iss`` must name.
        client: the client identity (``client_id``, ``redirect_uri``, ``scope``).
        server: the authorization server's validated metadata endpoints.
        pds_url: the PDS the flow started from (``None`` when it started from a server).
        expected_did: the account the flow started from (``None`` when from a server).
        login_hint: what was sent as ``login_hint``.
        url: the authorization URL for the browser.
        pkce: the PKCE verifier (secret).
        dpop_key: the DPoP key the session will be bound to (secret).
    """

    state: str
    issuer: str
    client: ClientIdentity
    server: AuthorizationServerMetadata
    pds_url: str | None
    expected_did: str | None
    login_hint: str | None
    url: str
    pkce: Pkce = field(repr=False)
    dpop_key: DpopKey = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON types, secrets included (keep it server-side, never in a cookie or URL)."""
        return {
            "format": PENDING_FORMAT,
            "state": self.state,
            "issuer": self.issuer,
            "client_id": self.client.client_id,
            "redirect_uri": self.client.redirect_uri,
            "scope": self.client.scope,
            "server_metadata": dict(self.server.raw),
            "pds_url": self.pds_url,
            "expected_did": self.expected_did,
            "login_hint": self.login_hint,
            "url": self.url,
            "code_verifier": self.pkce.verifier,
            "dpop_key": self.dpop_key.private_jwk(),
        }

    @classmethod
    def from_dict(cls, data: Any, *, allow_private_hosts: bool = False) -> PendingAuthorization:
        """Restore what :meth:`to_dict` saved; :class:`InvalidSessionError` when malformed."""
        from .metadata import parse_authorization_server_metadata

        if not isinstance(data, dict) or data.get("format") != PENDING_FORMAT:
            raise InvalidSessionError(f"not a pending OAuth authorization ({PENDING_FORMAT})")
        try:
            server = parse_authorization_server_metadata(
                data.get("server_metadata"),
                issuer=str(data.get("issuer")),
                allow_private_hosts=allow_private_hosts,
            )
            return cls(
                state=_text(data, "state"),
                issuer=server.issuer,
                client=ClientIdentity(
                    client_id=_text(data, "client_id"),
                    redirect_uri=_text(data, "redirect_uri"),
                    scope=_text(data, "scope"),
                ),
                server=server,
                pds_url=_opt_text(data, "pds_url"),
                expected_did=_opt_text(data, "expected_did"),
                login_hint=_opt_text(data, "login_hint"),
                url=_text(data, "url"),
                pkce=Pkce(verifier=_text(data, "code_verifier")),
                dpop_key=DpopKey.from_private_jwk(data.get("dpop_key")),
            )
        except ImportError:
            raise
        except (OAuthError, ValueError, KeyError) as exc:
            raise InvalidSessionError(f"pending OAuth authorization is unusable: {exc}") from None


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise KeyError(name)
    return value


def _opt_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def validate_callback(params: Mapping[str, str], pending: PendingAuthorization) -> str:
    """The authorization ``code`` from the redirect's query parameters, once checked.

    ``state`` must be the one sent and ``iss`` the issuer (RFC 9207; atproto
    servers always send it). An ``error`` parameter (e.g. ``access_denied`` when
    the user denied consent) becomes an :class:`OAuthCallbackError` carrying it.
    """
    state = params.get("state")
    if not state or not secrets.compare_digest(state.encode(), pending.state.encode()):
        raise OAuthCallbackError("the callback's state does not match this authorization request")
    iss = params.get("iss")
    if iss is None:
        raise OAuthCallbackError("the callback has no 'iss' parameter")
    if iss.rstrip("/") != pending.issuer.rstrip("/"):
        raise OAuthCallbackError(f"the callback comes from {iss!r}, not {pending.issuer!r}")
    error = params.get("error")
    if error:
        description = params.get("error_description")
        text = f": {description}" if description else ""
        raise OAuthCallbackError(
            f"authorization refused ({error}){text}", error=error, description=description
        )
    code = params.get("code")
    if not code:
        raise OAuthCallbackError("the callback has neither 'code' nor 'error'")
    return code
