"""Pure mapping of XRPC error responses to typed errors (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from .errors import (
    AuthenticationError,
    BlobNotFoundError,
    ExpiredTokenError,
    InvalidSwapError,
    InvalidTokenError,
    PayloadTooLargeError,
    RateLimitError,
    RecordNotFoundError,
    ServerError,
    XrpcError,
)

__all__ = ["RateLimitInfo", "error_from_response", "error_name", "parse_rate_limit"]

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
}

_BY_STATUS: dict[int, type[XrpcError]] = {
    401: AuthenticationError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}

_MAX_MESSAGE = 300


@dataclass(frozen=True)
class RateLimitInfo:
    """A server's rate-limit state, read from ``RateLimit-*`` and ``Retry-After`` headers.

    ``AtmosphereClient.rate_limit`` holds the one from the most recent response
    that carried any of these headers (``None`` before that).

    Attributes:
        limit: ``RateLimit-Limit``: requests allowed per window.
        remaining: ``RateLimit-Remaining``: requests left in the window.
        reset_at: when the window resets (UTC): ``RateLimit-Reset`` (unix
            seconds), or ``Retry-After`` (seconds or an HTTP date), which wins.
        policy: ``RateLimit-Policy``, e.g. ``"3000;w=300"`` (3000 per 300 s).
    """

    limit: int | None
    remaining: int | None
    reset_at: datetime | None
    policy: str | None

    def seconds_until_reset(self, now: datetime | None = None) -> float | None:
        """Seconds from ``now`` (default: the current time) to ``reset_at``, never negative."""
        if self.reset_at is None:
            return None
        now = now or datetime.now(timezone.utc)
        return max(0.0, (self.reset_at - now).total_seconds())


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def parse_rate_limit(
    headers: Mapping[str, str], *, now: datetime | None = None
) -> RateLimitInfo | None:
    """Read rate-limit headers; ``None`` when the response carries none.

    ``RateLimit-Reset`` is unix seconds (as the reference PDS sends it);
    ``Retry-After`` is delta-seconds or an HTTP date and wins when present.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    limit = _int(lower.get("ratelimit-limit"))
    remaining = _int(lower.get("ratelimit-remaining"))
    policy = lower.get("ratelimit-policy")
    reset_at: datetime | None = None
    reset = _int(lower.get("ratelimit-reset"))
    if reset is not None:
        reset_at = datetime.fromtimestamp(reset, tz=timezone.utc)
    retry_after = lower.get("retry-after")
    if retry_after is not None:
        now = now or datetime.now(timezone.utc)
        seconds = _int(retry_after)
        if seconds is not None:
            reset_at = now + timedelta(seconds=max(0, seconds))
        else:
            try:
                parsed = parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                parsed = None
            if parsed is not None:
                reset_at = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if limit is None and remaining is None and reset_at is None and policy is None:
        return None
    return RateLimitInfo(limit, remaining, reset_at, policy)


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
