"""AsyncAtmosphereClient against the in-memory fake PDS (asyncio, no pytest plugin).

The async client is the source the sync one is generated from; the unit
suites that take the ``flavour`` fixture (tests/support/flavours.py) and the
real-PDS integration suite run against both clients. The tests here are async
only, written as native asyncio: many coroutines sharing one refresh,
``upload_blobs``, async iterators consumed with ``async for``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from atmosphere import AsyncAtmosphereClient, IntegrityError, SessionRefreshError, XrpcError
from tests.support.fake_pds import FakePds, blob_cid

REFRESH = "com.atproto.server.refreshSession"
C = "com.example.async"
T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run on a fresh loop that is shut down properly (async generators, executor)."""

    async def main() -> T:
        return await factory()

    return asyncio.run(main())


def slow(pds: FakePds) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    """An async handler that yields to the loop, so coroutines really interleave."""

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05 if request.url.path.endswith(REFRESH) else 0.001)
        return pds(request)

    return handler


def client_for(pds: FakePds, **kwargs: Any) -> AsyncAtmosphereClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(slow(pds)))
    return AsyncAtmosphereClient(pds.url, _client=http, **kwargs)


@pytest.mark.parametrize("how", ["exp-in-the-past", "server-says-expired"])
def test_fifty_coroutines_share_one_refresh(how: str) -> None:
    pds = FakePds("https://pds.test")
    alice = pds.add_account("alice.test", "hunter2")
    for i in range(3):
        pds.add_record(alice, C, {"$type": C, "i": i}, f"r{i}")
    exp = time.time() - 10 if how == "exp-in-the-past" else time.time() + 7200
    saved = pds.session_string(alice, access_exp=exp)
    changes: list[str] = []

    async def main() -> list[Any]:
        async with client_for(pds, on_session_change=changes.append) as client:
            await client.login_with_session(saved, verify=False)
            if how == "server-says-expired":
                pds.expire_access_tokens()
            uris = await asyncio.gather(
                *(client.create_record(C, {"$type": C, "n": n}) for n in range(50))
            )
            await client._http.aclose()
            return uris

    uris = run(main)
    assert len(set(uris)) == 50
    assert len(alice.records[C]) == 53  # every write landed once
    assert pds.calls[REFRESH] == 1
    assert len(changes) == 1


def test_failed_refresh_leaves_the_client_logged_out() -> None:
    pds = FakePds("https://pds.test")
    alice = pds.add_account("alice.test", "hunter2")
    saved = pds.session_string(alice, access_exp=time.time() - 10)
    pds.revoke_refresh_tokens()

    async def main() -> bool:
        async with client_for(pds) as client:
            with pytest.raises(SessionRefreshError):
                await client.login_with_session(saved)
            authenticated = client.is_authenticated
            await client._http.aclose()
            return authenticated

    assert run(main) is False


def test_async_iterators_and_blobs() -> None:
    pds = FakePds("https://pds.test")
    alice = pds.add_account("alice.test", "hunter2")
    for i in range(230):
        pds.add_record(alice, C, {"$type": C, "i": i}, f"k{i:03d}")
    data = bytes(range(256)) * 4000

    async def main() -> tuple[int, list[bytes], bytes]:
        async with client_for(pds) as client:
            await client.login("alice.test", "hunter2")
            walked = [r async for r in client.iter_records(C, page_size=100)]
            ref = await client.upload_blob(iter([data[:5000], data[5000:]]), "image/png")
            pds.add_record(alice, C, {"$type": C, "blob": ref}, "withblob")
            streamed = [c async for c in client.iter_blob(alice.did, ref["ref"]["$link"])]
            whole = await client.get_blob(alice.did, ref["ref"]["$link"])
            await client._http.aclose()
            return len(walked), streamed, whole

    count, streamed, whole = run(main)
    assert count == 230
    assert b"".join(streamed) == whole == data
    assert blob_cid(data)


def test_tampered_blob_raises_integrity_error() -> None:
    pds = FakePds("https://pds.test")
    alice = pds.add_account("alice.test", "hunter2")

    async def main() -> None:
        async with client_for(pds) as client:
            await client.login("alice.test", "hunter2")
            ref = await client.upload_blob(b"precious bytes")
            pds.add_record(alice, C, {"$type": C, "blob": ref}, "b")
            pds.corrupt_blobs = True
            with pytest.raises(IntegrityError):
                await client.get_blob(alice.did, ref["ref"]["$link"])
            await client._http.aclose()

    run(main)


def test_owned_http_client_is_closed_by_aclose() -> None:
    async def main() -> bool:
        client = AsyncAtmosphereClient("https://pds.test")
        await client.aclose()
        return client._http.is_closed

    assert run(main) is True


def test_upload_blobs_bounds_concurrency_and_keeps_order() -> None:
    pds = FakePds("https://pds.test")
    pds.add_account("alice.test", "hunter2")
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        uploading = request.url.path.endswith("uploadBlob")
        if uploading:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.02 if uploading else 0)
            return pds(request)
        finally:
            if uploading:
                in_flight -= 1

    blobs = [f"blob number {i}".encode() for i in range(12)]

    async def main() -> list[dict[str, Any]]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with AsyncAtmosphereClient(pds.url, _client=http) as client:
            await client.login("alice.test", "hunter2")
            with pytest.raises(ValueError):
                await client.upload_blobs(blobs, max_concurrency=0)
            refs = await client.upload_blobs(
                [*blobs[:6], *((b, "text/plain") for b in blobs[6:])], max_concurrency=3
            )
            await http.aclose()
            return refs

    refs = run(main)
    assert [r["ref"]["$link"] for r in refs] == [blob_cid(b) for b in blobs]
    assert [r["mimeType"] for r in refs] == ["application/octet-stream"] * 6 + ["text/plain"] * 6
    assert peak == 3


def test_upload_blobs_failure_cancels_the_rest() -> None:
    pds = FakePds("https://pds.test")
    pds.add_account("alice.test", "hunter2")
    started = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal started
        if request.url.path.endswith("uploadBlob"):
            started += 1
            if request.content == bytes([1]) * 10:  # always fails, retried or not
                return httpx.Response(400, json={"error": "InvalidRequest"})
            await asyncio.sleep(0.05)
        return pds(request)

    async def main() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with AsyncAtmosphereClient(pds.url, _client=http) as client:
            await client.login("alice.test", "hunter2")
            with pytest.raises(XrpcError):
                await client.upload_blobs([bytes([i]) * 10 for i in range(20)], max_concurrency=2)
            await http.aclose()

    run(main)
    assert started < 20  # the queue behind the failure never started
