"""OAuth as an ``httpx.Auth``: the I/O-free steps both shells share.

The flow (``_async/oauth.py`` and its generated sync twin ``_sync/oauth.py``)
signs every request with the current session's access token and a DPoP proof,
resends once when the server wants a new nonce, and refreshes the session
(rotating the refresh token):

- before sending, when the access token expires within ``refresh_margin``;
- after a 401 ``WWW-Authenticate: DPoP error="invalid_token"`` (expired or
  superseded token), then resends the request once if its body can be replayed.

A body that cannot be replayed (a one-shot stream) is never resent: the flow
raises :class:`~atmosphere.errors.ExpiredTokenError` instead (after a refresh,
or after learning the nonce the server wants), which the XRPC layer answers by
rebuilding a body it can rebuild and sending it once more.

Refresh tokens are single-use and reusing one ends the whole session at the
server, so refreshes are serialised by the shell's lock (a thread lock for the
sync shell, an asyncio lock for the async one) and a caller that waited
re-checks whether another caller already refreshed. A refused refresh clears
the session and raises :class:`~atmosphere.errors.OAuthGrantError`; callers that
waited for it get the same error. ``on_change`` receives every new session.

A session shared with other processes (the CLI's session file) is refreshed
under the holder's ``shared_lock`` too: the session saved there is read first
and adopted when another process already rotated the tokens; when none is
saved any more (logged out) the session ends instead of being refreshed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import httpx

from ..errors import (
    ExpiredTokenError,
    InvalidSessionError,
    NotAuthenticatedError,
    OAuthError,
    OAuthServerError,
)
from ._http import Flow, buffered, json_body
from .dpop import NonceStore, build_proof, parse_www_authenticate, retry_with_new_nonce
from .resource import resource_error

if TYPE_CHECKING:
    from .session import OAuthSession

__all__ = [
    "MAX_ERROR_BODY",
    "MAX_TOKEN_BODY",
    "OAuthAuthBase",
    "OAuthSessionHolder",
    "SharedLock",
    "is_replayable",
]

log = logging.getLogger(__name__)

MAX_ERROR_BODY = 64 * 1024
"""The most of a 400/401 answer the flow reads (to see a nonce challenge)."""
MAX_TOKEN_BODY = 1024 * 1024
"""The most of a token endpoint answer the flow reads."""

SessionCallback = Callable[["OAuthSession"], None]
SharedLock = Callable[[], AbstractContextManager["str | None"]]
"""Held around a refresh of a session other processes share; yields the saved session text."""


class OAuthSessionHolder:
    """The one mutable holder of a client's OAuth session (shared with its auth flow).

    Attributes:
        nonces: the DPoP nonces per origin (PDS and authorization server).
        on_change: called with each new session (after login and refresh).
        shared_lock: for a session saved where other processes use it too.
        allow_private_hosts: accept loopback ``http`` servers in an adopted session.
    """

    def __init__(
        self,
        session: OAuthSession | None = None,
        *,
        on_change: SessionCallback | None = None,
        nonces: NonceStore | None = None,
        shared_lock: SharedLock | None = None,
        allow_private_hosts: bool = False,
    ) -> None:
        """Hold ``session`` (or none yet)."""
        self.session = session
        self.on_change = on_change
        self.nonces = nonces or NonceStore()
        self.shared_lock = shared_lock
        self.allow_private_hosts = allow_private_hosts

    def require(self) -> OAuthSession:
        """The current session, or :class:`~atmosphere.errors.NotAuthenticatedError`."""
        session = self.session
        if session is None:
            raise NotAuthenticatedError("Not authenticated: log in with OAuth first")
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


def is_replayable(request: httpx.Request) -> bool:
    """Whether the request's body can be sent again (bytes, not a one-shot stream)."""
    return isinstance(request.stream, httpx.ByteStream)


