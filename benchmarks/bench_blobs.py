"""Blob transfers at dataset scale: peak memory and throughput, side by side with raw httpx.

Uses the reference PDS (the run's shared one, or its own: ``_pds.py``), writes one file of
``--size-mib`` MiB, and measures four cases, each run in a fresh subprocess so
its peak RSS is its own:

- ``atmosphere-upload``: ``AtmosphereClient.upload_blob(path)``;
- ``httpx-upload``: raw httpx, the same file streamed as a chunk iterator with
  ``Content-Length`` and a Bearer token (no hashing: the floor);
- ``atmosphere-download``: ``AtmosphereClient.download_blob(did, cid, path)``;
- ``httpx-download``: raw httpx ``GET getBlob`` streamed to a file.

Each subprocess imports, restores a session saved by one login at the start
(no request), then takes its baseline RSS (``VmRSS``)
just before the transfer; "RSS growth" is the child's peak RSS
(``ru_maxrss``) minus that baseline. The upload pair and the download pair
each run alternately (A B A B ...) after a discarded warm-up round; medians
are reported. Targets (``targets.py``): growth < 64 MiB in both directions,
upload and download throughput >= 0.95x raw httpx (medians of the per-round
ratios, each pair run back to back).

    python benchmarks/bench_blobs.py [--size-mib 1024] [--runs 3] [--python PATH]

``--python`` is the interpreter of the workers (``run_all.py`` passes the
``atmosphere`` benchmark env, with the wheel of the tree). Results:
``.bench/results/blobs.json``, and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / ".bench" / "results" / "blobs.json"
CHUNK = 1 << 20
COLLECTION = "com.example.bench.blobHolder"
CASES_UP = ("atmosphere-upload", "httpx-upload")
CASES_DOWN = ("atmosphere-download", "httpx-download")
MIME = "application/octet-stream"


def log(message: str) -> None:
    print(f"[bench_blobs] {message}", file=sys.stderr, flush=True)


# -- the worker: one transfer in a fresh process -------------------------------------------


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _worker(case: str, job: dict[str, Any]) -> dict[str, Any]:
    import httpx

    from atmosphere import AtmosphereClient

    base = job["pds_url"]
    transferred = 0
    if case.startswith("atmosphere"):
        client = AtmosphereClient(base)
        client.login_with_session(job["session"], verify=False)
        baseline = _rss_kib()
        started = time.perf_counter()
        if case == "atmosphere-upload":
            ref = client.upload_blob(job["path"], MIME)
            transferred = ref["size"]
            assert ref["ref"]["$link"] == job["cid"], "CID mismatch"
        else:
            transferred = client.download_blob(job["did"], job["cid"], job["out"])
        seconds = time.perf_counter() - started
        client.close()
    else:
        http = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
        token = job["access_jwt"]
        baseline = _rss_kib()
        started = time.perf_counter()
        if case == "httpx-upload":
            size = os.path.getsize(job["path"])
            with open(job["path"], "rb") as source:

                def chunks() -> Any:
                    while chunk := source.read(CHUNK):
                        yield chunk

                answer = http.post(
                    f"{base}/xrpc/com.atproto.repo.uploadBlob",
                    content=chunks(),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": MIME,
                        "Content-Length": str(size),
                    },
                )
            answer.raise_for_status()
            transferred = answer.json()["blob"]["size"]
        else:
            with (
                http.stream(
                    "GET",
                    f"{base}/xrpc/com.atproto.sync.getBlob",
                    params={"did": job["did"], "cid": job["cid"]},
                    headers={"Accept-Encoding": "identity"},
                ) as response,
                open(job["out"], "wb") as out,
            ):
                response.raise_for_status()
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    transferred += len(chunk)
        seconds = time.perf_counter() - started
        http.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "case": case,
        "bytes": transferred,
        "seconds": seconds,
        "mib_per_s": transferred / (1 << 20) / seconds,
        "baseline_rss_mib": baseline / 1024,
        "peak_rss_mib": peak / 1024,
        "rss_growth_mib": (peak - baseline) / 1024,
    }


# -- the orchestrator ------------------------------------------------------------------------


def _run_worker(case: str, job: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [job["python"], __file__, "--worker", case, json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{case} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# Run in the workers' interpreter: log in once, upload the blob to download and
# a record that keeps it, and hand back the session for the workers.
_SETUP = f"""
import json, sys
from atmosphere import AtmosphereClient
url, handle, password, path = sys.argv[1:5]
with AtmosphereClient(url) as client:
    client.login(handle, password)
    ref = client.upload_blob(path, {MIME!r})
    client.create_record({COLLECTION!r}, {{"$type": {COLLECTION!r}, "shard": ref}})
    session = client.export_session()
