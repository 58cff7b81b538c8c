"""The generic asyncio client: sessions, records, listing and blobs over XRPC.

:class:`AsyncCoreClient` knows atproto, not atdata: the atdata faces
(:mod:`atmosphere._async.atdata`) build on it. Bad input is rejected with a
``ValueError`` subclass before any request is made.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from .._blobsource import (
    DEFAULT_CHUNK_SIZE,
    ProgressCallback,
    blob_upload_limit,
    check_uploaded_blob,
    open_blob_source,
)
from .._calls import call_headers, check_params
from .._cid import parse_cid
from .._defaults import DEFAULT_PLC_URL, DEFAULT_TIMEOUT, USER_AGENT
from .._egress import check_user_url
from .._nsid import (
    CREATE_RECORD,
    CREATE_SESSION,
    DELETE_RECORD,
    DELETE_SESSION,
    DESCRIBE_SERVER,
    GET_BLOB,
    GET_RECORD,
    GET_SESSION,
    LIST_RECORDS,
    PUT_RECORD,
    UPLOAD_BLOB,
)
from .._ratelimit import RateLimitInfo
from .._records import check_records, record_envelope, record_page, write_result
from .._retry import DEFAULT_RETRY_POLICY, RetryPolicy
from .._session import (
    NOT_AUTHENTICATED,
    SessionCallback,
    SessionLock,
    SessionState,
    SessionStore,
    SessionTokens,
    is_valid_session_handle,
    is_valid_token,
    pds_from_session,
)
from .._syntax import (
    AtUri,
    RecordUri,
    is_valid_did,
    is_valid_handle,
    validate_at_identifier,
    validate_did,
    validate_nsid,
    validate_record_key,
)
from .._types import BlobInput, BlobRef, Record, RecordPage, StrongRef
from .._wire import encode_params, wrap_transport_errors, xrpc_url
from .._writes import (
    MAX_WRITES_PER_BATCH,
    Create,
    Write,
    batch_writes,
    build_apply_writes,
    check_record,
    parse_apply_writes,
)
from ..errors import (
    AtmosphereError,
    HandleResolutionError,
    InvalidArgumentError,
    InvalidResponseError,
    NotAuthenticatedError,
    PartialWriteError,
    ResponseTooLargeError,
    ScopeMissingError,
    TransportError,
    XrpcError,
)
from .auth import AsyncSessionAuth
from .blobs import bounded, iter_verified, prepare_source, source_chunks, write_verified
from .body import body_chunks, closed_after
from .egress import AsyncEgress, make_public_client, policy_for
from .oauthlogin import AsyncOAuthLogin
from .resolver import AsyncIdentityResolver
from .xrpc import DEFAULT_DEADLINE, AsyncXrpcClient

__all__ = ["PAGE_MAX", "AsyncCoreClient", "check_limit"]

if TYPE_CHECKING:
    from .._models import Session
    from .._oauth.auth import OAuthSessionHolder
    from .._oauth.session import OAuthSession
    from .oauth import AsyncOAuthAuth

log = logging.getLogger(__name__)

_Client = TypeVar("_Client", bound="AsyncCoreClient")

PAGE_MAX = 100
"""The most records one ``listRecords`` page may ask for."""

DEFAULT_MAX_BLOB_SIZE = 1024**3
"""The largest blob streamed (``iter_blob``, ``download_blob``) unless the
caller passes ``max_size``; the blob's PDS's advertised ``blobUploadLimit``
lowers it."""

DEFAULT_MAX_BLOB_MEMORY = 256 * 1024**2
"""The largest blob :meth:`AsyncCoreClient.get_blob` holds in memory unless the
caller passes ``max_size`` (stream larger ones with ``download_blob``)."""


def check_limit(limit: int, *, upper: int | None = PAGE_MAX) -> int:
    """``limit`` itself, once it is an int in ``1..upper`` (``InvalidArgumentError`` otherwise)."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidArgumentError(f"limit must be an int, got {type(limit).__name__}")
    if limit < 1 or (upper is not None and limit > upper):
        bound = f"1..{upper}" if upper is not None else ">= 1"
        raise InvalidArgumentError(f"limit must be in {bound}, got {limit}")
    return limit


def _check_new_cursor(cursor: str, seen: set[str]) -> None:
    """Refuse a cursor a server already sent: following it again would never end."""
    if cursor in seen:
        raise InvalidResponseError(f"{LIST_RECORDS}: the server repeated cursor {cursor[:64]!r}")
    seen.add(cursor)


def _check_deadline(deadline: Any) -> float | None:
    if deadline is None:
        return None
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not deadline > 0:
        raise InvalidArgumentError(f"deadline must be a positive number or None, got {deadline!r}")
    return float(deadline)


