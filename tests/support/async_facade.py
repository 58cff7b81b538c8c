"""Drive an async object through a sync-looking API, for running one suite on both clients.

``SyncFacade(obj, loop)`` forwards attribute access to ``obj``; coroutine
methods are run to completion on ``loop``, async-generator methods give a
:class:`SyncIterator` (each ``next()`` runs one step on ``loop``, so laziness
shows as it would in the sync code), and ``with`` closes the object with
``aclose()``. ``obj`` may also be a module of async functions.
Setting an attribute on the facade sets it on ``obj`` (so a test can inject,
say, ``client._xrpc.sleep``: for an async target it must be a coroutine
function). It is the one async adapter of the suites; the ``flavour`` fixture
(tests/support/flavours.py) builds the objects it wraps.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any


class SyncIterator:
    """A sync iterator over an async one: each ``next()`` runs one ``__anext__`` on the loop."""

    def __init__(self, iterator: AsyncIterator[Any], loop: asyncio.AbstractEventLoop) -> None:
        self._iterator = iterator
        self._loop = loop

    def __iter__(self) -> SyncIterator:
        return self

    def __next__(self) -> Any:
        try:
            return self._loop.run_until_complete(self._iterator.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        """``await iterator.aclose()``, as ``close()`` on a sync generator."""
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            self._loop.run_until_complete(aclose())


class SyncFacade:
    """A synchronous view of an asyncio object (tests only)."""

    _OWN = frozenset({"_target", "_loop"})

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_loop", loop)

    @property
    def target(self) -> Any:
        """The wrapped async object."""
        return self._target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.iscoroutinefunction(attr):
            return self._sync(attr)
        if inspect.isasyncgenfunction(attr):

            def stepped(*args: Any, **kwargs: Any) -> Iterator[Any]:
                return SyncIterator(attr(*args, **kwargs), self._loop)

            return stepped
        if type(attr).__name__.startswith("Async") and not callable(attr):
            return SyncFacade(attr, self._loop)  # e.g. client.resolver
        return attr

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self._target, name, value)

    def _sync(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(fn(*args, **kwargs))

        return call

    def __repr__(self) -> str:
        return repr(self._target)

    def __enter__(self) -> SyncFacade:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """``await target.aclose()``."""
        self._loop.run_until_complete(self._target.aclose())


def unwrap(obj: Any) -> Any:
    """The async object behind a facade; any other object unchanged."""
    return obj.target if isinstance(obj, SyncFacade) else obj
