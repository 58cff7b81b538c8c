"""Identity resolution over the network: handle → DID → DID document → PDS.

:class:`AsyncIdentityResolver` is the asynchronous I/O shell around the pure rules of
:mod:`atmosphere._identity`. Every lookup is bounded by ``timeout``, every body
is size-capped while it streams, results (and definitive failures) are cached,
and network errors surface as ``HandleResolutionError`` / ``DidResolutionError``
with the ``httpx`` or DNS exception chained as ``__cause__``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from .._cache import TtlCache
from .._defaults import DEFAULT_PLC_URL, DEFAULT_RESOLVER_TIMEOUT, USER_AGENT
from .._egress import check_origin
from .._identity import (
    Identity,
    check_resolvable_handle,
    claimed_handle,
    did_document_url,
    dns_txt_name,
    document_pds_endpoint,
    parse_did_document,
    parse_dns_txt,
    parse_well_known_body,
    verify_handle,
    well_known_redirect,
    well_known_url,
)
from .._syntax import validate_did
from ..errors import (
    DidResolutionError,
    HandleResolutionError,
    NetworkTimeoutError,
    ResponseTooLargeError,
    UnsafeTargetError,
)
from .body import read_capped
from .egress import AsyncEgress, make_public_client, policy_for

if TYPE_CHECKING:  # dnspython and pydantic load on first use, not at import
    import dns.asyncresolver

    from .._models import DidDocument

__all__ = ["AsyncIdentityResolver"]

log = logging.getLogger(__name__)

MAX_WELL_KNOWN_REDIRECTS = 3
"""Redirect hops followed for ``/.well-known/atproto-did`` (the handle spec allows
"a reasonable number"). DID documents are never fetched through a redirect."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DID_ACCEPT = "application/did+ld+json, application/json"


@dataclass(frozen=True)
class _Failure:
    """A cached negative result."""

    reason: str


class _LookupFailed(Exception):
    """Internal: one lookup failed; ``transient`` failures are not cached."""

    def __init__(self, reason: str, *, transient: bool, cause: BaseException | None = None):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.cause = cause


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: httpx.Headers
    body: bytes


def _transient_status(status: int) -> bool:
    return status >= 500 or status == 429


