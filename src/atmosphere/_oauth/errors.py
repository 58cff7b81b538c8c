"""Errors of the OAuth profile (all :class:`~atmosphere.errors.AtmosphereError` subclasses).

The hierarchy (to be merged into ``atmosphere.errors``)::

    AtmosphereError
    ├── OAuthError                          anything that went wrong in an OAuth step
    │   ├── OAuthUnavailableError (ImportError)   the ``oauth`` extra is not installed
    │   ├── OAuthMetadataError               server metadata fails the atproto profile
    │   ├── OAuthCallbackError               the redirect back is refused or reports an error
    │   ├── OAuthServerError                 the authorization server answered an OAuth error
    │   │   └── OAuthGrantError              ``invalid_grant`` (code or refresh token unusable)
    │   ├── OAuthTokenResponseError          a token answer fails the profile (type, sub, scope)
    │   └── OAuthIdentityError               ``sub`` is not bound to this issuer (or not expected)
    └── XrpcError
        └── ScopeMissingError                403: the granted scope does not cover the call

Messages never contain tokens, codes, PKCE verifiers or private keys.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import AtmosphereError, XrpcError

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

OAUTH_EXTRA_HINT = "pip install 'atmosphere-atproto[oauth]'"


class OAuthError(AtmosphereError):
    """An OAuth step failed."""


class OAuthUnavailableError(OAuthError, ImportError):
    """OAuth needs the ``oauth`` extra (the ``cryptography`` package) and it is missing."""

    def __init__(self) -> None:
        super().__init__(
            "OAuth needs the 'oauth' extra (the cryptography package for ES256): "
            f"{OAUTH_EXTRA_HINT}"
        )


class OAuthMetadataError(OAuthError):
    """Protected-resource or authorization-server metadata breaks the atproto profile.

    Attributes:
        url: where the metadata was fetched from.
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class OAuthCallbackError(OAuthError):
    """The authorization redirect was refused (wrong ``state`` or ``iss``) or carries an error.

    Attributes:
        error: the OAuth ``error`` parameter (e.g. ``"access_denied"``), or ``None``
            when the client refused the callback itself.
        description: ``error_description`` when the server sent one.
    """

    def __init__(
        self, message: str, *, error: str | None = None, description: str | None = None
    ) -> None:
        self.error = error
        self.description = description
        super().__init__(message)


class OAuthServerError(OAuthError):
    """The authorization server answered a PAR, token or revocation request with an error.

    Attributes:
        status: the HTTP status.
        error: the OAuth ``error`` code (``invalid_request``, ``invalid_grant`` ...), if any.
        description: the ``error_description``, if any.
        endpoint: which endpoint answered.
    """

    def __init__(
        self, status: int, error: str | None, description: str | None, *, endpoint: str
    ) -> None:
        self.status = status
        self.error = error
        self.description = description
        self.endpoint = endpoint
        text = f": {description}" if description else ""
        super().__init__(f"{error or 'HTTP error'} ({status}) from {endpoint}{text}")


class OAuthGrantError(OAuthServerError):
    """``invalid_grant``: the code or refresh token is expired, revoked or replayed.

    After a replayed refresh token the server ends the whole session: log in again.
    """


class OAuthTokenResponseError(OAuthError):
    """A token response is not what the atproto profile requires (type, ``sub``, ``scope``)."""


class OAuthIdentityError(OAuthError):
    """The account in ``sub`` is not the one expected, or its PDS uses another issuer.

    Attributes:
        did: the DID the server authenticated.
        issuer: the authorization server that issued the tokens.
    """

    def __init__(self, did: str, issuer: str, reason: str) -> None:
        self.did = did
        self.issuer = issuer
        super().__init__(f"{did} via {issuer}: {reason}")


class ScopeMissingError(XrpcError):
    """403: the session's granted scope does not cover this call.

    Attributes:
        required_scope: the scope the server named as missing, when it said so.
    """

    def __init__(
        self,
        status: int,
        error: str | None,
        message: str | None,
        *,
        nsid: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        prefix = "Missing required scope "
        self.required_scope: str | None = None
        if message and message.startswith(prefix):
            self.required_scope = message[len(prefix) :].strip().strip('"') or None
        super().__init__(status, error, message, nsid=nsid, headers=headers)
