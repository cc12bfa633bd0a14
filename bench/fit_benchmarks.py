"""Fit speed and quality, measured side by side in one run: (a) the nine fixtures, (b) scaling, (c) concurrency.

(a) lift-sys's per-call subprocess, in-process DoWhy (warm, its defaults), and warm scmfit over gRPC
    with linear screening on and off.
(b) random linear and mixed (linear plus quadratic) DAGs and a 3-node chain at growing sizes:
    scmfit against in-process DoWhy, with each one's mean held-out R² side by side.
(c) 1, 2 and 4 concurrent clients, as fits per minute.

Writes docs/bench-*.png and docs/bench-results.json; prints every figure.

    .venv/bin/python bench/fit_benchmarks.py [--skip-slow]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scmfit.client import Client  # noqa: E402
from scmfit.client._cases import load_case  # noqa: E402
from tests.serverproc import start_server  # noqa: E402

DOCS = REPO / "docs"
SPLIT_SEED = 42
"""Both sides hold out the same rows (scmfit's split equals train_test_split(random_state=42)), so R² compare."""
FIXTURES = sorted(p.stem for p in (REPO / "fixtures").glob("*.json"))


def in_process_dowhy(
    nodes: list[str], edges: list[tuple[str, str]], data: dict[str, np.ndarray], quality: str
) -> tuple[float, float | None]:
    """DoWhy as a user runs it: auto-assign on the training split, fit, score each node on the test split."""
    from dowhy import gcm
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split

    frame = pd.DataFrame(data)
    train, test = train_test_split(frame, test_size=0.2, random_state=SPLIT_SEED)
    graph = nx.DiGraph(edges)
    graph.add_nodes_from(nodes)
    started = time.perf_counter()
    gcm.util.general.set_random_seed(42)
    scm = gcm.StructuralCausalModel(graph)
    gcm.auto.assign_causal_mechanisms(scm, train, quality=getattr(gcm.auto.AssignmentQuality, quality))
    gcm.fit(scm, train)
    seconds = time.perf_counter() - started
    scores = []
    for node in nodes:
        parents = sorted(graph.predecessors(node))
        mechanism = scm.causal_mechanism(node)
        if parents and hasattr(mechanism, "prediction_model") and np.ptp(test[node].to_numpy(dtype=float)) > 0:
            predicted = mechanism.prediction_model.predict(test[parents].to_numpy()).reshape(-1)
            scores.append(r2_score(test[node].to_numpy(dtype=float), predicted))
    return seconds, float(np.mean(scores)) if scores else None


def random_dag(
    nodes: int, rows: int, mixed: bool, seed: int
) -> tuple[list[str], list[tuple[str, str]], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    names = [f"v{i:03d}" for i in range(nodes)]
    edges: list[tuple[str, str]] = []
    data: dict[str, np.ndarray] = {}
    for j, name in enumerate(names):
        parents = [names[i] for i in rng.choice(j, size=min(j, 2), replace=False)] if j else []
        value = rng.normal(size=rows)
        for parent in parents:
            edges.append((parent, name))
            weight = rng.uniform(0.5, 1.5)
            source = data[parent] / (np.std(data[parent]) or 1)
            value = value + (weight * source**2 if mixed and rng.random() < 0.5 else weight * source)
        data[name] = value
    return names, edges, data


def chain(rows: int) -> tuple[list[str], list[tuple[str, str]], dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=rows)
    y = 2 * x + rng.normal(scale=0.5, size=rows)
    z = 3 * y + rng.normal(scale=0.5, size=rows)
    return ["X", "Y", "Z"], [("X", "Y"), ("Y", "Z")], {"X": x, "Y": y, "Z": z}


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def fixtures_section(client: Client, seeds: Any) -> dict[str, Any]:
    cases = {name: load_case(REPO / "fixtures" / f"{name}.json") for name in FIXTURES}
    rows: dict[str, Any] = {}
    for name, case in cases.items():
        payload = json.dumps(
            {
                "graph": {"nodes": case.nodes, "edges": case.edges},
                "traces": {k: v.tolist() for k, v in case.traces.items()},
                "quality": "GOOD",
            }
        )
        subprocess_seconds, _ = timed(
            lambda p=payload: subprocess.run(
                [sys.executable, str(REPO / "bench" / "lift_sys_subprocess.py")],
                input=p,
                capture_output=True,
                text=True,
                check=True,
            )
        )
        dowhy_seconds, dowhy_r2 = in_process_dowhy(case.nodes, case.edges, dict(case.traces), "GOOD")
        on_seconds, on = timed(lambda c=case: client.fit(c.graph, c.traces, seed=SPLIT_SEED))
        off_seconds, off = timed(lambda c=case: client.fit(c.graph, c.traces, seed=SPLIT_SEED, linear_screening=False))
        rows[name] = {
            "subprocess": subprocess_seconds,
            "dowhy": dowhy_seconds,
            "scmfit": on_seconds,
            "scmfit_no_screen": off_seconds,
            "status": on.status.value,
            "status_no_screen": off.status.value,
            "r2_dowhy": dowhy_r2,
            "r2": on.mean_r2,
            "r2_no_screen": off.mean_r2,
        }
        print(
            f"  {name:<20} subprocess {subprocess_seconds:5.2f}s  dowhy {dowhy_seconds:5.2f}s  "
            f"scmfit {on_seconds:5.2f}s (no screen {off_seconds:5.2f}s)  {on.status.value}/{off.status.value}  "
            f"R² {on.mean_r2} vs {off.mean_r2}"
        )
    total = {
        key: sum(row[key] for row in rows.values()) for key in ("subprocess", "dowhy", "scmfit", "scmfit_no_screen")
    }
    print(
        f"  total: subprocess {total['subprocess']:.1f}s, in-process DoWhy {total['dowhy']:.1f}s, "
        f"scmfit {total['scmfit']:.2f}s ({total['subprocess'] / total['scmfit']:.0f}x faster than the subprocess), "
        f"scmfit without screening {total['scmfit_no_screen']:.2f}s"
    )
    return {"rows": rows, "total": total}


def scaling_section(client: Client, seeds: Any, skip_slow: bool) -> list[dict[str, Any]]:
    workloads: list[tuple[str, str, Callable[[], tuple[list[str], list[tuple[str, str]], dict[str, np.ndarray]]]]] = [
        ("20-node linear DAG, 1k", "GOOD", lambda: random_dag(20, 1000, False, 1)),
        ("20-node mixed DAG, 1k", "GOOD", lambda: random_dag(20, 1000, True, 2)),
        ("20-node mixed DAG, 10k", "GOOD", lambda: random_dag(20, 10_000, True, 3)),
        ("100-node linear DAG, 1k", "GOOD", lambda: random_dag(100, 1000, False, 4)),
        ("100-node mixed DAG, 1k", "GOOD", lambda: random_dag(100, 1000, True, 5)),
        ("3-node chain, 100k", "GOOD", lambda: chain(100_000)),
        ("3-node chain, 100k", "BETTER", lambda: chain(100_000)),
        ("3-node chain, 1M", "GOOD", lambda: chain(1_000_000)),
    ]
    if skip_slow:
        workloads = [w for w in workloads if "100-node" not in w[0] and "BETTER" not in w[1]]
    results = []
    for label, quality, make in workloads:
        nodes, edges, data = make()
        dowhy_seconds, dowhy_r2 = in_process_dowhy(nodes, edges, data, quality)
        scmfit_seconds, result = timed(
            lambda n=nodes, e=edges, d=data, q=quality: client.fit((n, e), d, quality=q, seed=SPLIT_SEED)
        )
        screened = sum(node.selection == "linear_screen" for node in result.nodes)
        results.append(
            {
                "workload": label,
                "quality": quality,
                "dowhy": dowhy_seconds,
                "scmfit": scmfit_seconds,
                "r2_dowhy": dowhy_r2,
                "r2": result.mean_r2,
                "screened": screened,
                "nodes": len(nodes),
                "selection_rows": result.metadata.selection_rows,
            }
        )
        print(
            f"  {label:<26} {quality:<6} DoWhy {dowhy_seconds:7.2f}s R² {dowhy_r2:.4f} | scmfit {scmfit_seconds:6.2f}s "
            f"R² {result.mean_r2:.4f} | {dowhy_seconds / scmfit_seconds:5.1f}x, {screened}/{len(nodes)} screened"
        )
    return results


def concurrency_section(address: str, seeds: Any, seconds: float) -> dict[int, float]:
    case = load_case(REPO / "fixtures" / "complex_dag.json")
    lock = threading.Lock()
    rates = {}
    for clients in (1, 2, 4):
        done = [0]
        stop = time.perf_counter() + seconds

        def loop(stop: float = stop, done: list[int] = done) -> None:
            with Client(address, timeout=300) as client:
                while time.perf_counter() < stop:
                    with lock:
                        seed = next(seeds)
                    client.fit(case.graph, case.traces, seed=seed, linear_screening=False)
                    with lock:
                        done[0] += 1

        threads = [threading.Thread(target=loop) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rates[clients] = done[0] / (time.perf_counter() - started) * 60
        print(f"  {clients} client(s): {rates[clients]:.0f} fits/min ({rates[clients] / rates[1]:.2f}x one client)")
    return rates


def plots(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["fixtures"]["rows"]
    names = list(rows)
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.2
    for offset, (key, label) in enumerate(
        (
            ("subprocess", "lift-sys subprocess"),
            ("dowhy", "in-process DoWhy"),
            ("scmfit_no_screen", "scmfit, no screening"),
            ("scmfit", "scmfit"),
        )
    ):
        ax.bar(np.arange(len(names)) + (offset - 1.5) * width, [rows[n][key] for n in names], width, label=label)
    ax.set_yscale("log")
    ax.set_ylabel("seconds per fit (log)")
    ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right")
    ax.legend()
    ax.set_title("The nine fixtures")
    fig.tight_layout()
    fig.savefig(DOCS / "bench-fixtures.png", dpi=110)
    scaling = results["scaling"]
    fig, ax = plt.subplots(figsize=(10, 4))
    labels = [f"{r['workload']} {r['quality']}" for r in scaling]
    ax.bar(np.arange(len(labels)) - 0.2, [r["dowhy"] for r in scaling], 0.4, label="in-process DoWhy")
    ax.bar(np.arange(len(labels)) + 0.2, [r["scmfit"] for r in scaling], 0.4, label="scmfit")
    ax.set_yscale("log")
    ax.set_ylabel("seconds (log)")
    ax.set_xticks(np.arange(len(labels)), labels, rotation=30, ha="right")
    ax.legend()
    ax.set_title("Scaling")
    fig.tight_layout()
    fig.savefig(DOCS / "bench-scaling.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-slow", action="store_true", help="leave out the 100-node DAGs and BETTER at 100k")
    parser.add_argument("--concurrency-seconds", type=float, default=30.0)
    args = parser.parse_args()
    from dowhy import gcm

    gcm.config.disable_progress_bars()
    in_process_dowhy(*chain(500), "GOOD")  # warm DoWhy up in this process, as the baseline measures it warm
    seeds = iter(range(500_000, 10**7))
    server = start_server(workers=2)
    results: dict[str, Any] = {}
    try:
        with Client(server.address, timeout=1800) as client:
            print("(a) the nine fixtures")
            results["fixtures"] = fixtures_section(client, seeds)
            print("(b) scaling")
            results["scaling"] = scaling_section(client, seeds, args.skip_slow)
        print("(c) concurrency")
        results["concurrency"] = concurrency_section(server.address, seeds, args.concurrency_seconds)
    finally:
        server.terminate()
    (DOCS / "bench-results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    plots(results)


if __name__ == "__main__":
    main()
