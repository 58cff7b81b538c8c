"""Both client flavours behind one sync-looking API, so one test covers both.

The I/O code exists once, as the hand-written asyncio source in
``atmosphere._async``; ``atmosphere._sync`` is generated from it. The
``flavour`` fixture (tests/conftest.py) runs a test twice: with the sync
classes, and with their async sources driven through
:class:`~tests.support.async_facade.SyncFacade` on an event loop of the test's
own. A test builds its clients, transports and resolvers through the
:class:`Flavour` it receives, and the body reads the same either way.

What differs between the flavours, and how a test spells it:

- an HTTP client: ``flavour.http(handler)`` (``httpx.Client`` or
  ``httpx.AsyncClient``, over ``httpx.MockTransport(handler)`` if given),
  closed when the test ends;
- a raw streamed body: ``flavour.stream(chunks)`` (the iterable itself, or an
  async generator over it);
- a function the library awaits in asyncio (an injected ``sleep``, an httpx
  event hook): ``flavour.callback(fn)`` (``fn``, or a coroutine function
  calling it);
- a DNS resolver: ``flavour.dns(resolver)`` (the dnspython sync resolver, or an
  async twin asking the same servers; :class:`NoDns` becomes :class:`AsyncNoDns`).
- a real-socket transport: ``flavour.transport(...)``; the blob streaming
  helpers: ``flavour.blobs``; the classes themselves:
  ``flavour.AtmosphereClient``, ``flavour.Atmosphere``, ``flavour.IdentityResolver``;
- atdata 0.7's face: ``flavour.atmosphere(...)`` builds one, and
  ``flavour.atmosphere_class`` is the class whose classmethods (``login``,
  ``from_session``, ``from_env``) give facades over what they build.

Tests that are one flavour by nature (threads sharing a refresh: sync;
``asyncio.gather``, ``upload_blobs``: async) do not take the fixture and say
so in their names or docstrings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Literal

import dns.asyncresolver
import dns.resolver
import httpx

from atmosphere._async import blobs as async_blobs
from atmosphere._async.atdata import AsyncAtmosphereClient
from atmosphere._async.atmosphere import AsyncAtmosphere
from atmosphere._async.auth import AsyncSessionAuth
from atmosphere._async.resolver import AsyncIdentityResolver
from atmosphere._async.xrpc import AsyncXrpcClient
from atmosphere._session import SessionStore
from atmosphere._sync import blobs as sync_blobs
from atmosphere._sync.atdata import AtmosphereClient
from atmosphere._sync.atmosphere import Atmosphere
from atmosphere._sync.auth import SessionAuth
from atmosphere._sync.resolver import IdentityResolver
from atmosphere._sync.xrpc import XrpcClient
from tests.support.async_facade import SyncFacade, unwrap

__all__ = ["FLAVOURS", "AsyncNoDns", "Flavour", "FlavourName", "NoDns"]

FlavourName = Literal["sync", "async"]
FLAVOURS: tuple[FlavourName, ...] = ("sync", "async")


class NoDns(dns.resolver.Resolver):
    """A DNS resolver that knows no names, so handles resolve over HTTPS well-known."""

    def __init__(self) -> None:
        super().__init__(configure=False)

    def resolve(self, *args: Any, **kwargs: Any) -> dns.resolver.Answer:
        raise dns.resolver.NXDOMAIN


class AsyncNoDns(dns.asyncresolver.Resolver):
    """The asyncio twin of :class:`NoDns`."""

    def __init__(self) -> None:
        super().__init__(configure=False)

    async def resolve(self, *args: Any, **kwargs: Any) -> dns.resolver.Answer:
        raise dns.resolver.NXDOMAIN


async def _chunks(iterable: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in iterable:  # lazily: the source is pulled as the body is sent
        yield chunk


class Flavour:
    """Build sync objects, or async ones seen through a :class:`SyncFacade`.

    ``Flavour("async")`` owns an event loop; :meth:`close` closes the HTTP
    clients it made and then the loop.
    """

    def __init__(self, name: FlavourName) -> None:
        if name not in FLAVOURS:
            raise ValueError(f"unknown flavour {name!r}")
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = (
            asyncio.new_event_loop() if name == "async" else None
        )
        self._closers: list[Callable[[], Any]] = []

    def __repr__(self) -> str:
        return f"<Flavour {self.name}>"

    @property
    def is_async(self) -> bool:
        """Whether this is the asyncio flavour."""
        return self.name == "async"

    # -- the classes of this flavour ----------------------------------------------

    @property
    def AtmosphereClient(self) -> type[Any]:
        """``AtmosphereClient`` or ``AsyncAtmosphereClient``."""
        return AsyncAtmosphereClient if self.is_async else AtmosphereClient

    @property
    def Atmosphere(self) -> type[Any]:
        """``Atmosphere`` or ``AsyncAtmosphere`` (atdata 0.7's face)."""
        return AsyncAtmosphere if self.is_async else Atmosphere

    @property
    def atmosphere_class(self) -> Any:
        """``Atmosphere`` itself, or a stand-in whose classmethods run ``AsyncAtmosphere``'s
        on this loop and wrap what they return (``resolver`` given as a facade is unwrapped)."""
        if self.loop is None:
            return Atmosphere
        return _ClassFacade(AsyncAtmosphere, self)

    @property
    def IdentityResolver(self) -> type[Any]:
        """``IdentityResolver`` or ``AsyncIdentityResolver``."""
        return AsyncIdentityResolver if self.is_async else IdentityResolver

    @property
    def blobs(self) -> Any:
        """The blob streaming helpers: ``atmosphere._sync.blobs``, or a facade over
        ``atmosphere._async.blobs`` (their chunk inputs go through :meth:`stream`)."""
        return self.wrap(async_blobs) if self.is_async else sync_blobs

    # -- builders -----------------------------------------------------------------

    def wrap(self, obj: Any) -> Any:
        """``obj`` itself (sync), or a :class:`SyncFacade` over it on this loop (async)."""
        if self.loop is None:
            return obj
        return SyncFacade(obj, self.loop)

    def http(self, handler: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
        """An ``httpx.Client`` / ``httpx.AsyncClient`` of this flavour, closed at teardown.

        With ``handler``, requests go to ``httpx.MockTransport(handler)`` (a
        plain function serves both flavours).
        """
        if handler is not None:
            kwargs["transport"] = httpx.MockTransport(handler)
        if self.loop is None:
            client = httpx.Client(**kwargs)
            self._closers.append(client.close)
            return client
        aclient = httpx.AsyncClient(**kwargs)
        loop = self.loop
        self._closers.append(lambda: loop.run_until_complete(aclient.aclose()))
        return aclient

    def transport(self, **kwargs: Any) -> Any:
        """An ``httpx.HTTPTransport`` / ``httpx.AsyncHTTPTransport`` (real sockets)."""
        cls = httpx.AsyncHTTPTransport if self.is_async else httpx.HTTPTransport
        return cls(**kwargs)

    def client(self, *args: Any, **kwargs: Any) -> Any:
        """An ``AtmosphereClient``, or a facade over an ``AsyncAtmosphereClient``.

        ``resolver`` may be what :meth:`resolver` returned (a facade is unwrapped).
        """
        if "resolver" in kwargs:
            kwargs["resolver"] = unwrap(kwargs["resolver"])
        return self.wrap(self.AtmosphereClient(*args, **kwargs))

    def atmosphere(self, *args: Any, **kwargs: Any) -> Any:
        """An ``Atmosphere``, or a facade over an ``AsyncAtmosphere`` (built directly)."""
        if "resolver" in kwargs:
            kwargs["resolver"] = unwrap(kwargs["resolver"])
        return self.wrap(self.Atmosphere(*args, **kwargs))

    def resolver(self, **kwargs: Any) -> Any:
        """An ``IdentityResolver``, or a facade over an ``AsyncIdentityResolver``.

        ``dns_resolver`` is given as a sync dnspython resolver (see :meth:`dns`).
        """
        if kwargs.get("dns_resolver") is not None:
            kwargs["dns_resolver"] = self.dns(kwargs["dns_resolver"])
        return self.wrap(self.IdentityResolver(**kwargs))

    def xrpc(self, http: Any, **kwargs: Any) -> Any:
        """An ``XrpcClient``, or a facade over an ``AsyncXrpcClient``.

        ``sleep`` is given as a plain function (see :meth:`callback`).
        """
        if "sleep" in kwargs:
            kwargs["sleep"] = self.callback(kwargs["sleep"])
        if self.loop is None:
            return XrpcClient(http, **kwargs)
        return self.wrap(AsyncXrpcClient(http, **kwargs))

    def session_auth(self, store: SessionStore, **kwargs: Any) -> httpx.Auth:
        """The session auth flow of this flavour (``SessionAuth``/``AsyncSessionAuth``)."""
        cls = AsyncSessionAuth if self.is_async else SessionAuth
        return cls(store, **kwargs)

    # -- values that differ in kind ---------------------------------------------

    def stream(self, chunks: Iterable[bytes]) -> Any:
        """A one-shot raw body: ``chunks`` itself (sync), or an async generator over it."""
        return _chunks(chunks) if self.is_async else chunks

    def callback(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (sync), or a coroutine function calling it (async): for what the
        library awaits, such as ``XrpcClient``'s ``sleep`` or an httpx event hook."""
        if not self.is_async:
            return fn

        async def call(*args: Any) -> Any:
            return fn(*args)

        return call

    def dns(self, resolver: dns.resolver.Resolver) -> Any:
        """``resolver`` (sync), or an asyncio resolver asking the same servers the same way."""
        if not self.is_async:
            return resolver
        if isinstance(resolver, NoDns):
            return AsyncNoDns()
        twin = dns.asyncresolver.Resolver(configure=False)
        twin.nameservers = list(resolver.nameservers)
        twin.port = resolver.port
        twin.timeout = resolver.timeout
        twin.lifetime = resolver.lifetime
        return twin

    # -- teardown -----------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP clients made here (newest first), then the loop."""
        while self._closers:
            self._closers.pop()()
        if self.loop is not None:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()


class _ClassFacade:
    """``AsyncAtmosphere`` seen as ``Atmosphere``: its async classmethods run on the
    flavour's loop, and the instances they (or a call) make come back as facades."""

    def __init__(self, cls: type[Any], flavour: Flavour) -> None:
        self._cls = cls
        self._flavour = flavour

    def _make(self, name: str) -> Callable[..., Any]:
        method = getattr(self._cls, name)
        loop = self._flavour.loop
        assert loop is not None

        def call(*args: Any, **kwargs: Any) -> Any:
            if "resolver" in kwargs:
                kwargs["resolver"] = unwrap(kwargs["resolver"])
            return self._flavour.wrap(loop.run_until_complete(method(*args, **kwargs)))

        return call

    @property
    def login(self) -> Callable[..., Any]:
        return self._make("login")

    @property
    def from_session(self) -> Callable[..., Any]:
        return self._make("from_session")

    @property
    def from_env(self) -> Callable[..., Any]:
        return self._make("from_env")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._flavour.atmosphere(*args, **kwargs)
