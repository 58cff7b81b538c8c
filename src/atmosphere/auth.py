"""Bearer signing and session refresh as an ``httpx.Auth`` flow.

The flow signs each request with the access JWT. It refreshes the session
(``com.atproto.server.refreshSession`` with the refresh JWT as bearer):

- before sending, when the access JWT's ``exp`` is within ``refresh_margin``;
- after an ``ExpiredToken`` answer, then resends the request once, but only
  when its body can be replayed. A streamed body is never resent: its
  ``ExpiredTokenError`` reaches the caller, which may rewind the source and
  call again with the refreshed session.

Refreshes are serialised by the store's lock, and a caller that waited on the
lock re-checks whether another thread already rotated the token, so many
threads hitting one expired token cause exactly one ``refreshSession``. A
failed refresh clears the session (the client is then unauthenticated) and
raises :class:`SessionRefreshError`; a refresh answer for a different DID is
refused the same way, and callers that were waiting for that refresh get a
``SessionRefreshError`` too. A refresh that fails on the network (no answer)
leaves the session as it was, so a later call can try again.

Error bodies (400/401) are read only up to 64 KiB and refresh answers up to
1 MiB: a hostile server cannot make the flow buffer an endless body.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import asyncio

from .errors import SessionRefreshError
from .models import Session
from .session import SessionState, SessionStore, jwt_expiry, pds_from_session
from .xrpc_errors import error_from_response, error_name

__all__ = ["REFRESH_NSID", "SessionAuth"]

log = logging.getLogger("atmosphere.auth")

REFRESH_NSID = "com.atproto.server.refreshSession"
_MAX_ERROR_BODY = 64 * 1024
_MAX_SESSION_BODY = 1024 * 1024


def _is_replayable(request: httpx.Request) -> bool:
    return isinstance(request.stream, httpx.ByteStream)


class _CappedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body cut off after ``cap`` bytes (the rest is never read)."""

    def __init__(self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, cap: int) -> None:
        self._inner = inner
        self._cap = cap

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._inner, httpx.SyncByteStream)
        left = self._cap
        for chunk in self._inner:
            if len(chunk) >= left:
                yield chunk[:left]
                return
            left -= len(chunk)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._inner, httpx.AsyncByteStream)
        left = self._cap
        async for chunk in self._inner:
            if len(chunk) >= left:
                yield chunk[:left]
                return
            left -= len(chunk)
            yield chunk

    def close(self) -> None:
        if isinstance(self._inner, httpx.SyncByteStream):
            self._inner.close()

    async def aclose(self) -> None:
        if isinstance(self._inner, httpx.AsyncByteStream):
            await self._inner.aclose()


def _cap_body(response: httpx.Response, cap: int) -> httpx.Response:
    """Make ``response.read()`` / ``aread()`` stop after ``cap`` bytes (a longer body is cut)."""
    if not response.is_stream_consumed:
        response.stream = _CappedStream(response.stream, cap)
    return response


