"""Racing against exhaustive model selection, and both against in-process DoWhy, in one run.

For each workload, on the same data and the same seeded 80/20 split:
- in-process DoWhy: `gcm.auto.assign_causal_mechanisms` + `gcm.fit` on the training rows, one
  process with DoWhy's defaults (n_jobs=-1, every thread), as a user would run it (wall seconds,
  and the held-out R² of each node);
- scmfit's fit run in this process, node after node, with `selection=exhaustive` and with
  `selection=racing` (CPU seconds spent choosing models, from the ASSIGNING stage timings);
- the real server with 2 workers, racing, end to end through the client (wall seconds).
`--confidence 0.999,0.99,0.95` repeats the racing runs at each level. It prints, per workload: the
share of model-zoo nodes where racing chose the same model as exhaustive selection, the per-node
held-out R² difference (mean |ΔR²| and the worst drop), the selection CPU seconds of both, and the
end-to-end ratio against in-process DoWhy.

    .venv/bin/python bench/selection_agreement.py                 # every workload, default sizes
    .venv/bin/python bench/selection_agreement.py --nodes 100 --rows 1000 --chain-rows 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import networkx as nx  # noqa: E402
from dowhy import gcm  # noqa: E402

from scmfit.client import Client, FitConfig, fit_request  # noqa: E402
from scmfit.server.config import Limits  # noqa: E402
from scmfit.server.domain.fit import FitOutcome, Stage  # noqa: E402
from scmfit.server.domain.split import split_indices  # noqa: E402
from scmfit.server.engine.worker import run_fit  # noqa: E402
from scmfit.server.fitting.nodefit import pin_to_one_thread  # noqa: E402
from scmfit.server.wire.decode import decode_fit_request  # noqa: E402
from tests.conftest import FIXTURE_NAMES, fixture_case  # noqa: E402
from tests.serverproc import start_server  # noqa: E402

Workload = tuple[str, list[str], list[tuple[str, str]], dict[str, np.ndarray], str]


def random_dag(nodes: int, rows: int, quadratic_share: float, seed: int) -> Workload:
    """Each node after the first five has one or two earlier parents; noise keeps R² near 0.8-0.95,
    below the linear screen's 0.99, so every non-root node goes through model selection."""
    rng = np.random.default_rng(seed)
    names = [f"v{i:03d}" for i in range(nodes)]
    data: dict[str, np.ndarray] = {}
    edges: list[tuple[str, str]] = []
    for i, name in enumerate(names):
        if i < 5:
            data[name] = rng.normal(size=rows)
            continue
        parents = rng.choice(i, size=int(rng.integers(1, 3)), replace=False)
        signal = np.zeros(rows)
        for parent in parents:
            edges.append((names[parent], name))
            x = data[names[parent]]
            x = (x - x.mean()) / (x.std() or 1.0)
            signal += rng.uniform(0.5, 2.0) * (x**2 - 1 if rng.random() < quadratic_share else x)
        data[name] = signal + rng.normal(scale=0.35 * (signal.std() or 1.0), size=rows)
    kind = "mixed" if quadratic_share else "linear"
    return f"{nodes}-node DAG, {kind}, {rows} rows", names, edges, data, "GOOD"


