"""Errors raised by atmosphere.

Every error derives from :class:`AtmosphereError`. Errors that the atdata API
documents as ``ValueError`` (bad input, not authenticated, unresolvable
identity) also derive from ``ValueError`` so that existing ``except ValueError``
code keeps working.

The hierarchy::

    AtmosphereError
    ├── InvalidIdentifierError (ValueError)   bad handle, DID, NSID, rkey, AT-URI, CID …
    ├── InvalidRecordError (ValueError)       record without a matching ``$type`` …
    ├── InvalidArgumentError (ValueError)     other bad input: a limit out of range, a foreign repo
    ├── InvalidSessionError (ValueError)      malformed session string
    ├── NotAuthenticatedError (ValueError)    the call needs a session and there is none
    ├── MissingCredentialsError (OSError)     ``from_env()``: ATDATA_HANDLE / ATDATA_PASSWORD unset
    ├── AppViewRequiredError                  an AppView call on a client configured without one
    ├── AtdataMissingError (ImportError)      ``atmosphere.atdata.adapt()`` without atdata installed
    ├── ResolutionError (ValueError)
    │   ├── HandleResolutionError             handle → DID failed
    │   └── DidResolutionError                DID → document / PDS endpoint failed
    ├── IntegrityError                        bytes do not match their CID
    ├── PartialWriteError                     a bulk write failed after some batches applied
    ├── TransportError                        the HTTP exchange itself failed
    │   ├── NetworkTimeoutError
    │   ├── ResponseTooLargeError
    │   └── UnsafeTargetError                 a target from identity data is not a public https host
    ├── InvalidResponseError                  the server answered, but not as XRPC says
    │   └── RecordMismatchError               a record that is not the one asked for
    ├── OAuthError                            an OAuth step failed
    │   ├── OAuthUnavailableError (ImportError)   the ``oauth`` extra is not installed
    │   ├── OAuthMetadataError                server metadata breaks the atproto profile
    │   ├── OAuthCallbackError                the redirect back is refused or carries an error
    │   ├── OAuthServerError                  the authorization server answered an OAuth error
    │   │   └── OAuthGrantError               ``invalid_grant``: code or refresh token unusable
    │   ├── OAuthTokenResponseError           a token answer breaks the profile (type, sub, scope)
    │   └── OAuthIdentityError                ``sub`` is not bound to this issuer (or unexpected)
    └── XrpcError                             the server answered with an XRPC error
        ├── AuthenticationError               401, AuthenticationRequired, AuthMissing
        │   ├── ExpiredTokenError             ExpiredToken (also: revoked refresh token)
        │   ├── InvalidTokenError             InvalidToken (OAuth: 401 ``invalid_token``)
        │   └── SessionRefreshError           refreshSession failed or changed the DID
        ├── ScopeMissingError                 403: the OAuth scope granted does not cover the call
        ├── RecordNotFoundError               RecordNotFound
        ├── InvalidSwapError                  InvalidSwap
        ├── BlobNotFoundError                 BlobNotFound, or InvalidRequest "Blob not found"
        ├── PayloadTooLargeError              413, PayloadTooLarge
        ├── RateLimitError                    429, RateLimitExceeded
        └── ServerError                       5xx

Messages never contain passwords, tokens, codes, PKCE verifiers or private keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._syntax import RecordUri

__all__ = [
    "AppViewRequiredError",
    "AtdataMissingError",
    "AtmosphereError",
    "AuthenticationError",
    "BlobNotFoundError",
    "DidResolutionError",
    "ExpiredTokenError",
    "HandleResolutionError",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidIdentifierError",
    "InvalidRecordError",
    "InvalidResponseError",
    "InvalidSessionError",
    "InvalidSwapError",
    "InvalidTokenError",
    "MissingCredentialsError",
    "NetworkTimeoutError",
    "NotAuthenticatedError",
    "OAuthCallbackError",
    "OAuthError",
    "OAuthGrantError",
    "OAuthIdentityError",
    "OAuthMetadataError",
    "OAuthServerError",
    "OAuthTokenResponseError",
    "OAuthUnavailableError",
    "PartialWriteError",
    "PayloadTooLargeError",
    "RateLimitError",
    "RecordMismatchError",
    "RecordNotFoundError",
    "ResolutionError",
    "ResponseTooLargeError",
    "ScopeMissingError",
    "ServerError",
    "SessionRefreshError",
    "TransportError",
    "UnsafeTargetError",
    "XrpcError",
]


class AtmosphereError(Exception):
    """Root of every error this library raises."""


class InvalidIdentifierError(AtmosphereError, ValueError):
    """An identifier (handle, DID, NSID, record key, TID, AT-URI, CID …) is malformed.

    Attributes:
        kind: what was being parsed, e.g. ``"handle"`` or ``"AT-URI"``.
        value: the rejected value (identifiers are never secret).
    """

    def __init__(self, kind: str, value: str, reason: str = "") -> None:
        self.kind = kind
        self.value = value
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"invalid {kind} {value!r}{detail}")


class InvalidRecordError(AtmosphereError, ValueError):
    """A record body is unusable before any request is made (e.g. wrong ``$type``)."""


class InvalidArgumentError(AtmosphereError, ValueError):
    """An argument is out of range or not allowed, detected before any request."""


class InvalidSessionError(AtmosphereError, ValueError):
    """A session string could not be parsed. The string itself is never echoed."""


class NotAuthenticatedError(AtmosphereError, ValueError):
    """The operation needs a logged-in session and the client has none."""


class MissingCredentialsError(AtmosphereError, OSError):
    """Credentials expected in the environment are not there (``Atmosphere.from_env()``).

    An ``OSError`` (``EnvironmentError``), as atdata's ``from_env`` raises.
    """


class AppViewRequiredError(AtmosphereError):
    """The call needs an AppView and the client was configured without ``appview=``.

    Attributes:
        operation: the XRPC method that was asked for.
    """

    def __init__(self, operation: str) -> None:
        self.operation = operation
        super().__init__(
            f"Operation {operation!r} requires an AppView: create the client with"
            " appview='https://...' or appview='did:web:...'"
        )


class AtdataMissingError(AtmosphereError, ImportError):
    """:func:`atmosphere.atdata.adapt` was called but the atdata package is not installed."""


class ResolutionError(AtmosphereError, ValueError):
    """An identity could not be resolved.

    Attributes:
        identifier: the handle or DID that failed to resolve.
        reason: why, without the identifier (e.g. ``"DID not found"``).
    """

    def __init__(self, identifier: str, message: str) -> None:
        self.identifier = identifier
        self.reason = message
        super().__init__(f"{identifier}: {message}")


class HandleResolutionError(ResolutionError):
    """A handle could not be resolved to a DID (or it resolved ambiguously)."""


class DidResolutionError(ResolutionError):
    """A DID could not be resolved to a valid document or PDS endpoint."""


class IntegrityError(AtmosphereError):
    """Bytes do not hash to the CID they were fetched or uploaded under.

    Attributes:
        expected: the CID that was asked for (or computed locally).
        actual: the CID the bytes (or the server) actually produced.
    """

    def __init__(self, expected: str, actual: str, message: str | None = None) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(message or f"CID mismatch: expected {expected}, got {actual}")


class PartialWriteError(AtmosphereError):
    """A bulk write failed part-way: some batches were applied, the rest were not.

    Attributes:
        applied: the AT-URIs (:class:`~atmosphere.RecordUri`) of the writes that
            were applied, in order.
        total: how many writes were requested.
        error: the error that stopped the remaining batches (also ``__cause__``).
    """

    def __init__(self, applied: Sequence[RecordUri], total: int, error: AtmosphereError) -> None:
        self.applied: list[RecordUri] = list(applied)
        self.total = total
        self.error = error
        super().__init__(f"{len(applied)} of {total} writes applied before: {error}")


class TransportError(AtmosphereError):
    """The HTTP exchange failed (connection refused or reset, TLS, protocol error).

    The underlying ``httpx`` exception is chained as ``__cause__``.
    """


class NetworkTimeoutError(TransportError):
    """A connect, read, write or pool timeout expired."""


class ResponseTooLargeError(TransportError):
    """A response body exceeded the size this library accepts for it."""


class UnsafeTargetError(TransportError):
    """A target that came from identity data is refused before anything is sent to it.

    A DID document, a well-known answer or a session named a URL that is not
    ``https`` on the default port, or whose host is (or resolves to) a private,
    loopback or link-local address. Local development turns the check off:
    ``allow_private_hosts=True``, or ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1``.
    Never retried.
    """


class InvalidResponseError(AtmosphereError):
    """A 2xx answer whose body is not what the XRPC method promises."""


class RecordMismatchError(InvalidResponseError):
    """A record read back is not the one asked for: its URI names another repo,
    collection or record key, or its ``$type`` another collection."""


class XrpcError(AtmosphereError):
    """The server answered an XRPC call with an error status.

    Attributes:
        status: HTTP status code.
        error: the ``error`` name from the JSON body (e.g. ``"RecordNotFound"``), or
            ``None`` when the body was not an XRPC error object (HTML, empty …).
        message: the body's ``message``, or a short description of the body.
        headers: the response headers (a plain dict, lower-case keys).
        nsid: the XRPC method that was called.
    """

    def __init__(
        self,
        status: int,
        error: str | None,
        message: str | None,
        *,
        nsid: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.message = message
        self.nsid = nsid
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        super().__init__(self._describe())

    def _describe(self) -> str:
        name = self.error or "HTTP error"
        where = f" from {self.nsid}" if self.nsid else ""
        text = f": {self.message}" if self.message else ""
        return f"{name} ({self.status}){where}{text}"


class AuthenticationError(XrpcError):
    """Credentials were missing, wrong, expired or revoked."""


class ExpiredTokenError(AuthenticationError):
    """A token has expired or been revoked (``ExpiredToken``)."""


class InvalidTokenError(AuthenticationError):
    """A token was rejected as malformed or badly signed (``InvalidToken``)."""


class SessionRefreshError(AuthenticationError):
    """``refreshSession`` failed; the client is left without a session."""


class RecordNotFoundError(XrpcError):
    """The record does not exist (``RecordNotFound``)."""


class InvalidSwapError(XrpcError):
    """A compare-and-swap precondition did not hold (``InvalidSwap``)."""


class BlobNotFoundError(XrpcError):
    """The blob does not exist or is not referenced by any record yet."""


class PayloadTooLargeError(XrpcError):
    """The request body was over the server's limit (413 / ``PayloadTooLarge``).

    ``upload_blob`` also raises it *before sending* a blob that is over the
    limit the PDS advertises (``describeServer``'s ``blobUploadLimit``); then
    ``limit`` is set and ``headers`` is empty.

    Attributes:
        size: the size of the rejected body in bytes, when known (``None`` for
            a stream given up on once it passed ``limit``).
        limit: the server's advertised limit in bytes, when known.
    """

    def __init__(
        self,
        status: int,
        error: str | None,
        message: str | None,
        *,
        nsid: str = "",
        headers: Mapping[str, str] | None = None,
        size: int | None = None,
        limit: int | None = None,
    ) -> None:
        self.size = size
        self.limit = limit
        super().__init__(status, error, message, nsid=nsid, headers=headers)

    def _describe(self) -> str:
        base = super()._describe()
        if self.size is not None:
            base += f" (body of {self.size} bytes"
            base += f", limit {self.limit})" if self.limit is not None else ")"
        return base


class RateLimitError(XrpcError):
    """The server's rate limit was hit (429 / ``RateLimitExceeded``).

    Attributes:
        limit: ``RateLimit-Limit``, requests allowed per window, if sent.
        remaining: ``RateLimit-Remaining``, if sent.
        reset_at: when the window resets (UTC), from ``RateLimit-Reset`` or
            ``Retry-After``, if sent.
        policy: ``RateLimit-Policy``, e.g. ``"30;w=300"``, if sent.
    """

    def __init__(
        self,
        status: int,
        error: str | None,
        message: str | None,
        *,
        nsid: str = "",
        headers: Mapping[str, str] | None = None,
        limit: int | None = None,
        remaining: int | None = None,
        reset_at: datetime | None = None,
        policy: str | None = None,
    ) -> None:
        self.limit = limit
        self.remaining = remaining
        self.reset_at = reset_at
        self.policy = policy
        super().__init__(status, error, message, nsid=nsid, headers=headers)

    @property
    def retry_after(self) -> float | None:
        """Seconds from now until the reset, or ``None`` when unknown."""
        from ._ratelimit import seconds_until

        return seconds_until(self.reset_at)

    def _describe(self) -> str:
        base = super()._describe()
        if self.reset_at is not None:
            base += f" (resets at {self.reset_at.isoformat()})"
        return base


class ServerError(XrpcError):
    """The server failed (5xx)."""


OAUTH_EXTRA_HINT = "pip install 'atmosphere-atproto[oauth]'"
"""How to install what OAuth needs (named in :class:`OAuthUnavailableError`)."""


class OAuthError(AtmosphereError):
    """An OAuth step failed."""


class OAuthUnavailableError(OAuthError, ImportError):
    """OAuth needs the ``oauth`` extra (the ``cryptography`` package) and it is missing."""

    def __init__(self) -> None:
        super().__init__(
            "OAuth needs the 'oauth' extra (the cryptography package for ES256): "
            f"{OAUTH_EXTRA_HINT}"
        )


class OAuthMetadataError(OAuthError):
    """Protected-resource or authorization-server metadata breaks the atproto profile.

    Attributes:
        url: where the metadata was fetched from.
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class OAuthCallbackError(OAuthError):
    """The authorization redirect was refused (wrong ``state`` or ``iss``) or carries an error.

    Attributes:
        error: the OAuth ``error`` parameter (e.g. ``"access_denied"``), or ``None``
            when the client refused the callback itself.
        description: ``error_description`` when the server sent one.
    """

    def __init__(
        self, message: str, *, error: str | None = None, description: str | None = None
    ) -> None:
        self.error = error
        self.description = description
        super().__init__(message)


class OAuthServerError(OAuthError):
    """The authorization server answered a PAR, token or revocation request with an error.

    Attributes:
        status: the HTTP status.
        error: the OAuth ``error`` code (``invalid_request``, ``invalid_grant`` ...), if any.
        description: the ``error_description``, if any.
        endpoint: which endpoint answered.
    """

    def __init__(
        self, status: int, error: str | None, description: str | None, *, endpoint: str
    ) -> None:
        self.status = status
        self.error = error
        self.description = description
        self.endpoint = endpoint
        text = f": {description}" if description else ""
        super().__init__(f"{error or 'HTTP error'} ({status}) from {endpoint}{text}")


class OAuthGrantError(OAuthServerError):
    """``invalid_grant``: the code or refresh token is expired, revoked or replayed.

    After a replayed refresh token the server ends the whole session: log in again.
    """


class OAuthTokenResponseError(OAuthError):
    """A token response is not what the atproto profile requires (type, ``sub``, ``scope``)."""


class OAuthIdentityError(OAuthError):
    """The account in ``sub`` is not the one expected, or its PDS uses another issuer.

    Attributes:
        did: the DID the server authenticated.
        issuer: the authorization server that issued the tokens.
    """

    def __init__(self, did: str, issuer: str, reason: str) -> None:
        self.did = did
        self.issuer = issuer
        super().__init__(f"{did} via {issuer}: {reason}")


class ScopeMissingError(XrpcError):
    """403: the session's granted scope does not cover this call.

    Attributes:
        required_scope: the scope the server named as missing, when it said so.
    """

    def __init__(
        self,
        status: int,
        error: str | None,
        message: str | None,
        *,
        nsid: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        prefix = "Missing required scope "
        self.required_scope: str | None = None
        if message and message.startswith(prefix):
            self.required_scope = message[len(prefix) :].strip().strip('"') or None
        super().__init__(status, error, message, nsid=nsid, headers=headers)
