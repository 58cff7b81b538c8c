"""Where requests may go, the I/O part: a public-only transport and the per-request router.

The pure rules live in :mod:`atmosphere._egress`. This shell enforces them
on the wire for every request whose target came from identity data (a DID
document's PDS endpoint, a well-known answer or redirect, ``did:web``, a
session's ``didDoc`` or a restored session's PDS):

**Resolve, check, then pin** (:class:`AsyncPublicOnlyBackend`). The httpcore
network backend of the public-only transport resolves the host name itself,
keeps only public unicast addresses, and connects to one of *those* addresses
(TLS still verifies the certificate for, and sends SNI of, the host name:
httpcore takes both from the URL, not from the socket). This was chosen over
checking the peer address after the exchange because the refusal happens
before a single byte reaches the forbidden host (no blind SSRF: a request to a
cloud metadata service is never sent), and because connecting to the checked
address closes the DNS-rebinding window between a check and a second lookup.

**Peer check** (:meth:`AsyncEgress.check_peer`). When the caller injected its
own ``httpx`` client (its transport is theirs, the backend cannot be swapped),
the address actually connected to is read from the response
(``network_stream.get_extra_info("server_addr")``) and a non-public one
refuses the answer. It also runs behind the pinned transport, as a second
line. A transport that exposes no socket (``httpx.MockTransport``) has no
address to check: only the URL rules apply there.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import httpx

from .._concurrency import to_thread
from .._egress import EgressPolicy, check_peer, check_url, is_public_address, origin_of
from ..errors import UnsafeTargetError

__all__ = [
    "AsyncEgress",
    "AsyncPublicOnlyBackend",
    "Resolve",
    "make_public_client",
    "policy_for",
    "public_only_transport",
    "system_resolve",
]

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import httpcore

    _BackendBase = httpcore.AsyncNetworkBackend
else:
    # httpcore is imported when the first public-only transport is built, not when
    # the client is imported (it costs tens of milliseconds of import time); the
    # pool calls the backend's methods and never checks its class.
    _BackendBase = object

Resolve = Callable[[str, int], list[str]]
"""Resolve ``(host, port)`` to IP address strings (blocking; run off the event loop)."""


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (TCP), in its order, once each."""
    seen: list[str] = []
    for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


class AsyncPublicOnlyBackend(_BackendBase):
    """An httpcore network backend that connects only to public addresses.

    Args:
        inner: the backend that opens the sockets (httpx's default one).
        resolve: the name resolver (the system's by default; tests inject one).
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend, *, resolve: Resolve | None = None):
        self._inner = inner
        self._resolve = resolve or system_resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        import httpcore

        try:
            addresses = await to_thread(self._resolve, host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
        public = [a for a in addresses if is_public_address(a)]
        if not public:
            shown = ", ".join(addresses[:3]) or "nothing"
            raise UnsafeTargetError(
                f"{host} resolves to {shown}, not a public address (private hosts are not allowed)"
            )
        error: Exception | None = None
        for address in public:  # pinned: the checked address, never a second lookup
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeTargetError("a public-only transport does not open unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def public_only_transport(
    *, resolve: Resolve | None = None, **kwargs: Any
) -> httpx.AsyncHTTPTransport:
    """An ``httpx`` transport whose connections go only to public addresses.

    ``kwargs`` go to ``httpx.AsyncHTTPTransport``; its connection pool's network
    backend is wrapped in :class:`AsyncPublicOnlyBackend`.
    """
    import httpcore

    transport = httpx.AsyncHTTPTransport(**kwargs)
    pool = transport._pool
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(
        pool, "_network_backend"
    ):  # pragma: no cover - a proxy pool or another httpcore layout
        raise RuntimeError("cannot install the public-only backend on this httpx transport")
    pool._network_backend = AsyncPublicOnlyBackend(pool._network_backend, resolve=resolve)
    return transport


class AsyncEgress:
    """Routes each request: user-named origins as they are, others checked first.

    Args:
        http: the client's ``httpx`` client (user-named targets; and every
            target when it was injected by the caller).
        policy: whether private hosts are allowed (local development).
        make_public: builds the public-only ``httpx`` client, on first need
            (``None`` when ``http`` was injected: then the URL rules and the
            peer check apply to it instead).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        policy: EgressPolicy,
        *,
        make_public: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self.http = http
        self.policy = policy
        self._make_public = make_public
        self._public: httpx.AsyncClient | None = None
        self._trusted: set[str] = set()

    def trust(self, url: str | None) -> None:
        """Mark the origin of a URL the user named (``base_url``, ``plc_url`` …) as their choice."""
        if url:
            self._trusted.add(origin_of(url))

    def is_trusted(self, url: str) -> bool:
        """Whether ``url`` goes out unchecked (a user-named origin, or the switch is on)."""
        return self.policy.allow_private_hosts or origin_of(url) in self._trusted

    def check(self, url: str) -> None:
        """Raise :class:`UnsafeTargetError` if ``url`` may not be requested."""
        if not self.is_trusted(url):
            check_url(url, self.policy)

    def client_for(self, url: str) -> httpx.AsyncClient:
        """The ``httpx`` client to send a request for ``url`` through (checked first)."""
        if self.is_trusted(url):
            return self.http
        check_url(url, self.policy)
        if self._make_public is None:
            return self.http
        if self._public is None:
            self._public = self._make_public()
        return self._public

    async def check_peer(self, url: str, response: httpx.Response) -> None:
        """Refuse (and close) ``response`` if it came from a non-public address."""
        if self.is_trusted(url):
            return
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if not peer:
            return
        try:
            check_peer(str(peer[0]), self.policy)
        except UnsafeTargetError:
            await response.aclose()
            raise

    async def send(
        self,
        request: httpx.Request,
        *,
        auth: httpx.Auth | None = None,
        stream: bool = True,
        redirects: bool | None = None,
    ) -> httpx.Response:
        """Send ``request`` through the right client, refusing forbidden targets.

        A checked target's redirects are never followed (each hop would need
        the same check); a user-named one keeps its client's setting.
        """
        url = str(request.url)
        http = self.client_for(url)
        if redirects is None and self.is_trusted(url):
            response = await http.send(request, auth=auth, stream=stream)
        else:
            follow = bool(redirects) and self.is_trusted(url)
            response = await http.send(request, auth=auth, stream=stream, follow_redirects=follow)
        await self.check_peer(url, response)
        return response

    async def aclose(self) -> None:
        """Close the public-only client, if one was made."""
        if self._public is not None:
            await self._public.aclose()
            self._public = None


def make_public_client(
    *, timeout: Any, headers: dict[str, str], resolve: Resolve | None = None
) -> httpx.AsyncClient:
    """A public-only ``httpx`` client: no redirects, no proxies from the environment."""
    return httpx.AsyncClient(
        transport=public_only_transport(resolve=resolve),
        timeout=timeout,
        headers=headers,
        follow_redirects=False,
        trust_env=False,  # an environment proxy would be the peer checked, not the target
    )


def policy_for(allow_private_hosts: bool | None) -> EgressPolicy:
    """The :class:`EgressPolicy` for a client's or resolver's ``allow_private_hosts``."""
    try:
        return EgressPolicy.from_option(allow_private_hosts)
    except TypeError as exc:
        from ..errors import InvalidArgumentError

        raise InvalidArgumentError(str(exc)) from None
