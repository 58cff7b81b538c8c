"""The session auth flow for ``httpx.AsyncClient``: sign, send, refresh, resend.

The steps live in :class:`~atmosphere._sessionauth.SessionAuthBase` (no I/O);
this shell sends, reads the capped bodies and holds the refresh lock, and a
shared session's lock around it (see that module for the rules).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable

import httpx

from .._session import SessionStore
from .._sessionauth import MAX_SESSION_BODY, SessionAuthBase, is_replayable
from .._wire import MAX_ERROR_BODY
from .body import read_capped

__all__ = ["AsyncSessionAuth"]


class AsyncSessionAuth(SessionAuthBase):
    """Sign with the session's access JWT; refresh it when it expires.

    Args:
        store: the client's session holder (shared, mutable).
        refresh_margin: refresh before sending when ``exp`` is this close (seconds).
        clock: unix-time source (injectable for tests).
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import asyncio  # not at module level: see _concurrency.async_sleep

        super().__init__(store, refresh_margin=refresh_margin, clock=clock)
        self._lock = asyncio.Lock()

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # Decide before sending: a transport that buffers a streamed body while
        # sending (MockTransport does) swaps in a ByteStream, which must not
        # make the caller's one-shot stream count as replayable.
        replayable = is_replayable(request)
        token = self._sign(request)
        if self._expires_soon(token):
            async with self._lock:
                if self._needs_refresh(token):
                    with self._shared() as saved:
                        if not self._adopt_shared(saved):
                            refreshed = yield self._refresh_request()
                            await read_capped(refreshed, MAX_SESSION_BODY, truncate=True)
                            self._apply_refresh(refreshed)
                else:
                    self._raise_if_refresh_failed(token)
            token = self._sign(request)

        response = yield request

        if response.status_code in (400, 401):
            await read_capped(response, MAX_ERROR_BODY, truncate=True)
            if self._is_expired_token(response):
                async with self._lock:
                    if self._needs_refresh(token):
                        with self._shared() as saved:
                            if not self._adopt_shared(saved):
                                refreshed = yield self._refresh_request()
                                await read_capped(refreshed, MAX_SESSION_BODY, truncate=True)
                                self._apply_refresh(refreshed)
                    else:
                        self._raise_if_refresh_failed(token)
                if not replayable:
                    raise self._unreplayable(request, response)
                self._sign(request)
                yield request
