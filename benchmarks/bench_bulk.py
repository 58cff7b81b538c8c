"""Publish 1,000 records three ways against the real PDS and compare the times.

1. ``sequential``: one ``create_record`` call after another (sync client);
2. ``batched``:    ``create_records`` (``applyWrites`` batches of 200);
3. ``async``:      ``AsyncAtmosphereClient.create_record`` with 16 coroutines in flight.

Rounds alternate (sequential, batched, async, sequential, …) so machine noise
spreads over all three; medians are reported with the ratios. Each round
deletes what it wrote (in batches) before the next starts. It uses the
run's shared PDS when ``run_all.py`` started one (``_pds.py``).

    python benchmarks/bench_bulk.py [--records 1000] [--rounds 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "src")]

from _common import log, median, save_result  # noqa: E402
from _pds import pds_server  # noqa: E402

from atmosphere import AsyncAtmosphereClient, AtmosphereClient, Delete  # noqa: E402

C = "com.example.bench.bulk"


def _records(n: int, tag: str) -> list[dict[str, object]]:
    return [{"$type": C, "n": i, "tag": tag, "text": "x" * 64} for i in range(n)]


def sequential(client: AtmosphereClient, n: int) -> list[str]:
    return [str(client.create_record(C, r)) for r in _records(n, "sequential")]


def batched(client: AtmosphereClient, n: int) -> list[str]:
    return [str(u) for u in client.create_records(C, _records(n, "batched"))]


def concurrent(session: str, pds_url: str, n: int, concurrency: int) -> list[str]:
    async def main() -> list[str]:
        gate = asyncio.Semaphore(concurrency)
        async with AsyncAtmosphereClient(pds_url) as client:
            await client.login_with_session(session)

            async def one(record: dict[str, object]) -> str:
                async with gate:
                    return str(await client.create_record(C, record))

            return list(await asyncio.gather(*(one(r) for r in _records(n, "async"))))

    return asyncio.run(main())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    times: dict[str, list[float]] = {"sequential": [], "batched": [], "async": []}
    with pds_server() as pds, AtmosphereClient(pds.pds_url) as client:
        acct = pds.accounts[0]
        client.login(acct.handle, acct.password)
        session = client.export_session()
        for rnd in range(args.rounds):
            for way in times:
                t0 = time.perf_counter()
                if way == "sequential":
                    uris = sequential(client, args.records)
                elif way == "batched":
                    uris = batched(client, args.records)
                else:
                    uris = concurrent(session, pds.pds_url, args.records, args.concurrency)
                elapsed = time.perf_counter() - t0
                if len(set(uris)) != args.records:
                    raise SystemExit(f"{way}: {len(set(uris))} distinct URIs, not {args.records}")
                times[way].append(elapsed)
                log(f"round {rnd + 1}: {way:<10} {elapsed:7.2f} s")
                client.apply_writes([Delete(C, uri.rsplit("/", 1)[1]) for uri in uris])

    med = {way: median(values) for way, values in times.items()}
    result = {
        "records": args.records,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "seconds": times,
        "median_seconds": med,
        "speedup_batched_vs_sequential": med["sequential"] / med["batched"],
        "speedup_async_vs_sequential": med["sequential"] / med["async"],
    }
    save_result("bulk", result)
    print(f"\n{args.records} records, median of {args.rounds} alternating rounds")
    print(f"{'way':<12}{'seconds':>10}{'records/s':>12}{'vs sequential':>16}")
    for way, seconds in med.items():
        print(
            f"{way:<12}{seconds:>10.2f}{args.records / seconds:>12.0f}"
            f"{med['sequential'] / seconds:>15.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