def hidden_chain(rows: int, seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    y = 1.5 * x + rng.normal(scale=0.3, size=rows)
    z = np.sin(y) + rng.normal(scale=0.2, size=rows)
    return (
        f"chain x->y->z, {rows} rows, BETTER",
        ["x", "y", "z"],
        [("x", "y"), ("y", "z")],
        {"x": x, "y": y, "z": z},
        ("BETTER"),
    )


def categorical(rows: int, seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    label = np.where(a + 0.5 * b + rng.normal(scale=0.5, size=rows) > 0, "high", "low").astype(object)
    c = np.where(label == "high", 2.0, -1.0) + a + rng.normal(scale=0.5, size=rows)
    names, edges = ["a", "b", "label", "c"], [("a", "label"), ("b", "label"), ("label", "c"), ("a", "c")]
    return f"categorical target, {rows} rows", names, edges, {"a": a, "b": b, "label": label, "c": c}, "GOOD"


def in_process_dowhy(
    names: list[str], edges: list[tuple[str, str]], data: dict[str, np.ndarray], quality: str
) -> tuple[float, dict[str, float]]:
    """DoWhy as a user runs it, on the same split; returns wall seconds and held-out R² per node."""
    train_rows, test_rows = split_indices(len(next(iter(data.values()))), 0.2, 42)
    frame = pd.DataFrame(data)
    train, test = frame.iloc[train_rows], frame.iloc[test_rows]
    graph = nx.DiGraph(edges)
    graph.add_nodes_from(names)
    scm = gcm.InvertibleStructuralCausalModel(graph)
    # DoWhy's defaults, as a user runs it: n_jobs=-1 and every BLAS/OpenMP thread (this process is otherwise
    # pinned to one thread, like scmfit's workers, so its CPU seconds compare).
    gcm.config.set_default_n_jobs(-1)
    with threadpool_limits(limits=os.cpu_count()):
        started = time.perf_counter()
        gcm.auto.assign_causal_mechanisms(scm, train, quality=gcm.auto.AssignmentQuality[quality])
        gcm.fit(scm, train)
        seconds = time.perf_counter() - started
    gcm.config.set_default_n_jobs(1)
    r2: dict[str, float] = {}
    for node in names:
        parents = sorted(graph.predecessors(node))
        actual = test[node].to_numpy()
        if not parents or actual.dtype == object:
            continue
        mechanism = scm.causal_mechanism(node)
        predicted = mechanism.prediction_model.predict(test[parents].to_numpy()).reshape(-1)
        actual = actual.astype(float)
        r2[node] = float(1 - np.sum((actual - predicted) ** 2) / np.sum((actual - actual.mean()) ** 2))
    return seconds, r2


def scmfit_in_process(request: Any, selection: str, confidence: float = 0.0) -> tuple[FitOutcome, float]:
    request.config.selection = {"racing": 1, "exhaustive": 2}[selection]
    if confidence:
        request.config.selection_confidence = confidence
    job = decode_fit_request(request, Limits(max_nodes=10_000, max_columns=10_000))
    started = time.process_time()
    outcome = run_fit(job, lambda _: None)
    return outcome, time.process_time() - started


def cheaper_equivalent(racing: Any, exhaustive: Any) -> bool:
    """Racing's cost-aware choice, which the issue counts as agreement: a cheaper model than exhaustive's,
    with exhaustive's choice named in the node's evidence (passed over, or dropped as no better by more
    than the R² tolerance)."""
    chosen = {c.outcome.value: c for c in racing.candidates}.get("chosen")
    theirs = [c for c in racing.candidates if c.model_type == exhaustive.mechanism.model_type]
    return bool(
        chosen is not None
        and theirs
        and 0 < chosen.cost_class < theirs[0].cost_class
        and exhaustive.mechanism.model_type in racing.selection_note
    )


def compare(workload: Workload, client: Client, confidences: list[float]) -> None:
    title, names, edges, data, quality = workload
    request = fit_request(names, edges, data, FitConfig(quality=quality))
    print(f"\n== {title}", flush=True)
    exhaustive, exhaustive_cpu = scmfit_in_process(request, "exhaustive")
    zoo = [n.name for n in exhaustive.nodes if n.selection.value == "model_zoo"]
    exhaustive_folds = sum(c.folds for n in exhaustive.nodes for c in n.candidates)
    exhaustive_selection = exhaustive.stage_seconds[Stage.ASSIGNING]
    print(
        f"  exhaustive (DoWhy's rule), in one process: selection CPU {exhaustive_selection:.2f} s "
        f"({exhaustive_folds} candidate-folds), whole fit {exhaustive_cpu:.2f} s; model-zoo nodes {len(zoo)}"
    )
    dowhy_seconds, dowhy_r2 = in_process_dowhy(names, edges, data, quality)
    mean_dowhy = np.mean(list(dowhy_r2.values())) if dowhy_r2 else float("nan")
    print(f"  in-process DoWhy: {dowhy_seconds:.2f} s (mean held-out R² {mean_dowhy:.4f})")
    for confidence in confidences:
        racing, racing_cpu = scmfit_in_process(request, "racing", confidence)
        by_name = {n.name: n for n in racing.nodes}
        same = [n.name for n in exhaustive.nodes if n.name in zoo and by_name[n.name].mechanism == n.mechanism]
        same_type = [
            n.name
            for n in exhaustive.nodes
            if n.name in zoo and by_name[n.name].mechanism.model_type == n.mechanism.model_type
        ]
        cheaper = [
            n.name
            for n in exhaustive.nodes
            if n.name in zoo and n.name not in same_type and cheaper_equivalent(by_name[n.name], n)
        ]
        deltas = [
            by_name[n.name].score.r2 - n.score.r2  # type: ignore[operator]
            for n in exhaustive.nodes
            if n.score.r2 is not None and by_name[n.name].score.r2 is not None
        ]
        folds = sum(c.folds for n in racing.nodes for c in n.candidates)
        by_type: dict[str, int] = {}
        for node in racing.nodes:
            for candidate in node.candidates:
                by_type[candidate.model_type] = by_type.get(candidate.model_type, 0) + candidate.folds
        selection = racing.stage_seconds[Stage.ASSIGNING]
        request.config.selection = 1
        request.config.selection_confidence = confidence
        started = time.perf_counter()
        served = client.fit(request, timeout=3600)
        served_seconds = time.perf_counter() - started
        served_r2 = [n.r2 for n in served.nodes if n.r2 is not None]
        print(f"  -- racing at confidence {confidence:g}")
        print(
            f"  racing chose exhaustive's model type on {len(same_type)} of {len(zoo)}"
            f" ({100 * len(same_type) / max(len(zoo), 1):.1f}%), an identical fitted model on {len(same)};"
            f" a cheaper one no worse beyond the tolerance, with its evidence, on {len(cheaper)}"
            f" (agreement as the issue counts it: {100 * (len(same_type) + len(cheaper)) / max(len(zoo), 1):.1f}%)"
        )
        for name in zoo:
            if name not in same_type:
                kind = "cheaper" if name in cheaper else "DIFFERENT"
                print(f"    {name} ({kind}): {by_name[name].mechanism.model_type}; {by_name[name].selection_note}")
        if deltas:
            print(
                f"  held-out R², racing - exhaustive: mean |Δ| {np.mean(np.abs(deltas)):.5f}, worst {min(deltas):+.5f}"
            )
        print(
            f"  selection CPU: racing {selection:.2f} s ({folds} candidate-folds), "
            f"{exhaustive_selection / max(selection, 1e-9):.1f}x less than exhaustive; whole fit {racing_cpu:.2f} s"
        )
        print("  folds per candidate: " + ", ".join(f"{name} {count}" for name, count in sorted(by_type.items())))
        print(
            f"  end to end: scmfit server, 2 workers, {served_seconds:.2f} s (mean held-out R² "
            f"{np.mean(served_r2) if served_r2 else float('nan'):.4f}): {dowhy_seconds / served_seconds:.1f}x "
            "faster than in-process DoWhy",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--chain-rows", type=int, default=20_000)
    parser.add_argument("--confidence", default="0.999", help="comma-separated racing confidence levels to compare")
    parser.add_argument("--only", default="", help="comma-separated workload prefixes: dag,fixtures,chain,categorical")
    args = parser.parse_args()
    pin_to_one_thread()
    confidences = [float(level) for level in args.confidence.split(",")]
    wanted = set(filter(None, args.only.split(",")))
    workloads: list[Callable[[], Workload]] = []
    if not wanted or "dag" in wanted:
        workloads += [
            lambda: random_dag(args.nodes, args.rows, 0.0, 1),
            lambda: random_dag(args.nodes, args.rows, 0.3, 2),
        ]
    if not wanted or "chain" in wanted:
        workloads.append(lambda: hidden_chain(args.chain_rows, 3))
    if not wanted or "categorical" in wanted:
        workloads.append(lambda: categorical(args.rows, 4))
    server = start_server("--max-nodes", "10000", "--max-columns", "10000", workers=2)
    try:
        with Client(server.address, timeout=3600) as client:
            for build in workloads:
                compare(build(), client, confidences)
            if not wanted or "fixtures" in wanted:
                for name in FIXTURE_NAMES:
                    case = fixture_case(name)
                    compare((f"fixture {name}", case.nodes, case.edges, case.traces, "GOOD"), client, confidences)
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