def _check_timeout(timeout: Any) -> float | None:
    """``timeout`` itself once it is ``None`` or a positive number of seconds."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InvalidArgumentError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


@dataclass(frozen=True)
class _Account:
    """Who is signed in and where, whatever the kind of session (password or OAuth)."""

    did: str
    handle: str
    pds_url: str


def _oauth_notifier(
    callback: SessionCallback | None,
) -> Callable[[OAuthSession], None] | None:
    """``on_session_change`` for OAuth sessions: it receives their JSON form."""
    if callback is None:
        return None
    return lambda session: callback(session.to_json())


def _check_secret(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{name} must be a non-empty str")
    return value


class AsyncCoreClient(AsyncOAuthLogin):
    """The generic ATProto client: sessions, records, listing, blobs and XRPC.

    The atdata faces (``AsyncAtmosphereClient``) build on it.

    Args:
        base_url: the PDS (or entryway) to log in to. With ``None``, ``login()``
            resolves the account's PDS from its handle or DID (a failed
            resolution fails the login: the password goes nowhere else).
        _client: an ``httpx.AsyncClient`` to send every request through (not closed
            by this client). Without it the client owns one.
        plc_url: the PLC directory used to resolve ``did:plc`` identities.
        resolver: an ``AsyncIdentityResolver`` to use instead of a default one.
        timeout: timeouts for the owned ``httpx.AsyncClient`` (per operation: a slow
            but healthy large upload is not cut off by a whole-request deadline).
        on_session_change: called with the new session string after every login
            and token refresh, so callers can persist rotated tokens (for an
            OAuth session, its JSON form; see :meth:`login_oauth`).
        session_lock: for a session saved where other processes use it too (a
            session file): a callable returning a context manager that is held
            around every token refresh (``on_session_change`` is called inside
            it) and yields the session string saved at that moment, or ``None``
            once it is no longer saved. A newer saved session is adopted instead
            of refreshing again; ``None`` (logged out) ends the session with
            ``NotAuthenticatedError`` instead of refreshing it. It is entered
            synchronously: in an async client, waiting on it blocks the loop.
        retry: when and how failed calls are resent (``RetryPolicy()`` by
            default: 3 attempts with backoff on 5xx and network failures,
            429 waited out up to 60 s; only calls that are safe to repeat).
        allow_private_hosts: local development: let targets that came from
            identity data (another account's PDS from its DID document, the
            ``didDoc`` of a session, the PDS of a restored session string)
            be loopback, private or plain-http hosts. ``None`` (default) reads
            ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1`` from the environment; off
            otherwise: such targets must be public https hosts on the
            default port, checked on the address actually connected to.
            ``base_url``, ``plc_url`` and a ``service_url`` you pass are your
            choice and are never checked.
        deadline: seconds one JSON call (everything but blob transfers and
            streamed answers) may take from sending to the last byte of its
            answer, per attempt (60 by default; ``None`` for none). A server
            that drips its answer within the per-step ``timeout`` is cut off
            here with ``NetworkTimeoutError``.

    Examples:
        >>> client = AsyncAtmosphereClient()
        >>> await client.login("alice.bsky.social", "app-password")
        >>> print(client.did)
        'did:plc:...'
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        _client: httpx.AsyncClient | None = None,
        plc_url: str = DEFAULT_PLC_URL,
        resolver: AsyncIdentityResolver | None = None,
        timeout: float | httpx.Timeout | None = None,
        on_session_change: SessionCallback | None = None,
        session_lock: SessionLock | None = None,
        retry: RetryPolicy | None = None,
        allow_private_hosts: bool | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
    ) -> None:
        if base_url is not None:
            check_user_url("base_url", base_url)
        self._base_url = base_url.rstrip("/") if base_url else None
        self._owns_http = _client is None
        http_timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self._http = _client or httpx.AsyncClient(
            timeout=http_timeout,
            headers={"User-Agent": USER_AGENT},
        )

        def make_public() -> httpx.AsyncClient:
            return make_public_client(timeout=http_timeout, headers={"User-Agent": USER_AGENT})

        self._egress = AsyncEgress(
            self._http,
            policy_for(allow_private_hosts),
            make_public=make_public if self._owns_http else None,
        )
        self._egress.trust(self._base_url)
        self._owns_resolver = resolver is None
        self._resolver = resolver or AsyncIdentityResolver(
            http=self._http,
            plc_url=plc_url,
            timeout=timeout if isinstance(timeout, (int, float)) else 10.0,
            _egress=self._egress,
        )
        self._store = SessionStore(on_change=on_session_change, lock=session_lock)
        self._session_auth = AsyncSessionAuth(self._store)
        # The OAuth machinery is built (and imported) on the first OAuth call only.
        self._on_session_change = on_session_change
        self._session_lock = session_lock
        self._oauth_holder: OAuthSessionHolder | None = None
        self._oauth_auth_shell: AsyncOAuthAuth | None = None
        self._xrpc = AsyncXrpcClient(
            self._http,
            auth=self._session_auth,
            retry=retry if retry is not None else DEFAULT_RETRY_POLICY,
            egress=self._egress,
            deadline=_check_deadline(deadline),
        )

    # -- lifecycle -----------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP client and resolver this client created (injected ones stay open)."""
        if self._owns_resolver:
            await self._resolver.aclose()
        await self._egress.aclose()
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self: _Client) -> _Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        account = self._account()
        who = f"did={account.did!r}" if account else "unauthenticated"
        return f"<{type(self).__name__} {who} pds={self.pds_url!r}>"

    # -- session -------------------------------------------------------------

    @property
    def _oauth(self) -> OAuthSessionHolder:
        """The OAuth session holder, made on first use."""
        if self._oauth_holder is None:
            from .._oauth.auth import OAuthSessionHolder

            self._oauth_holder = OAuthSessionHolder(
                on_change=_oauth_notifier(self._on_session_change),
                shared_lock=self._session_lock,
                allow_private_hosts=self._egress.policy.allow_private_hosts,
            )
        return self._oauth_holder

    @property
    def _oauth_auth(self) -> AsyncOAuthAuth:
        """The DPoP-signing ``httpx.Auth`` for OAuth sessions, made on first use."""
        if self._oauth_auth_shell is None:
            from .oauth import AsyncOAuthAuth

            self._oauth_auth_shell = AsyncOAuthAuth(self._oauth)
        return self._oauth_auth_shell

    def _oauth_session(self) -> OAuthSession | None:
        """The OAuth session, or ``None`` (without building the OAuth machinery)."""
        holder = self._oauth_holder
        return holder.session if holder is not None else None

    def _account(self) -> _Account | None:
        """The signed-in account (password or OAuth session), or ``None``."""
        oauth = self._oauth_session()
        if oauth is not None:
            return _Account(oauth.did, oauth.handle or "handle.invalid", oauth.pds_url)
        state = self._store.state
        if state is None:
            return None
        return _Account(state.session.did, state.session.handle, state.pds_url)

    def _use_password_auth(self) -> None:
        """A password session replaces any OAuth session."""
        if self._oauth_holder is not None:
            self._oauth_holder.clear()
        self._xrpc.auth = self._session_auth

    def _install_oauth(self, session: OAuthSession, *, notify: bool) -> None:
        """An OAuth session replaces any password session; every call is then DPoP-signed."""
        self._store.clear()
        self._oauth.set(session, notify=notify)
        self._xrpc.auth = self._oauth_auth

    @property
    def is_authenticated(self) -> bool:
        """Whether the client holds a session (password or OAuth)."""
        return self._account() is not None

    @property
    def did(self) -> str:
        """The DID of the authenticated user (``NotAuthenticatedError`` otherwise)."""
        return self._session().did

    @property
    def handle(self) -> str:
        """The handle of the authenticated user (``NotAuthenticatedError`` otherwise)."""
        return self._session().handle

    @property
    def pds_url(self) -> str | None:
        """The PDS this client talks to for the session (or the login base URL)."""
        account = self._account()
        return account.pds_url if account else self._base_url

    @property
    def allow_private_hosts(self) -> bool:
        """Whether local development is on: targets from identity data may be
        private or plain-http hosts (see the constructor)."""
        return self._egress.policy.allow_private_hosts

    @property
    def resolver(self) -> AsyncIdentityResolver:
        """The identity resolver used for other accounts and for login without base_url."""
        return self._resolver

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        """The server's rate-limit state as of the last response that carried one.

        ``None`` until a response with ``RateLimit-*`` or ``Retry-After``
        headers arrives (the reference PDS sends them when its limits are on).
        """
        return self._xrpc.rate_limit

    async def _login_base(self, identifier: str) -> tuple[str, str | None]:
        """Where the password may go, and the DID the session must be for (if known).

        The base is ``base_url``, or the PDS the identity resolves to. A failed
        resolution is an error (``ResolutionError``), never a reason to send
        the password somewhere else; an email cannot be resolved, so it needs
        ``base_url``.
        """
        if self._base_url:
            return self._base_url, identifier if is_valid_did(identifier) else None
        if is_valid_did(identifier):
            return await self._resolver.resolve_pds(identifier), identifier
        if is_valid_handle(identifier):
            did = await self._resolver.resolve_handle(identifier)
            return await self._resolver.resolve_pds(did), did
        raise InvalidArgumentError(
            "cannot find the PDS of an email identifier: pass base_url (the PDS or entryway)"
        )

    async def login(self, handle: str, password: str) -> None:
        """Authenticate with the ATProto PDS (``com.atproto.server.createSession``).

        Args:
            handle: a handle, email or DID.
            password: an app password (recommended) or the account password.

        Raises:
            AuthenticationError: the PDS refused the credentials.
        """
        identifier = _check_secret("handle", handle).strip()
        secret = _check_secret("password", password)
        base, expected_did = await self._login_base(identifier)
        # Not idempotent for retrying: every attempt counts against the PDS's
        # tight createSession limit (30 per 5 min) and a lost answer leaves an
        # orphan session, so it is resent only if it never reached the server.
        data = await self._xrpc.procedure(
            base,
            CREATE_SESSION,
            {"identifier": identifier, "password": secret},
            auth=False,
            idempotent=False,
        )
        session = self._parse_session(data, CREATE_SESSION)
        if expected_did is not None and session.did != expected_did:
            raise InvalidResponseError(
                f"{CREATE_SESSION}: the PDS answered a session for {session.did},"
                f" not {expected_did} that {identifier} names"
            )
        pds = pds_from_session(session) or base
        if pds != base:
            self._egress.check(pds)  # the didDoc's PDS came from the server: public only
        self._use_password_auth()
        self._store.set(SessionState(session=session, pds_url=pds))
        log.info("logged in as %s", session.did)

    @staticmethod
    def _parse_session(data: Any, nsid: str) -> Session:
        from .._models import Session  # pydantic loads with the first session

        try:
            session = Session.model_validate(data)
        except ValueError as exc:
            raise InvalidResponseError(f"{nsid}: answer is not a session") from exc
        if not is_valid_did(session.did):
            raise InvalidResponseError(f"{nsid}: answer holds no valid DID")
        if not is_valid_session_handle(session.handle):
            raise InvalidResponseError(f"{nsid}: answer holds no valid handle")
        if not (is_valid_token(session.access_jwt) and is_valid_token(session.refresh_jwt)):
            raise InvalidResponseError(f"{nsid}: answer holds a malformed token")
        return session

    async def login_with_session(self, session_string: str, *, verify: bool = True) -> None:
        """Authenticate using an exported session string, without the password.

        The session is checked with ``com.atproto.server.getSession`` (refreshing
        an expired access token on the way). A revoked session raises and leaves
        the client unauthenticated. With ``verify=False`` the session is installed
        without a request (for cold starts); problems surface on the first call.

        An OAuth session (the JSON that ``export_session()`` gives after
        :meth:`login_oauth`) is restored the same way, with its DPoP key.
        """
        if isinstance(session_string, str) and session_string.lstrip().startswith("{"):
            await self._restore_oauth(session_string, verify=verify)
            return
        state = SessionState.decode(session_string, default_pds=self._base_url)
        self._egress.check(state.pds_url)  # a PDS named in the string is checked like a didDoc's
        self._use_password_auth()
        self._store.set(state, notify=False)
        if not verify:
            return
        try:
            info = await self._xrpc.query(state.pds_url, GET_SESSION, auth=True)
        except BaseException:
            self._store.clear()
            raise
        current = self._store.state
        if (
            current is not None
            and isinstance(info, dict)
            and "did" in info
            and info["did"] != current.session.did
        ):
            self._store.clear()
            raise InvalidResponseError(
                f"{GET_SESSION}: the PDS answered for {str(info['did'])[:100]!r},"
                f" not {current.session.did}"
            )
        if (
            current is not None
            and isinstance(info, dict)
            and info.get("did") == current.session.did  # a handle only for our own DID
            and isinstance(info.get("handle"), str)
            and info["handle"] != current.session.handle
        ):
            if not is_valid_session_handle(info["handle"]):
                self._store.clear()
                raise InvalidResponseError(f"{GET_SESSION}: answer holds no valid handle")
            old = current.session
            updated = SessionTokens(old.did, info["handle"], old.access_jwt, old.refresh_jwt)
            self._store.set(SessionState(session=updated, pds_url=current.pds_url), notify=False)

    async def _restore_oauth(self, text: str, *, verify: bool) -> None:
        from .._oauth.session import OAuthSession

        session = OAuthSession.from_json(text, allow_private_hosts=self.allow_private_hosts)
        self._egress.check(session.pds_url)  # from identity data, like a session string's PDS
        self._install_oauth(session, notify=False)
        if not verify:
            return
        try:
            await self._xrpc.query(session.pds_url, GET_SESSION, auth=True)
        except ScopeMissingError:
            pass  # the token was accepted; the granted scope just does not cover getSession
        except BaseException:
            self._oauth.clear()
            raise

    def export_session(self) -> str:
        """Export the current session for later reuse with ``login_with_session()``.

        The string holds the tokens (and, for OAuth, the DPoP private key):
        store it like a password.
        """
        oauth = self._oauth_session()
        if oauth is not None:
            return oauth.to_json()
        return self._store.require().encode()

    async def logout(self) -> None:
        """Revoke the session (``deleteSession``, or OAuth revocation) and forget it locally."""
        oauth = self._oauth_session()
        if oauth is not None:
            from .._oauth.flow import revoke_session
            from .oauth import run_flow

            try:
                await run_flow(revoke_session(oauth, nonces=self._oauth.nonces), self._egress)
            finally:
                self._oauth.clear()
            return
        state = self._store.require()
        try:
            await self._xrpc.procedure(
                state.pds_url,
                DELETE_SESSION,
                auth=False,
                headers={"Authorization": f"Bearer {state.session.refresh_jwt}"},
            )
        finally:
            self._store.clear()

    # -- any XRPC call -------------------------------------------------------

    def _call_target(self, service_url: str | None, auth: bool | None) -> tuple[str, bool]:
        """Where a generic call goes, and whether it carries the session's tokens.

        Tokens only ever go to the session's own PDS: a call to another
        ``service_url`` is unauthenticated (use ``proxy=`` to reach another
        service with the user's identity; the PDS signs for it).
        """
        state = self._account()
        if service_url is None:
            if state is None:
                if self._base_url is None:
                    raise NotAuthenticatedError(
                        "Not authenticated: log in, or pass service_url for a public call"
                    )
                return self._base_url, False
            return state.pds_url, True if auth is None else auth
        check_user_url("service_url", service_url)
        base = service_url.rstrip("/")
        self._egress.trust(base)  # a URL the caller names is the caller's choice
        if auth:
            if state is None:
                raise NotAuthenticatedError(NOT_AUTHENTICATED)
            if base != state.pds_url:
                raise InvalidArgumentError(
                    "the session's tokens only go to its own PDS; use proxy= to reach another"
                    " service as this user"
                )
        return base, bool(auth)

    async def query(
        self,
        nsid: str,
        params: Mapping[str, Any] | None = None,
        *,
        proxy: str | None = None,
        accept_labelers: Sequence[str] | None = None,
        service_url: str | None = None,
        auth: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call any XRPC query (``GET /xrpc/<nsid>``) and return its JSON answer.

        Args:
            nsid: the method, e.g. ``app.bsky.actor.getProfile``.
            params: query parameters: str, int, bool, ``None`` (left out) or a
                list of those (the key repeats).
            proxy: ``"<did>#<service id>"``: the PDS forwards the call to that
                service (``atproto-proxy``), signed as this user.
            accept_labelers: labeler DIDs (each may end ``;redact``) for
                ``atproto-accept-labelers``.
            service_url: send to this server instead of the session's PDS
                (unauthenticated; the session's tokens never leave its PDS).
            auth: sign with the session (default: when the call goes to the
                session's PDS).
            headers: extra request headers.

        Queries change nothing, so failed ones are retried within the client's
        ``RetryPolicy``. Bad arguments raise ``InvalidArgumentError`` (or
        ``InvalidIdentifierError`` for the NSID) before any request; server
        errors are typed ``XrpcError`` subclasses.
        """
        extra = call_headers(nsid, proxy=proxy, accept_labelers=accept_labelers, headers=headers)
        base, signed = self._call_target(service_url, auth)
        return await self._xrpc.query(base, nsid, check_params(params), auth=signed, headers=extra)

    async def procedure(
        self,
        nsid: str,
        input: Mapping[str, Any] | bytes | bytearray | memoryview | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        content_type: str | None = None,
        idempotent: bool = False,
        proxy: str | None = None,
        accept_labelers: Sequence[str] | None = None,
        service_url: str | None = None,
        auth: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call any XRPC procedure (``POST /xrpc/<nsid>``) and return its JSON answer.

        Args:
            nsid: the method, e.g. ``com.atproto.repo.createRecord``.
            input: the body: a JSON object (a mapping of JSON-serialisable
                values; XRPC JSON inputs are objects), or ``bytes`` sent raw
                with ``content_type`` (``application/octet-stream`` by default).
            params: query parameters, as for :meth:`query`.
            content_type: the ``Content-Type`` of a ``bytes`` input.
            idempotent: whether sending the call twice does no more than once;
                only then is it resent after a failure that may have reached
                the server (a connect failure or a 429 is always retried).
            proxy, accept_labelers, service_url, auth, headers: as for :meth:`query`.

        Returns ``{}`` for an empty answer.
        """
        extra = call_headers(nsid, proxy=proxy, accept_labelers=accept_labelers, headers=headers)
        base, signed = self._call_target(service_url, auth)
        if isinstance(input, (bytes, bytearray, memoryview)):
            return await self._xrpc.procedure(
                base,
                nsid,
                content=bytes(input),
                content_type=content_type or "application/octet-stream",
                params=check_params(params),
                auth=signed,
                headers=extra,
                idempotent=idempotent,
            )
        if content_type is not None and content_type != "application/json":
            raise InvalidArgumentError("content_type is for bytes input; data goes as JSON")
        return await self._xrpc.procedure(
            base,
            nsid,
            input,
            params=check_params(params),
            auth=signed,
            headers=extra,
            idempotent=idempotent,
        )

    async def iter_query(
        self,
        nsid: str,
        params: Mapping[str, Any] | None = None,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        proxy: str | None = None,
        accept_labelers: Sequence[str] | None = None,
        service_url: str | None = None,
        auth: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[bytes]:
        """Call a query whose answer is bytes (a CAR file, a blob) and stream it in chunks.

        For large outputs such as ``com.atproto.sync.getRepo``: memory stays at
        one chunk whatever the size. The request is sent on the first
        ``next()``; a failure before the answer starts is retried like any
        query, a failure while streaming reaches the caller. Arguments as for
        :meth:`query`.
        """
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
            raise InvalidArgumentError(f"chunk_size must be a positive int, got {chunk_size!r}")
        extra = call_headers(nsid, proxy=proxy, accept_labelers=accept_labelers, headers=headers)
        base, signed = self._call_target(service_url, auth)
        request = self._http.build_request(
            "GET", xrpc_url(base, nsid), params=encode_params(check_params(params)), headers=extra
        )
        response = await self._xrpc.send(request, nsid, auth=signed, stream=True)
        with wrap_transport_errors(nsid):
            async with body_chunks(response, chunk_size) as chunks:
                async for chunk in chunks:
                    yield chunk

    async def query_bytes(
        self,
        nsid: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        proxy: str | None = None,
        accept_labelers: Sequence[str] | None = None,
        service_url: str | None = None,
        auth: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """Call a query whose answer is bytes and return them, at most ``max_bytes``.

        Raises ``ResponseTooLargeError`` past ``max_bytes`` (use
        :meth:`iter_query` to stream a large answer). Arguments as for :meth:`query`.
        """
        check_limit(max_bytes, upper=None)
        buffer = bytearray()
        stream = self.iter_query(
            nsid,
            params,
            proxy=proxy,
            accept_labelers=accept_labelers,
            service_url=service_url,
            auth=auth,
            headers=headers,
        )
        async with closed_after(stream) as chunks:
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) > max_bytes:
                    raise ResponseTooLargeError(f"{nsid}: response body exceeds {max_bytes} bytes")
        return bytes(buffer)

    # -- records -------------------------------------------------------------

    def _session(self) -> _Account:
        account = self._account()
        if account is None:
            raise NotAuthenticatedError(NOT_AUTHENTICATED)
        return account

    def _is_self(self, authority: str) -> bool:
        state = self._account()
        if state is None:
            return False
        return authority == state.did or authority.lower() == state.handle.lower()

    async def _locate(self, repo: str) -> tuple[str, str, bool]:
        """Where to read ``repo``: (repo id to send, PDS base URL, use auth)."""
        if self._is_self(repo):
            state = self._session()
            return state.did, state.pds_url, True
        if is_valid_did(repo):
            return repo, await self._resolver.resolve_pds(repo), False
        identity = await self._resolver.resolve(repo)
        if not identity.handle_is_valid:
            raise HandleResolutionError(
                repo, f"resolves to {identity.did}, whose DID document does not claim it"
            )
        return identity.did, identity.pds_endpoint, False

    async def _write(self, nsid: str, data: dict[str, Any], *, idempotent: bool) -> StrongRef:
        state = self._session()
        answer = await self._xrpc.procedure(state.pds_url, nsid, data, idempotent=idempotent)
        ref = write_result(answer)
        if ref is None:
            raise InvalidResponseError(f"{nsid}: answer has no uri/cid")
        return ref

    async def create_record(
        self,
        collection: str,
        record: dict[str, Any],
        *,
        rkey: str | None = None,
        validate: bool = False,
    ) -> RecordUri:
        """Create a record in the user's repository.

        Args:
            collection: the NSID of the collection, e.g. ``ac.foundation.dataset.record``.
            record: the record; its ``$type`` must equal ``collection``.
            rkey: an explicit record key; the PDS generates a TID when ``None``.
            validate: ask the PDS to validate against the Lexicon schema (off for
                custom lexicons the PDS does not know).

        Returns:
            The AT-URI of the new record, a :class:`~atmosphere.RecordUri` whose
            ``collection`` and ``rkey`` are always set (:meth:`create_record_ref`
            also gives its CID).
        """
        ref = await self.create_record_ref(collection, record, rkey=rkey, validate=validate)
        return RecordUri.parse(ref["uri"])

    async def create_record_ref(
        self,
        collection: str,
        record: dict[str, Any],
        *,
        rkey: str | None = None,
        validate: bool = False,
    ) -> StrongRef:
        """Create a record in the user's repository; return its strong ref (URI and CID).

        The CID pins the version just written (for a ``strongRef`` or a later
        swap). :meth:`create_record` is the same call returning the URI alone.

        Args:
            collection: the NSID of the collection, e.g. ``ac.foundation.dataset.record``.
            record: the record; its ``$type`` must equal ``collection``.
            rkey: an explicit record key; the PDS generates a TID when ``None``.
            validate: ask the PDS to validate against the Lexicon schema (off for
                custom lexicons the PDS does not know).

        Returns:
            ``{"uri": ..., "cid": ...}`` of the new record.
        """
        validate_nsid(collection)
        check_record(collection, record)
        if rkey is not None:
            validate_record_key(rkey)
        state = self._session()
        data: dict[str, Any] = {
            "repo": state.did,
            "collection": collection,
            "record": record,
            "validate": bool(validate),
        }
        if rkey is not None:
            data["rkey"] = rkey
        # Without an rkey the PDS picks a new key on every call: a resend after a
        # lost answer would create a duplicate, so only explicit keys are retried.
        return await self._write(CREATE_RECORD, data, idempotent=rkey is not None)

    async def put_record(
        self,
        collection: str,
        rkey: str,
        record: dict[str, Any],
        *,
        validate: bool = False,
        swap_commit: str | None = None,
        swap_record: str | None = None,
    ) -> RecordUri:
        """Create or update a record at a specific key.

        ``swap_commit`` / ``swap_record`` are compare-and-swap CIDs: the write
        fails with ``InvalidSwapError`` if the repo or record moved on.
        Returns the record's AT-URI (:meth:`put_record_ref` also gives its CID).
        """
        ref = await self.put_record_ref(
            collection,
            rkey,
            record,
            validate=validate,
            swap_commit=swap_commit,
            swap_record=swap_record,
        )
        return RecordUri.parse(ref["uri"])

    async def put_record_ref(
        self,
        collection: str,
        rkey: str,
        record: dict[str, Any],
        *,
        validate: bool = False,
        swap_commit: str | None = None,
        swap_record: str | None = None,
    ) -> StrongRef:
        """Create or update a record at a specific key; return its strong ref (URI and CID).

        ``swap_commit`` / ``swap_record`` are compare-and-swap CIDs: the write
        fails with ``InvalidSwapError`` if the repo or record moved on.
        """
        validate_nsid(collection)
        check_record(collection, record)
        validate_record_key(rkey)
        for cid in (swap_commit, swap_record):
            if cid is not None:
                parse_cid(cid)
        state = self._session()
        data: dict[str, Any] = {
            "repo": state.did,
            "collection": collection,
            "rkey": rkey,
            "record": record,
            "validate": bool(validate),
        }
        if swap_commit is not None:
            data["swapCommit"] = swap_commit
        if swap_record is not None:
            data["swapRecord"] = swap_record
        return await self._write(PUT_RECORD, data, idempotent=True)

    @staticmethod
    def _record_uri(uri: str | AtUri) -> AtUri:
        parsed = uri if isinstance(uri, AtUri) else AtUri.parse(uri)
        if parsed.collection is None or parsed.rkey is None:
            raise InvalidArgumentError(f"{parsed} does not name a record (collection and rkey)")
        return parsed

    async def delete_record(self, uri: str | AtUri, *, swap_commit: str | None = None) -> None:
        """Delete a record from the authenticated user's repository.

        A URI that names another account is refused (``InvalidArgumentError``)
        rather than deleting the same collection/rkey from your own repo.
        """
        parsed = self._record_uri(uri)
        if swap_commit is not None:
            parse_cid(swap_commit)
        state = self._session()
        if not self._is_self(parsed.authority):
            raise InvalidArgumentError(
                f"{parsed} is in another account's repo; only {state.did} can be written"
            )
        data: dict[str, Any] = {
            "repo": state.did,
            "collection": parsed.collection,
            "rkey": parsed.rkey,
        }
        if swap_commit is not None:
            data["swapCommit"] = swap_commit
        # Deleting a missing record answers 200 {}: safe to resend.
        await self._xrpc.procedure(state.pds_url, DELETE_RECORD, data, idempotent=True)

    async def apply_writes(
        self,
        writes: Sequence[Write],
        *,
        validate: bool = False,
        batch_size: int = MAX_WRITES_PER_BATCH,
    ) -> list[RecordUri]:
        """Apply creates, updates and deletes in batches (``com.atproto.repo.applyWrites``).

        Args:
            writes: :class:`~atmosphere.Create`, ``Update`` and ``Delete``
                operations, applied in order. Creates without an ``rkey`` get a
                TID chosen here, so a batch is never applied twice.
            validate: ask the PDS to validate records against their Lexicons.
            batch_size: writes per request (at most the PDS's limit of 200).

        Returns:
            The AT-URI of each write, in input order.

        Each batch is atomic; the whole list is not. If the first batch fails
        its error is raised as is; if a later one fails,
        :class:`PartialWriteError` carries the URIs already applied
        (``applied``) and the original error as ``__cause__``.
        """
        batches = list(batch_writes(writes, max_writes=batch_size))
        state = self._session()
        uris: list[RecordUri] = []
        for batch in batches:
            try:
                answer = await self._xrpc.procedure(
                    state.pds_url,
                    "com.atproto.repo.applyWrites",
                    build_apply_writes(state.did, batch, validate=validate),
                    idempotent=True,  # every create carries its rkey: no duplicates
                )
            except AtmosphereError as exc:
                if not uris:
                    raise
                raise PartialWriteError(uris, len(writes), exc) from exc
            uris.extend(parse_apply_writes(state.did, batch, answer))
        return uris

    async def create_records(
        self,
        collection: str,
        records: Iterable[dict[str, Any]],
        *,
        validate: bool = False,
    ) -> list[RecordUri]:
        """Create many records in one collection, batched; URIs in input order."""
        validate_nsid(collection)
        return await self.apply_writes([Create(collection, r) for r in records], validate=validate)

    async def get_record(self, uri: str | AtUri) -> dict[str, Any]:
        """Fetch a record's value by AT-URI, from the PDS hosting that account."""
        envelope = await self.get_record_envelope(uri)
        return envelope["value"]

    async def get_record_envelope(self, uri: str | AtUri) -> Record:
        """Fetch a record as an envelope ``{"uri", "cid", "value"}`` (the shape
        ``list_records`` returns), e.g. to learn the CID for a swap or a strongRef."""
        parsed = self._record_uri(uri)
        repo, base, auth = await self._locate(parsed.authority)
        answer = await self._xrpc.query(
            base,
            GET_RECORD,
            {"repo": repo, "collection": parsed.collection, "rkey": parsed.rkey},
            auth=auth,
        )
        envelope = record_envelope(answer)
        if envelope is None:
            raise InvalidResponseError("com.atproto.repo.getRecord: answer has no record value")
        assert parsed.collection is not None  # _record_uri checked both
        check_records([envelope], repo, parsed.collection, parsed.rkey)
        return envelope

    async def _page(
        self, collection: str, repo: str | None, limit: int, cursor: str | None
    ) -> RecordPage:
        if repo is None:
            state = self._session()
            target, base, auth = state.did, state.pds_url, True
        else:
            target, base, auth = await self._locate(validate_at_identifier(repo))
        answer = await self._xrpc.query(
            base,
            LIST_RECORDS,
            {"repo": target, "collection": collection, "limit": limit, "cursor": cursor},
            auth=auth,
        )
        page = record_page(answer)
        if page is None:
            raise InvalidResponseError("com.atproto.repo.listRecords: malformed page")
        records, cursor = page
        check_records(records, target, collection)
        next_cursor = cursor if cursor and len(records) >= limit else None
        return RecordPage(records, next_cursor)

    async def list_records(
        self,
        collection: str,
        *,
        repo: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """List one page of records in a collection: their values, as atdata's client does.

        Args:
            collection: the collection's NSID.
            repo: the account (DID or handle) whose repo to list; the
                authenticated user's by default. Another account's repo is
                read from that account's own PDS.
            limit: records per page, 1..100.
            cursor: from a previous call, to get the next page.

        Returns:
            ``(records, next_cursor)``: each record is its value (a plain
            dict, ``$type`` and all); ``next_cursor`` is ``None`` when there
            are no more records. :meth:`list_record_page` returns the same
            page with each record's URI and CID.
        """
        records, next_cursor = await self.list_record_page(
            collection, repo=repo, limit=limit, cursor=cursor
        )
        return [record["value"] for record in records], next_cursor

    async def list_record_page(
        self,
        collection: str,
        *,
        repo: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> RecordPage:
        """List one page of records in a collection, each with its URI and CID.

        Arguments as for :meth:`list_records`.

        Returns:
            A :class:`~atmosphere.RecordPage` ``(records, cursor)``: each record
            is a :class:`~atmosphere.Record` ``{"uri", "cid", "value"}``;
            ``cursor`` is ``None`` when there are no more records.
        """
        validate_nsid(collection)
        check_limit(limit)
        return await self._page(collection, repo, limit, cursor)

    async def iter_records(
        self, collection: str, *, repo: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Record]:
        """Yield every record of a collection with its URI and CID, following cursors.

        Each item is a :class:`~atmosphere.Record` ``{"uri", "cid", "value"}``;
        ``page_size`` (1..100) records are fetched per request.
        """
        validate_nsid(collection)
        check_limit(page_size)
        if repo is not None:
            validate_at_identifier(repo)
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            records, cursor = await self._page(collection, repo, page_size, cursor)
            for record in records:
                yield record
            if cursor is None:
                return
            _check_new_cursor(cursor, seen)

    async def _collect(self, collection: str, repo: str | None, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` record values of a collection, following cursors."""
        check_limit(limit, upper=None)
        if repo is not None:
            validate_at_identifier(repo)
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        while len(out) < limit:
            want = min(PAGE_MAX, limit - len(out))
            records, cursor = await self._page(collection, repo, want, cursor)
            # A server may send more than it was asked for.
            out.extend(record["value"] for record in records[:want])
            if cursor is None:
                break
            _check_new_cursor(cursor, seen)
        return out

    # -- blobs ---------------------------------------------------------------

    _blob_limits: dict[str, int | None] | None = None
    """Each PDS's advertised ``blobUploadLimit``, once asked (``None``: not advertised)."""

    async def _blob_upload_limit(self, pds_url: str) -> int | None:
        """The PDS's upload limit from ``describeServer`` (cached); ``None`` if it names none."""
        if self._blob_limits is None:
            self._blob_limits = {}
        if pds_url in self._blob_limits:
            return self._blob_limits[pds_url]
        try:
            answer = await self._xrpc.query(pds_url, DESCRIBE_SERVER)
        except XrpcError as exc:
            if exc.status == 429 or (exc.status >= 500 and exc.status != 501):
                return None  # a passing failure: ask again next time
            answer = None  # the server does not describe itself
        except (TransportError, InvalidResponseError) as exc:
            log.debug("%s: %s; uploading without a known size limit", DESCRIBE_SERVER, exc)
            return None
        limit = blob_upload_limit(answer)
        self._blob_limits[pds_url] = limit
        return limit

    async def upload_blob(
        self,
        data: BlobInput,
        mime_type: str = "application/octet-stream",
        *,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> BlobRef:
        """Upload a blob to the PDS and return its ref, ready to embed in a record.

        Memory stays bounded whatever the size: files are streamed with an exact
        ``Content-Length`` and hashed as they are sent; a stream of unknown
        length is first copied to a temporary file (see :mod:`atmosphere._blobsource`).
        A resend (after a token refresh or a retryable failure) starts again
        from the first byte; a non-seekable stream or iterator is never read
        twice (the resend comes from the temporary copy).

        Args:
            data: ``bytes``, a path, a binary file object (read from its current
                position to its end; not closed), or an iterable of byte chunks.
            mime_type: the blob's MIME type (the PDS may store a sniffed one).
            progress: ``progress(done_bytes, total_bytes)`` as bytes are sent;
                never goes backwards, even across a resend, and ends with
                ``(size, size)``.
            timeout: seconds allowed for each step of the upload (connect,
                each write, the read of the answer) instead of the client's
                timeouts; never a deadline for the whole transfer (atdata's
                blob store passes one).

        Returns:
            ``{"$type": "blob", "ref": {"$link": cid}, "mimeType": ..., "size": n}``.

        Raises:
            PayloadTooLargeError: the blob is over the PDS's limit. When the PDS
                advertises one (``describeServer``'s ``blobUploadLimit``), the
                upload is refused before sending (``.limit`` set); otherwise it
                is the PDS's 413. ``.size`` is the blob's size (``None`` for a
                stream refused part-way).
            IntegrityError: the PDS's CID (or size) differs from the local one.
        """
        if not isinstance(mime_type, str) or "/" not in mime_type:
            raise InvalidArgumentError(
                f"mime_type must look like 'type/subtype', got {mime_type!r}"
            )
        state = self._session()
        with open_blob_source(data) as source:  # checks the input; reads no stream yet
            await prepare_source(source, await self._blob_upload_limit(state.pds_url))
            answer = await self._xrpc.procedure(
                state.pds_url,
                UPLOAD_BLOB,
                # A factory: each resend gets a fresh iterator from the first byte.
                content=lambda: source_chunks(source, progress),
                content_type=mime_type,
                body_size=source.size,
                idempotent=True,  # content-addressed: a resend stores the same blob
                timeout=_check_timeout(timeout),
            )
            return check_uploaded_blob(answer, source)

    # unasync: async-only
    async def upload_blobs(
        self,
        blobs: Iterable[BlobInput | tuple[BlobInput, str]],
        mime_type: str = "application/octet-stream",
        *,
        max_concurrency: int = 4,
    ) -> list[BlobRef]:
        """Upload many blobs at once, at most ``max_concurrency`` in flight.

        Each item is what :meth:`upload_blob` accepts, or a ``(data, mime_type)``
        pair. Returns the blob refs in input order. The first failure cancels
        the uploads still running and is raised.
        """
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise InvalidArgumentError("max_concurrency must be an int")
        if max_concurrency < 1:
            raise InvalidArgumentError(f"max_concurrency must be >= 1, got {max_concurrency}")
        items = [b if isinstance(b, tuple) else (b, mime_type) for b in blobs]
        self._session()
        import asyncio  # not at module level: see _concurrency.async_sleep

        gate = asyncio.Semaphore(max_concurrency)

        async def one(data: BlobInput, mime: str) -> BlobRef:
            async with gate:
                return await self.upload_blob(data, mime)

        tasks = [asyncio.ensure_future(one(data, mime)) for data, mime in items]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    # unasync: end

    async def _blob_base(self, did: str) -> str:
        validate_did(did)
        if self._is_self(did):
            return self._session().pds_url
        return await self._resolver.resolve_pds(did)

    async def get_blob_url(self, did: str, cid: str) -> str:
        """The direct ``com.atproto.sync.getBlob`` URL of a blob on its PDS."""
        parse_cid(cid)
        base = await self._blob_base(did)
        query = httpx.QueryParams(encode_params({"did": did, "cid": cid}))
        return f"{xrpc_url(base, GET_BLOB)}?{query}"

    async def _blob_bound(self, base: str, max_size: int | None) -> int:
        """The most bytes a blob from ``base`` may have: the caller's ``max_size``,
        the PDS's advertised upload limit (no larger blob can be stored there),
        else :data:`DEFAULT_MAX_BLOB_SIZE`; the smallest that is known."""
        bounds = [DEFAULT_MAX_BLOB_SIZE] if max_size is None else [max_size]
        server = await self._blob_upload_limit(base)
        if server is not None:
            bounds.append(server)
        return min(bounds)

    @asynccontextmanager
    async def _blob_response(
        self,
        did: str,
        cid: str,
        max_size: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[tuple[AsyncIterator[bytes], int | None]]:
        """The open ``getBlob`` answer, its body's chunks (bounded) and its declared size.

        The body is refused before it is read when it was encoded although
        ``identity`` was asked for, or declares more bytes than the bound; the
        chunks stop with ``ResponseTooLargeError`` as soon as they pass it.
        """
        parse_cid(cid)
        if max_size is not None:
            check_limit(max_size, upper=None)
        base = await self._blob_base(did)
        bound = await self._blob_bound(base, max_size)
        nsid = GET_BLOB
        request = self._http.build_request(
            "GET",
            xrpc_url(base, nsid),
            params=encode_params({"did": did, "cid": cid}),
            # The exact stored bytes with their Content-Length (known total for
            # progress), not a gzip stream the server compresses on the fly.
            headers={"Accept-Encoding": "identity"},
        )
        response = await self._xrpc.send(request, nsid, auth=False, stream=True)
        try:
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise InvalidResponseError(
                    f"{nsid}: the answer is {encoding[:40]!r}-encoded; identity was asked for"
                )
            total = self._declared_size(response)
            if total is not None and total > bound:
                raise ResponseTooLargeError(
                    f"{nsid}: the answer declares {total} bytes, over {bound}"
                )
            limit = bound if total is None else total
            async with (
                body_chunks(response, chunk_size) as raw,
                closed_after(bounded(raw, limit, nsid)) as chunks,
            ):
                yield chunks, total
        finally:
            await response.aclose()

    @staticmethod
    def _declared_size(response: httpx.Response) -> int | None:
        declared = response.headers.get("content-length", "").strip()
        if not (declared.isascii() and declared.isdigit()):  # "²".isdigit() is true
            return None
        return int(declared) if len(declared) < 19 else 10**19  # over any bound

    async def iter_blob(
        self,
        did: str,
        cid: str,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: ProgressCallback | None = None,
        max_size: int | None = None,
    ) -> AsyncIterator[bytes]:
        """Stream a blob in chunks of up to ``chunk_size`` bytes, verified against its CID.

        What is guaranteed: every chunk but the last is yielded as soon as the
        next one has arrived, so before the whole blob is checked; the last is
        yielded only after all bytes hashed to ``cid``, and on a mismatch
        :class:`IntegrityError` is raised in its place. The chunks are
        therefore verified only once the iterator ends normally: commit
        nothing derived from them before that. ``progress(done, total)``
        counts bytes received (``total`` from ``Content-Length``, else ``None``).
        The request is sent on the first ``next()``.

        The download is bounded: by ``max_size`` (bytes) when given, by the
        PDS's advertised ``blobUploadLimit``, else by ``DEFAULT_MAX_BLOB_SIZE``
        (1 GiB), and by the declared ``Content-Length``; past the smallest,
        :class:`ResponseTooLargeError` is raised at once. An answer in a
        content encoding that was not asked for (gzip …) is refused
        (:class:`InvalidResponseError`) before it is read.
        """
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
            raise InvalidArgumentError(f"chunk_size must be a positive int, got {chunk_size!r}")
        async with self._blob_response(did, cid, max_size, chunk_size) as (chunks, total):
            verified = iter_verified(chunks, cid, total=total, progress=progress)
            async with closed_after(verified) as out:
                async for chunk in out:
                    yield chunk

    async def download_blob(
        self,
        did: str,
        cid: str,
        path: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
        max_size: int | None = None,
    ) -> int:
        """Download a blob to ``path``, verified, with bounded memory and size.

        The bytes go to a temporary file in the same directory, are checked
        against ``cid``, then renamed into place atomically (replacing any
        file at ``path``). A failed or tampered download leaves no file
        behind, and an existing file at ``path`` untouched. Returns the size
        in bytes. ``progress(done, total)`` counts bytes received. The size
        is bounded as for :meth:`iter_blob` (``max_size`` …): the temporary
        file never grows past the bound.

        Raises:
            IntegrityError: the bytes do not hash to ``cid``.
            BlobNotFoundError: the PDS has no such (referenced) blob.
        """
        target = os.fspath(path)
        if os.path.isdir(target):
            raise InvalidArgumentError(f"{target!r} is a directory")
        async with self._blob_response(did, cid, max_size) as (chunks, total):
            return await write_verified(chunks, cid, target, total=total, progress=progress)

    async def get_blob(self, did: str, cid: str, *, max_size: int | None = None) -> bytes:
        """Download a blob from the PDS named in the DID's document, verified against its CID.

        Bounded as :meth:`iter_blob` is, but by default to 256 MiB
        (``DEFAULT_MAX_BLOB_MEMORY``; ``max_size`` in bytes sets another
        bound): memory never holds more than the bound.

        Raises:
            IntegrityError: the bytes do not hash to ``cid``.
            BlobNotFoundError: the PDS has no such (referenced) blob.
        """
        buffer = io.BytesIO()  # grows in place: no second copy when done
        bound = DEFAULT_MAX_BLOB_MEMORY if max_size is None else max_size
        async with closed_after(self.iter_blob(did, cid, max_size=bound)) as chunks:
            async for chunk in chunks:
                buffer.write(chunk)
        return buffer.getvalue()
