"""An httpx transport that sends chosen hostnames to a loopback server.

Handle resolution over HTTPS asks ``https://<handle>/.well-known/atproto-did``;
the test PDS answers that path by ``Host`` header, but only over plain http on
loopback. :class:`RoutingTransport` bridges the two: a request for a routed
host goes to the given base URL (scheme, host and port replaced) with the
original ``Host`` header kept, so the server sees ``Host: alice.test``.
Requests for any other host fail with ``httpx.ConnectError`` (tests stay off
the network) unless ``passthrough=True``.

Usage::

    transport = RoutingTransport({"alice.test": pds.pds_url})
    with httpx.Client(transport=transport) as http:
        http.get("https://alice.test/.well-known/atproto-did")
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

__all__ = ["RoutingTransport"]


class RoutingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Route requests by hostname to loopback base URLs (origin only, no path)."""

    def __init__(
        self,
        routes: Mapping[str, str] | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        passthrough: bool = False,
    ) -> None:
        self._routes: dict[str, httpx.URL] = {}
        self._inner = transport if transport is not None else httpx.HTTPTransport()
        self._passthrough = passthrough
        self._async_inner: httpx.AsyncHTTPTransport | None = None
        self.requests: list[httpx.Request] = []
        """Every request handled, as the caller built it (before rewriting)."""
        for host, base_url in (routes or {}).items():
            self.add_route(host, base_url)

    def add_route(self, host: str, base_url: str) -> None:
        """Send requests for ``host`` (any scheme/port) to ``base_url``."""
        target = httpx.URL(base_url)
        if target.path not in ("", "/") or target.query:
            raise ValueError(f"route target must be an origin, got {base_url!r}")
        self._routes[host.lower().rstrip(".")] = target

    def remove_route(self, host: str) -> None:
        """Stop routing ``host``."""
        self._routes.pop(host.lower().rstrip("."), None)

    def _route(self, request: httpx.Request) -> httpx.Request:
        """The request to send: rewritten for a routed host, unchanged for passthrough."""
        self.requests.append(request)
        target = self._routes.get(request.url.host.lower().rstrip("."))
        if target is None:
            if self._passthrough:
                return request
            raise httpx.ConnectError(f"no route to {request.url.host} in tests", request=request)
        return httpx.Request(
            request.method,
            request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port),
            headers=request.headers,  # includes the original Host header
            stream=request.stream,
            extensions=request.extensions,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Rewrite the URL of a routed request, keep its headers, and send it."""
        return self._inner.handle_request(self._route(request))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The same for an ``httpx.AsyncClient``."""
        if self._async_inner is None:
            self._async_inner = httpx.AsyncHTTPTransport()
        return await self._async_inner.handle_async_request(self._route(request))

    def close(self) -> None:
        """Close the wrapped transport."""
        self._inner.close()

    async def aclose(self) -> None:
        """Close the wrapped async transport, if one was opened."""
        if self._async_inner is not None:
            await self._async_inner.aclose()
