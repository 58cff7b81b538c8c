"""The retry policy's pure decisions (``atmosphere.retry``): no I/O, no sleeping."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from atmosphere import RateLimitInfo, RetryPolicy
from atmosphere._retry import (
    DEFAULT_RETRY_POLICY,
    NO_RETRY,
    Failure,
    classify_failure,
    decide,
    rate_limit_wait,
    retry_delay,
    should_retry,
)
from atmosphere.errors import InvalidArgumentError

NOW = 1_750_000_000.0
POLICY = RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_max=3.0, jitter=0.0)


def reset_in(seconds: float) -> RateLimitInfo:
    at = datetime.fromtimestamp(NOW + seconds, tz=timezone.utc)
    return RateLimitInfo(limit=30, remaining=0, reset_at=at, policy="30;w=300")


def retry(
    *,
    status: int | None = None,
    failure: Failure | None = None,
    idempotent: bool = True,
    replayable: bool = True,
    attempt: int = 1,
    rate_limit: RateLimitInfo | None = None,
    policy: RetryPolicy = POLICY,
) -> bool:
    return should_retry(
        policy,
        attempt=attempt,
        status=status,
        failure=failure,
        idempotent=idempotent,
        replayable=replayable,
        rate_limit=rate_limit,
        now=NOW,
    )


# -- the policy object ------------------------------------------------------------------


def test_default_policy() -> None:
    policy = RetryPolicy()
    assert policy == DEFAULT_RETRY_POLICY
    assert policy.max_attempts == 3
    assert policy.retry_statuses == frozenset({500, 502, 503, 504})
    assert policy.max_rate_limit_wait == 60.0
    assert NO_RETRY.max_attempts == 1


def test_policy_is_frozen_and_hashable() -> None:
    policy = RetryPolicy(retry_statuses=frozenset({503}))
    with pytest.raises(AttributeError):
        policy.max_attempts = 5  # type: ignore[misc]
    assert hash(policy) == hash(RetryPolicy(retry_statuses=frozenset({503})))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": 2.5},
        {"max_attempts": True},
        {"backoff_base": -1},
        {"backoff_max": -0.1},
        {"max_rate_limit_wait": -5},
        {"jitter": 1.5},
        {"jitter": -0.1},
        {"retry_statuses": frozenset({501})},
        {"retry_statuses": frozenset({429})},
        {"retry_statuses": frozenset({404, 503})},
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_retry_statuses_accept_any_iterable() -> None:
    policy = RetryPolicy(retry_statuses={503, 502})  # type: ignore[arg-type]
    assert policy.retry_statuses == frozenset({502, 503})


# -- which statuses ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retried_for_idempotent_calls(status: int) -> None:
    assert retry(status=status)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_not_retried_for_non_idempotent_calls(status: int) -> None:
    assert not retry(status=status, idempotent=False)


@pytest.mark.parametrize("status", [501, 505, 400, 401, 403, 404, 409, 413, 302])
def test_never_retried_statuses(status: int) -> None:
    assert not retry(status=status)


def test_retry_statuses_narrow_what_is_retried() -> None:
    only_503 = RetryPolicy(retry_statuses=frozenset({503}))
    assert retry(status=503, policy=only_503)
    assert not retry(status=500, policy=only_503)


# -- transport failures -----------------------------------------------------------------


def test_connect_failure_retried_even_for_non_idempotent_calls() -> None:
    assert retry(failure=Failure.NOT_SENT, idempotent=False)


def test_failure_after_sending_only_for_idempotent_calls() -> None:
    assert retry(failure=Failure.MAYBE_SENT)
    assert not retry(failure=Failure.MAYBE_SENT, idempotent=False)


def test_no_status_and_no_failure_is_not_retried() -> None:
    assert not retry()


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (httpx.ConnectError("refused"), Failure.NOT_SENT),
        (httpx.ConnectTimeout("slow"), Failure.NOT_SENT),
        (httpx.PoolTimeout("busy"), Failure.NOT_SENT),
        (httpx.ReadTimeout("stall"), Failure.MAYBE_SENT),
        (httpx.WriteTimeout("stall"), Failure.MAYBE_SENT),
        (httpx.ReadError("reset"), Failure.MAYBE_SENT),
        (httpx.WriteError("reset"), Failure.MAYBE_SENT),
        (httpx.RemoteProtocolError("truncated"), Failure.MAYBE_SENT),
        (httpx.LocalProtocolError("bug"), None),
        (httpx.UnsupportedProtocol("ftp"), None),
        (httpx.ProxyError("proxy"), None),
        (httpx.TooManyRedirects("loop"), None),
        (ValueError("not httpx"), None),
        (None, None),
    ],
)
def test_classify_failure(exc: BaseException | None, failure: Failure | None) -> None:
    assert classify_failure(exc) is failure


# -- bodies and attempts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "failure"), [(503, None), (429, None), (None, Failure.NOT_SENT)]
)
def test_one_shot_bodies_are_never_resent(status: int | None, failure: Failure | None) -> None:
    assert not retry(status=status, failure=failure, replayable=False)


def test_attempts_are_bounded() -> None:
    assert retry(status=503, attempt=3)
    assert not retry(status=503, attempt=4)
    assert not retry(failure=Failure.NOT_SENT, attempt=4)
    assert not retry(status=429, attempt=4)


def test_no_retry_policy_never_retries() -> None:
    for status, failure in [(503, None), (429, None), (None, Failure.NOT_SENT)]:
        assert not retry(status=status, failure=failure, policy=NO_RETRY)


# -- rate limits -----------------------------------------------------------------------


def test_429_within_budget_is_retried_even_for_non_idempotent_calls() -> None:
    assert retry(status=429, idempotent=False, rate_limit=reset_in(30))


def test_429_beyond_budget_is_not_retried() -> None:
    assert not retry(status=429, rate_limit=reset_in(61))
    assert retry(status=429, rate_limit=reset_in(60))


def test_429_budget_is_configurable() -> None:
    patient = RetryPolicy(max_rate_limit_wait=3600)
    assert retry(status=429, rate_limit=reset_in(1800), policy=patient)
    impatient = RetryPolicy(max_rate_limit_wait=0)
    assert not retry(status=429, rate_limit=reset_in(1), policy=impatient)
    assert retry(status=429, rate_limit=reset_in(-5), policy=impatient)  # already reset


def test_429_without_reset_falls_back_to_backoff() -> None:
    assert retry(status=429)
    assert retry_delay(POLICY, attempt=2, status=429) == 1.0


def test_429_waits_until_the_reset() -> None:
    assert retry_delay(POLICY, attempt=1, status=429, rate_limit=reset_in(42), now=NOW) == 42.0
    assert retry_delay(POLICY, attempt=1, status=429, rate_limit=reset_in(-3), now=NOW) == 0.0


def test_503_retry_after_is_honoured() -> None:
    assert retry(status=503, rate_limit=reset_in(10))
    assert retry_delay(POLICY, attempt=1, status=503, rate_limit=reset_in(10), now=NOW) == 10.0
    # never shorter than the backoff
    assert retry_delay(POLICY, attempt=3, status=503, rate_limit=reset_in(0.1), now=NOW) == 2.0
    assert not retry(status=503, rate_limit=reset_in(600))


def test_rate_limit_wait() -> None:
    assert rate_limit_wait(None, NOW) is None
    assert rate_limit_wait(RateLimitInfo(30, 0, None, None), NOW) is None
    assert rate_limit_wait(reset_in(12.5), NOW) == 12.5
    assert rate_limit_wait(reset_in(-12.5), NOW) == 0.0


# -- backoff ---------------------------------------------------------------------------


def test_backoff_doubles_and_is_capped() -> None:
    delays = [retry_delay(POLICY, attempt=n) for n in range(1, 7)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert retry_delay(POLICY, attempt=10_000) == 3.0


@pytest.mark.parametrize("rand", [0.0, 0.3, 0.999])
def test_jitter_shortens_by_at_most_its_fraction(rand: float) -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=10.0, jitter=0.25)
    delay = retry_delay(policy, attempt=2, rand=rand)
    assert 1.5 <= delay <= 2.0
    assert delay == pytest.approx(2.0 * (1 - 0.25 * rand))


def test_transport_failures_use_backoff_not_headers() -> None:
    assert retry_delay(POLICY, attempt=1, rate_limit=reset_in(30), now=NOW) == 0.5


# -- decide ----------------------------------------------------------------------------


def test_decide_combines_verdict_delay_and_reason() -> None:
    verdict = decide(POLICY, attempt=1, status=503, idempotent=True, replayable=True)
    assert (verdict.retry, verdict.delay, verdict.reason) == (True, 0.5, "HTTP 503")
    limited = decide(
        POLICY,
        attempt=1,
        status=429,
        idempotent=False,
        replayable=True,
        rate_limit=reset_in(7),
        now=NOW,
    )
    assert (limited.retry, limited.delay, limited.reason) == (True, 7.0, "rate limited")
    refused = decide(
        POLICY, attempt=1, failure=Failure.MAYBE_SENT, idempotent=False, replayable=True
    )
    assert (refused.retry, refused.delay) == (False, 0.0)
    assert refused.reason == "connection failed after sending"
    connect = decide(POLICY, attempt=1, failure=Failure.NOT_SENT, idempotent=False, replayable=True)
    assert connect.retry
    assert connect.reason == "connect failed"


# -- RateLimitInfo -----------------------------------------------------------------------


def test_rate_limit_info_is_a_public_value() -> None:
    info = reset_in(30)
    assert info == reset_in(30)
    assert info.seconds_until_reset(datetime.fromtimestamp(NOW, tz=timezone.utc)) == 30.0
    assert RateLimitInfo(None, None, None, None).seconds_until_reset() is None
    with pytest.raises(AttributeError):
        info.remaining = 5  # type: ignore[misc]
    assert "remaining=0" in repr(info)
