"""Coverage of attribution intervals: scmfit's against in-process DoWhy's, side by side in one run.

On simulated linear-Gaussian SCMs whose answers have closed forms, how often each nominal 95% interval
holds the true value, with mean widths:
- ArrowStrength on Z = 3X + 0.5Y + N(0, 0.5²), X, Y ~ N(0, 1): the strengths are 9 (X -> Z) and 0.25;
- IntrinsicCausalInfluence on X ~ N(0, 2²), Y = X + N(0, 1), Z = Y + N(0, 0.5²): the shares are 4, 1, 0.25.
scmfit: the RPC with confidence_level=0.95 through the real client (bootstrap refits of the fitted
model, each answering on its own seed; the normal interval). DoWhy: `gcm.confidence_intervals(
gcm.fit_and_compute(...))` with the same B, its default (75% subsamples, percentile interval).

    .venv/bin/python bench/attribution_intervals.py 2>/dev/null   # about 25 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scmfit.client import Client  # noqa: E402
from tests.serverproc import start_server  # noqa: E402

LEVEL = 0.95
TRUTH: dict[str, dict[Any, float]] = {
    "ArrowStrength": {("X", "Z"): 9.0, ("Y", "Z"): 0.25},
    "IntrinsicCausalInfluence": {"X": 4.0, "Y": 1.0, "Z": 0.25},
}


def collider(seed: int, rows: int) -> tuple[list[tuple[str, str]], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=rows), rng.normal(size=rows)
    return [("X", "Z"), ("Y", "Z")], {"X": x, "Y": y, "Z": 3 * x + 0.5 * y + rng.normal(scale=0.5, size=rows)}


def chain(seed: int, rows: int) -> tuple[list[tuple[str, str]], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=rows)
    y = x + rng.normal(size=rows)
    return [("X", "Y"), ("Y", "Z")], {"X": x, "Y": y, "Z": y + rng.normal(scale=0.5, size=rows)}


class Tally:
    """Coverage and width per quantity."""

    def __init__(self) -> None:
        self.hits: dict[str, list[bool]] = {}
        self.widths: dict[str, list[float]] = {}

    def add(self, key: Any, truth: float, lower: float, upper: float) -> None:
        name = "->".join(key) if isinstance(key, tuple) else str(key)
        self.hits.setdefault(name, []).append(lower <= truth <= upper)
        self.widths.setdefault(name, []).append(upper - lower)

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            name: {"coverage": float(np.mean(hits)), "mean_width": float(np.mean(self.widths[name])), "n": len(hits)}
            for name, hits in self.hits.items()
        }


def dowhy_interval(
    rpc: str, edges: list[tuple[str, str]], data: Mapping[str, np.ndarray], bootstrap: int, samples: int
) -> dict[Any, tuple[float, float]]:
    from dowhy import gcm

    graph = nx.DiGraph(edges)
    frame = pd.DataFrame(data)
    scm = gcm.InvertibleStructuralCausalModel(graph)
    gcm.auto.assign_causal_mechanisms(scm, frame)
    question: Callable[..., Any]
    if rpc == "ArrowStrength":
        question = gcm.fit_and_compute(gcm.arrow_strength, scm, frame, target_node="Z")
    else:
        question = gcm.fit_and_compute(
            gcm.intrinsic_causal_influence, scm, frame, target_node="Z", num_training_samples=samples
        )
    _, intervals = gcm.confidence_intervals(question, confidence_level=LEVEL, num_bootstrap_resamples=bootstrap)
    return {key: (float(bounds[0]), float(bounds[1])) for key, bounds in intervals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=int, default=100, help="simulated data sets per question")
    parser.add_argument("--influence-sims", type=int, default=20, help="of them for IntrinsicCausalInfluence")
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--bootstrap", type=int, default=30, help="B, both sides")
    parser.add_argument("--influence-samples", type=int, default=2000, help="ICI training samples, both sides")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "attribution-intervals.json")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from dowhy import gcm

    gcm.config.disable_progress_bars()
    ours = {rpc: Tally() for rpc in TRUTH}
    theirs = {rpc: Tally() for rpc in TRUTH}
    server = start_server(workers=2)
    try:
        with Client(server.address, timeout=3600) as client:
            for sim in range(args.sims):
                for rpc, make in (("ArrowStrength", collider), ("IntrinsicCausalInfluence", chain)):
                    if rpc == "IntrinsicCausalInfluence" and sim >= args.influence_sims:
                        continue
                    edges, data = make(1000 + sim, args.rows)
                    model_id = client.fit((["X", "Y", "Z"], edges), data, seed=sim).model_id
                    interval_options = {"confidence_level": LEVEL, "num_bootstrap": args.bootstrap, "seed": sim}
                    if rpc == "ArrowStrength":
                        answer = client.arrow_strength(model_id, "Z", **interval_options)
                    else:
                        answer = client.intrinsic_influence(
                            model_id, "Z", num_samples=args.influence_samples, **interval_options
                        )
                    for key, interval in answer.intervals.items():
                        ours[rpc].add(key, TRUTH[rpc][key], interval.lower, interval.upper)
                    gcm.util.general.set_random_seed(sim)
                    for key, (lower, upper) in dowhy_interval(
                        rpc, edges, data, args.bootstrap, args.influence_samples
                    ).items():
                        theirs[rpc].add(key, TRUTH[rpc][key], lower, upper)
                    client.delete_model(model_id)
                if sim % 5 == 4:
                    print(f"  {sim + 1} simulations", flush=True)
    finally:
        server.terminate()
    report: dict[str, Any] = {"level": LEVEL, "rows": args.rows, "bootstrap": args.bootstrap, "questions": {}}
    print(f"\nnominal {LEVEL:.0%}, {args.rows} rows, B = {args.bootstrap}")
    print(f"{'question':<26}{'quantity':<10}{'truth':>7}{'scmfit':>9}{'width':>8}{'DoWhy':>9}{'width':>8}{'n':>5}")
    for rpc in TRUTH:
        mine, dowhy = ours[rpc].summary(), theirs[rpc].summary()
        report["questions"][rpc] = {"scmfit": mine, "dowhy": dowhy}
        for name, row in mine.items():
            truth = TRUTH[rpc][tuple(name.split("->")) if "->" in name else name]
            print(
                f"{rpc:<26}{name:<10}{truth:>7.3g}{row['coverage']:>9.1%}{row['mean_width']:>8.3f}"
                f"{dowhy[name]['coverage']:>9.1%}{dowhy[name]['mean_width']:>8.3f}{row['n']:>5}"
            )
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
