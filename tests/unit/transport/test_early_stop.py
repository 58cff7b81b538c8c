"""A read that stops early closes the response's stream at once, on both flavours.

A cap, a failed check or a consumer that stops iterating must not leave the
body open for the garbage collector (which, in asyncio, needs an event loop
that may be gone by then): the stream is closed before the error reaches
the caller. The stream here records its ``close``/``aclose``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from atmosphere._async.body import read_capped as async_read_capped
from atmosphere._sync.body import read_capped as sync_read_capped
from atmosphere.errors import NetworkTimeoutError, ResponseTooLargeError
from tests.support.flavours import Flavour

SVC = "https://svc.example"


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Ten 100-byte chunks; remembers whether it was closed."""

    def __init__(self) -> None:
        self.closed = False
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(10):
            self.sent += 1
            yield b"x" * 100

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def _read(flavour: Flavour, body: Body, *, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    http = flavour.http(lambda request: httpx.Response(200, headers=headers, stream=body))
    if flavour.is_async:
        assert flavour.loop is not None

        async def go() -> bytes:
            response = await http.send(http.build_request("GET", SVC), stream=True)
            return await async_read_capped(response, **kw)

        return flavour.loop.run_until_complete(go())
    response = http.send(http.build_request("GET", SVC), stream=True)
    return sync_read_capped(response, **kw)


def test_over_the_cap_closes_before_raising(flavour: Flavour) -> None:
    body = Body()
    with pytest.raises(ResponseTooLargeError):
        _read(flavour, body, cap=150)
    assert body.closed
    assert body.sent == 2  # the rest is never read


def test_truncated_read_closes(flavour: Flavour) -> None:
    body = Body()
    assert _read(flavour, body, cap=150, truncate=True) == b"x" * 150
    assert body.closed


def test_declared_length_over_the_cap_closes_unread(flavour: Flavour) -> None:
    body = Body()
    with pytest.raises(ResponseTooLargeError):
        _read(flavour, body, headers={"content-length": "1000"}, cap=150)
    assert body.closed
    assert body.sent == 0


def test_deadline_closes(flavour: Flavour) -> None:
    body = Body()
    with pytest.raises(NetworkTimeoutError):
        _read(flavour, body, cap=10_000, deadline=0.0)
    assert body.closed


def test_query_bytes_over_max_closes(flavour: Flavour) -> None:
    body = Body()
    client = flavour.client(_client=flavour.http(lambda r: httpx.Response(200, stream=body)))
    with pytest.raises(ResponseTooLargeError):
        client.query_bytes("com.example.getBytes", service_url=SVC, max_bytes=150)
    assert body.closed


def test_iter_query_closed_by_its_consumer_closes_the_stream(flavour: Flavour) -> None:
    body = Body()
    client = flavour.client(_client=flavour.http(lambda r: httpx.Response(200, stream=body)))
    chunks = client.iter_query("com.example.getBytes", service_url=SVC, chunk_size=100)
    assert next(chunks) == b"x" * 100
    chunks.close()
    assert body.closed
