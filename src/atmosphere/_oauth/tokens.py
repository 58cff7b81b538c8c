"""Token responses from the authorization server, checked as the atproto profile says."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .._syntax import is_valid_did
from .client_id import scope_tokens
from .errors import OAuthTokenResponseError

__all__ = ["TokenSet", "parse_token_response"]


@dataclass(frozen=True)
class TokenSet:
    """What a successful token request yields (the tokens never appear in ``repr``).

    Attributes:
        sub: the account's DID.
        scope: the scope actually granted (may be narrower than requested).
        access_token: the DPoP-bound access token (opaque).
        refresh_token: the refresh token, if one was issued.
        expires_at: when the access token expires (unix seconds), if the server said.
    """

    sub: str
    scope: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float | None

    @property
    def scopes(self) -> tuple[str, ...]:
        """The granted scope values."""
        return scope_tokens(self.scope)


def parse_token_response(
    data: object, *, expected_sub: str | None = None, now: float | None = None
) -> TokenSet:
    """Validate a token endpoint's JSON answer.

    Requires ``token_type`` ``DPoP``, an ``access_token``, a ``sub`` that is a
    DID (equal to ``expected_sub`` when given), and a ``scope`` that contains
    ``atproto``. Raises :class:`OAuthTokenResponseError`, never echoing tokens.
    """
    if not isinstance(data, dict):
        raise OAuthTokenResponseError("token response is not a JSON object")
    token_type = data.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "dpop":
        raise OAuthTokenResponseError(f"token_type is {token_type!r}, not DPoP")
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthTokenResponseError("token response has no access_token")
    refresh = data.get("refresh_token")
    if refresh is not None and (not isinstance(refresh, str) or not refresh):
        raise OAuthTokenResponseError("token response has a malformed refresh_token")
    sub = data.get("sub")
    if not isinstance(sub, str) or not is_valid_did(sub):
        raise OAuthTokenResponseError(f"token response 'sub' {sub!r} is not a DID")
    if expected_sub is not None and sub != expected_sub:
        raise OAuthTokenResponseError(f"token response is for {sub}, not {expected_sub}")
    scope = data.get("scope")
    if not isinstance(scope, str) or "atproto" not in scope_tokens(scope):
        raise OAuthTokenResponseError(f"granted scope {scope!r} does not include atproto")
    expires_in = data.get("expires_in")
    expires_at: float | None = None
    if expires_in is not None:
        if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
            raise OAuthTokenResponseError("expires_in is not a number")
        expires_at = (time.time() if now is None else now) + float(expires_in)
    return TokenSet(
        sub=sub, scope=scope, access_token=access, refresh_token=refresh, expires_at=expires_at
    )