class AsyncIdentityResolver:
    """Resolve handles and DIDs to verified identities and PDS endpoints.

    Args:
        http: the ``httpx.Client`` to use; one is created (and closed by
            :meth:`close`) when omitted. An injected client is never closed here.
        dns_resolver: the dnspython resolver for TXT lookups; the system's by default.
        plc_url: the PLC directory that serves ``did:plc`` documents.
        timeout: seconds allowed for each lookup (one DNS query, one HTTP fetch).
        cache_size: entries kept per cache (handles, documents); 0 disables caching.
        cache_ttl: seconds a successful result is reused.
        negative_cache_ttl: seconds a definitive failure (no record, 404, 410,
            bad document …) is remembered. Timeouts and 5xx are never cached.
        max_document_bytes: the largest DID document accepted.
        max_well_known_bytes: the largest ``/.well-known/atproto-did`` body accepted.
        clock: the cache's clock (seconds), ``time.monotonic`` by default.
        allow_private_hosts: local development: let targets from identity data
            (well-known hosts, ``did:web`` hosts, PDS endpoints) be private,
            loopback or plain-http hosts. ``None`` (default) reads
            ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1`` from the environment; off
            otherwise, and then only public https hosts on the default port
            are fetched or returned (``plc_url`` is the caller's choice and
            is never checked).
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient | None = None,
        dns_resolver: dns.asyncresolver.Resolver | None = None,
        plc_url: str = DEFAULT_PLC_URL,
        timeout: float = DEFAULT_RESOLVER_TIMEOUT,
        cache_size: int = 1000,
        cache_ttl: float = 600.0,
        negative_cache_ttl: float = 30.0,
        max_document_bytes: int = 64 * 1024,
        max_well_known_bytes: int = 4096,
        clock: Callable[[], float] = time.monotonic,
        allow_private_hosts: bool | None = None,
        _egress: AsyncEgress | None = None,
    ) -> None:
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        if _egress is None:
            owned = self._owns_http

            def make_public() -> httpx.AsyncClient:
                return make_public_client(timeout=timeout, headers={"User-Agent": USER_AGENT})

            _egress = AsyncEgress(
                self._http,
                policy_for(allow_private_hosts),
                make_public=make_public if owned else None,
            )
            self._owns_egress = True
        else:
            self._owns_egress = False
        self._egress = _egress
        self._dns_resolver = dns_resolver
        self.plc_url = plc_url.rstrip("/")
        self._egress.trust(self.plc_url)
        self.timeout = timeout
        self.max_document_bytes = max_document_bytes
        self.max_well_known_bytes = max_well_known_bytes
        self._handles: TtlCache[str, str | _Failure] = TtlCache(
            cache_size, cache_ttl, negative_cache_ttl, clock=clock
        )
        self._documents: TtlCache[str, DidDocument | _Failure] = TtlCache(
            cache_size, cache_ttl, negative_cache_ttl, clock=clock
        )

    # -- lifecycle -------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP client if this resolver created it."""
        if self._owns_egress:
            await self._egress.aclose()
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncIdentityResolver:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def allow_private_hosts(self) -> bool:
        """Whether local development is on (private and plain-http targets allowed)."""
        return self._egress.policy.allow_private_hosts

    def clear_cache(self) -> None:
        """Forget every cached handle and document (positive and negative)."""
        self._handles.clear()
        self._documents.clear()

    # -- public lookups ----------------------------------------------------------

    async def resolve_handle(self, handle: str) -> str:
        """The DID a handle names (DNS TXT first, then HTTPS well-known).

        The DID is *not* verified against its document; use :meth:`resolve`
        for a trusted handle. Raises ``InvalidIdentifierError`` for bad syntax
        and ``HandleResolutionError`` when the handle does not resolve
        (reserved TLDs fail before any I/O).
        """
        handle = check_resolvable_handle(handle)
        cached = self._handles.get(handle)
        if isinstance(cached, _Failure):
            raise HandleResolutionError(handle, cached.reason)
        if cached is not None:
            return cached
        try:
            did = await self._resolve_handle_uncached(handle)
        except _LookupFailed as exc:
            log.debug("handle %s did not resolve: %s", handle, exc.reason)
            if not exc.transient:
                self._handles.set(handle, _Failure(exc.reason), negative=True)
            raise HandleResolutionError(handle, exc.reason) from exc.cause
        self._handles.set(handle, did)
        return did

    async def resolve_did(self, did: str) -> DidDocument:
        """The DID document for ``did`` (``did:plc`` or hostname ``did:web``).

        Raises ``InvalidIdentifierError`` for bad syntax and ``DidResolutionError``
        when the document is missing (404), tombstoned (410), unreachable,
        oversized, malformed, or for another DID.
        """
        did = validate_did(did)
        cached = self._documents.get(did)
        if isinstance(cached, _Failure):
            raise DidResolutionError(did, cached.reason)
        if cached is not None:
            return cached
        url = did_document_url(did, self.plc_url)
        try:
            document = await self._fetch_document(did, url)
        except _LookupFailed as exc:
            log.debug("DID %s did not resolve: %s", did, exc.reason)
            if not exc.transient:
                self._documents.set(did, _Failure(exc.reason), negative=True)
            raise DidResolutionError(did, exc.reason) from exc.cause
        self._documents.set(did, document)
        return document

    async def resolve_pds(self, identifier: str) -> str:
        """The PDS endpoint (e.g. ``"https://pds.example.com"``) of a handle or DID."""
        did = identifier if identifier.startswith("did:") else await self.resolve_handle(identifier)
        return self._pds_endpoint(await self.resolve_did(did))

    def _pds_endpoint(self, document: DidDocument) -> str:
        """The document's PDS endpoint, once it is an allowed target (``DidResolutionError``)."""
        endpoint = document_pds_endpoint(document)
        try:
            check_origin(endpoint, self._egress.policy)
        except UnsafeTargetError as exc:
            raise DidResolutionError(document.id, f"PDS endpoint refused: {exc}") from None
        return endpoint

    async def resolve(self, identifier: str) -> Identity:
        """Resolve a handle or DID to an :class:`Identity`, checking the handle both ways.

        From a handle, the handle must resolve (else ``HandleResolutionError``);
        from a DID, a handle that fails to resolve only makes the identity's
        handle ``"handle.invalid"``. The PDS endpoint must be valid
        (``DidResolutionError`` otherwise).
        """
        if identifier.startswith("did:"):
            document = await self.resolve_did(identifier)
            handle = claimed_handle(document)
            handle_did: str | None = None
            if handle is not None:
                try:
                    handle_did = await self.resolve_handle(handle)
                except HandleResolutionError:
                    handle_did = None
            verified = verify_handle(document, handle or "", handle_did)
        else:
            handle = check_resolvable_handle(identifier)
            handle_did = await self.resolve_handle(handle)
            document = await self.resolve_did(handle_did)
            verified = verify_handle(document, handle, handle_did)
        return Identity(
            did=document.id,
            handle=verified,
            pds_endpoint=self._pds_endpoint(document),
            document=document,
        )

    # -- handle → DID ------------------------------------------------------------

    async def _resolve_handle_uncached(self, handle: str) -> str:
        # Sequential DNS then HTTPS: DNS wins whenever it answers, as the spec
        # prefers it on conflict; an ambiguous DNS answer fails the handle.
        dns_failure: _LookupFailed | None = None
        try:
            did = await self._lookup_dns(handle)
        except _LookupFailed as exc:
            if not exc.transient:
                raise
            dns_failure, did = exc, None
        if did is not None:
            return did
        try:
            return await self._lookup_well_known(handle)
        except _LookupFailed as exc:
            dns_reason = dns_failure.reason if dns_failure else "no DNS TXT record"
            raise _LookupFailed(
                f"{dns_reason}; {exc.reason}",
                transient=exc.transient or dns_failure is not None,
                cause=(dns_failure.cause if dns_failure else None) or exc.cause,
            ) from None

    def _resolver(self) -> dns.asyncresolver.Resolver:
        if self._dns_resolver is None:
            import dns.asyncresolver

            self._dns_resolver = dns.asyncresolver.Resolver()
        return self._dns_resolver

    async def _lookup_dns(self, handle: str) -> str | None:
        import dns.exception
        import dns.name
        import dns.rdtypes.ANY.TXT
        import dns.resolver

        try:
            answer = await self._resolver().resolve(
                dns_txt_name(handle),
                "TXT",
                lifetime=self.timeout,
                raise_on_no_answer=False,
                search=False,
            )
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.name.NameTooLong):
            # NameTooLong: `_atproto.` pushed the name past 253; HTTPS still works.
            return None
        except dns.exception.Timeout as exc:
            raise _LookupFailed("DNS lookup timed out", transient=True, cause=exc) from None
        except dns.exception.DNSException as exc:
            reason = f"DNS lookup failed ({type(exc).__name__})"
            raise _LookupFailed(reason, transient=True, cause=exc) from None
        records = [rd.strings for rd in answer if isinstance(rd, dns.rdtypes.ANY.TXT.TXT)]
        try:
            return parse_dns_txt(handle, records)
        except HandleResolutionError as exc:
            raise _LookupFailed(exc.reason, transient=False, cause=exc.__cause__) from None

    async def _lookup_well_known(self, handle: str) -> str:
        url = well_known_url(handle)
        deadline = time.monotonic() + self.timeout
        for _ in range(MAX_WELL_KNOWN_REDIRECTS + 1):
            reply = await self._fetch(url, "text/plain", self.max_well_known_bytes, deadline)
            if reply.status in _REDIRECTS:
                try:
                    url = well_known_redirect(handle, url, reply.headers.get("location"))
                except HandleResolutionError as exc:
                    raise _LookupFailed(exc.reason, transient=False) from None
                continue
            if not 200 <= reply.status < 300:
                reason = f"well-known answered HTTP {reply.status}"
                raise _LookupFailed(reason, transient=_transient_status(reply.status))
            try:
                return parse_well_known_body(handle, reply.body)
            except HandleResolutionError as exc:
                raise _LookupFailed(exc.reason, transient=False, cause=exc.__cause__) from None
        raise _LookupFailed("well-known redirected too many times", transient=False)

    # -- DID → document -----------------------------------------------------------

    async def _fetch_document(self, did: str, url: str) -> DidDocument:
        deadline = time.monotonic() + self.timeout
        reply = await self._fetch(url, _DID_ACCEPT, self.max_document_bytes, deadline)
        if reply.status == 404:
            raise _LookupFailed("DID not found", transient=False)
        if reply.status == 410:
            raise _LookupFailed("DID is tombstoned (deactivated)", transient=False)
        if reply.status in _REDIRECTS:
            raise _LookupFailed("DID document request was redirected", transient=False)
        if not 200 <= reply.status < 300:
            reason = f"DID document request answered HTTP {reply.status}"
            raise _LookupFailed(reason, transient=_transient_status(reply.status))
        try:
            return parse_did_document(did, reply.body)
        except DidResolutionError as exc:
            raise _LookupFailed(exc.reason, transient=False, cause=exc.__cause__) from None

    # -- HTTP ---------------------------------------------------------------------

    async def _fetch(self, url: str, accept: str, limit: int, deadline: float) -> _Reply:
        """GET ``url`` without following redirects; read a 2xx body up to ``limit`` bytes."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _LookupFailed(f"timed out after {self.timeout}s", transient=True)
        try:
            request = self._http.build_request(
                "GET", url, headers={"Accept": accept}, timeout=remaining
            )
            # Well-known and did:web hosts are checked (public only) and never
            # followed through redirects; auth=None: never send a client's
            # credentials to a third-party host.
            response = await self._egress.send(request, auth=None, stream=True, redirects=False)
            try:
                if not response.is_success:
                    return _Reply(response.status_code, response.headers, b"")
                try:
                    body = await read_capped(response, limit, deadline=deadline)
                except ResponseTooLargeError:
                    raise _LookupFailed(
                        f"response is over {limit} bytes", transient=False
                    ) from None
                except NetworkTimeoutError:
                    raise _LookupFailed(
                        f"timed out after {self.timeout}s", transient=True
                    ) from None
                return _Reply(response.status_code, response.headers, body)
            finally:
                await response.aclose()
        except UnsafeTargetError as exc:
            raise _LookupFailed(f"refused: {exc}", transient=False) from None
        except httpx.TimeoutException as exc:
            reason = f"timed out after {self.timeout}s"
            raise _LookupFailed(reason, transient=True, cause=exc) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            reason = f"HTTP request failed ({type(exc).__name__})"
            raise _LookupFailed(reason, transient=True, cause=exc) from None
