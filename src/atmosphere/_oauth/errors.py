"""The OAuth error classes, defined in :mod:`atmosphere.errors` (the public error tree).

Re-exported here for the OAuth modules. Messages never contain tokens, codes,
PKCE verifiers or private keys.
"""

from __future__ import annotations

from ..errors import (
    OAUTH_EXTRA_HINT,
    OAuthCallbackError,
    OAuthError,
    OAuthGrantError,
    OAuthIdentityError,
    OAuthMetadataError,
    OAuthServerError,
    OAuthTokenResponseError,
    OAuthUnavailableError,
    ScopeMissingError,
)

__all__ = [
    "OAUTH_EXTRA_HINT",
    "OAuthCallbackError",
    "OAuthError",
    "OAuthGrantError",
    "OAuthIdentityError",
    "OAuthMetadataError",
    "OAuthServerError",
    "OAuthTokenResponseError",
    "OAuthUnavailableError",
    "ScopeMissingError",
]
