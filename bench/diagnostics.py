"""The "asking why" RPCs against in-process DoWhy with n_jobs=-1, side by side in one run (docs/benchmarks.md).

On a random 20-node linear DAG at 1,000 rows (bench/effects.py's), each question is timed both ways:
- DoWhy: the gcm function in this process, on a model auto-assigned and fitted here beforehand (not timed),
  with n_jobs=-1 where the function takes it;
- scmfit: the RPC through the real client, on a model fitted through the server beforehand (not timed),
  except AttributeDistributionChange and CheckGraph, whose work includes their fits and tests.
The settings are the same on both sides, and smaller than DoWhy's defaults where those take minutes
(they are printed): ICI trains on 20,000 samples, not 100,000, and CheckGraph uses 5 permutations on
the first 300 rows (DoWhy's kernel tests grow as rows cubed; 1,000 rows took over 5 minutes). scmfit runs
on 2 workers with 2 Shapley jobs each (`--shapley-jobs`), then again on 1 worker with 1, for scaling.

    .venv/bin/python bench/diagnostics.py 2>/dev/null     # about 10 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from effects import dag  # noqa: E402

from scmfit.client import Client  # noqa: E402
from tests.serverproc import start_server  # noqa: E402

ROWS = 1000
NODES = 20


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    answer = work()
    return time.perf_counter() - started, answer


def scmfit_side(
    workers: int,
    names: list[str],
    edges: list[tuple[str, str]],
    data: dict[str, Any],
    new_data: dict[str, Any],
    anomalous: pd.DataFrame,
    target: str,
    args: argparse.Namespace,
) -> dict[str, float]:
    server = start_server("--shapley-jobs", str(workers), workers=workers)
    spent: dict[str, float] = {}
    try:
        with Client(server.address, timeout=3600) as client:
            model_id = client.fit((names, edges), data).model_id
            ours: dict[str, Callable[[], Any]] = {
                "ArrowStrength": lambda: client.arrow_strength(model_id, target),
                "IntrinsicCausalInfluence": lambda: client.intrinsic_influence(
                    model_id, target, num_samples=args.influence_samples
                ),
                "AttributeAnomalies": lambda: client.attribute_anomalies(model_id, target, anomalous),
                "AttributeDistributionChange": lambda: client.attribute_distribution_change(
                    (names, edges), data, new_data, target, seed=workers
                ),
                "CheckGraph": lambda: client.check_graph(
                    (names, edges),
                    {name: values[: args.check_rows] for name, values in data.items()},
                    num_permutations=args.permutations,
                    seed=workers,
                ),
            }
            for rpc, work in ours.items():
                spent[rpc], _ = timed(work)
                print(f"  scmfit, {workers} worker(s) and Shapley job(s), {rpc:<28} {spent[rpc]:8.2f}s", flush=True)
    finally:
        server.terminate()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--permutations", type=int, default=5, help="CheckGraph's permuted graphs, both sides")
    parser.add_argument(
        "--check-rows", type=int, default=300, help="CheckGraph's rows, both sides: kernel tests grow as rows cubed"
    )
    parser.add_argument("--influence-samples", type=int, default=20_000, help="ICI training samples, both sides")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "diagnostics-bench.json")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from dowhy import gcm
    from dowhy.gcm.falsify import falsify_graph

    gcm.config.disable_progress_bars()
    names, edges, data = dag(NODES, ROWS, seed=3)
    graph = nx.DiGraph(edges)
    graph.add_nodes_from(names)
    target = names[-1]
    frame = pd.DataFrame(data)
    scm = gcm.InvertibleStructuralCausalModel(graph)
    gcm.auto.assign_causal_mechanisms(scm, frame)
    gcm.fit(scm, frame)
    anomalous = frame.sample(10, random_state=1).reset_index(drop=True)
    anomalous[names[5]] += 6 * frame[names[5]].std()  # a planted root cause upstream of the target
    _, _, new_data = dag(NODES, ROWS, seed=3, shift={8: 1.0}, draw=4)  # node 8's mechanism changed
    new_frame = pd.DataFrame(new_data)
    print(f"{NODES}-node DAG, {ROWS} rows, target {target}; DoWhy n_jobs=-1 in this process")

    dowhy: dict[str, Callable[[], Any]] = {
        "ArrowStrength": lambda: gcm.arrow_strength(scm, target, n_jobs=-1),
        "IntrinsicCausalInfluence": lambda: gcm.intrinsic_causal_influence(
            scm, target, num_training_samples=args.influence_samples
        ),
        "AttributeAnomalies": lambda: gcm.attribute_anomalies(scm, target, anomalous),
        "AttributeDistributionChange": lambda: gcm.distribution_change(scm, frame, new_frame, target),
        "CheckGraph": lambda: falsify_graph(
            graph, frame.iloc[: args.check_rows], n_permutations=args.permutations, n_jobs=-1
        ),
    }
    report: dict[str, Any] = {
        "nodes": NODES, "rows": ROWS, "permutations": args.permutations, "check_rows": args.check_rows,
        "influence_samples": args.influence_samples,
    }  # fmt: skip
    seconds: dict[str, dict[str, float]] = {rpc: {} for rpc in dowhy}
    for rpc, work in dowhy.items():
        seconds[rpc]["dowhy"], _ = timed(work)
        print(f"  DoWhy {rpc:<28} {seconds[rpc]['dowhy']:8.2f}s", flush=True)
    for workers in (2, 1):
        for rpc, spent in scmfit_side(workers, names, edges, data, new_data, anomalous, target, args).items():
            seconds[rpc][f"scmfit_{workers}w"] = spent
    print(f"\n{'RPC':<30}{'DoWhy':>9}{'scmfit 2w':>11}{'ratio':>8}{'scmfit 1w':>11}")
    for rpc, row in seconds.items():
        print(
            f"{rpc:<30}{row['dowhy']:>8.2f}s{row['scmfit_2w']:>10.2f}s{row['dowhy'] / row['scmfit_2w']:>7.2f}x"
            f"{row['scmfit_1w']:>10.2f}s"
        )
    report["seconds"] = seconds
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
