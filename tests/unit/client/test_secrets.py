"""No password or JWT in any log record, exception text or ``repr``.

A whole session runs against the real loopback fault server (so httpx and
httpcore log what they really log) with every logger at DEBUG: a failed and a
good login, reads, writes, blobs, a token refresh, retried and final errors,
a restored session, a revoked one and a logout. Then every log record, every
error (with its chained causes and attributes) and the reprs of the objects
that hold secrets are searched for each secret the session ever used. It runs
on both flavours (the ``flavour`` fixture).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from atmosphere import AtmosphereError, RetryPolicy
from tests.support.fault_server import (
    FaultServer,
    bad_json,
    error,
    html,
    rate_limited,
    reset,
    stall,
)
from tests.support.flavours import Flavour

PASSWORD = "s3cret-app-password-xyz"
WRONG = "wrong-s3cret-password-abc"
COLL = "com.example.secret.item"
GET = "com.atproto.repo.getRecord"
CREATE = "com.atproto.repo.createRecord"
FAST = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.02, max_rate_limit_wait=1)


@pytest.fixture
def everything_at_debug() -> Iterator[None]:
    """Every logger (and the root) at DEBUG for the test, restored afterwards."""
    manager = logging.Logger.manager
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in ("atmosphere", "httpx", "httpcore", "hpack", "dns")
    ]
    loggers += [obj for obj in manager.loggerDict.values() if isinstance(obj, logging.Logger)]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    yield
    for lg, level in saved:
        lg.setLevel(level)


def _attempt(errors: list[BaseException], call: Callable[[], Any]) -> None:
    try:
        call()
    except AtmosphereError as exc:
        errors.append(exc)
    else:
        raise AssertionError("expected an error")


def _texts_of(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    return texts


def _log_texts(records: list[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    out = []
    for record in records:
        out.append(formatter.format(record))
        out.append(repr(record.args))
        if record.exc_info:
            out.append(formatter.formatException(record.exc_info))
    return out


def test_a_full_session_leaks_no_secret(
    everything_at_debug: None, caplog: pytest.LogCaptureFixture, flavour: Flavour
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    reprs: list[str] = []
    sessions: list[str] = []
    with FaultServer() as server:
        alice = server.register("alice.test", PASSWORD)
        with flavour.client(
            server.url,
            plc_url=server.url,
            timeout=httpx.Timeout(0.5),
            retry=FAST,
            on_session_change=sessions.append,
        ) as client:
            # logins, good and bad
            _attempt(errors, lambda: client.login("alice.test", WRONG))
            client.login("alice.test", PASSWORD)
            reprs += [repr(client), repr(client._store), repr(client._store.state)]

            # ordinary traffic
            uri = client.create_record(COLL, {"$type": COLL, "n": 1})
            client.get_record(uri)
            client.put_record(COLL, "k", {"$type": COLL, "n": 2})
            client.list_records(COLL)
            ref = client.upload_blob(b"blob-bytes" * 10)
            client.get_blob(client.did, ref["ref"]["$link"])

            # a refresh (server says the token expired), then one before exp
            server.pds.expire_access_tokens()
            client.create_record(COLL, {"$type": COLL, "n": 3})

            # errors: retried then final, rate limited, broken, timed out, malformed
            server.script(GET, error(503), html(502))
            _attempt(errors, lambda: client.get_record(uri))
            server.script(GET, rate_limited(reset_at=int(time.time()) + 600))
            _attempt(errors, lambda: client.get_record(uri))
            server.script(GET, reset(), reset())
            _attempt(errors, lambda: client.get_record(uri))
            server.script(GET, stall(2), stall(2))
            _attempt(errors, lambda: client.get_record(uri))
            server.script(GET, bad_json())
            _attempt(errors, lambda: client.get_record(uri))
            server.script(CREATE, error(400, "InvalidRequest", "bad record"))
            _attempt(errors, lambda: client.create_record(COLL, {"$type": COLL}))
            _attempt(errors, lambda: client.get_record(f"at://{alice.did}/{COLL}/missing"))
            reprs += [repr(client), repr(client._store), repr(client.rate_limit)]

            # a restored session on a second client, then a logout
            saved = client.export_session()
            with flavour.client(server.url, timeout=httpx.Timeout(0.5), retry=FAST) as other:
                server.pds.expire_access_tokens()
                other.login_with_session(saved)  # refreshes on the way
                sessions.append(other.export_session())
                reprs += [repr(other), repr(other._store)]
                other.logout()
                _attempt(errors, lambda: other.export_session())

            # a revoked session: the refresh fails and the client logs out
            server.pds.expire_access_tokens()
            server.pds.revoke_refresh_tokens()
            _attempt(errors, lambda: client.create_record(COLL, {"$type": COLL, "n": 4}))
            reprs.append(repr(client))

        tokens: set[str] = set()
        for session in sessions:
            tokens.update(session.split(":::")[2:4])
        for sent in server.log:
            auth = sent.headers.get("authorization", "")
            if auth.startswith("Bearer "):
                tokens.add(auth.removeprefix("Bearer "))

    assert len(errors) == 10
    assert len(tokens) >= 6  # three sessions' worth: login, refresh, restored refresh
    secrets = {PASSWORD, WRONG}
    for token in tokens:
        secrets.add(token)
        secrets.add(token.split(".")[1])  # the payload alone identifies the token
    records = caplog.records
    assert any(r.name.startswith("httpcore") for r in records)  # DEBUG really was on
    assert any("retrying" in r.getMessage() for r in records)
    haystacks = _log_texts(records) + reprs
    for exc in errors:
        haystacks += _texts_of(exc)
    for secret in secrets:
        leaks = [text for text in haystacks if secret in text]
        assert leaks == [], f"a secret leaked into: {leaks[0][:300]!r}"
