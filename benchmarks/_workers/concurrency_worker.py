"""Concurrent getRecord calls from one event loop (run in the measured env); prints one JSON line.

    python concurrency_worker.py CLIENT CONFIG.json

CLIENT is ``atmosphere`` (``AsyncAtmosphereClient``), ``sdk`` (the atproto
SDK's ``AsyncClient``) or ``httpx`` (raw ``httpx.AsyncClient``, the floor).
Each restores a saved session without a request, warms up (one call per
coroutine, so the connection pool is full), then ``coroutines`` tasks share
``calls`` getRecord calls on distinct records, taking the next from a common
counter. Reports the wall time and this process's CPU time of the timed calls.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

Get = Callable[[str], Awaitable[str]]


async def make_atmosphere(cfg: dict[str, Any]) -> tuple[Get, Callable[[], Awaitable[None]]]:
    from atmosphere import AsyncAtmosphereClient

    client = AsyncAtmosphereClient(cfg["pds_url"])
    await client.login_with_session(cfg["sessions"]["atmosphere"], verify=False)
    prefix = f"at://{cfg['did']}/{cfg['collection']}/"

    async def get(rkey: str) -> str:
        value = await client.get_record(prefix + rkey)
        return str(value["name"])

    return get, client.aclose


async def make_sdk(cfg: dict[str, Any]) -> tuple[Get, Callable[[], Awaitable[None]]]:
    from atproto import AsyncClient

    client = AsyncClient(cfg["pds_url"])
    await client.login(session_string=cfg["sessions"]["sdk"], fetch_bsky_profile=False)
    repo = client.com.atproto.repo

    async def get(rkey: str) -> str:
        answer = await repo.get_record(
            {"repo": cfg["did"], "collection": cfg["collection"], "rkey": rkey}
        )
        value = answer.value
        return str(value["name"] if isinstance(value, dict) else value.name)

    async def close() -> None:
        await client.request.close()

    return get, close


async def make_httpx(cfg: dict[str, Any]) -> tuple[Get, Callable[[], Awaitable[None]]]:
    import httpx

    http = httpx.AsyncClient(base_url=cfg["pds_url"])
    headers = {"Authorization": f"Bearer {cfg['sessions']['httpx']}"}

    async def get(rkey: str) -> str:
        r = await http.get(
            "/xrpc/com.atproto.repo.getRecord",
            params={"repo": cfg["did"], "collection": cfg["collection"], "rkey": rkey},
            headers=headers,
        )
        r.raise_for_status()
        return str(r.json()["value"]["name"])

    return get, http.aclose


MAKERS = {"atmosphere": make_atmosphere, "sdk": make_sdk, "httpx": make_httpx}


async def run(kind: str, cfg: dict[str, Any]) -> dict[str, Any]:
    get, close = await MAKERS[kind](cfg)
    rkeys: list[str] = cfg["rkeys"]
    names: list[str] = cfg["names"]
    width: int = cfg["coroutines"]
    calls: int = cfg["calls"]
    try:
        # Warm-up: every coroutine's connection opened, code paths run once.
        await asyncio.gather(*(get(rkeys[i % len(rkeys)]) for i in range(width)))
        failures = 0
        counter = iter(range(calls))

        async def worker() -> None:
            nonlocal failures
            for i in counter:
                j = i % len(rkeys)
                if await get(rkeys[j]) != names[j]:
                    failures += 1

        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(width)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        await close()
    if failures:
        raise SystemExit(f"{kind}: {failures} records came back wrong")
    return {
        "client": kind,
        "wall_s": wall,
        "cpu_s": cpu,
        "calls_per_s": calls / wall,
        "cpu_us_per_call": cpu / calls * 1e6,
    }


def main() -> int:
    kind, cfg = sys.argv[1], json.loads(Path(sys.argv[2]).read_text())
    print(json.dumps(asyncio.run(run(kind, cfg))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
