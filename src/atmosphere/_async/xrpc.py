"""The XRPC transport over an ``httpx.AsyncClient``.

A query is ``GET /xrpc/<nsid>?params``; a procedure is ``POST /xrpc/<nsid>``
with a JSON body or raw bytes/stream. Non-2xx answers become typed errors
(:mod:`atmosphere._xrpc_errors`); httpx failures become :class:`TransportError`
with the httpx exception chained. Failed calls are resent only as the pure
rules of :mod:`atmosphere._retry` allow.
"""

from __future__ import annotations

import json
import logging
import random as _random
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx

from .._concurrency import async_sleep  # unasync: drop
from .._jsonlimits import check_density, json_cap
from .._ratelimit import RateLimitInfo, parse_rate_limit
from .._retry import NO_RETRY, Failure, RetryDecision, RetryPolicy, classify_failure, decide
from .._wire import (
    MAX_ERROR_BODY,
    ParamValue,
    dump_json,
    encode_params,
    with_query,
    wrap_transport_errors,
    xrpc_url,
)
from .._xrpc_errors import error_from_response
from ..errors import (
    AtmosphereError,
    AuthenticationError,
    ExpiredTokenError,
    InvalidResponseError,
    NetworkTimeoutError,
    ResponseTooLargeError,
    TransportError,
    XrpcError,
)
from .body import read_capped
from .egress import AsyncEgress

__all__ = ["AsyncXrpcClient", "Content"]

log = logging.getLogger(__name__)

Content = bytes | AsyncIterable[bytes] | Callable[[], AsyncIterable[bytes]]
"""A raw procedure body: bytes, a one-shot iterable of chunks, or a factory of
fresh iterables (resendable); see :meth:`AsyncXrpcClient.procedure`."""

DEFAULT_MAX_JSON_BYTES = 16 * 1024 * 1024
"""The most JSON accepted from a listing or an unknown method (others: see
:mod:`atmosphere._jsonlimits`)."""


DEFAULT_DEADLINE = 60.0
"""Seconds one JSON exchange (sending the request, reading the whole answer) may take."""


async def _as_is(response: httpx.Response, end: float | None) -> httpx.Response:
    """A ``finish`` step that hands the open response back to the caller."""
    return response


def _clamp_timeouts(request: httpx.Request, end: float) -> None:
    """Make every step timeout of ``request`` end by ``end`` (monotonic seconds) at the latest."""
    remaining = max(end - time.monotonic(), 0.001)
    steps = {"connect": None, "read": None, "write": None, "pool": None}
    steps.update(request.extensions.get("timeout") or {})
    request.extensions["timeout"] = {
        step: remaining if value is None else min(value, remaining) for step, value in steps.items()
    }


T = TypeVar("T")


