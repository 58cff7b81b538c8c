"""Running blocking work from the asyncio shells, and its sync counterpart.

The async source calls :func:`to_thread`; ``scripts/unasync.py`` turns each
call into :func:`call_inline` in the generated sync code, so blocking reads
and writes run in a worker thread for asyncio callers and directly otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def to_thread(fn: Callable[..., T], /, *args: Any) -> T:
    """``asyncio.to_thread``, importing asyncio only when an async caller needs it."""
    import asyncio

    return await asyncio.to_thread(fn, *args)


def call_inline(fn: Callable[..., T], /, *args: Any) -> T:
    """The sync twin of :func:`to_thread`: call ``fn`` in this thread."""
    return fn(*args)
