"""atmosphere: a dependency-light AT Protocol client that speaks XRPC over raw HTTP.

The public face is :class:`AtmosphereClient`, a drop-in for the atdata
project's client of the same name::

    from atmosphere import AtmosphereClient

    with AtmosphereClient() as client:
        client.login("alice.bsky.social", "app-password")
        uri = client.create_record("ac.foundation.dataset.record", {...})
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .async_client import AsyncAtmosphereClient
    from .async_resolver import AsyncIdentityResolver
    from .cid import compute_cid, parse_cid
    from .client import AtmosphereClient
    from .errors import (
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
        NetworkTimeoutError,
        NotAuthenticatedError,
        PartialWriteError,
        PayloadTooLargeError,
        RateLimitError,
        RecordNotFoundError,
        ResolutionError,
        ResponseTooLargeError,
        ServerError,
        SessionRefreshError,
        TransportError,
        XrpcError,
    )
    from .identity import Identity
    from .models import BlobRef, DidDocument, Record, Session, StrongRef
    from .resolver import IdentityResolver
    from .retry import RetryPolicy
    from .syntax import AtUri
    from .writes import Create, Delete, Update
    from .xrpc_errors import RateLimitInfo

__version__ = "0.1.0"

__all__ = [
    "AsyncAtmosphereClient",
    "AsyncIdentityResolver",
    "AtUri",
    "AtmosphereClient",
    "AtmosphereError",
    "AuthenticationError",
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
    "NetworkTimeoutError",
    "NotAuthenticatedError",
    "PartialWriteError",
    "PayloadTooLargeError",
    "RateLimitError",
    "RateLimitInfo",
    "Record",
    "RecordNotFoundError",
    "ResolutionError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "ServerError",
    "Session",
    "SessionRefreshError",
    "StrongRef",
    "TransportError",
    "Update",
    "XrpcError",
    "__version__",
    "compute_cid",
    "parse_cid",
]

_LAZY: dict[str, str] = {
    "AsyncAtmosphereClient": "async_client",
    "AsyncIdentityResolver": "async_resolver",
    "AtUri": "syntax",
    "Create": "writes",
    "Delete": "writes",
    "Update": "writes",
    "AtmosphereClient": "client",
    "AtmosphereError": "errors",
    "AuthenticationError": "errors",
    "BlobNotFoundError": "errors",
    "BlobRef": "models",
    "DidDocument": "models",
    "DidResolutionError": "errors",
    "ExpiredTokenError": "errors",
    "HandleResolutionError": "errors",
    "Identity": "identity",
    "IdentityResolver": "resolver",
    "IntegrityError": "errors",
    "InvalidArgumentError": "errors",
    "InvalidIdentifierError": "errors",
    "InvalidRecordError": "errors",
    "InvalidResponseError": "errors",
    "InvalidSessionError": "errors",
    "InvalidSwapError": "errors",
    "InvalidTokenError": "errors",
    "NetworkTimeoutError": "errors",
    "NotAuthenticatedError": "errors",
    "PartialWriteError": "errors",
    "PayloadTooLargeError": "errors",
    "RateLimitError": "errors",
    "RateLimitInfo": "xrpc_errors",
    "RetryPolicy": "retry",
    "Record": "models",
    "RecordNotFoundError": "errors",
    "ResolutionError": "errors",
    "ResponseTooLargeError": "errors",
    "ServerError": "errors",
    "Session": "models",
    "SessionRefreshError": "errors",
    "StrongRef": "models",
    "TransportError": "errors",
    "XrpcError": "errors",
    "compute_cid": "cid",
    "parse_cid": "cid",
}


def __getattr__(name: str) -> Any:
    """Import public names on first use, so ``import atmosphere`` stays cheap."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'atmosphere' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
