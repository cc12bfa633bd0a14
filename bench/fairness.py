"""Fits and queries sharing the workers, four layouts side by side in one run (docs/reliability.md).

Each layout is a real server with 2 fit workers on loopback (the flood's queries draw 20,000 samples each,
so that one is always waiting when a worker frees):
- priority: queries go ahead of fits' waiting node tasks, nothing reserved (the layout before);
- share:    fits keep half the workers while their tasks wait (--fit-share 0.5), nothing reserved;
- reserved+half: one extra worker for queries only (--query-workers 1), and fits keep half;
- reserved+all: the extra query worker, and fits keep every fit worker while they wait (the default).

For each it measures:
- query latency (p50/p95/p99) of back-to-back SampleModel calls while 6 BETTER fits run;
- a 20-node GOOD fit alone, then under a 3-thread and an 8-thread SampleModel flood (a fit that
  is starved is cut at --fit-deadline and printed as such);
- the RSS of the worker processes, which prices the reserved worker.

    .venv/bin/python bench/fairness.py                 # all four layouts, about 10 minutes
    .venv/bin/python bench/fairness.py --layouts share,reserved+all
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scmfit.client import Client, ScmfitError, fit_request  # noqa: E402
from tests.conftest import fixture_case  # noqa: E402
from tests.serverproc import ServerProcess, start_server  # noqa: E402

LAYOUTS = {
    "priority": ("--query-workers", "0", "--fit-share", "0"),
    "share": ("--query-workers", "0", "--fit-share", "0.5"),
    "reserved+half": ("--query-workers", "1", "--fit-share", "0.5"),
    "reserved+all": ("--query-workers", "1", "--fit-share", "1"),
}
_seeds = iter(range(10_000, 1_000_000))


def chain(nodes: int, rows: int, seed: int) -> tuple[list[str], list[tuple[str, str]], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    names = [f"n{i:02d}" for i in range(nodes)]
    data = {names[0]: rng.normal(size=rows)}
    for i in range(1, nodes):
        data[names[i]] = 0.9 * np.tanh(data[names[i - 1]]) + 0.3 * rng.normal(size=rows)
    return names, [(names[i - 1], names[i]) for i in range(1, nodes)], data


def timed_fit(address: str, quality: str, nodes: int, rows: int, deadline: float) -> float | None:
    """Seconds to fit a fresh chain (a seed no earlier fit used); None when it hit its deadline."""
    names, edges, data = chain(nodes, rows, seed=7)
    request = fit_request(names, edges, data, quality=quality, seed=next(_seeds))
    started = time.monotonic()
    with Client(address, timeout=deadline) as client:
        try:
            client.fit(request)
        except ScmfitError as error:
            if error.code is not None and error.code.name == "DEADLINE_EXCEEDED":
                return None
            raise
    return time.monotonic() - started


class Flood:
    """`threads` clients sending SampleModel back to back until stopped; counts answers."""

    def __init__(self, address: str, model_id: str, threads: int, samples: int) -> None:
        self.samples = samples
        self.answered = 0
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(address, model_id, index)) for index in range(threads)
        ]

    def _run(self, address: str, model_id: str, index: int) -> None:
        with Client(address, timeout=120) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                client.sample(model_id, {"X": 1.0}, num_samples=self.samples, seed=index)
                with self._lock:
                    self.answered += 1
                    self.latencies.append(time.monotonic() - started)

    def __enter__(self) -> Flood:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def worker_rss_mb(server: ServerProcess) -> list[float]:
    children = psutil.Process(server.process.pid).children()
    workers = [c for c in children if "resource_tracker" not in " ".join(c.cmdline())]
    return sorted(c.memory_info().rss / 2**20 for c in workers)


def measure(layout: str, args: argparse.Namespace) -> dict[str, Any]:
    server = start_server(*LAYOUTS[layout], workers=2)
    try:
        case = fixture_case("linear_chain")
        with Client(server.address, timeout=120) as client:
            model_id = client.fit(case.graph, case.traces, seed=1).model_id
            for _ in range(6):  # every worker that will answer has loaded the model
                client.sample(model_id, num_samples=10, seed=1)
        figures: dict[str, Any] = {"worker_rss_mb": worker_rss_mb(server)}

        # Query latency while 6 BETTER fits run (2 at a time, 4 queued).
        fits = [
            threading.Thread(
                target=timed_fit, args=(server.address, "BETTER", args.better_nodes, args.better_rows, 600.0)
            )
            for _ in range(6)
        ]
        for thread in fits:
            thread.start()
        time.sleep(2.0)  # the fits hold the workers
        latencies: list[float] = []
        with Client(server.address, timeout=120) as client:
            until = time.monotonic() + args.query_seconds
            while time.monotonic() < until and any(thread.is_alive() for thread in fits):
                started = time.monotonic()
                client.sample(model_id, {"X": 1.0}, num_samples=200, seed=2)
                latencies.append(time.monotonic() - started)
        for thread in fits:
            thread.join(900)
        figures["query"] = (
            len(latencies),
            percentile(latencies, 50),
            percentile(latencies, 95),
            percentile(latencies, 99),
        )

        # A 20-node GOOD fit alone, then under floods.
        figures["alone"] = timed_fit(server.address, "GOOD", 20, args.fit_rows, args.fit_deadline)
        for threads in (3, 8):
            with Flood(server.address, model_id, threads, args.flood_samples) as flood:
                time.sleep(1.0)
                seconds = timed_fit(server.address, "GOOD", 20, args.fit_rows, args.fit_deadline)
            figures[f"flood{threads}"] = (seconds, flood.answered, percentile(flood.latencies, 95))
        return figures
    finally:
        server.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--query-seconds", type=float, default=15.0)
    parser.add_argument("--better-nodes", type=int, default=8)
    parser.add_argument("--better-rows", type=int, default=1500)
    parser.add_argument(
        "--flood-samples", type=int, default=20_000, help="samples per flood query: long enough that one always waits"
    )
    parser.add_argument("--fit-rows", type=int, default=2000)
    parser.add_argument("--fit-deadline", type=float, default=120.0)
    args = parser.parse_args()
    print(f"# bench/fairness.py on {psutil.cpu_count()} CPUs, 2 fit workers per server")
    results = {}
    for layout in args.layouts.split(","):
        print(f"== {layout}: {' '.join(LAYOUTS[layout])}", flush=True)
        results[layout] = figures = measure(layout, args)
        count, p50, p95, p99 = figures["query"]
        print(f"  queries with 6 BETTER fits running: {count} answered, p50 {p50 * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")  # fmt: skip
        alone = figures["alone"]
        print(f"  20-node GOOD fit alone: {alone:.2f} s")
        for threads in (3, 8):
            seconds, answered, flood_p95 = figures[f"flood{threads}"]
            shown = f"{seconds:.2f} s ({seconds / alone:.2f}x alone)" if seconds else "STARVED (hit its deadline)"
            print(f"  under a {threads}-thread query flood: {shown}; {answered} queries answered meanwhile, "
                  f"p95 {flood_p95 * 1000:.0f} ms")  # fmt: skip
        print(f"  worker RSS: {', '.join(f'{mb:.0f}' for mb in figures['worker_rss_mb'])} MiB")
    print(
        "\n| layout | query p50 / p95 / p99 (6 BETTER fits) | fit alone | 3-thread flood | 8-thread flood "
        "| workers' RSS |"
    )
    print("|---|---|---|---|---|---|")
    for layout, figures in results.items():
        count, p50, p95, p99 = figures["query"]
        alone = figures["alone"]
        cells = []
        for threads in (3, 8):
            seconds = figures[f"flood{threads}"][0]
            cells.append(f"{seconds:.1f} s ({seconds / alone:.2f}x)" if seconds else "starved")
        rss = figures["worker_rss_mb"]
        print(f"| {layout} | {p50 * 1000:.0f} / {p95 * 1000:.0f} / {p99 * 1000:.0f} ms | {alone:.1f} s | "
              f"{cells[0]} | {cells[1]} | {len(rss)} x {statistics.mean(rss):.0f} MiB |")  # fmt: skip


if __name__ == "__main__":
    main()
