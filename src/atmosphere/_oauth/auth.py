"""OAuth as an ``httpx.Auth``: DPoP-signed calls that refresh an expired session by themselves.

:class:`OAuthAuth` signs every request with the current session's access token
and a DPoP proof, resends once when the server wants a new nonce, and refreshes
the session (rotating the refresh token):

- before sending, when the access token expires within ``refresh_margin``;
- after a 401 ``WWW-Authenticate: DPoP error="invalid_token"`` (expired or
  superseded token), then resends the request once if its body can be replayed.

Refresh tokens are single-use and reusing one ends the whole session at the
server, so refreshes are serialised by the holder's lock (a thread lock for the
sync shell, an asyncio lock for the async one) and a caller that waited re-checks
whether another caller already refreshed. A refused refresh clears the session
and raises :class:`~.errors.OAuthGrantError`; callers that waited for it get the
same error. ``on_change`` receives every new session, for storage.

Response bodies are never buffered except the small error answers this flow must
read (capped), so streamed downloads stay streamed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING

import httpx

from .._async.body import read_capped as aread_capped
from .._sync.body import read_capped
from ..errors import InvalidTokenError, NotAuthenticatedError, ResponseTooLargeError
from .dpop import NonceStore, build_proof, parse_www_authenticate, retry_with_new_nonce
from .drive import buffered
from .errors import OAuthError, OAuthServerError
from .flow import refresh_session
from .resource import resource_error
from .session import OAuthSession

if TYPE_CHECKING:
    import asyncio

    from ._http import Flow

__all__ = ["OAuthAuth", "OAuthSessionHolder"]

log = logging.getLogger(__name__)

_MAX_ERROR_BODY = 64 * 1024
_MAX_TOKEN_BODY = 1024 * 1024

SessionCallback = Callable[[OAuthSession], None]


class OAuthSessionHolder:
    """The one mutable holder of a client's OAuth session (shared with its auth flow).

    Attributes:
        nonces: the DPoP nonces per origin (PDS and authorization server).
        lock: serialises refreshes in the sync shell.
        on_change: called with each new session (after login and refresh).
    """

    def __init__(
        self,
        session: OAuthSession | None = None,
        *,
        on_change: SessionCallback | None = None,
        nonces: NonceStore | None = None,
    ) -> None:
        """Hold ``session`` (or none yet)."""
        self.session = session
        self.on_change = on_change
        self.nonces = nonces or NonceStore()
        self.lock = threading.Lock()

    def require(self) -> OAuthSession:
        """The current session, or :class:`~atmosphere.errors.NotAuthenticatedError`."""
        session = self.session
        if session is None:
            raise NotAuthenticatedError("not authenticated: log in with OAuth first")
        return session

    def set(self, session: OAuthSession, *, notify: bool = True) -> None:
        """Install a session and tell ``on_change``."""
        self.session = session
        if notify and self.on_change is not None:
            self.on_change(session)

    def clear(self) -> None:
        """Forget the session."""
        self.session = None

    def __repr__(self) -> str:
        return f"OAuthSessionHolder({self.session!r})"


def _replayable(request: httpx.Request) -> bool:
    return isinstance(request.stream, httpx.ByteStream)


def _invalid_token(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    challenge = response.headers.get("www-authenticate", "")
    return any(
        scheme == "dpop" and params.get("error") == "invalid_token"
        for scheme, params in parse_www_authenticate(challenge)
    )


def _small_json(response: httpx.Response) -> object:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


class OAuthAuth(httpx.Auth):
    """Sign with the holder's OAuth session; refresh it when it expires.

    Args:
        holder: the client's session holder (shared, mutable).
        refresh_margin: refresh before sending when the token expires this soon (seconds).
        clock: unix-time source (injectable for tests).
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        holder: OAuthSessionHolder,
        *,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._holder = holder
        self._margin = refresh_margin
        self._clock = clock
        self._alock: asyncio.Lock | None = None
        self._failed: tuple[str, OAuthError] | None = None

    # -- pure pieces -------------------------------------------------------

    def _sign(self, request: httpx.Request) -> tuple[str, str | None]:
        """Put the token and a fresh proof on ``request``; the token and the nonce used."""
        session = self._holder.require()
        url = str(request.url)
        nonce = self._holder.nonces.get(url)
        request.headers["Authorization"] = f"DPoP {session.access_token}"
        request.headers["DPoP"] = build_proof(
            session.dpop_key, request.method, url, nonce=nonce, access_token=session.access_token
        )
        return session.access_token, nonce

    def _expires_soon(self) -> bool:
        session = self._holder.session
        return session is not None and session.expires_within(self._margin, now=self._clock())

    def _needs_refresh(self, used_token: str) -> bool:
        """Under the lock: is the token we used still the current one?"""
        session = self._holder.session
        return session is not None and session.access_token == used_token

    def _raise_if_refresh_failed(self, used_token: str) -> None:
        failed = self._failed
        if self._holder.session is None and failed is not None and failed[0] == used_token:
            raise _copy(failed[1])

    def _refresh_flow(self) -> Flow[OAuthSession]:
        return refresh_session(self._holder.require(), nonces=self._holder.nonces)

    def _install(self, session: OAuthSession) -> None:
        self._holder.set(session)
        log.debug("OAuth session refreshed for %s", session.did)

    def _fail(self, used_token: str, error: OAuthError) -> OAuthError:
        self._failed = (used_token, error)
        self._holder.clear()
        log.info("OAuth session refresh failed (%s); session cleared", type(error).__name__)
        return error

    def _wants_nonce(
        self, request: httpx.Request, response: httpx.Response, sent: str | None
    ) -> bool:
        """Store the answer's nonce; whether to resend with it."""
        self._holder.nonces.update_from(str(request.url), response.headers)
        if response.status_code not in (400, 401):
            return False
        body = _small_json(response) if response.status_code == 400 else None
        return retry_with_new_nonce(sent, response.status_code, response.headers, body)

    # -- the sync shell ------------------------------------------------------

    def _sync_refresh(self, used_token: str) -> Generator[httpx.Request, httpx.Response, None]:
        """Refresh unless another caller already did (one refresh at a time)."""
        with self._holder.lock:
            if not self._needs_refresh(used_token):
                self._raise_if_refresh_failed(used_token)
                return
            flow = self._refresh_flow()
            try:
                request = next(flow)
                while True:
                    response = yield request
                    body = _read_capped(response)
                    request = flow.send(buffered(request, response, body))
            except StopIteration as stop:
                self._install(stop.value)
            except OAuthError as exc:
                raise self._fail(used_token, exc) from None
            finally:
                flow.close()

    def _sync_send(
        self, request: httpx.Request, replayable: bool
    ) -> Generator[httpx.Request, httpx.Response, tuple[str, httpx.Response]]:
        """Sign and send; resend once if the server asks for a new nonce."""
        token, sent = self._sign(request)
        response = yield request
        if response.status_code in (400, 401):
            read_capped(response, _MAX_ERROR_BODY, truncate=True)
        if self._wants_nonce(request, response, sent) and replayable:
            token, _ = self._sign(request)
            response = yield request
            if response.status_code in (400, 401):
                read_capped(response, _MAX_ERROR_BODY, truncate=True)
        self._holder.nonces.update_from(str(request.url), response.headers)
        return token, response

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Refresh if due, sign, send; resend after a nonce challenge or a refresh."""
        replayable = _replayable(request)
        if self._expires_soon():
            yield from self._sync_refresh(self._holder.require().access_token)
        token, response = yield from self._sync_send(request, replayable)
        if _invalid_token(response):
            yield from self._sync_refresh(token)
            if not replayable:
                raise _unreplayable(request, response)
            yield from self._sync_send(request, replayable)

    # -- the async shell (same steps; an asyncio lock instead of a thread lock) --

    async def _async_refresh(
        self, used_token: str
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        async with self._async_lock():
            if not self._needs_refresh(used_token):
                self._raise_if_refresh_failed(used_token)
                return
            flow = self._refresh_flow()
            try:
                request = next(flow)
                while True:
                    response = yield request
                    body = await _aread_capped(response)
                    request = flow.send(buffered(request, response, body))
            except StopIteration as stop:
                self._install(stop.value)
            except OAuthError as exc:
                raise self._fail(used_token, exc) from None
            finally:
                flow.close()

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The async twin of :meth:`sync_auth_flow` (async generators cannot ``yield from``)."""
        replayable = _replayable(request)
        if self._expires_soon():
            refresh = self._async_refresh(self._holder.require().access_token)
            try:
                step = await refresh.__anext__()
                while True:
                    step = await refresh.asend((yield step))
            except StopAsyncIteration:
                pass
        for attempt in range(2):
            token, sent = self._sign(request)
            response = yield request
            if response.status_code in (400, 401):
                await aread_capped(response, _MAX_ERROR_BODY, truncate=True)
            if self._wants_nonce(request, response, sent) and replayable:
                token, _ = self._sign(request)
                response = yield request
                if response.status_code in (400, 401):
                    await aread_capped(response, _MAX_ERROR_BODY, truncate=True)
            self._holder.nonces.update_from(str(request.url), response.headers)
            if attempt == 1 or not _invalid_token(response):
                return
            refresh = self._async_refresh(token)
            try:
                step = await refresh.__anext__()
                while True:
                    step = await refresh.asend((yield step))
            except StopAsyncIteration:
                pass
            if not replayable:
                raise _unreplayable(request, response)

    def _async_lock(self) -> asyncio.Lock:
        if self._alock is None:
            import asyncio

            self._alock = asyncio.Lock()
        return self._alock

    def __repr__(self) -> str:
        return f"OAuthAuth(refresh_margin={self._margin!r})"


def _copy(error: OAuthError) -> OAuthError:
    """A fresh instance of a refresh failure, for another caller (tracebacks are per raise)."""
    if isinstance(error, OAuthServerError):
        return type(error)(error.status, error.error, error.description, endpoint=error.endpoint)
    return OAuthError(str(error))


def _unreplayable(request: httpx.Request, response: httpx.Response) -> Exception:
    """The caller's own 401 as an error, for a body that cannot be resent.

    Ending the flow without resending would make httpx return the last response,
    the token endpoint's; the session is refreshed for the caller's next try.
    """
    nsid = request.url.path.rsplit("/", 1)[-1]
    return resource_error(response, nsid) or InvalidTokenError(
        401, "invalid_token", None, nsid=nsid
    )


def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > _MAX_TOKEN_BODY:
                raise ResponseTooLargeError(f"token answer over {_MAX_TOKEN_BODY} bytes")
    finally:
        response.close()
    return bytes(body)


async def _aread_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > _MAX_TOKEN_BODY:
                raise ResponseTooLargeError(f"token answer over {_MAX_TOKEN_BODY} bytes")
    finally:
        await response.aclose()
    return bytes(body)
