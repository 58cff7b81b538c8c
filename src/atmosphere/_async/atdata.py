"""The atdata faces' shared layer and the seed face, ``AsyncAtmosphereClient``.

:class:`AsyncAtdataFace` adds to the generic client
(:class:`~atmosphere._async.client.AsyncCoreClient`) what both atdata faces
share: the lexicon layout (:mod:`atmosphere._lexicons`), the ``list_*``
helpers (record values, as atdata's return them), ``resolve_did`` and
``_ensure_authenticated``. :class:`AsyncAtmosphereClient` is the seed API
(atdata up to 0.3); ``AsyncAtmosphere`` (:mod:`atmosphere._async.atmosphere`)
is atdata 0.7's.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from .._defaults import DEFAULT_PLC_URL
from .._lexicons import SEED, LexiconLayout, layout_for
from .._retry import RetryPolicy
from .._session import SessionCallback, SessionLock
from .._syntax import is_valid_did, validate_did, validate_handle
from ..errors import HandleResolutionError, InvalidArgumentError
from .client import AsyncCoreClient
from .resolver import AsyncIdentityResolver
from .xrpc import DEFAULT_DEADLINE

__all__ = ["DEFAULT_NAMESPACE", "AsyncAtdataFace", "AsyncAtmosphereClient"]

DEFAULT_NAMESPACE = SEED.namespace
"""The lexicon namespace of the seed API (atdata up to 0.3)."""


class AsyncAtdataFace(AsyncCoreClient):
    """What both atdata faces add to the generic client (not public on its own).

    Args:
        namespace: the atdata lexicon namespace (or a
            :class:`~atmosphere._lexicons.LexiconLayout`). A known namespace
            selects its whole collection layout (``ac.foundation.dataset``:
            ``sampleSchema``/``record``/``lens``; ``science.alt.dataset``:
            ``schema``/``entry``/``lens``/``label``); another namespace keeps
            the face's default collection names under that prefix.
        Everything else: as for :class:`~atmosphere._async.client.AsyncCoreClient`.
    """

    DEFAULT_LAYOUT: ClassVar[LexiconLayout] = SEED
    """The layout used when ``namespace`` is not given."""

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
        namespace: str | LexiconLayout | None = None,
        retry: RetryPolicy | None = None,
        allow_private_hosts: bool | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
    ) -> None:
        self.layout = layout_for(
            self.DEFAULT_LAYOUT if namespace is None else namespace, self.DEFAULT_LAYOUT
        )
        """The collections this client's ``list_*`` helpers read."""
        self.namespace = self.layout.namespace
        """The atdata lexicon namespace (``self.layout.namespace``)."""
        super().__init__(
            base_url,
            _client=_client,
            plc_url=plc_url,
            resolver=resolver,
            timeout=timeout,
            on_session_change=on_session_change,
            session_lock=session_lock,
            retry=retry,
            allow_private_hosts=allow_private_hosts,
            deadline=deadline,
        )

    def _ensure_authenticated(self) -> None:
        """Raise ``NotAuthenticatedError`` (a ``ValueError``) unless logged in.

        atdata's blob store, lens and verification modules call it; the
        message keeps atdata's wording.
        """
        self._session()

    async def resolve_did(self, handle_or_did: str) -> str:
        """The DID of a handle (verified both ways), or a valid DID unchanged.

        The handle is resolved by this client's resolver (DNS TXT, then HTTPS
        well-known) and must be claimed back by the DID document; atdata's
        own version takes whatever the user's PDS answers.

        Raises:
            InvalidIdentifierError: neither a valid handle nor a valid DID.
            HandleResolutionError: the handle does not resolve, or its DID
                document does not claim it.
        """
        if not isinstance(handle_or_did, str):
            raise InvalidArgumentError("handle_or_did must be a str")
        if handle_or_did.startswith("did:"):
            return validate_did(handle_or_did)
        handle = validate_handle(handle_or_did)
        state = self._store.state
        if state is not None and handle.lower() == state.session.handle.lower():
            return state.session.did
        identity = await self._resolver.resolve(handle)
        if not identity.handle_is_valid or not is_valid_did(identity.did):
            raise HandleResolutionError(
                handle, f"resolves to {identity.did}, whose DID document does not claim it"
            )
        return identity.did

    async def _resolve_pds_endpoint(self, did: str) -> str:
        """The PDS endpoint of ``did`` (this client's resolver; the session's PDS for itself).

        Not part of atdata's documented API, but atdata 0.7's ``load_dataset``
        calls it on the client for blob-stored datasets (atdata's own
        ``Atmosphere`` lacks it; 0.3's asked ``plc.directory`` only).

        Raises:
            InvalidIdentifierError: ``did`` is not a valid DID.
            DidResolutionError: the DID document names no usable PDS.
        """
        return await self._blob_base(did)

    async def list_schemas(self, repo: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """List the schema records' values (``<namespace>.sampleSchema`` or ``.schema``).

        Follows cursors until ``limit`` records are collected (any ``limit``
        >= 1); never returns more. ``repo``: a DID or handle (default: the
        authenticated user).
        """
        return await self._collect(self.layout.schema_collection, repo, limit)

    async def list_datasets(
        self, repo: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """List the dataset records' values (``<namespace>.record`` or ``.entry``).

        Up to ``limit``, following cursors; ``repo`` as for :meth:`list_schemas`.
        """
        return await self._collect(self.layout.dataset_collection, repo, limit)

    async def list_lenses(self, repo: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """List the lens records' values (``<namespace>.lens``), up to ``limit``."""
        return await self._collect(self.layout.lens_collection, repo, limit)


class AsyncAtmosphereClient(AsyncAtdataFace):
    """ATProto client for atdata operations: records, listings and blobs (the seed API).

    A drop-in for atdata's ``AtmosphereClient`` (up to 0.3): ``login`` is an
    instance method and the default namespace is ``ac.foundation.dataset``.

    Args:
        base_url: as for :class:`~atmosphere._async.client.AsyncCoreClient`, like
            ``plc_url``, ``resolver``, ``timeout``, ``on_session_change``,
            ``session_lock``, ``retry``, ``allow_private_hosts`` and ``deadline``.
        namespace: the atdata lexicon namespace for ``list_schemas`` & co
            (see :class:`AsyncAtdataFace`).

    Examples:
        >>> client = AsyncAtmosphereClient()
        >>> await client.login("alice.bsky.social", "app-password")
        >>> print(client.did)
        'did:plc:...'
    """