class AsyncXrpcClient:
    """Send XRPC queries and procedures and decode their answers.

    Failed calls are retried as :mod:`atmosphere._retry` decides: only when
    resending is safe (see ``idempotent`` on :meth:`procedure`) and the body
    can be sent again.

    Args:
        http: the ``httpx.Client`` to send through (not closed by this object).
        auth: the auth flow used for calls with ``auth=True``.
        max_json_bytes: the largest JSON body accepted from a server (for
            listings and methods this library does not know; the methods it
            calls that answer one object get smaller caps, and a large body
            made of little but JSON values is refused before it is parsed:
            see :mod:`atmosphere._jsonlimits`).
        retry: the retry policy; ``None`` sends every call once
            (``AtmosphereClient`` passes its own policy, retrying by default).
        sleep: waits between attempts (injectable for tests).
        clock: unix-time source, compared with rate-limit reset times.
        random: source of jitter in ``[0, 1)``.
        deadline: seconds each JSON exchange (a query, a procedure with a JSON
            body) may take in all, from sending to the last byte of the
            answer; ``None`` for none. Each attempt gets its own deadline
            (retries follow ``retry``). Raw bodies (blob uploads) and streamed
            answers (blobs, ``send``) keep only the per-step timeouts.
        egress: routes each request and refuses targets from identity data
            that are not public (``None``: every request goes through ``http``
            unchecked, for callers that only talk to URLs the user named).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        auth: httpx.Auth | None = None,
        max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = async_sleep,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
        egress: AsyncEgress | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
    ) -> None:
        if deadline is not None and not deadline > 0:
            raise ValueError("deadline must be a positive number of seconds or None")
        self.http = http
        self.egress = egress
        self.deadline = deadline
        self.auth = auth
        self.max_json_bytes = max_json_bytes
        self.retry = retry if retry is not None else NO_RETRY
        self.sleep = sleep
        self.clock = clock
        self.random = random
        self.rate_limit: RateLimitInfo | None = None
        """The rate-limit state of the most recent response that carried one."""

    async def query(
        self,
        base_url: str,
        nsid: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        auth: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call a query (``GET``) and return its decoded JSON body.

        Queries change nothing on the server, so they are always retried
        (within the policy).
        """
        url = xrpc_url(base_url, nsid)
        target = with_query(url, encode_params(params))
        hdrs = {"Accept": "application/json", **(headers or {})}

        def build() -> httpx.Request:
            return self.http.build_request("GET", target, headers=hdrs)

        return await self._retrying(
            build,
            nsid,
            self._json_of(nsid),
            auth=auth,
            idempotent=True,
            replayable=True,
            deadline=self.deadline,
        )

    async def procedure(
        self,
        base_url: str,
        nsid: str,
        data: Any = None,
        *,
        content: Content | None = None,
        content_type: str | None = None,
        params: Mapping[str, ParamValue] | None = None,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
        body_size: int | None = None,
        idempotent: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """Call a procedure (``POST``) with a JSON ``data`` or raw ``content`` body.

        Args:
            data: a JSON-serialisable body (``bytes`` values are sent in the
                data model's ``{"$bytes": ...}`` form).
            content: a raw body, in one of three forms:

                - ``bytes``: sent as is; can be resent.
                - an iterable of ``bytes`` chunks (a generator, an open file):
                  streamed once; never resent, so a failure reaches the caller.
                - a zero-argument callable returning a *fresh* iterable of
                  chunks each time it is called (e.g. ``lambda: source.chunks()``):
                  streamed, and called again for each resend (after a retryable
                  failure, or after a token refresh). Every call must yield the
                  same bytes from the start.
            content_type: the ``Content-Type`` of ``content``.
            body_size: the length of ``content`` (sent as ``Content-Length``).
            idempotent: whether sending the call twice has the same effect as
                once (``putRecord``, ``deleteRecord``, ``createRecord`` with an
                rkey, ``uploadBlob``). Non-idempotent calls (the default) are
                resent only when the request cannot have reached the server
                (a connect failure) or was refused unprocessed (``429``).
            timeout: seconds for each step of this request (connect, each
                read, each write) instead of the HTTP client's timeouts.

        Returns the decoded JSON answer (``{}`` for an empty one).
        """
        url = xrpc_url(base_url, nsid)
        target = with_query(url, encode_params(params))
        hdrs = {"Accept": "application/json", **(headers or {})}
        factory: Callable[[], AsyncIterable[bytes]] | None = None
        body: bytes | AsyncIterable[bytes] | None = None
        replayable = True
        if content is not None:
            if content_type:
                hdrs["Content-Type"] = content_type
            if body_size is not None:
                hdrs["Content-Length"] = str(body_size)
            if isinstance(content, (bytes, bytearray, memoryview)):
                body = bytes(content)
            elif callable(content):
                factory = content
            else:
                body, replayable = content, False
        elif data is not None:
            hdrs["Content-Type"] = "application/json"
            body = dump_json(data)

        def build() -> httpx.Request:
            payload = factory() if factory is not None else body
            if timeout is None:
                return self.http.build_request("POST", target, headers=hdrs, content=payload)
            return self.http.build_request(
                "POST", target, headers=hdrs, content=payload, timeout=timeout
            )

        return await self._retrying(
            build,
            nsid,
            self._json_of(nsid),
            auth=auth,
            idempotent=idempotent,
            replayable=replayable,
            body_size=body_size,
            resend_after_refresh=factory is not None,
            deadline=self.deadline if content is None else None,
        )

    async def send(
        self,
        request: httpx.Request,
        nsid: str,
        *,
        auth: bool,
        body_size: int | None = None,
        stream: bool = True,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request; return the (open, streaming) response or raise its error.

        The caller must close the returned response (``_json`` does). Failures
        before the response arrives are retried like any call: ``idempotent``
        defaults to true for ``GET``/``HEAD``; only a ``bytes`` body is resent.
        Reading the body is the caller's business (and not retried here).
        """
        replayable = isinstance(request.stream, httpx.ByteStream)
        if idempotent is None:
            idempotent = request.method in ("GET", "HEAD")
        return await self._retrying(
            lambda: request,
            nsid,
            _as_is,
            auth=auth,
            idempotent=idempotent,
            replayable=replayable,
            body_size=body_size,
            stream=stream,
        )

    # -- the retry loop --------------------------------------------------------

    async def _retrying(
        self,
        build: Callable[[], httpx.Request],
        nsid: str,
        finish: Callable[[httpx.Response, float | None], Awaitable[T]],
        *,
        auth: bool,
        idempotent: bool,
        replayable: bool,
        body_size: int | None = None,
        stream: bool = True,
        resend_after_refresh: bool = False,
        deadline: float | None = None,
    ) -> T:
        """Build, send and finish a request, resending it while the policy allows.

        With ``deadline``, each attempt must be done (answer read) within that
        many seconds: its step timeouts are clamped to what is left, and the
        body is read only until then (``NetworkTimeoutError``).
        """
        attempt = 1
        while True:
            try:
                request = build()
            except httpx.InvalidURL as exc:  # checked URLs never get here; a last line
                raise TransportError(f"{nsid}: invalid URL, request not sent ({exc})") from None
            end = None if deadline is None else time.monotonic() + deadline
            if end is not None:
                _clamp_timeouts(request, end)
            try:
                response = await self._send_once(
                    request, nsid, auth=auth, body_size=body_size, stream=stream, end=end
                )
                return await finish(response, end)
            except (TransportError, XrpcError) as exc:
                if resend_after_refresh and auth and type(exc) is ExpiredTokenError:
                    # The auth flow refreshed the session but does not resend a
                    # streamed body itself; this one can be rebuilt: send it once more.
                    resend_after_refresh = False
                    log.debug("xrpc %s: resending the streamed body after a refresh", nsid)
                    continue
                decision = self._decide(exc, attempt, idempotent=idempotent, replayable=replayable)
                if not decision.retry:
                    raise
                log.info(
                    "xrpc %s: %s on attempt %d of %d; retrying in %.2fs",
                    nsid,
                    decision.reason,
                    attempt,
                    self.retry.max_attempts,
                    decision.delay,
                )
                await self.sleep(decision.delay)
            attempt += 1

    def _decide(
        self, exc: AtmosphereError, attempt: int, *, idempotent: bool, replayable: bool
    ) -> RetryDecision:
        now = self.clock()
        status: int | None = None
        info: RateLimitInfo | None = None
        failure: Failure | None = None
        if isinstance(exc, XrpcError):
            if isinstance(exc, AuthenticationError):  # incl. a failed refreshSession
                return RetryDecision(False, 0.0, "authentication failed")
            status = exc.status
            info = parse_rate_limit(exc.headers, now=datetime.fromtimestamp(now, timezone.utc))
        else:
            failure = classify_failure(exc.__cause__)
        return decide(
            self.retry,
            attempt=attempt,
            status=status,
            failure=failure,
            idempotent=idempotent,
            replayable=replayable,
            rate_limit=info,
            now=now,
            rand=self.random(),
        )

    async def _send_once(
        self,
        request: httpx.Request,
        nsid: str,
        *,
        auth: bool,
        body_size: int | None = None,
        stream: bool = True,
        end: float | None = None,
    ) -> httpx.Response:
        log.debug("xrpc %s %s", request.method, nsid)
        with wrap_transport_errors(nsid):
            if self.egress is not None:
                response = await self.egress.send(
                    request, auth=self.auth if auth else None, stream=stream
                )
            else:
                response = await self.http.send(
                    request, auth=self.auth if auth else None, stream=stream
                )
        info = parse_rate_limit(response.headers)
        if info is not None:
            self.rate_limit = info
        if response.is_success:
            return response
        try:
            with wrap_transport_errors(nsid):
                body = await self._read_capped(
                    response, MAX_ERROR_BODY, nsid, truncate=True, end=end
                )
        finally:
            await response.aclose()
        size = body_size
        if size is None and request.headers.get("content-length", "").isdigit():
            size = int(request.headers["content-length"])
        error = error_from_response(
            response.status_code, response.headers, body, nsid=nsid, body_size=size
        )
        log.debug("xrpc %s failed: %s %s", nsid, error.status, error.error)
        raise error

    def _json_of(self, nsid: str) -> Callable[[httpx.Response, float | None], Awaitable[Any]]:
        return lambda response, end: self._json(response, nsid, end)

    async def _read_capped(
        self,
        response: httpx.Response,
        cap: int,
        nsid: str,
        *,
        truncate: bool = False,
        end: float | None = None,
    ) -> bytes:
        try:
            return await read_capped(response, cap, truncate=truncate, deadline=end)
        except ResponseTooLargeError as exc:
            raise ResponseTooLargeError(f"{nsid}: {exc}") from None
        except NetworkTimeoutError:
            raise NetworkTimeoutError(
                f"{nsid}: the answer did not arrive within the {self.deadline}s deadline"
            ) from None

    async def _json(self, response: httpx.Response, nsid: str, end: float | None = None) -> Any:
        try:
            with wrap_transport_errors(nsid):
                cap = json_cap(nsid, self.max_json_bytes)
                body = await self._read_capped(response, cap, nsid, end=end)
        finally:
            await response.aclose()
        if not body.strip():
            return {}
        check_density(body, nsid)
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurd nesting
            ctype = response.headers.get("content-type", "?")
            raise InvalidResponseError(
                f"{nsid}: answer is not JSON (status {response.status_code}, {ctype})"
            ) from exc
