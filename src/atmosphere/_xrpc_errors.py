"""Pure mapping of XRPC error responses to typed errors (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ._ratelimit import parse_rate_limit
from .errors import (
    AuthenticationError,
    BlobNotFoundError,
    ExpiredTokenError,
    InvalidSwapError,
    InvalidTokenError,
    PayloadTooLargeError,
    RateLimitError,
    RecordNotFoundError,
    ScopeMissingError,
    ServerError,
    XrpcError,
)

__all__ = ["error_from_response", "error_name"]

_BY_NAME: dict[str, type[XrpcError]] = {
    "AuthenticationRequired": AuthenticationError,
    "AuthMissing": AuthenticationError,
    "AccountTakedown": AuthenticationError,
    "ExpiredToken": ExpiredTokenError,
    "InvalidToken": InvalidTokenError,
    "RecordNotFound": RecordNotFoundError,
    "InvalidSwap": InvalidSwapError,
    "BlobNotFound": BlobNotFoundError,
    "PayloadTooLarge": PayloadTooLargeError,
    "RateLimitExceeded": RateLimitError,
    "ScopeMissingError": ScopeMissingError,  # OAuth: 403, the granted scope is too narrow
}

_BY_STATUS: dict[int, type[XrpcError]] = {
    401: AuthenticationError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}

_MAX_MESSAGE = 300


def error_name(body: bytes) -> tuple[str | None, str | None]:
    """The ``(error, message)`` pair of an XRPC error body, or ``(None, summary)``."""
    if not body.strip():
        return None, None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # Recursion: absurd nesting
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        msg = data.get("message")
        return (
            err if isinstance(err, str) else None,
            msg[:_MAX_MESSAGE] if isinstance(msg, str) else None,
        )
    text = body[:_MAX_MESSAGE].decode("utf-8", "replace").strip()
    first_line = text.splitlines()[0] if text else ""
    return None, f"non-XRPC error body: {first_line!r}"


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    nsid: str = "",
    body_size: int | None = None,
) -> XrpcError:
    """Build the typed error for a non-2xx XRPC response.

    The class is chosen by the body's ``error`` name first, then by status.
    ``body_size`` is the size of the *request* body (for 413 errors).
    """
    name, message = error_name(body)
    cls: type[XrpcError] | None = _BY_NAME.get(name) if name else None
    if cls is None and name == "InvalidRequest" and message and "blob not found" in message.lower():
        cls = BlobNotFoundError
    if cls is None:
        cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else XrpcError
    plain = dict(headers.items())
    if cls is RateLimitError:
        info = parse_rate_limit(headers)
        return RateLimitError(
            status,
            name,
            message,
            nsid=nsid,
            headers=plain,
            limit=info.limit if info else None,
            remaining=info.remaining if info else None,
            reset_at=info.reset_at if info else None,
            policy=info.policy if info else None,
        )
    if cls is PayloadTooLargeError:
        return PayloadTooLargeError(status, name, message, nsid=nsid, headers=plain, size=body_size)
    return cls(status, name, message, nsid=nsid, headers=plain)