print(json.dumps({{"session": session, "cid": ref["ref"]["$link"]}}))
"""


def _raw_login(url: str, handle: str, password: str) -> str:
    """An access token for the raw httpx workers (``createSession`` over urllib)."""
    import urllib.request

    req = urllib.request.Request(
        f"{url}/xrpc/com.atproto.server.createSession",
        data=json.dumps({"identifier": handle, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=60) as resp:
        token: str = json.loads(resp.read())["accessJwt"]
    return token


def _write_data(path: Path, size: int) -> None:
    """Cheap, non-repeating data: a random MiB, each copy numbered."""
    block = os.urandom(CHUNK)
    with path.open("wb") as out:
        for i in range(0, size, CHUNK):
            piece = b"bench" + i.to_bytes(8, "big") + block[13:]
            out.write(piece[: min(CHUNK, size - i)])


def _alternate(
    cases: tuple[str, str], runs: int, warmup: int, job_for: Any
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
    for round_no in range(-warmup, runs):
        for case in cases:
            result = _run_worker(case, job_for(case))
            tag = "warm-up" if round_no < 0 else f"run {round_no + 1}/{runs}"
            log(
                f"{case:20s} {tag:9s} {result['mib_per_s']:7.1f} MiB/s  "
                f"RSS +{result['rss_growth_mib']:.1f} MiB"
            )
            if round_no >= 0:
                out[case].append(result)
    return out


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "median_mib_per_s": statistics.median(r["mib_per_s"] for r in runs),
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "median_rss_growth_mib": statistics.median(r["rss_growth_mib"] for r in runs),
        "max_rss_growth_mib": max(r["rss_growth_mib"] for r in runs),
        "runs": runs,
    }


def _paired(
    a_runs: list[dict[str, Any]], b_runs: list[dict[str, Any]]
) -> tuple[float, list[float]]:
    """The median of the per-round throughput ratios a/b, and their quartiles."""
    ratios = sorted(a["mib_per_s"] / b["mib_per_s"] for a, b in zip(a_runs, b_runs, strict=True))
    if len(ratios) < 2:
        return ratios[0], [ratios[0], ratios[0]]
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return statistics.median(ratios), [q1, q3]


def _versions(python: str) -> dict[str, str]:
    probe = subprocess.run(
        [python, "-c", "import httpx, atmosphere as a; print(httpx.__version__, a.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "httpx": probe[0],
        "atmosphere": probe[1],
        "git_commit": commit,
        "cpu_count": str(os.cpu_count()),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="blob size (default 1024)")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per case (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="discarded rounds (default 1)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--python", default=sys.executable, help="the workers' interpreter")
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "JOB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker[0], json.loads(args.worker[1]))))
        return 0

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _pds import pds_server
    from targets import target

    size = args.size_mib * (1 << 20)
    with (
        tempfile.TemporaryDirectory(prefix="bench-blobs-") as tmp,
        pds_server(blob_upload_limit=max(size + 1, 2 << 30)) as pds,
    ):
        work = Path(tmp)
        source = work / "shard.bin"
        log(f"writing {args.size_mib} MiB to {source}")
        _write_data(source, size)
        acct = pds.accounts[0]
        log("uploading the blob to download, and a record that references it")
        setup = subprocess.run(
            [args.python, "-c", _SETUP, pds.pds_url, acct.handle, acct.password, str(source)],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if setup.returncode != 0:
            raise RuntimeError(f"set-up failed:\n{setup.stderr[-3000:]}")
        ready = json.loads(setup.stdout.strip().splitlines()[-1])
        ready["access_jwt"] = _raw_login(pds.pds_url, acct.handle, acct.password)
        job = {
            "python": args.python,
            "pds_url": pds.pds_url,
            "session": ready["session"],
            "access_jwt": ready["access_jwt"],
            "did": acct.did,
            "cid": ready["cid"],
            "path": str(source),
        }

        def job_for(case: str) -> dict[str, Any]:
            out = work / f"{case}.out"
            out.unlink(missing_ok=True)
            return {**job, "out": str(out)}

        uploads = _alternate(CASES_UP, args.runs, args.warmup, job_for)
        downloads = _alternate(CASES_DOWN, args.runs, args.warmup, job_for)

    cases = {case: _summary(runs) for case, runs in {**uploads, **downloads}.items()}
    # Medians of the per-round ratios: each pair ran back to back, so slow
    # drifts of a shared machine cancel in each pair.
    up_ratio, up_q = _paired(uploads["atmosphere-upload"], uploads["httpx-upload"])
    down_ratio, down_q = _paired(downloads["atmosphere-download"], downloads["httpx-download"])
    measured = {
        "blobs:upload_throughput": up_ratio,
        "blobs:download_throughput": down_ratio,
        "blobs:upload_rss": cases["atmosphere-upload"]["max_rss_growth_mib"],
        "blobs:download_rss": cases["atmosphere-download"]["max_rss_growth_mib"],
    }
    targets = {key: target(key).text for key in measured}
    verdict = {key: target(key).met(value) for key, value in measured.items()}
    result = {
        "benchmark": "blobs",
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "size_mib": args.size_mib,
        "runs": args.runs,
        "warmup": args.warmup,
        "environment": _versions(args.python),
        "cases": cases,
        "upload_throughput_ratio": up_ratio,
        "download_throughput_ratio": down_ratio,
        "upload_throughput_quartiles": up_q,
        "download_throughput_quartiles": down_q,
        "targets": targets,
        "verdict": verdict,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")

    print(
        f"\nBlob transfers of {args.size_mib} MiB, loopback reference PDS, medians of {args.runs}"
    )
    print(f"{'case':22s} {'MiB/s':>8s} {'seconds':>8s} {'RSS growth MiB (median/max)':>29s}")
    for case, summary in cases.items():
        growth = f"{summary['median_rss_growth_mib']:.1f} / {summary['max_rss_growth_mib']:.1f}"
        print(
            f"{case:22s} {summary['median_mib_per_s']:8.1f} "
            f"{summary['median_seconds']:8.2f} {growth:>29s}"
        )
    print(
        f"upload throughput, atmosphere / raw httpx:   {up_ratio:.2f}"
        f" [{up_q[0]:.2f}-{up_q[1]:.2f}]"
        f" (target {targets['blobs:upload_throughput']})"
    )
    print(
        f"download throughput, atmosphere / raw httpx: {down_ratio:.2f}"
        f" [{down_q[0]:.2f}-{down_q[1]:.2f}]"
        f" (target {targets['blobs:download_throughput']})"
    )
    print("targets met:", ", ".join(f"{k}={v}" for k, v in verdict.items()))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
