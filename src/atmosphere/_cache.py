"""A small thread-safe LRU cache whose entries expire (the resolver's caches)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A thread-safe, bounded, least-recently-used cache whose entries expire.

    Positive entries live ``ttl`` seconds, negative ones (failures worth
    remembering briefly) ``negative_ttl`` seconds. ``clock`` returns seconds
    and defaults to ``time.monotonic``; tests inject their own. A ``maxsize``
    of 0 disables caching.
    """

    def __init__(
        self,
        maxsize: int = 1000,
        ttl: float = 600.0,
        negative_ttl: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must be >= 0")
        self.maxsize = maxsize
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The live value for ``key`` (marking it recently used), or ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if self._clock() >= expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: K, value: V, *, negative: bool = False) -> None:
        """Store ``value``; ``negative=True`` uses the shorter negative TTL."""
        ttl = self.negative_ttl if negative else self.ttl
        if self.maxsize == 0 or ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def delete(self, key: K) -> None:
        """Forget ``key`` if present."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
