"""Session state: the tokens, where they are valid, and their string form.

The session string is the atproto SDK's format,
``handle:::did:::accessJwt:::refreshJwt:::pdsEndpoint``; the SDK's older
four-field form (no endpoint: the client's ``base_url``, else ``https://bsky.social``)
is accepted.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from ._defaults import DEFAULT_ENTRYWAY
from ._egress import EgressPolicy, check_origin
from ._syntax import is_valid_did, is_valid_handle
from .errors import InvalidSessionError, NotAuthenticatedError, UnsafeTargetError

if TYPE_CHECKING:
    from ._models import Session

__all__ = [
    "NOT_AUTHENTICATED",
    "SessionCallback",
    "SessionLock",
    "SessionState",
    "SessionStore",
    "SessionTokens",
    "is_valid_session_handle",
    "is_valid_token",
    "jwt_expiry",
    "session_endpoint",
]

NOT_AUTHENTICATED = (
    "Not authenticated: the client must be authenticated to perform this operation"
    " (call login() first)"
)
"""The message of every "no session" error: it keeps atdata's wording, which
atdata's callers and tests match ("Not authenticated", "must be authenticated")."""

_SEPARATOR = ":::"

SessionCallback = Callable[[str], None]
"""Called with the new session string (as ``export_session()`` returns it)."""

SessionLock = Callable[[], AbstractContextManager["str | None"]]
"""Held around every token refresh of a session shared with other processes.

Entering it yields the session string as saved at that moment (``None`` when
it is no longer saved, i.e. logged out). See :class:`SessionStore`.
"""


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (unix seconds) of a JWT, read without verifying it.

    Returns ``None`` when the token is not a JWT or carries no numeric ``exp``:
    tokens are opaque to clients, so this only informs an early refresh.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: absurd nesting
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, (int, float)) and not isinstance(exp, bool):
        try:
            value = float(exp)
        except OverflowError:  # an int beyond float range
            return None
        return value if math.isfinite(value) else None
    return None


_TOKEN = re.compile(r"^[\x21-\x7e]+$")


def is_valid_token(token: object) -> bool:
    """Whether ``token`` can travel in an ``Authorization`` header: visible ASCII only.

    JWTs are base64url segments joined by dots; a CR, LF, NUL, space or any
    non-ASCII character would break (or smuggle) the header.
    """
    return isinstance(token, str) and bool(_TOKEN.match(token))


def is_valid_session_handle(handle: object) -> bool:
    """Whether ``handle`` may stand in a session: a valid handle, or ``handle.invalid``.

    Anything else (a ``:::`` in it, above all) could not be exported and restored.
    """
    return isinstance(handle, str) and (is_valid_handle(handle) or handle == "handle.invalid")


_SHAPE_ONLY = EgressPolicy(allow_private_hosts=True)


def session_endpoint(url: str) -> str | None:
    """``url`` normalized if it is a plain http(s) origin (no userinfo, path, query,
    fragment, odd numeric host), else ``None``. Whether it may be *used* is the
    egress policy's call, made where requests are sent."""
    try:
        return check_origin(url, _SHAPE_ONLY)
    except UnsafeTargetError:
        return None


@dataclass(frozen=True)
class SessionTokens:
    """The four fields a restored session string holds, without pydantic.

    Restoring a saved session is the first thing a short job does; building
    the pydantic :class:`~atmosphere.Session` there would load pydantic's model
    machinery (tens of milliseconds) before the first call. It has the
    attributes the session code reads, with the same names; the tokens are
    left out of ``repr``.
    """

    did: str
    handle: str
    access_jwt: str = field(repr=False)
    refresh_jwt: str = field(repr=False)


@dataclass(frozen=True)
class SessionState:
    """An authenticated session together with the PDS it belongs to.

    ``session`` is the server's answer (a pydantic ``Session``) after a login
    or refresh, or :class:`SessionTokens` after restoring a session string.
    """

    session: Union[Session, SessionTokens]  # noqa: UP007 - Session is only imported for typing
    pds_url: str

    def encode(self) -> str:
        """The session string, in the atproto SDK's five-field form."""
        s = self.session
        return _SEPARATOR.join((s.handle, s.did, s.access_jwt, s.refresh_jwt, self.pds_url))

    @classmethod
    def decode(cls, text: str, *, default_pds: str | None = None) -> SessionState:
        """Parse a session string (five fields, or the SDK's older four).

        The four-field form names no PDS: it belongs to ``default_pds`` (the
        client's ``base_url``) or, without one, to the entryway.
        """
        if not isinstance(text, str):
            raise InvalidSessionError("session string must be a str")
        fields = text.strip().split(_SEPARATOR)
        named = len(fields) == 5  # a PDS in the string itself, rather than the caller's
        if len(fields) == 4:
            fields.append(default_pds or DEFAULT_ENTRYWAY)
        if len(fields) != 5:
            raise InvalidSessionError(
                f"session string must have 5 (or 4) fields separated by ':::', got {len(fields)}"
            )
        handle, did, access, refresh, pds = fields
        if not is_valid_did(did):
            raise InvalidSessionError("session string holds no valid DID")
        if not is_valid_session_handle(handle):
            raise InvalidSessionError("session string holds no valid handle")
        if not is_valid_token(access) or not is_valid_token(refresh):
            raise InvalidSessionError("session string holds an empty or malformed token")
        endpoint = session_endpoint(pds) if named else pds.rstrip("/")
        if endpoint is None:
            raise InvalidSessionError(
                "session string's PDS endpoint is not a plain http(s) origin"
                " (no path, query, fragment or userinfo)"
            )
        session = SessionTokens(did=did, handle=handle, access_jwt=access, refresh_jwt=refresh)
        return cls(session=session, pds_url=endpoint)


def pds_from_session(session: Session) -> str | None:
    """The PDS endpoint named in the session's ``didDoc``, if it names a usable one."""
    if not session.did_doc:
        return None
    from ._models import DidDocument

    try:
        doc = DidDocument.model_validate(session.did_doc)
    except ValueError:
        return None
    if doc.id != session.did:
        return None
    endpoint = doc.pds_endpoint
    return session_endpoint(endpoint) if endpoint else None


@dataclass
class SessionStore:
    """The one mutable holder of a client's session, shared with its auth flow.

    Reads of ``state`` are atomic attribute reads; the auth flow serialises
    refreshes with its own lock. ``on_change`` receives the session string after every login and
    refresh so callers can persist rotated tokens.

    ``lock``, for a session other processes share (a session file), is held
    around each refresh, with ``on_change`` called inside it; the auth flow
    adopts the session it yields when another holder already rotated the
    tokens, and ends the session when none is saved any more (logged out)
    instead of refreshing it back to life.
    """

    on_change: SessionCallback | None = None
    lock: SessionLock | None = None
    state: SessionState | None = None

    def require(self) -> SessionState:
        """The current session, or :class:`NotAuthenticatedError`."""
        state = self.state
        if state is None:
            raise NotAuthenticatedError(NOT_AUTHENTICATED)
        return state

    def set(self, state: SessionState, *, notify: bool = True) -> None:
        """Install a session and tell the callback about it."""
        self.state = state
        if notify and self.on_change is not None:
            self.on_change(state.encode())

    def clear(self) -> None:
        """Forget the session."""
        self.state = None
