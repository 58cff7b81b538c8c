"""Rate-limit state read from response headers, and the arithmetic of reset times.

Every "how long until the limit resets" in the library goes through
:func:`seconds_until`: the client's ``rate_limit``, the retry policy's wait and
:class:`~atmosphere.errors.RateLimitError`'s ``retry_after``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

__all__ = ["RateLimitInfo", "parse_rate_limit", "seconds_until"]


def seconds_until(reset_at: datetime | None, now: float | None = None) -> float | None:
    """Seconds from ``now`` (unix time; default: the current time) to ``reset_at``.

    Never negative; ``None`` when the reset time is unknown.
    """
    if reset_at is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, reset_at.timestamp() - current)


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
        return seconds_until(self.reset_at, now.timestamp() if now is not None else None)


_MAX_WAIT = 10 * 365 * 24 * 3600
"""Reset times are clamped to ten years ahead: any server can send absurd ones."""


def _at(unix: int) -> datetime:
    """The UTC instant of ``unix`` seconds, clamped to [epoch, ten years from now]."""
    return datetime.fromtimestamp(min(max(0, unix), int(time.time()) + _MAX_WAIT), tz=timezone.utc)


_NAMES = frozenset(
    {"ratelimit-limit", "ratelimit-remaining", "ratelimit-policy", "ratelimit-reset", "retry-after"}
)


_RAW_NAMES = frozenset(name.encode() for name in _NAMES)


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
    # One pass over the raw (name, value) byte pairs of httpx.Headers, decoding
    # only these headers: most answers carry none, a PDS's carry four.
    raw = getattr(headers, "raw", None)
    lower: dict[str, str] = {}
    if isinstance(raw, list):
        for name, value in raw:
            key = name.lower()
            if key in _RAW_NAMES:
                lower[key.decode("latin-1")] = value.decode("latin-1")
    else:
        for name, value in headers.items():
            key = name.lower()
            if key in _NAMES:
                lower[key] = value
    if not lower:
        return None
    limit = _int(lower.get("ratelimit-limit"))
    remaining = _int(lower.get("ratelimit-remaining"))
    policy = lower.get("ratelimit-policy")
    reset_at: datetime | None = None
    reset = _int(lower.get("ratelimit-reset"))
    if reset is not None:
        reset_at = _at(reset)
    retry_after = lower.get("retry-after")
    if retry_after is not None:
        now = now or datetime.now(timezone.utc)
        seconds = _int(retry_after)
        if seconds is not None:
            reset_at = now + timedelta(seconds=min(max(0, seconds), _MAX_WAIT))
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
