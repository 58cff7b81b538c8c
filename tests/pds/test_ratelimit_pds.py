"""The real reference PDS with its rate limits on: the 31st login in five minutes.

``createSession`` allows 30 calls per identifier per 5 minutes (and 300 a
day). This module starts its own PDS (rate limits are off in the shared one),
logs in 30 times, and checks that the 31st attempt raises ``RateLimitError``
at once, with the limit, the remaining count and a reset time, because a
reset minutes away is beyond the default retry policy's wait budget. Both
flavours run (the ``flavour`` fixture), each as its own account, since the
limit counts per identifier: alice.test for the sync client, bob.test for the
async one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from atmosphere import RateLimitError, RetryPolicy
from tests.support.flavours import Flavour
from tests.support.pds import PdsProcess, start_pds

pytestmark = pytest.mark.pds

CREATE_SESSION = "com.atproto.server.createSession"


ACCOUNT = {"sync": "alice.test", "async": "bob.test"}


@pytest.fixture(scope="module")
def limited_pds() -> Iterator[PdsProcess]:
    with start_pds(rate_limits=True) as server:
        yield server


def _recorder(flavour: Flavour) -> tuple[list[httpx.Request], dict[str, Any]]:
    """The requests a client sends, and the httpx options that record them."""
    sent: list[httpx.Request] = []
    return sent, {"timeout": 30, "event_hooks": {"request": [flavour.callback(sent.append)]}}


def test_31st_create_session_is_rate_limited(limited_pds: PdsProcess, flavour: Flavour) -> None:
    acct = limited_pds.account(ACCOUNT[flavour.name])
    sent, options = _recorder(flavour)
    http = flavour.http(**options)
    with flavour.client(limited_pds.pds_url, _client=http) as client:
        for _ in range(30):
            client.login(acct.handle, acct.password)
        state = client.rate_limit
        assert state is not None  # the PDS reports its limits on every answer
        assert state.limit is not None
        assert state.reset_at is not None

        started = time.monotonic()
        with pytest.raises(RateLimitError) as info:
            client.login(acct.handle, acct.password)
        assert time.monotonic() - started < 5  # raised at once, not waited out

    err = info.value
    now = datetime.now(timezone.utc)
    assert err.status == 429
    assert err.error == "RateLimitExceeded"
    assert err.nsid == CREATE_SESSION
    assert (err.limit, err.remaining) == (30, 0)
    assert err.policy == "30;w=300"
    assert err.reset_at is not None
    assert now < err.reset_at <= now + timedelta(seconds=301)
    assert err.retry_after is not None
    assert 0 < err.retry_after <= 301
    assert "resets at" in str(err)
    assert acct.password not in str(err)
    logins = [r for r in sent if r.url.path.endswith(CREATE_SESSION)]
    assert len(logins) == 31  # the 429 was not resent
    assert client.rate_limit is not None
    assert client.rate_limit.remaining == 0


def test_a_patient_policy_would_wait_but_not_past_its_budget(
    limited_pds: PdsProcess, flavour: Flavour
) -> None:
    # Still limited (same identifier, same window): even a 2-minute budget is
    # shorter than the reset, so the error is immediate and nothing is resent.
    acct = limited_pds.account(ACCOUNT[flavour.name])
    sent, options = _recorder(flavour)
    policy = RetryPolicy(max_rate_limit_wait=120)
    http = flavour.http(**options)
    with (
        flavour.client(limited_pds.pds_url, _client=http, retry=policy) as client,
        pytest.raises(RateLimitError) as info,
    ):
        client.login(acct.handle, acct.password)
    assert info.value.retry_after is not None
    assert info.value.retry_after > 120
    assert len(sent) == 1
