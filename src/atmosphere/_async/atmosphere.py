"""atdata 0.7's face of the asyncio client: ``AsyncAtmosphere``.

The same core as the seed face (:mod:`atmosphere._async.atdata`), with atdata
0.7's API on top: the ``login`` / ``from_session`` / ``from_env`` classmethods,
an optional AppView (queries straight to it, procedures through the user's
PDS with ``atproto-proxy``), ``list_labels`` and the AppView's own calls.
Default namespace: ``science.alt.dataset``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import httpx

from .._appview import APPVIEW_SERVICE_ID, MAX_ENTRIES_PER_CALL, parse_appview
from .._defaults import DEFAULT_PLC_URL
from .._lexicons import SCIENCE_ALT, LexiconLayout
from .._retry import RetryPolicy
from .._session import SessionCallback, SessionLock
from ..errors import (
    AppViewRequiredError,
    InvalidArgumentError,
    InvalidResponseError,
    MissingCredentialsError,
)
from .atdata import AsyncAtdataFace
from .client import check_limit
from .resolver import AsyncIdentityResolver
from .xrpc import DEFAULT_DEADLINE

__all__ = ["AsyncAtmosphere"]

_A = TypeVar("_A", bound="AsyncAtmosphere")

SEARCH_MAX = 100
"""The most results an AppView search returns (atdata caps ``limit`` there)."""


def _field(answer: Any, key: str, nsid: str) -> list[Any]:
    """``answer[key]`` of an AppView answer: a list (empty when absent)."""
    if not isinstance(answer, dict):
        raise InvalidResponseError(f"{nsid}: the answer is not a JSON object")
    value = answer.get(key, [])
    if not isinstance(value, list):
        raise InvalidResponseError(f"{nsid}: {key!r} is not a list")
    return value


def _object(answer: Any, nsid: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise InvalidResponseError(f"{nsid}: the answer is not a JSON object")
    return answer


def _search_limit(limit: int) -> int:
    return min(check_limit(limit, upper=None), SEARCH_MAX)


class AsyncAtmosphere(AsyncAtdataFace):
    """atdata 0.7's ``Atmosphere``: records, blobs, labels and an optional AppView.

    Args:
        base_url: the PDS (or entryway) to log in to; ``None`` finds the
            account's PDS from its handle or DID.
        appview: an atdata AppView, as an https URL (``http://`` for local
            development) or a ``did:web``. Queries (:meth:`xrpc_query`, the
            search calls) go straight to it, unauthenticated; procedures
            (:meth:`xrpc_procedure`) go to the user's PDS with
            ``atproto-proxy: <appview did>#atdata_appview``.
        namespace: the lexicon namespace (default ``science.alt.dataset``,
            collections ``schema``/``entry``/``lens``/``label``).
        allow_private_hosts: local development: targets from identity data
            (another account's PDS, a session's ``didDoc``) may be loopback,
            private or plain-http hosts; ``None`` reads
            ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1``. The classmethods pass it (and
            every other option) to the constructor.
        Everything else: as for :class:`~atmosphere._async.client.AsyncCoreClient`.

    Examples:
        >>> atmo = await AsyncAtmosphere.login("alice.bsky.social", "app-password")
        >>> print(atmo.did)
        'did:plc:...'
    """

    DEFAULT_LAYOUT: ClassVar[LexiconLayout] = SCIENCE_ALT

    def __init__(
        self,
        base_url: str | None = None,
        *,
        appview: str | None = None,
        _client: httpx.AsyncClient | None = None,
        plc_url: str = DEFAULT_PLC_URL,
        resolver: AsyncIdentityResolver | None = None,
        timeout: float | httpx.Timeout | None = None,
        on_session_change: SessionCallback | None = None,
        session_lock: SessionLock | None = None,
        namespace: str | LexiconLayout = SCIENCE_ALT.namespace,
        retry: RetryPolicy | None = None,
        allow_private_hosts: bool | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
    ) -> None:
        self._appview_url: str | None = None
        self._appview_did: str | None = None
        if appview is not None:
            self._appview_url, self._appview_did = parse_appview(appview)
        super().__init__(
            base_url,
            _client=_client,
            plc_url=plc_url,
            resolver=resolver,
            timeout=timeout,
            on_session_change=on_session_change,
            session_lock=session_lock,
            namespace=namespace,
            retry=retry,
            allow_private_hosts=allow_private_hosts,
            deadline=deadline,
        )
        if self._appview_url is not None:
            # The AppView is a URL the user named: their choice, like base_url.
            self._egress.trust(self._appview_url)

    # -- construction ------------------------------------------------------------

    @classmethod
    async def login(  # type: ignore[override]  # atdata 0.7 made it a classmethod
        cls: type[_A],
        handle: str,
        password: str,
        *,
        base_url: str | None = None,
        appview: str | None = None,
        **options: Any,
    ) -> _A:
        """Create a client and log it in (``com.atproto.server.createSession``).

        Args:
            handle: a handle, email or DID.
            password: an app password (recommended) or the account password.
            base_url: the PDS to log in to (``None``: found from the handle).
            appview: an AppView URL or ``did:web`` (see the class).
            options: further keyword options of the constructor
                (``plc_url``, ``resolver``, ``timeout``, ``retry`` ...).

        Raises:
            AuthenticationError: the PDS refused the credentials.
        """
        instance = cls(base_url, appview=appview, **options)
        try:
            await instance._login(handle, password)
        except BaseException:
            await instance.aclose()
            raise
        return instance

    @classmethod
    async def from_session(
        cls: type[_A],
        session_string: str,
        *,
        base_url: str | None = None,
        appview: str | None = None,
        **options: Any,
    ) -> _A:
        """Create a client from a string ``export_session()`` gave, without the password.

        The session is checked with the PDS (an expired access token is
        refreshed on the way). ``options`` as for :meth:`login`.
        """
        instance = cls(base_url, appview=appview, **options)
        try:
            await instance.login_with_session(session_string)
        except BaseException:
            await instance.aclose()
            raise
        return instance

    @classmethod
    async def from_env(cls: type[_A], *, base_url: str | None = None, **options: Any) -> _A:
        """Create a client from ``ATDATA_HANDLE`` and ``ATDATA_PASSWORD`` and log it in.

        ``ATDATA_PDS_URL`` (when set) wins over ``base_url``; ``ATDATA_APPVIEW``
        (when set) is the AppView. ``options`` as for :meth:`login`.

        Raises:
            MissingCredentialsError: (an ``OSError``) handle or password unset.
        """
        handle = os.environ.get("ATDATA_HANDLE")
        password = os.environ.get("ATDATA_PASSWORD")
        if not handle or not password:
            raise MissingCredentialsError(
                "ATDATA_HANDLE and ATDATA_PASSWORD environment variables are required"
            )
        pds_url = os.environ.get("ATDATA_PDS_URL") or base_url
        appview = os.environ.get("ATDATA_APPVIEW") or None
        return await cls.login(handle, password, base_url=pds_url, appview=appview, **options)

    async def _login(self, handle: str, password: str) -> None:
        """Log this client in (the instance method behind the ``login`` classmethod)."""
        await AsyncAtdataFace.login(self, handle, password)

    async def _login_with_session(self, session_string: str) -> None:
        """Restore a session on this client (atdata 0.7's name for ``login_with_session``)."""
        await self.login_with_session(session_string)

    # -- AppView -----------------------------------------------------------------

    @property
    def has_appview(self) -> bool:
        """Whether an AppView is configured."""
        return self._appview_url is not None

    @property
    def appview_url(self) -> str | None:
        """The AppView's base URL, or ``None``."""
        return self._appview_url

    @property
    def appview_did(self) -> str | None:
        """The AppView's ``did:web``, or ``None``."""
        return self._appview_did

    def _require_appview(self, nsid: str) -> tuple[str, str]:
        if self._appview_url is None or self._appview_did is None:
            raise AppViewRequiredError(nsid)
        return self._appview_url, self._appview_did

    async def xrpc_query(self, nsid: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call a query on the AppView, unauthenticated, and return its JSON answer.

        Built on :meth:`query` (``service_url=`` the AppView): parameters are
        validated and encoded, failures retried by the client's policy and
        raised as typed errors.

        Raises:
            AppViewRequiredError: no AppView is configured.
        """
        url, _ = self._require_appview(nsid)
        return await self.query(nsid, params, service_url=url, auth=False)

    async def xrpc_procedure(self, nsid: str, input: Any = None) -> Any:
        """Call a procedure through the user's PDS, proxied to the AppView.

        Sent to the session's PDS with the session's tokens and
        ``atproto-proxy: <appview did>#atdata_appview``; the PDS forwards it
        with a service token signed for the user. Not resent after a failure
        that may have reached the server.

        Raises:
            AppViewRequiredError: no AppView is configured.
            NotAuthenticatedError: no session.
        """
        _, did = self._require_appview(nsid)
        self._ensure_authenticated()
        body = {} if input is None else input
        return await self.procedure(nsid, body, proxy=f"{did}#{APPVIEW_SERVICE_ID}")

    async def search_datasets(
        self,
        q: str,
        *,
        tags: Sequence[str] | None = None,
        schema_ref: str | None = None,
        repo: str | None = None,
        limit: int = 25,
    ) -> list[Any]:
        """Search dataset entries on the AppView (``<namespace>.searchDatasets``).

        ``limit`` above 100 is sent as 100 (the AppView's cap). Returns the
        answer's ``entries``.
        """
        nsid = self.layout.method("searchDatasets")
        params: dict[str, Any] = {"q": q, "limit": _search_limit(limit)}
        if tags is not None:
            params["tags"] = list(tags)
        if schema_ref is not None:
            params["schemaRef"] = schema_ref
        if repo is not None:
            params["repo"] = repo
        return _field(await self.xrpc_query(nsid, params), "entries", nsid)

    async def search_lenses(
        self,
        *,
        source_schema: str | None = None,
        target_schema: str | None = None,
        limit: int = 25,
    ) -> list[Any]:
        """Search lenses by source and/or target schema on the AppView; returns ``lenses``."""
        nsid = self.layout.method("searchLenses")
        params: dict[str, Any] = {"limit": _search_limit(limit)}
        if source_schema is not None:
            params["sourceSchema"] = source_schema
        if target_schema is not None:
            params["targetSchema"] = target_schema
        return _field(await self.xrpc_query(nsid, params), "lenses", nsid)

    async def describe_service(self) -> dict[str, Any]:
        """The AppView's description (``did``, collections, record counts, analytics)."""
        nsid = self.layout.method("describeService")
        return _object(await self.xrpc_query(nsid), nsid)

    async def get_entries(self, uris: Sequence[str]) -> list[Any]:
        """Fetch up to 25 dataset entries by AT-URI from the AppView in one call.

        Raises:
            InvalidArgumentError: (a ``ValueError``) more than 25 URIs.
        """
        if isinstance(uris, str):
            raise InvalidArgumentError("uris must be a list of AT-URIs, not one str")
        uris = list(uris)
        if len(uris) > MAX_ENTRIES_PER_CALL:
            raise InvalidArgumentError(
                f"getEntries supports at most {MAX_ENTRIES_PER_CALL} URIs per call, got {len(uris)}"
            )
        nsid = self.layout.method("getEntries")
        return _field(await self.xrpc_query(nsid, {"uris": uris}), "entries", nsid)

    async def get_entry_stats(self, uri: str, period: str = "week") -> dict[str, Any]:
        """View and search statistics of a dataset entry (``period``: day, week or month)."""
        nsid = self.layout.method("getEntryStats")
        return _object(await self.xrpc_query(nsid, {"uri": uri, "period": period}), nsid)

    # -- records -----------------------------------------------------------------

    async def list_labels(self, repo: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """List the label records' values (``<namespace>.label``), up to ``limit``."""
        return await self._collect(self.layout.label_collection, repo, limit)
