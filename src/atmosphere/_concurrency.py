"""Running blocking work from the asyncio shells, and its sync counterpart.

The async source calls :func:`to_thread`; ``scripts/unasync.py`` turns each
call into :func:`call_inline` in the generated sync code, so blocking reads
and writes run in a worker thread for asyncio callers and directly otherwise.
:class:`OrderedWorker` overlaps a blob's hashing (and a download's writes)
with its transfer, in both flavours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def to_thread(fn: Callable[..., T], /, *args: Any) -> T:
    """``asyncio.to_thread``, importing asyncio only when an async caller needs it."""
    import asyncio

    return await asyncio.to_thread(fn, *args)


async def async_sleep(seconds: float) -> None:
    """``asyncio.sleep``, importing asyncio only when an async caller waits.

    The async shells never import asyncio at module level: an asyncio program
    has loaded it already, and ``import atmosphere`` should not pay for it.
    """
    import asyncio

    await asyncio.sleep(seconds)


def call_inline(fn: Callable[..., T], /, *args: Any) -> T:
    """The sync twin of :func:`to_thread`: call ``fn`` in this thread."""
    return fn(*args)


class OrderedWorker:
    """Run calls in one background thread, in the order submitted, at most ``depth`` queued.

    For work that releases the GIL on large buffers (``hashlib`` on a 1 MiB
    chunk, a file write): a blob transfer hashes (and writes) one chunk here
    while the caller's thread sends or receives the next, instead of taking
    turns. At most ``depth`` chunks wait, so memory stays bounded. The first
    error of a call is raised by the next :meth:`submit`, :meth:`wait` or
    :meth:`drain`.
    """

    def __init__(self, depth: int = 4) -> None:
        # Imported here: only blob transfers need a thread, and only once they start.
        from collections import deque
        from concurrent.futures import Future, ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="atmosphere-blob")
        self._pending: deque[Future[Any]] = deque()
        self._depth = depth

    def full(self) -> bool:
        """Whether :meth:`submit` would block until the oldest call is done."""
        return len(self._pending) >= self._depth and not self._pending[0].done()

    def wait(self) -> None:
        """Wait until a call can be submitted without blocking."""
        while len(self._pending) >= self._depth:
            self._pending.popleft().result()

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> None:
        """Queue ``fn(*args)`` behind the calls already queued."""
        self.wait()
        self._pending.append(self._pool.submit(fn, *args))

    def drain(self) -> None:
        """Wait for every queued call; raise the first error."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Drop the calls not started and stop the thread (waits for a running call)."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)
