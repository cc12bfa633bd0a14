"""Load and soak against a real scmfit server on loopback: N clients, T seconds, fits and queries mixed.

Prints throughput, p50/p99 latency per call kind, errors by status code, and the server's RSS
(main process plus workers) every 5 s. Bounded in time and count; talks only to 127.0.0.1.

    .venv/bin/python bench/load.py --clients 8 --seconds 60
    .venv/bin/python bench/load.py --clients 16 --seconds 600 --max-queue 2   # soak with deliberate overload
    .venv/bin/python bench/load.py --clients 8 --seconds 60 --compare-lanes  # queries: shared lane vs own lane
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scmfit.client import Client, ScmfitError  # noqa: E402
from scmfit.client._cases import load_case  # noqa: E402
from tests.serverproc import start_server  # noqa: E402

CASES = ["linear_chain", "multi_parent", "nonlinear", "complex_dag", "code_execution", "noisy_data"]
MAX_CALLS = 1_000_000


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-queue", type=int, default=16)
    parser.add_argument("--registry-bytes", type=int, default=64 * 1024 * 1024, help="the server's model memory bound")
    parser.add_argument("--query-share", type=float, default=0.7, help="share of calls that are queries")
    parser.add_argument("--fresh-fit-share", type=float, default=0.5, help="share of fits that are new models")
    parser.add_argument(
        "--compare-lanes",
        action="store_true",
        help="run twice, side by side: queries in the fits' lane (--max-concurrent-queries 0), then in their own",
    )
    args = parser.parse_args()
    if not args.compare_lanes:
        run_load(args)
        return
    runs = {
        "shared lane": run_load(args, "--max-concurrent-queries", "0"),
        "own lane": run_load(args),
    }
    print("\nqueries under the same load, one run after the other:")
    for name, latencies in runs.items():
        values = latencies.get("query", [])
        fits = latencies.get("fit (new)", [])
        print(
            f"  {name:<12} queries n={len(values):6d}  p50 {percentile(values, 0.5) * 1000:8.1f} ms  "
            f"p99 {percentile(values, 0.99) * 1000:8.1f} ms   new fits n={len(fits):5d}  "
            f"p50 {percentile(fits, 0.5) * 1000:8.1f} ms"
        )
    shared, own = (percentile(runs[name].get("query", []), 0.99) for name in runs)
    print(f"  query p99, shared / own lane: {shared / own:.1f}x")


def run_load(args: argparse.Namespace, *server_flags: str) -> dict[str, list[float]]:
    """One load run against a fresh server; prints its report and returns the latencies by call kind."""

    cases = {name: load_case(REPO / "fixtures" / f"{name}.json") for name in CASES}
    server = start_server(
        "--max-queue",
        str(args.max_queue),
        "--registry-bytes",
        str(args.registry_bytes),
        *server_flags,
        workers=args.workers,
    )
    latencies: dict[str, list[float]] = collections.defaultdict(list)
    errors: collections.Counter[str] = collections.Counter()
    model_ids: list[tuple[str, str]] = []  # (model id, a root node to intervene on)
    lock = threading.Lock()
    stop = threading.Event()
    seeds = iter(range(10_000, 10_000 + MAX_CALLS))

    def client_loop(index: int) -> None:
        rng = random.Random(index)
        with Client(server.address, timeout=120) as client:
            for _ in range(MAX_CALLS):
                if stop.is_set():
                    return
                with lock:
                    known = list(model_ids)
                started = time.perf_counter()
                try:
                    if known and rng.random() < args.query_share:
                        kind = "query"
                        model_id, root = rng.choice(known)
                        intervention = {root: rng.uniform(-2, 2)} if rng.random() < 0.5 else None
                        client.sample(model_id, intervention, num_samples=1000)
                    else:
                        name = rng.choice(CASES)
                        case = cases[name]
                        with lock:
                            seed = next(seeds) if rng.random() < args.fresh_fit_share else 42
                        kind = "fit (new)" if seed != 42 else "fit (repeat)"
                        result = client.fit(case.graph, case.traces, seed=seed)
                        with lock:
                            model_ids.append((result.model_id, case.nodes[0]))
                    with lock:
                        latencies[kind].append(time.perf_counter() - started)
                except ScmfitError as error:
                    with lock:
                        errors[error.code.name if error.code else type(error).__name__] += 1

    rss = [(0.0, rss_mb(server.process.pid))]
    threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(args.clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    while time.perf_counter() - began < args.seconds:
        time.sleep(min(5.0, args.seconds - (time.perf_counter() - began)))
        rss.append((time.perf_counter() - began, rss_mb(server.process.pid)))
        print(f"  t={rss[-1][0]:6.1f}s  server RSS {rss[-1][1]:8.1f} MB", flush=True)
    stop.set()
    for thread in threads:
        thread.join(150)
    elapsed = time.perf_counter() - began
    code = server.terminate()

    calls = sum(len(v) for v in latencies.values())
    flags = " ".join(server_flags) or "default lanes"
    print(f"\n{args.clients} clients, {elapsed:.0f} s, {args.workers} workers, max queue {args.max_queue}, {flags}")
    print(f"throughput: {calls / elapsed:.1f} calls/s ({calls} ok, {sum(errors.values())} errors)")
    for kind, values in sorted(latencies.items()):
        print(
            f"  {kind:<13} n={len(values):6d}  p50 {percentile(values, 0.5) * 1000:8.1f} ms  "
            f"p99 {percentile(values, 0.99) * 1000:8.1f} ms  ({len(values) / elapsed * 60:.0f}/min)"
        )
    print(f"errors by code: {dict(errors) or 'none'}")
    warm = [mb for t, mb in rss if t >= min(30.0, elapsed / 4)] or [rss[-1][1]]
    print(
        f"server RSS: start {rss[0][1]:.0f} MB, after warm-up {warm[0]:.0f} MB, end {rss[-1][1]:.0f} MB, "
        f"growth after warm-up {100 * (rss[-1][1] - warm[0]) / warm[0]:+.1f}%, median {statistics.median(warm):.0f} MB"
    )
    print(f"server exit code after SIGTERM: {code}")
    return latencies


if __name__ == "__main__":
    main()
