"""What running fits on Ray costs against the local worker pool, side by side in one run.

Starts a two-node Ray cluster on loopback (one CPU each) and two servers: one with `--executor ray`
on that cluster and one with `--executor local --workers 2`, so both have two task slots. Each fits
the same 100-node and 500-node DAGs (GOOD, seeded, so both give the same model) alternately, and the
figures are the medians of the repeats. Also timed: one query on each server.

Ray must stay on loopback, so this re-runs itself in a network namespace of its own (needs root):

    .venv/bin/python -u bench/ray_overhead.py [--rows 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.fit_benchmarks import random_dag  # noqa: E402
from scmfit.client import Client  # noqa: E402
from tests.raycluster import only_loopback, start_cluster  # noqa: E402
from tests.serverproc import start_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500])
    args = parser.parse_args()
    if not only_loopback():
        inner = f"ip link set lo up && exec {sys.executable} -u {' '.join(map(str, sys.argv))}"
        sys.exit(subprocess.call(["unshare", "-n", "bash", "-c", inner]))

    # A SIGTERM (timeout, pkill) unwinds through `finally`, so the cluster and servers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cluster = start_cluster()
    servers = {}
    try:
        ray_server = start_server("--executor", "ray", "--ray-address", cluster.address, workers=1, ready_timeout=300)
        local_server = start_server(workers=2)
        servers = {"local": local_server, "ray": ray_server}
        print(f"machine: {os.cpu_count()} cores; cluster: 2 nodes x 1 CPU; local: 2 workers; {args.rows} rows")
        print(f"{'workload':<22} {'local s':>9} {'ray s':>9} {'ray/local':>10}  same model")
        for size in args.sizes:
            nodes, edges, data = random_dag(size, args.rows, True, size)
            times: dict[str, list[float]] = {name: [] for name in servers}
            models: dict[str, set[tuple[str, tuple[float, ...]]]] = {name: set() for name in servers}
            for repeat in range(args.repeats):
                for name, server in servers.items():
                    with Client(server.address, timeout=3600) as client:
                        started = time.perf_counter()
                        # A new seed per repeat, the same on both, so neither reuses a stored model.
                        result = client.fit((nodes, edges), data, seed=1000 + repeat)
                        times[name].append(time.perf_counter() - started)
                    if repeat == 0:
                        models[name].add((result.model_id, tuple(node.r2 or 0.0 for node in result.nodes)))
            local, ray = statistics.median(times["local"]), statistics.median(times["ray"])
            same = models["local"] == models["ray"]
            print(f"{f'{size}-node mixed DAG':<22} {local:>9.2f} {ray:>9.2f} {ray / local:>9.2f}x  {same}")
        for name, server in servers.items():
            with Client(server.address, timeout=120) as client:
                fitted = client.fit((nodes, edges), data, seed=1000)
                client.sample(fitted.model_id, num_samples=100, seed=0)  # the worker caches the model
                started = time.perf_counter()
                for _ in range(20):
                    client.sample(fitted.model_id, num_samples=100, seed=0)
                print(f"query on {name:<5}: {(time.perf_counter() - started) / 20 * 1000:.1f} ms per SampleModel")
    finally:
        for server in servers.values():
            server.terminate()
        cluster.stop()


if __name__ == "__main__":
    main()
