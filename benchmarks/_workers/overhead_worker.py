"""Per-call client overhead against the canned loopback server (run in the measured env).

    python overhead_worker.py CLIENT '{"url": ..., "did": ..., ...}'

    python overhead_worker.py CLIENT '{...}' OP:N    # untimed, for callgrind

CLIENT is ``atmosphere``, ``sdk`` (atproto) or ``httpx`` (raw httpx, the
floor). Each client logs in, warms up, then makes ``n_get`` getRecord calls
and ``n_list`` 100-record listRecords calls in timed batches; it prints the
median batch's microseconds per call (wall and CPU) as one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def make_atmosphere(cfg: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], Any]]:
    from atmosphere import AtmosphereClient

    client = AtmosphereClient(cfg["url"])
    client.login(cfg["handle"], cfg["password"])
    uri = f"at://{cfg['did']}/{cfg['collection']}/{cfg['rkey']}"
    collection = cfg["collection"]

    def get() -> Any:
        return client.get_record(uri)

    def page() -> Any:
        return client.list_records(collection, limit=100)[0]

    return get, page


def make_sdk(cfg: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], Any]]:
    from atproto import Client

    client = Client(cfg["url"])
    client.login(cfg["handle"], cfg["password"], fetch_bsky_profile=False)
    get_params = {"repo": cfg["did"], "collection": cfg["collection"], "rkey": cfg["rkey"]}
    list_params = {"repo": cfg["did"], "collection": cfg["collection"], "limit": 100}
    repo = client.com.atproto.repo

    def get() -> Any:
        return repo.get_record(get_params).value

    def page() -> Any:
        return repo.list_records(list_params).records

    return get, page


def make_httpx(cfg: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[], Any]]:
    import httpx

    http = httpx.Client(base_url=cfg["url"])
    login = http.post(
        "/xrpc/com.atproto.server.createSession",
        json={"identifier": cfg["handle"], "password": cfg["password"]},
    )
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['accessJwt']}"}
    get_params = {"repo": cfg["did"], "collection": cfg["collection"], "rkey": cfg["rkey"]}
    list_params = {"repo": cfg["did"], "collection": cfg["collection"], "limit": 100}

    def get() -> Any:
        r = http.get("/xrpc/com.atproto.repo.getRecord", params=get_params, headers=headers)
        r.raise_for_status()
        return r.json()["value"]

    def page() -> Any:
        r = http.get("/xrpc/com.atproto.repo.listRecords", params=list_params, headers=headers)
        r.raise_for_status()
        return r.json()["records"]

    return get, page


MAKERS = {"atmosphere": make_atmosphere, "sdk": make_sdk, "httpx": make_httpx}


def per_call_us(fn: Callable[[], Any], calls: int, batch: int) -> tuple[float, float]:
    """Median over batches of µs per call: wall time, and this process's CPU time.

    The CPU time is the client's own work (the server runs in another
    process), so it is the steadier measure of overhead on a noisy machine.
    """
    wall, cpu = [], []
    clock, cpu_clock = time.perf_counter, time.process_time
    for _ in range(max(1, calls // batch)):
        t0, c0 = clock(), cpu_clock()
        for _ in range(batch):
            fn()
        wall.append((clock() - t0) / batch * 1e6)
        cpu.append((cpu_clock() - c0) / batch * 1e6)
    return statistics.median(wall), statistics.median(cpu)


def count_mode(get: Callable[[], Any], page: Callable[[], Any], spec: str) -> int:
    """``OP:N``: warm up, then make N calls of OP (``get``/``list``) and exit, untimed.

    bench_instructions.py runs this under callgrind with two values of N: the
    difference of the instruction counts, divided by that of N, is the client's
    instructions per call (setup, warm-up and exit cancel out).
    """
    op, n = spec.split(":")
    fn = get if op == "get" else page
    for _ in range(20):
        fn()
    for _ in range(int(n)):
        fn()
    return 0


def main() -> int:
    kind, cfg = sys.argv[1], json.loads(sys.argv[2])
    get, page = MAKERS[kind](cfg)
    if len(sys.argv) > 3:
        return count_mode(get, page, sys.argv[3])
    # Sanity: the same data comes back through every client.
    value = get()
    name = value["name"] if isinstance(value, dict) else value.name
    if name != cfg["record_name"]:
        raise SystemExit(f"{kind}: getRecord returned {name!r}")
    if len(page()) != 100:
        raise SystemExit(f"{kind}: listRecords did not return 100 records")
    for _ in range(cfg["warmup"]):
        get()
    for _ in range(max(1, cfg["warmup"] // 10)):
        page()
    get_us, get_cpu_us = per_call_us(get, cfg["n_get"], cfg["batch_get"])
    list_us, list_cpu_us = per_call_us(page, cfg["n_list"], cfg["batch_list"])
    print(
        json.dumps(
            {
                "client": kind,
                "get_record_us": get_us,
                "get_record_cpu_us": get_cpu_us,
                "list_records_us": list_us,
                "list_records_cpu_us": list_cpu_us,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
