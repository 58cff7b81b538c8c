"""atmosphere: a dependency-light AT Protocol client that speaks XRPC over raw HTTP.

The public face is :class:`AtmosphereClient`, a drop-in for the atdata
project's client of the same name::

    from atmosphere import AtmosphereClient

    with AtmosphereClient() as client:
        client.login("alice.bsky.social", "app-password")
        uri = client.create_record("ac.foundation.dataset.record", {...})
"""

from __future__ import annotations

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
from .syntax import AtUri

__version__ = "0.1.0"

__all__ = [
    "AtUri",
    "AtmosphereClient",
    "AtmosphereError",
    "AuthenticationError",
    "BlobNotFoundError",
    "BlobRef",
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
    "PayloadTooLargeError",
    "RateLimitError",
    "Record",
    "RecordNotFoundError",
    "ResolutionError",
    "ResponseTooLargeError",
    "ServerError",
    "Session",
    "SessionRefreshError",
    "StrongRef",
    "TransportError",
    "XrpcError",
    "__version__",
    "compute_cid",
    "parse_cid",
]
