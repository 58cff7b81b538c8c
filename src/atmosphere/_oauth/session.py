"""An OAuth session: tokens, the DPoP key they are bound to, and where they are valid.

It round-trips through :meth:`OAuthSession.to_dict` (plain JSON types) so a
script, the CLI's session file or a web app's store can keep it. That dict
holds secrets (tokens and the private DPoP key); ``repr``/``str`` of the
session never show them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

from .._syntax import is_valid_did, is_valid_handle
from ..errors import InvalidSessionError
from .client_id import scope_tokens
from .errors import OAuthError
from .keys import DpopKey
from .tokens import TokenSet
from .urls import check_server_url

__all__ = ["SESSION_FORMAT", "OAuthSession"]

SESSION_FORMAT = "atmosphere.oauth/1"


@dataclass(frozen=True)
class OAuthSession:
    """An authorized OAuth session for one account on one PDS.

    Attributes:
        did: the account (the token's ``sub``, checked against the issuer).
        pds_url: the account's PDS (the resource server) from its DID document.
        issuer: the authorization server that issued the tokens.
        client_id: the client the tokens are bound to.
        scope: the granted scope.
        token_endpoint: where to refresh.
        revocation_endpoint: where to revoke (``None`` if the server has none).
        access_token: the access token (secret).
        refresh_token: the refresh token (secret), if one was issued.
        expires_at: when the access token expires (unix seconds), if known.
        dpop_key: the session's DPoP key (secret).
        handle: the account's handle when it was verified both ways (else ``None``).
    """

    did: str
    pds_url: str
    issuer: str
    client_id: str
    scope: str
    token_endpoint: str
    revocation_endpoint: str | None
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float | None
    dpop_key: DpopKey = field(repr=False)
    handle: str | None = None

    @property
    def scopes(self) -> tuple[str, ...]:
        """The granted scope values."""
        return scope_tokens(self.scope)

    def expires_within(self, seconds: float, *, now: float | None = None) -> bool:
        """Whether the access token expires in less than ``seconds`` (``False`` if unknown)."""
        if self.expires_at is None:
            return False
        return self.expires_at - (time.time() if now is None else now) < seconds

    def with_tokens(self, tokens: TokenSet) -> OAuthSession:
        """This session after a refresh: new tokens and scope, same key and servers.

        Raises :class:`OAuthError` if the tokens are for another account.
        """
        if tokens.sub != self.did:
            raise OAuthError(f"refreshed tokens are for {tokens.sub}, not {self.did}")
        return replace(
            self,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or self.refresh_token,
            scope=tokens.scope,
            expires_at=tokens.expires_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """The session as JSON types, secrets included: store it like a password."""
        return {
            "format": SESSION_FORMAT,
            "did": self.did,
            "pds_url": self.pds_url,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "scope": self.scope,
            "token_endpoint": self.token_endpoint,
            "revocation_endpoint": self.revocation_endpoint,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "dpop_key": self.dpop_key.private_jwk(),
            "handle": self.handle,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any, *, allow_private_hosts: bool = False) -> OAuthSession:
        """Restore a session saved with :meth:`to_dict`.

        Raises :class:`~atmosphere.errors.InvalidSessionError` (never echoing the
        secrets) when it is malformed, and
        :class:`~atmosphere._oauth.errors.OAuthUnavailableError` without the extra.
        """
        if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
            raise InvalidSessionError(f"not an OAuth session ({SESSION_FORMAT})")

        def text(name: str, *, optional: bool = False) -> Any:
            value = data.get(name)
            if value is None and optional:
                return None
            if not isinstance(value, str) or not value:
                raise InvalidSessionError(f"OAuth session field {name!r} is missing or not text")
            return value

        did = text("did")
        if not is_valid_did(did):
            raise InvalidSessionError("OAuth session 'did' is not a DID")
        for name in ("pds_url", "issuer", "token_endpoint", "revocation_endpoint"):
            value = text(name, optional=name == "revocation_endpoint")
            if value is not None and check_server_url(
                value, allow_private_hosts=allow_private_hosts
            ):
                raise InvalidSessionError(f"OAuth session {name!r} is not an acceptable URL")
        scope = text("scope")
        if "atproto" not in scope_tokens(scope):
            raise InvalidSessionError("OAuth session scope lacks atproto")
        expires_at = data.get("expires_at")
        if expires_at is not None and (
            isinstance(expires_at, bool) or not isinstance(expires_at, (int, float))
        ):
            raise InvalidSessionError("OAuth session 'expires_at' is not a number")
        handle = data.get("handle")
        if handle is not None and not (isinstance(handle, str) and is_valid_handle(handle)):
            raise InvalidSessionError("OAuth session 'handle' is not a handle")
        try:
            key = DpopKey.from_private_jwk(data.get("dpop_key"))
        except OAuthError as exc:
            if isinstance(exc, ImportError):
                raise
            raise InvalidSessionError("OAuth session holds no usable DPoP key") from None
        return cls(
            did=did,
            pds_url=text("pds_url"),
            issuer=text("issuer"),
            client_id=text("client_id"),
            scope=scope,
            token_endpoint=text("token_endpoint"),
            revocation_endpoint=text("revocation_endpoint", optional=True),
            access_token=text("access_token"),
            refresh_token=text("refresh_token", optional=True),
            expires_at=None if expires_at is None else float(expires_at),
            dpop_key=key,
            handle=handle,
        )

    @classmethod
    def from_json(cls, text: str, *, allow_private_hosts: bool = False) -> OAuthSession:
        """Restore a session saved with :meth:`to_json`."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            raise InvalidSessionError("OAuth session is not valid JSON") from None
        return cls.from_dict(data, allow_private_hosts=allow_private_hosts)