class SessionAuth(httpx.Auth):
    """Sign with the session's access JWT; refresh it when it expires.

    Args:
        store: the client's session holder (shared, mutable).
        refresh_margin: refresh before sending when ``exp`` is this close (seconds).
        clock: unix-time source (injectable for tests).
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        store: SessionStore,
        *,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._alock: asyncio.Lock | None = None
        self._margin = refresh_margin
        self._clock = clock
        # The access token of the session whose refresh failed, and the error.
        self._failed: tuple[str, SessionRefreshError] | None = None

    # -- pure pieces -------------------------------------------------------

    def _sign(self, request: httpx.Request) -> str:
        token = self._store.require().session.access_jwt
        request.headers["Authorization"] = f"Bearer {token}"
        return token

    def _expires_soon(self, token: str) -> bool:
        exp = jwt_expiry(token)
        return exp is not None and exp - self._clock() <= self._margin

    def _needs_refresh(self, used_token: str) -> bool:
        """Under the lock: is the token we used still the current one?"""
        state = self._store.state
        return state is not None and state.session.access_jwt == used_token

    def _refresh_request(self) -> httpx.Request:
        state = self._store.require()
        return httpx.Request(
            "POST",
            f"{state.pds_url}/xrpc/{REFRESH_NSID}",
            headers={
                "Authorization": f"Bearer {state.session.refresh_jwt}",
                "Accept": "application/json",
            },
        )

    def _fail(self, old: SessionState, error: SessionRefreshError) -> SessionRefreshError:
        """Clear the session after a failed refresh; remember why for waiting callers."""
        self._failed = (old.session.access_jwt, error)
        self._store.clear()
        log.info("session refresh failed (%s); session cleared", error.error or error.status)
        return error

    def _raise_if_refresh_failed(self, used_token: str) -> None:
        """Under the lock: did the refresh this caller waited for fail? Then say so."""
        failed = self._failed
        if self._store.state is None and failed is not None and failed[0] == used_token:
            error = failed[1]
            raise SessionRefreshError(
                error.status, error.error, error.message, nsid=REFRESH_NSID, headers=error.headers
            )

    def _apply_refresh(self, response: httpx.Response) -> None:
        """Install the refreshed session, or clear it and raise."""
        old = self._store.require()
        if not response.is_success:
            failure = error_from_response(
                response.status_code, response.headers, response.content, nsid=REFRESH_NSID
            )
            raise self._fail(
                old,
                SessionRefreshError(
                    failure.status,
                    failure.error,
                    f"session refresh failed, log in again: {failure.message or failure.error}",
                    nsid=REFRESH_NSID,
                    headers=failure.headers,
                ),
            )
        try:
            session = Session.model_validate(json.loads(response.content))
        except (ValueError, RecursionError) as exc:
            raise self._fail(
                old,
                SessionRefreshError(
                    response.status_code,
                    None,
                    "session refresh returned an unreadable session, log in again",
                    nsid=REFRESH_NSID,
                ),
            ) from exc
        if session.did != old.session.did:
            raise self._fail(
                old,
                SessionRefreshError(
                    response.status_code,
                    None,
                    f"session refresh answered for {session.did}, not {old.session.did}",
                    nsid=REFRESH_NSID,
                ),
            )
        pds = pds_from_session(session) or old.pds_url
        self._store.set(SessionState(session=session, pds_url=pds))
        log.debug("session refreshed for %s", session.did)

    @staticmethod
    def _is_expired_token(response: httpx.Response) -> bool:
        if response.status_code not in (400, 401):
            return False
        name, _ = error_name(response.content[:_MAX_ERROR_BODY])
        return name == "ExpiredToken"

    # -- the sync shell ------------------------------------------------------

    def _sync_refresh(self) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield self._refresh_request()
        _cap_body(response, _MAX_SESSION_BODY).read()
        self._apply_refresh(response)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        # Decide before sending: a transport that buffers a streamed body while
        # sending (MockTransport does) swaps in a ByteStream, which must not
        # make the caller's one-shot stream count as replayable.
        replayable = _is_replayable(request)
        token = self._sign(request)
        if self._expires_soon(token):
            with self._store.lock:
                if self._needs_refresh(token):
                    yield from self._sync_refresh()
                else:
                    self._raise_if_refresh_failed(token)
            token = self._sign(request)

        response = yield request

        if response.status_code in (400, 401):
            _cap_body(response, _MAX_ERROR_BODY).read()
            if self._is_expired_token(response):
                with self._store.lock:
                    if self._needs_refresh(token):
                        yield from self._sync_refresh()
                    else:
                        self._raise_if_refresh_failed(token)
                if replayable:
                    self._sign(request)
                    yield request
                else:
                    raise self._unreplayable(request, response)

    @staticmethod
    def _unreplayable(request: httpx.Request, response: httpx.Response) -> Exception:
        """The caller's own ExpiredToken error, for a body that cannot be resent.

        Ending the flow without resending would make httpx return the *last*
        response, i.e. the refreshSession answer; the original error is raised
        instead (the session is already refreshed for the caller's next try).
        """
        return error_from_response(
            response.status_code,
            response.headers,
            response.content,
            nsid=request.url.path.rsplit("/", 1)[-1],
        )

    # -- the async shell (same steps; an asyncio lock instead of a thread lock) --

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        replayable = _is_replayable(request)
        token = self._sign(request)
        if self._expires_soon(token):
            async with self._async_lock():
                if self._needs_refresh(token):
                    refreshed = yield self._refresh_request()
                    await _cap_body(refreshed, _MAX_SESSION_BODY).aread()
                    self._apply_refresh(refreshed)
                else:
                    self._raise_if_refresh_failed(token)
            token = self._sign(request)

        response = yield request

        if response.status_code in (400, 401):
            await _cap_body(response, _MAX_ERROR_BODY).aread()
            if self._is_expired_token(response):
                async with self._async_lock():
                    if self._needs_refresh(token):
                        refreshed = yield self._refresh_request()
                        await _cap_body(refreshed, _MAX_SESSION_BODY).aread()
                        self._apply_refresh(refreshed)
                    else:
                        self._raise_if_refresh_failed(token)
                if replayable:
                    self._sign(request)
                    yield request
                else:
                    raise self._unreplayable(request, response)

    def _async_lock(self) -> asyncio.Lock:
        # Created on first use, inside the running event loop.
        if self._alock is None:
            import asyncio  # only asyncio users pay for importing it

            self._alock = asyncio.Lock()
        return self._alock
