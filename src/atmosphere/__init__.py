"""atmosphere: a dependency-light AT Protocol client that speaks XRPC over raw HTTP.

Two faces over one core are drop-ins for the atdata project's client:
:class:`AtmosphereClient` (the seed API, atdata up to 0.3) and
:class:`Atmosphere` (atdata 0.7's API), each with an asyncio twin::

    from atmosphere import Atmosphere, AtmosphereClient

    with AtmosphereClient() as client:
        client.login("alice.bsky.social", "app-password")
        uri = client.create_record("ac.foundation.dataset.record", {...})

    atmo = Atmosphere.login("alice.bsky.social", "app-password")

:func:`atmosphere.atdata.adapt` hands either to atdata code that checks for
atdata's own class.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._async.atdata import AsyncAtmosphereClient
    from ._async.atmosphere import AsyncAtmosphere
    from ._async.resolver import AsyncIdentityResolver
    from ._cid import compute_cid, parse_cid
    from ._identity import Identity
    from ._lexicons import LexiconLayout
    from ._models import DidDocument, Session
    from ._oauth.authorization import PendingAuthorization
    from ._oauth.session import OAuthSession
    from ._ratelimit import RateLimitInfo
    from ._retry import RetryPolicy
    from ._sync.atdata import AtmosphereClient
    from ._sync.atmosphere import Atmosphere
    from ._sync.resolver import IdentityResolver
    from ._syntax import AtUri, RecordUri
    from ._types import (
        BinaryReader,
        BlobInput,
        BlobRef,
        Record,
        RecordPage,
        StrongRef,
    )
    from ._writes import (
        Create,
        Delete,
        Update,
    )
    from .errors import (
        AppViewRequiredError,
        AtdataMissingError,
        AtmosphereError,
        AuthenticationError,
        BlobNotFoundError,
        DidResolutionError,
        ExpiredTokenError,
        HandleResolutionError,
        IntegrityError,
        InvalidArgumentError,
        InvalidIdentifierError,
        InvalidRecordError,
        InvalidResponseError,
        InvalidSessionError,
        InvalidSwapError,
        InvalidTokenError,
        MissingCredentialsError,
        NetworkTimeoutError,
        NotAuthenticatedError,
        OAuthCallbackError,
        OAuthError,
        OAuthGrantError,
        OAuthIdentityError,
        OAuthMetadataError,
        OAuthServerError,
        OAuthTokenResponseError,
        OAuthUnavailableError,
        PartialWriteError,
        PayloadTooLargeError,
        RateLimitError,
        RecordMismatchError,
        RecordNotFoundError,
        ResolutionError,
        ResponseTooLargeError,
        ScopeMissingError,
        ServerError,
        SessionRefreshError,
        TransportError,
        UnsafeTargetError,
        XrpcError,
    )

__version__ = "0.1.0"

__all__ = [
    "AppViewRequiredError",
    "AsyncAtmosphere",
    "AsyncAtmosphereClient",
    "AsyncIdentityResolver",
    "AtUri",
    "AtdataMissingError",
    "Atmosphere",
    "AtmosphereClient",
    "AtmosphereError",
    "AuthenticationError",
    "BinaryReader",
    "BlobInput",
    "BlobNotFoundError",
    "BlobRef",
    "Create",
    "Delete",
    "DidDocument",
    "DidResolutionError",
    "ExpiredTokenError",
    "HandleResolutionError",
    "Identity",
    "IdentityResolver",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidIdentifierError",
    "InvalidRecordError",
    "InvalidResponseError",
    "InvalidSessionError",
    "InvalidSwapError",
    "InvalidTokenError",
    "LexiconLayout",
    "MissingCredentialsError",
    "NetworkTimeoutError",
    "NotAuthenticatedError",
    "OAuthCallbackError",
    "OAuthError",
    "OAuthGrantError",
    "OAuthIdentityError",
    "OAuthMetadataError",
    "OAuthServerError",
    "OAuthSession",
    "OAuthTokenResponseError",
    "OAuthUnavailableError",
    "PartialWriteError",
    "PayloadTooLargeError",
    "PendingAuthorization",
    "RateLimitError",
    "RateLimitInfo",
    "Record",
    "RecordMismatchError",
    "RecordNotFoundError",
    "RecordPage",
    "RecordUri",
    "ResolutionError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "ScopeMissingError",
    "ServerError",
    "Session",
    "SessionRefreshError",
    "StrongRef",
    "TransportError",
    "UnsafeTargetError",
    "Update",
    "XrpcError",
    "__version__",
    "compute_cid",
    "parse_cid",
]

# Where each public name lives: its module is imported on first use (PEP 562),
# so ``import atmosphere`` stays cheap. tests/unit/test_public_api.py checks that
# this table, ``__all__`` and the TYPE_CHECKING imports above agree.
_LAZY: dict[str, str] = {
    "AsyncAtmosphereClient": "._async.atdata",
    "AsyncAtmosphere": "._async.atmosphere",
    "AsyncIdentityResolver": "._async.resolver",
    "compute_cid": "._cid",
    "parse_cid": "._cid",
    "Identity": "._identity",
    "LexiconLayout": "._lexicons",
    "DidDocument": "._models",
    "Session": "._models",
    "PendingAuthorization": "._oauth.authorization",
    "OAuthSession": "._oauth.session",
    "RateLimitInfo": "._ratelimit",
    "RetryPolicy": "._retry",
    "AtmosphereClient": "._sync.atdata",
    "Atmosphere": "._sync.atmosphere",
    "IdentityResolver": "._sync.resolver",
    "AtUri": "._syntax",
    "RecordUri": "._syntax",
    "BinaryReader": "._types",
    "BlobInput": "._types",
    "BlobRef": "._types",
    "Record": "._types",
    "RecordPage": "._types",
    "StrongRef": "._types",
    "Create": "._writes",
    "Delete": "._writes",
    "Update": "._writes",
    "AppViewRequiredError": ".errors",
    "AtdataMissingError": ".errors",
    "AtmosphereError": ".errors",
    "AuthenticationError": ".errors",
    "BlobNotFoundError": ".errors",
    "DidResolutionError": ".errors",
    "ExpiredTokenError": ".errors",
    "HandleResolutionError": ".errors",
    "IntegrityError": ".errors",
    "InvalidArgumentError": ".errors",
    "InvalidIdentifierError": ".errors",
    "InvalidRecordError": ".errors",
    "InvalidResponseError": ".errors",
    "InvalidSessionError": ".errors",
    "InvalidSwapError": ".errors",
    "InvalidTokenError": ".errors",
    "MissingCredentialsError": ".errors",
    "NetworkTimeoutError": ".errors",
    "NotAuthenticatedError": ".errors",
    "OAuthCallbackError": ".errors",
    "OAuthError": ".errors",
    "OAuthGrantError": ".errors",
    "OAuthIdentityError": ".errors",
    "OAuthMetadataError": ".errors",
    "OAuthServerError": ".errors",
    "OAuthTokenResponseError": ".errors",
    "OAuthUnavailableError": ".errors",
    "PartialWriteError": ".errors",
    "PayloadTooLargeError": ".errors",
    "RateLimitError": ".errors",
    "RecordMismatchError": ".errors",
    "RecordNotFoundError": ".errors",
    "ResolutionError": ".errors",
    "ResponseTooLargeError": ".errors",
    "ScopeMissingError": ".errors",
    "ServerError": ".errors",
    "SessionRefreshError": ".errors",
    "TransportError": ".errors",
    "UnsafeTargetError": ".errors",
    "XrpcError": ".errors",
}


def __getattr__(name: str) -> Any:
    """Import public names on first use, so ``import atmosphere`` stays cheap."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'atmosphere' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
