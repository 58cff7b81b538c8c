"""Response bodies for ``httpx.MockTransport`` that tell whether the client closed them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


class ClosableStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body either flavour can read; ``closed`` turns true when the client closes it.

    A subclass defines ``__iter__``; the async side hands out the same chunks.
    """

    closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True
