"""The two shells that run a :data:`~._http.Flow`: one over ``httpx.Client``, one async.

The shell sends each request the flow yields (redirects are not followed: the
flows want the real status), reads at most ``max_body`` bytes of the answer,
and sends the response back into the flow. Transport failures become
:class:`~atmosphere.errors.TransportError`.
"""

from __future__ import annotations

from typing import TypeVar

import httpx

from ..errors import NetworkTimeoutError, ResponseTooLargeError, TransportError
from ._http import Flow

__all__ = ["MAX_BODY", "buffered", "run_async", "run_sync"]

T = TypeVar("T")
MAX_BODY = 1024 * 1024
"""Metadata, DID documents and token answers are small: 1 MiB is plenty."""


def buffered(request: httpx.Request, response: httpx.Response, body: bytes) -> httpx.Response:
    """A copy of ``response`` holding ``body`` (already decoded) in memory."""
    # The body is already decoded: drop the encoding so it is not decoded twice.
    headers = [
        (k, v)
        for k, v in response.headers.multi_items()
        if k.lower() not in ("content-encoding", "content-length")
    ]
    return httpx.Response(response.status_code, headers=headers, content=body, request=request)


def _too_large(request: httpx.Request) -> ResponseTooLargeError:
    return ResponseTooLargeError(f"answer from {request.url.host} is over {MAX_BODY} bytes")


def _transport_error(request: httpx.Request, exc: httpx.HTTPError) -> TransportError:
    where = f"{request.method} {request.url.copy_with(query=None)}"
    if isinstance(exc, httpx.TimeoutException):
        return NetworkTimeoutError(f"{where}: timed out")
    return TransportError(f"{where}: {type(exc).__name__}")


def run_sync(flow: Flow[T], client: httpx.Client, *, max_body: int = MAX_BODY) -> T:
    """Run a flow to completion with a sync client; its return value."""
    try:
        request = next(flow)
        while True:
            try:
                response = client.send(request, stream=True, follow_redirects=False)
                try:
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > max_body:
                            raise _too_large(request)
                finally:
                    response.close()
            except httpx.HTTPError as exc:
                raise _transport_error(request, exc) from exc
            request = flow.send(buffered(request, response, bytes(body)))
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        flow.close()


async def run_async(flow: Flow[T], client: httpx.AsyncClient, *, max_body: int = MAX_BODY) -> T:
    """Run a flow to completion with an async client; its return value."""
    try:
        request = next(flow)
        while True:
            try:
                response = await client.send(request, stream=True, follow_redirects=False)
                try:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_body:
                            raise _too_large(request)
                finally:
                    await response.aclose()
            except httpx.HTTPError as exc:
                raise _transport_error(request, exc) from exc
            request = flow.send(buffered(request, response, bytes(body)))
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        flow.close()
