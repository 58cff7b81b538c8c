"""When to send an XRPC call again, and how long to wait first (no I/O).

A :class:`RetryPolicy` is plain configuration. The decisions are small pure
functions of what happened on one attempt, so both transports
(``_async/xrpc.py`` and its generated sync twin) share them; the shells only
sleep and resend.

What is retried (the XRPC spec: https://atproto.com/specs/xrpc):

- ``500``, ``502``, ``503``, ``504`` and transport failures after the request
  may have reached the server (read timeout, reset, truncated answer) only
  for *idempotent* calls: queries, ``putRecord``, ``deleteRecord``,
  ``createRecord`` with an explicit rkey, ``uploadBlob``. A ``createRecord``
  without an rkey is never resent once it may have been received, since the
  retry would create a second record.
- A connect failure (the request never left this machine) is retried for any
  call: nothing can have happened on the server.
- ``429`` is retried for any call (the server refused it unprocessed) when
  its reset lies within :attr:`RetryPolicy.max_rate_limit_wait`; a later
  reset makes the ``RateLimitError`` reach the caller at once.
- Never ``501`` or any other 4xx; never a body that cannot be sent again
  (a one-shot stream).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import httpx

from ._ratelimit import RateLimitInfo, seconds_until
from .errors import InvalidArgumentError

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "NO_RETRY",
    "Failure",
    "RetryDecision",
    "RetryPolicy",
    "classify_failure",
    "decide",
    "rate_limit_wait",
    "retry_delay",
    "should_retry",
]

_DEFAULT_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How an :class:`~atmosphere.AtmosphereClient` retries failed calls.

    Attributes:
        max_attempts: attempts per call, the first one included (``1``
            disables retrying).
        backoff_base: the wait before the first retry, in seconds; it doubles
            with every further retry.
        backoff_max: the longest backoff wait, in seconds.
        jitter: the fraction of each backoff wait that is randomised (``0``
            waits exactly; ``0.25`` waits between 75 % and 100 %), so many
            clients do not retry in lockstep.
        max_rate_limit_wait: the longest wait, in seconds, for a rate-limit
            reset (``429``) or a ``Retry-After`` (``503``). A reset further
            away raises :class:`~atmosphere.RateLimitError` immediately.
        retry_statuses: the 5xx statuses that are retried (``501`` never is).
    """

    max_attempts: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.25
    max_rate_limit_wait: float = 60.0
    retry_statuses: frozenset[int] = field(default=_DEFAULT_STATUSES)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise InvalidArgumentError("max_attempts must be an int")
        if self.max_attempts < 1:
            raise InvalidArgumentError("max_attempts must be at least 1")
        for name in ("backoff_base", "backoff_max", "max_rate_limit_wait"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InvalidArgumentError(f"{name} must be a number >= 0")
        if not 0 <= self.jitter <= 1:
            raise InvalidArgumentError("jitter must be within 0..1")
        statuses = frozenset(self.retry_statuses)
        bad = sorted(s for s in statuses if not 500 <= s <= 599 or s == 501)
        if bad:
            raise InvalidArgumentError(
                f"retry_statuses may only hold 5xx statuses other than 501, got {bad}"
            )
        object.__setattr__(self, "retry_statuses", statuses)


DEFAULT_RETRY_POLICY = RetryPolicy()
"""Three attempts, 0.5 s then 1 s backoff (minus up to 25 % jitter), rate-limit
resets waited out when they are at most 60 s away."""

NO_RETRY = RetryPolicy(max_attempts=1)
"""Every call is sent once."""


class Failure(enum.Enum):
    """How a request failed before any HTTP answer arrived."""

    NOT_SENT = "not-sent"
    """Connecting failed (refused, unreachable, connect or pool timeout): the
    server cannot have seen the request."""

    MAYBE_SENT = "maybe-sent"
    """The exchange broke after the request may have reached the server
    (read or write error or timeout, reset, truncated or malformed answer)."""


def classify_failure(exc: BaseException | None) -> Failure | None:
    """The :class:`Failure` an httpx exception stands for (``None``: not a network failure)."""
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return Failure.NOT_SENT
    if isinstance(exc, (httpx.ProxyError, httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
        return None  # a configuration or programming error: resending cannot help
    if isinstance(exc, httpx.TransportError):
        return Failure.MAYBE_SENT
    return None


@dataclass(frozen=True)
class RetryDecision:
    """The verdict on one failed attempt."""

    retry: bool
    delay: float
    """Seconds to wait before resending (``0.0`` when not retrying)."""
    reason: str
    """Why, for logs: e.g. ``"HTTP 503"``, ``"rate limited"``, ``"connect failed"``."""


def rate_limit_wait(rate_limit: RateLimitInfo | None, now: float) -> float | None:
    """Seconds from ``now`` (unix time) until the rate-limit reset, or ``None`` if unknown."""
    return seconds_until(rate_limit.reset_at if rate_limit is not None else None, now)


def _backoff(policy: RetryPolicy, attempt: int, rand: float) -> float:
    exponent = min(attempt - 1, 62)  # keep 2**n finite
    delay = min(policy.backoff_max, policy.backoff_base * 2.0**exponent)
    return delay * (1.0 - policy.jitter * min(max(rand, 0.0), 1.0))


def should_retry(
    policy: RetryPolicy,
    *,
    attempt: int,
    status: int | None = None,
    failure: Failure | None = None,
    idempotent: bool,
    replayable: bool,
    rate_limit: RateLimitInfo | None = None,
    now: float = 0.0,
) -> bool:
    """Whether a call whose ``attempt``-th try failed may be sent again.

    Args:
        policy: the retry policy.
        attempt: the number of the attempt that failed (1 for the first).
        status: the HTTP status of an error answer, if one arrived.
        failure: how the exchange failed when no answer arrived.
        idempotent: whether sending the call twice does no more than once.
        replayable: whether the request body can be sent again.
        rate_limit: the rate-limit headers of the answer, if any.
        now: the current unix time (seconds), to compare with a reset time.
    """
    if attempt >= policy.max_attempts or not replayable:
        return False
    if status is not None:
        if status == 429:
            wait = rate_limit_wait(rate_limit, now)
            return wait is None or wait <= policy.max_rate_limit_wait
        if status not in policy.retry_statuses or not idempotent:
            return False
        wait = rate_limit_wait(rate_limit, now)  # a 503 may carry Retry-After
        return wait is None or wait <= policy.max_rate_limit_wait
    if failure is Failure.NOT_SENT:
        return True
    return failure is Failure.MAYBE_SENT and idempotent


def retry_delay(
    policy: RetryPolicy,
    *,
    attempt: int,
    status: int | None = None,
    rate_limit: RateLimitInfo | None = None,
    now: float = 0.0,
    rand: float = 0.0,
) -> float:
    """Seconds to wait before the next attempt, after the ``attempt``-th failed.

    A known reset time (``RateLimit-Reset`` / ``Retry-After``) is waited out;
    otherwise (and never less than that for 5xx) exponential backoff:
    ``backoff_base * 2**(attempt-1)`` capped at ``backoff_max``, minus up to
    ``jitter`` of it. ``rand`` is a random number in ``[0, 1)``.
    """
    backoff = _backoff(policy, attempt, rand)
    wait = rate_limit_wait(rate_limit, now) if status is not None else None
    if wait is None:
        return backoff
    return wait if status == 429 else max(wait, backoff)


def decide(
    policy: RetryPolicy,
    *,
    attempt: int,
    status: int | None = None,
    failure: Failure | None = None,
    idempotent: bool,
    replayable: bool,
    rate_limit: RateLimitInfo | None = None,
    now: float = 0.0,
    rand: float = 0.0,
) -> RetryDecision:
    """:func:`should_retry` and :func:`retry_delay` together, with a reason for logs."""
    if status is not None:
        reason = "rate limited" if status == 429 else f"HTTP {status}"
    elif failure is Failure.NOT_SENT:
        reason = "connect failed"
    elif failure is Failure.MAYBE_SENT:
        reason = "connection failed after sending"
    else:
        reason = "not a transient failure"
    if not should_retry(
        policy,
        attempt=attempt,
        status=status,
        failure=failure,
        idempotent=idempotent,
        replayable=replayable,
        rate_limit=rate_limit,
        now=now,
    ):
        return RetryDecision(False, 0.0, reason)
    delay = retry_delay(
        policy, attempt=attempt, status=status, rate_limit=rate_limit, now=now, rand=rand
    )
    return RetryDecision(True, delay, reason)
