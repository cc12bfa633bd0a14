"""Gaps in traces, measured side by side in one run.

1. Through a real server: the coefficient error of MISSING_VALUES_PER_NODE against
   MISSING_VALUES_COMPLETE_ROWS on X → Y → Z (Y = 2X + 1, Z = 3Y - 2, noise 0.3), with every column
   missing completely at random at 10%, 30% and 50%, over several seeds.
2. In process, for the choice a parent's gap forces: drop those rows for the child (what scmfit does),
   or give the child's model the gap as a NaN feature (HistGradientBoosting accepts it, as DoWhy 0.14
   prefers such models). Both are scored on the same held-out rows where the parent is present.

    .venv/bin/python bench/missing_values.py [--seeds 5] [--rows 2000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scmfit.client import Client  # noqa: E402
from scmfit.client._request import masked  # noqa: E402
from tests.serverproc import start_server  # noqa: E402

TRUTH = {("X", "Y"): 2.0, ("Y", "Z"): 3.0}
GRAPH = (["X", "Y", "Z"], [("X", "Y"), ("Y", "Z")])


def traces(rows: int, share: float, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    y = 2 * x + 1 + rng.normal(scale=0.3, size=rows)
    z = 3 * y - 2 + rng.normal(scale=0.3, size=rows)
    values = {"X": x, "Y": y, "Z": z}
    gaps = {name: rng.random(rows) < share for name in values}
    return values, gaps


def coefficient_errors(client: Client, rows: int, share: float, seed: int, policy: str) -> tuple[float, int]:
    values, gaps = traces(rows, share, seed)
    data = {name: masked(values[name], gaps[name]) for name in values}
    result = client.fit(GRAPH, data, seed=seed, missing_values=policy, screening_r2=0.5)
    errors = [abs(result.node(child).mechanism.coefficients[parent] - w) for (parent, child), w in TRUTH.items()]
    return float(np.mean(errors)), result.node("Z").num_train_rows + result.node("Z").num_test_rows


def parent_gap_choice(rows: int, share: float, seed: int) -> tuple[float, float]:
    """Held-out R² of Z from Y, on test rows where Y is present: rows dropped, or NaN given to the model."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import r2_score

    values, gaps = traces(rows, share, seed)
    y, z = values["Y"].copy(), values["Z"]
    y[gaps["Y"]] = np.nan
    rng = np.random.default_rng(seed + 1)
    test = rng.random(rows) < 0.2
    keep = ~gaps["Y"]
    dropped = HistGradientBoostingRegressor(random_state=0).fit(y[~test & keep, None], z[~test & keep])
    with_nan = HistGradientBoostingRegressor(random_state=0).fit(y[~test, None], z[~test])
    scored = test & keep
    return (
        float(r2_score(z[scored], dropped.predict(y[scored, None]))),
        float(r2_score(z[scored], with_nan.predict(y[scored, None]))),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    server = start_server(workers=2)
    try:
        with Client(server.address, timeout=300) as client:
            print(f"1. mean |coefficient error| over {args.seeds} seeds, {args.rows} rows (rows Z was fitted on)")
            print("| missing per column | per node | complete rows | ratio (complete / per node) |")
            print("|---|---|---|---|")
            for share in (0.1, 0.3, 0.5):
                measured = {}
                for policy in ("PER_NODE", "COMPLETE_ROWS"):
                    runs = [coefficient_errors(client, args.rows, share, seed, policy) for seed in range(args.seeds)]
                    measured[policy] = (np.mean([e for e, _ in runs]), np.mean([n for _, n in runs]))
                (per_node, n1), (complete, n2) = measured["PER_NODE"], measured["COMPLETE_ROWS"]
                print(
                    f"| {share:.0%} | {per_node:.4f} ({n1:.0f} rows) | {complete:.4f} ({n2:.0f} rows) "
                    f"| {complete / per_node:.2f} |"
                )
    finally:
        server.terminate()
    print()
    print("2. a parent's gap: held-out R² of Z from Y on rows where Y is present (mean over seeds)")
    print("| missing | rows dropped (scmfit) | NaN given to HistGradientBoosting |")
    print("|---|---|---|")
    for share in (0.1, 0.3, 0.5):
        pairs = [parent_gap_choice(args.rows, share, seed) for seed in range(args.seeds)]
        print(f"| {share:.0%} | {np.mean([a for a, _ in pairs]):.4f} | {np.mean([b for _, b in pairs]):.4f} |")


if __name__ == "__main__":
    main()
