"""OAuth I/O for ``httpx.AsyncClient``: running a flow, and the DPoP auth flow.

- :func:`run_flow` runs one of :mod:`atmosphere._oauth.flow`'s I/O-free steps
  (discovery, PAR, token exchange, refresh, revocation) over a client.
- :class:`AsyncOAuthAuth` is the ``httpx.Auth`` every OAuth-signed XRPC call
  goes through; its steps live in :class:`~atmosphere._oauth.auth.OAuthAuthBase`
  (see that module for the rules), this shell only sends, reads capped bodies
  and holds the refresh lock.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from typing import TypeVar

import httpx

from .._oauth._http import Flow, buffered
from .._oauth.auth import (
    MAX_ERROR_BODY,
    MAX_TOKEN_BODY,
    OAuthAuthBase,
    OAuthSessionHolder,
    is_replayable,
)
from ..errors import NetworkTimeoutError, ResponseTooLargeError, TransportError
from .body import read_capped
from .egress import AsyncEgress

__all__ = ["MAX_BODY", "AsyncOAuthAuth", "run_flow"]

T = TypeVar("T")

MAX_BODY = 1024 * 1024
"""Metadata, DID documents and token answers are small: 1 MiB is plenty."""


def _transport_error(request: httpx.Request, exc: httpx.HTTPError) -> TransportError:
    where = f"{request.method} {request.url.copy_with(query=None)}"
    if isinstance(exc, httpx.TimeoutException):
        return NetworkTimeoutError(f"{where}: timed out")
    return TransportError(f"{where}: {type(exc).__name__}")


async def run_flow(
    flow: Flow[T], client: httpx.AsyncClient | AsyncEgress, *, max_body: int = MAX_BODY
) -> T:
    """Run a flow to completion over ``client``; its return value.

    Given a client's :class:`~atmosphere._async.egress.AsyncEgress`, each request
    goes where the egress policy lets it (targets from identity data and server
    metadata: public https hosts, checked on the address connected to, unless
    ``allow_private_hosts``). Redirects are not followed; each answer is read up
    to ``max_body`` bytes (``ResponseTooLargeError`` beyond).
    """
    try:
        request = next(flow)
        while True:
            try:
                if isinstance(client, AsyncEgress):
                    response = await client.send(request, stream=True, redirects=False)
                else:
                    response = await client.send(request, stream=True, follow_redirects=False)
                try:
                    body = await read_capped(response, max_body)
                except ResponseTooLargeError:
                    raise ResponseTooLargeError(
                        f"answer from {request.url.host} is over {max_body} bytes"
                    ) from None
                finally:
                    await response.aclose()
            except httpx.HTTPError as exc:
                raise _transport_error(request, exc) from exc
            request = flow.send(buffered(request, response, body))
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        flow.close()


class AsyncOAuthAuth(OAuthAuthBase):
    """Sign with the holder's OAuth session (DPoP); refresh it when it expires.

    Args:
        holder: the client's session holder (shared, mutable).
        refresh_margin: refresh before sending when the token expires this soon (seconds).
        clock: unix-time source (injectable for tests).
    """

    def __init__(
        self,
        holder: OAuthSessionHolder,
        *,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import asyncio  # not at module level: see _concurrency.async_sleep

        super().__init__(holder, refresh_margin=refresh_margin, clock=clock)
        self._lock = asyncio.Lock()

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Refresh if due, sign, send; resend after a nonce challenge or a refresh."""
        # Decided before sending: a transport that buffers a streamed body swaps
        # in a ByteStream, which must not make a one-shot stream count as replayable.
        replayable = is_replayable(request)
        token = self._current_token()
        refresh = self._expires_soon()
        response: httpx.Response | None = None
        for attempt in range(2):
            if refresh:
                async with self._lock:
                    if self._needs_refresh(token):
                        with self._shared() as saved:
                            if not self._adopt_shared(saved):
                                flow = self._refresh_flow()
                                step = self._refresh_step(flow, None, token)
                                while step is not None:
                                    answer = yield step
                                    body = await read_capped(answer, MAX_TOKEN_BODY)
                                    step = self._refresh_step(
                                        flow, self._buffered(step, answer, body), token
                                    )
                    else:
                        self._raise_if_refresh_failed(token)
                if attempt == 1 and not replayable:
                    raise self._resend_needed(request, response)
            token, sent = self._sign(request)
            response = yield request
            if response.status_code in (400, 401):
                await read_capped(response, MAX_ERROR_BODY, truncate=True)
            if self._wants_nonce(request, response, sent):
                if not replayable:
                    raise self._resend_needed(request, response)
                token, _ = self._sign(request)
                response = yield request
                if response.status_code in (400, 401):
                    await read_capped(response, MAX_ERROR_BODY, truncate=True)
                self._note_nonce(request, response)
            if attempt == 1 or not self._is_invalid_token(response):
                return
            refresh = True
