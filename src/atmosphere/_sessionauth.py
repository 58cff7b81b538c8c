"""Bearer signing and session refresh: the steps both auth shells share (no I/O).

The flow (``_async/auth.py``, and its generated sync twin) signs each request
with the access JWT and refreshes the session
(``com.atproto.server.refreshSession`` with the refresh JWT as bearer):

- before sending, when the access JWT's ``exp`` is within ``refresh_margin``;
- after an ``ExpiredToken`` answer, then resends the request once, but only
  when its body can be replayed. A streamed body is never resent: its
  ``ExpiredTokenError`` reaches the caller, which may rewind the source and
  call again with the refreshed session.

Refreshes are serialised by the flow's lock, and a caller that waited on the
lock re-checks whether another caller already rotated the token, so many
callers hitting one expired token cause exactly one ``refreshSession``. A
failed refresh clears the session (the client is then unauthenticated) and
raises :class:`SessionRefreshError`; a refresh answer for a different DID is
refused the same way, and callers that were waiting for that refresh get a
``SessionRefreshError`` too. A refresh that fails on the network (no answer)
leaves the session as it was, so a later call can try again.

A session shared with other processes (``SessionStore.lock``, e.g. the CLI's
session file) is refreshed under that lock too: the session saved there is
read first, and when another process already rotated the tokens it is
adopted instead of refreshing again with the old refresh token (whose reuse
the PDS tolerates only for a grace period); when none is saved any more the
session was logged out, and it ends (``NotAuthenticatedError``) rather than
being refreshed back to life.

Error bodies (400/401) are read only up to 64 KiB and refresh answers up to
1 MiB: a hostile server cannot make the flow buffer an endless body.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx

from ._nsid import REFRESH_SESSION
from ._session import (
    SessionState,
    SessionStore,
    is_valid_session_handle,
    is_valid_token,
    jwt_expiry,
    pds_from_session,
)
from ._xrpc_errors import error_from_response, error_name
from .errors import InvalidSessionError, NotAuthenticatedError, SessionRefreshError

__all__ = ["MAX_SESSION_BODY", "SessionAuthBase", "is_replayable"]

log = logging.getLogger(__name__)

MAX_SESSION_BODY = 1024 * 1024
"""The most of a ``refreshSession`` answer the flow reads."""


def is_replayable(request: httpx.Request) -> bool:
    """Whether the request's body can be sent again (bytes, not a one-shot stream)."""
    return isinstance(request.stream, httpx.ByteStream)


class SessionAuthBase(httpx.Auth):
    """The I/O-free steps of signing with a session's access JWT and refreshing it.

    The sync and asyncio shells (``_sync/auth.py``, ``_async/auth.py``) add
    only the flow that sends, reads capped bodies and holds the refresh lock.

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
        self._margin = refresh_margin
        self._clock = clock
        self._expiry: tuple[str, float | None] | None = None
        # The access token of the session whose refresh failed, and the error.
        self._failed: tuple[str, SessionRefreshError] | None = None

    # -- pure pieces -------------------------------------------------------

    def _sign(self, request: httpx.Request) -> str:
        token = self._store.require().session.access_jwt
        request.headers["Authorization"] = f"Bearer {token}"
        return token

    def _expires_soon(self, token: str) -> bool:
        cached = self._expiry
        if cached is None or cached[0] != token:  # decode each token once, not per call
            cached = self._expiry = (token, jwt_expiry(token))
        exp = cached[1]
        return exp is not None and exp - self._clock() <= self._margin

    def _needs_refresh(self, used_token: str) -> bool:
        """Under the lock: is the token we used still the current one?"""
        state = self._store.state
        return state is not None and state.session.access_jwt == used_token

    def _shared(self) -> AbstractContextManager[str | None]:
        """Under the flow's lock: the store's shared-session lock (a no-op without one)."""
        lock = self._store.lock
        return lock() if lock is not None else contextlib.nullcontext(None)

    def _adopt_shared(self, saved: str | None) -> bool:
        """Under both locks: adopt a session another holder saved; ``True`` if it needs no refresh.

        Without a shared lock there is nothing to adopt. A saved session that
        differs from ours is newer (it is only written under the lock), so it
        replaces ours; it still needs a refresh if its access token expires
        soon too. No saved session, or one for another account, ends ours.
        """
        if self._store.lock is None:
            return False
        ours = self._store.require()
        shared: SessionState | None = None
        if saved is not None:
            with contextlib.suppress(InvalidSessionError):
                shared = SessionState.decode(saved, default_pds=ours.pds_url)
        if shared is None or shared.session.did != ours.session.did:
            self._store.clear()
            log.info("shared session gone or replaced; not refreshing it")
            raise NotAuthenticatedError(
                "Not authenticated: the shared session was logged out or replaced"
            )
        mine = ours.session
        if (shared.session.access_jwt, shared.session.refresh_jwt) == (
            mine.access_jwt,
            mine.refresh_jwt,
        ):
            return False
        self._store.set(shared, notify=False)
        log.debug("adopted the session another holder refreshed for %s", mine.did)
        return not self._expires_soon(shared.session.access_jwt)

    def _refresh_request(self) -> httpx.Request:
        state = self._store.require()
        return httpx.Request(
            "POST",
            f"{state.pds_url}/xrpc/{REFRESH_SESSION}",
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
                error.status,
                error.error,
                error.message,
                nsid=REFRESH_SESSION,
                headers=error.headers,
            )

    def _apply_refresh(self, response: httpx.Response) -> None:
        """Install the refreshed session, or clear it and raise."""
        old = self._store.require()
        if not response.is_success:
            failure = error_from_response(
                response.status_code, response.headers, response.content, nsid=REFRESH_SESSION
            )
            raise self._fail(
                old,
                SessionRefreshError(
                    failure.status,
                    failure.error,
                    f"session refresh failed, log in again: {failure.message or failure.error}",
                    nsid=REFRESH_SESSION,
                    headers=failure.headers,
                ),
            )
        from ._models import Session  # loaded with the first session already

        try:
            session = Session.model_validate(json.loads(response.content))
            if not (is_valid_token(session.access_jwt) and is_valid_token(session.refresh_jwt)):
                raise ValueError("malformed token")
            if not is_valid_session_handle(session.handle):
                raise ValueError("malformed handle")
        except (ValueError, RecursionError) as exc:
            raise self._fail(
                old,
                SessionRefreshError(
                    response.status_code,
                    None,
                    "session refresh returned an unreadable session, log in again",
                    nsid=REFRESH_SESSION,
                ),
            ) from exc
        if session.did != old.session.did:
            raise self._fail(
                old,
                SessionRefreshError(
                    response.status_code,
                    None,
                    f"session refresh answered for {session.did}, not {old.session.did}",
                    nsid=REFRESH_SESSION,
                ),
            )
        pds = pds_from_session(session) or old.pds_url
        self._store.set(SessionState(session=session, pds_url=pds))
        log.debug("session refreshed for %s", session.did)

    @staticmethod
    def _is_expired_token(response: httpx.Response) -> bool:
        if response.status_code not in (400, 401):
            return False
        name, _ = error_name(response.content)
        return name == "ExpiredToken"

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
