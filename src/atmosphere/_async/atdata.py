"""The atdata face of the asyncio client: ``AsyncAtmosphereClient``.

A drop-in for the atdata project's ``AtmosphereClient``: the generic client
(:class:`~atmosphere._async.client.AsyncCoreClient`) plus atdata's lexicon
namespace and its ``list_schemas`` / ``list_datasets`` / ``list_lenses``.
"""

from __future__ import annotations

import httpx

from .._defaults import DEFAULT_PLC_URL
from .._retry import RetryPolicy
from .._session import SessionCallback, SessionLock
from .._syntax import validate_nsid
from .._types import Record
from .client import AsyncCoreClient
from .resolver import AsyncIdentityResolver
from .xrpc import DEFAULT_DEADLINE

__all__ = ["DEFAULT_NAMESPACE", "AsyncAtmosphereClient"]

DEFAULT_NAMESPACE = "ac.foundation.dataset"
"""The lexicon namespace of the seed API (atdata up to 0.3)."""


class AsyncAtmosphereClient(AsyncCoreClient):
    """ATProto client for atdata operations: records, listings and blobs.

    Args:
        base_url, _client, plc_url, resolver, timeout, on_session_change, session_lock, retry,
        allow_private_hosts, deadline:
            as for :class:`~atmosphere._async.client.AsyncCoreClient`.
        namespace: the atdata lexicon namespace for ``list_schemas`` & co.

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
        namespace: str = DEFAULT_NAMESPACE,
        retry: RetryPolicy | None = None,
        allow_private_hosts: bool | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
    ) -> None:
        validate_nsid(f"{namespace}.record")
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
        self.namespace = namespace

    async def list_schemas(self, repo: str | None = None, limit: int = 100) -> list[Record]:
        """List ``<namespace>.sampleSchema`` records (envelopes), up to ``limit``."""
        return await self._collect(f"{self.namespace}.sampleSchema", repo, limit)

    async def list_datasets(self, repo: str | None = None, limit: int = 100) -> list[Record]:
        """List ``<namespace>.record`` (dataset) records (envelopes), up to ``limit``."""
        return await self._collect(f"{self.namespace}.record", repo, limit)

    async def list_lenses(self, repo: str | None = None, limit: int = 100) -> list[Record]:
        """List ``<namespace>.lens`` records (envelopes), up to ``limit``."""
        return await self._collect(f"{self.namespace}.lens", repo, limit)