def _invalid_token(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    challenge = response.headers.get("www-authenticate", "")
    return any(
        scheme == "dpop" and params.get("error") == "invalid_token"
        for scheme, params in parse_www_authenticate(challenge)
    )


class OAuthAuthBase(httpx.Auth):
    """The I/O-free steps of signing with an OAuth session and refreshing it.

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
        self._failed: tuple[str, OAuthError] | None = None

    @property
    def holder(self) -> OAuthSessionHolder:
        """The session holder this flow signs with."""
        return self._holder

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

    def _current_token(self) -> str:
        return self._holder.require().access_token

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

    def _shared(self) -> AbstractContextManager[str | None]:
        """Under the flow's lock: the holder's shared-session lock (a no-op without one)."""
        lock = self._holder.shared_lock
        return lock() if lock is not None else contextlib.nullcontext(None)

    def _adopt_shared(self, saved: str | None) -> bool:
        """Under both locks: adopt a session another process saved; ``True`` if no refresh is due.

        No saved session (logged out), or one for another account, ends ours.
        """
        if self._holder.shared_lock is None:
            return False
        from .session import OAuthSession

        ours = self._holder.require()
        shared: OAuthSession | None = None
        if saved is not None:
            with contextlib.suppress(InvalidSessionError):
                shared = OAuthSession.from_json(
                    saved, allow_private_hosts=self._holder.allow_private_hosts
                )
        if shared is None or shared.did != ours.did:
            self._holder.clear()
            log.info("shared OAuth session gone or replaced; not refreshing it")
            raise NotAuthenticatedError(
                "Not authenticated: the shared session was logged out or replaced"
            )
        if (shared.access_token, shared.refresh_token) == (ours.access_token, ours.refresh_token):
            return False
        self._holder.set(shared, notify=False)
        log.debug("adopted the OAuth session another holder refreshed for %s", ours.did)
        return not shared.expires_within(self._margin, now=self._clock())

    def _refresh_flow(self) -> Flow[OAuthSession]:
        from .flow import refresh_session  # the flows load pydantic: only when refreshing

        return refresh_session(self._holder.require(), nonces=self._holder.nonces)

    def _refresh_step(
        self, flow: Flow[OAuthSession], reply: httpx.Response | None, used_token: str
    ) -> httpx.Request | None:
        """Advance the refresh flow: its next request, or ``None`` once the session is installed."""
        try:
            return next(flow) if reply is None else flow.send(reply)
        except StopIteration as stop:
            session: OAuthSession = stop.value
            self._holder.set(session)
            log.debug("OAuth session refreshed for %s", session.did)
            return None
        except OAuthError as exc:
            flow.close()
            self._failed = (used_token, exc)
            self._holder.clear()
            log.info("OAuth session refresh failed (%s); session cleared", type(exc).__name__)
            raise exc from None

    @staticmethod
    def _buffered(request: httpx.Request, response: httpx.Response, body: bytes) -> httpx.Response:
        return buffered(request, response, body)

    def _wants_nonce(
        self, request: httpx.Request, response: httpx.Response, sent: str | None
    ) -> bool:
        """Store the answer's nonce; whether to resend with it."""
        self._holder.nonces.update_from(str(request.url), response.headers)
        if response.status_code not in (400, 401):
            return False
        body = json_body(response) if response.status_code == 400 else None
        return retry_with_new_nonce(sent, response.status_code, response.headers, body)

    def _note_nonce(self, request: httpx.Request, response: httpx.Response) -> None:
        self._holder.nonces.update_from(str(request.url), response.headers)

    @staticmethod
    def _is_invalid_token(response: httpx.Response) -> bool:
        return _invalid_token(response)

    @staticmethod
    def _resend_needed(request: httpx.Request, response: httpx.Response | None) -> Exception:
        """For a body that cannot be resent here: an ``ExpiredTokenError`` the XRPC layer answers
        by rebuilding the body (when it can) and sending it once more; else the caller sees it.
        """
        nsid = request.url.path.rsplit("/", 1)[-1]
        found = resource_error(response, nsid) if response is not None else None
        message = found.message if found is not None else None
        return ExpiredTokenError(
            401, "invalid_token", message or "resend with a fresh DPoP proof", nsid=nsid
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(refresh_margin={self._margin!r})"


def _copy(error: OAuthError) -> OAuthError:
    """A fresh instance of a refresh failure, for another caller (tracebacks are per raise)."""
    if isinstance(error, OAuthServerError):
        return type(error)(error.status, error.error, error.description, endpoint=error.endpoint)
    return OAuthError(str(error))
