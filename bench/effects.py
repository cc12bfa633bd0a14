"""Effect intervals: scmfit against in-process DoWhy, side by side in one run (docs/benchmarks.md).

Speed, on the nine fixtures and a 20-node DAG at 1,000 rows, B = 100 bootstrap refits each:
- DoWhy: `gcm.confidence_intervals(gcm.fit_and_compute(gcm.average_causal_effect, ...), B, n_jobs=-1)`
  on a model whose mechanisms were assigned once beforehand (not timed), as fit_and_compute expects;
- scmfit, first: the first interval question on a fitted model (refits B replicas, then samples);
- scmfit, later: a second interval question on the same model (another pair of values), which only samples.

Coverage, on simulated linear-Gaussian SCMs with a known effect (T -> M -> Y and T -> Y, 500 rows):
how often each 95% interval holds the true total effect (scmfit over --sims simulations, DoWhy over
the first --dowhy-sims of them), beside the exact OLS interval on the same data sets, with mean widths.

    .venv/bin/python bench/effects.py 2>/dev/null      # about 15 minutes on 2 cores; stderr has DoWhy's
                                                       # progress bars from joblib's workers
    .venv/bin/python bench/effects.py --sims 100 --dowhy-sims 20 --skip-speed
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")  # DoWhy's progress bars, in joblib's worker processes too
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scmfit.client import Client  # noqa: E402
from tests.conftest import FIXTURE_NAMES, fixture_case  # noqa: E402
from tests.serverproc import start_server  # noqa: E402

B = 100
LEVEL = 0.95
SAMPLES = 10_000
C, A_TM, B_MY = 1.5, 2.0, 0.5


def dag(
    nodes: int, rows: int, seed: int, shift: dict[int, float] | None = None, draw: int | None = None
) -> tuple[list[str], list[tuple[str, str]], dict[str, np.ndarray]]:
    """A random DAG: each node takes up to 3 earlier nodes as parents, linear with noise. `seed` fixes the
    structure and weights; `draw` (default `seed`) the noise; `shift` adds a constant to some nodes'
    mechanisms (a changed version of the same code)."""
    rng = np.random.default_rng(seed)
    noise = np.random.default_rng(seed if draw is None else draw)
    names = [f"v{i:02d}" for i in range(nodes)]
    edges: list[tuple[str, str]] = []
    data: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        parents = sorted(rng.choice(i, size=min(i, int(rng.integers(1, 4))), replace=False)) if i else []
        value = noise.normal(size=rows) + (shift or {}).get(i, 0.0)
        for parent in parents:
            edges.append((names[parent], name))
            value = value + rng.uniform(0.3, 1.0) * data[names[parent]]
        data[name] = value
    return names, edges, data


def question(names: list[str], edges: list[tuple[str, str]], data: dict[str, Any]) -> tuple[str, str] | None:
    """A numeric treatment and its farthest numeric descendant; None when the graph has no such pair."""
    graph = nx.DiGraph(edges)
    graph.add_nodes_from(names)
    numeric = {n for n in names if np.asarray(data[n]).dtype.kind in "fi"}
    best: tuple[int, str, str] | None = None
    for source in sorted(numeric):
        lengths = nx.single_source_shortest_path_length(graph, source)
        for target, length in lengths.items():
            if target in numeric and length > 0 and (best is None or length > best[0]):
                best = (length, source, target)
    return None if best is None else (best[1], best[2])


def dowhy_interval(
    names: list[str],
    edges: list[tuple[str, str]],
    data: dict[str, Any],
    treatment: str,
    target: str,
    b: int,
    samples: int,
) -> tuple[float, float, float]:
    """(seconds, lower, upper) of DoWhy's own bootstrap interval of the effect of do(T=1) vs do(T=0)."""
    from dowhy import gcm

    graph = nx.DiGraph(edges)
    graph.add_nodes_from(names)
    frame = pd.DataFrame(data)
    scm = gcm.InvertibleStructuralCausalModel(graph)
    gcm.auto.assign_causal_mechanisms(scm, frame)
    started = time.perf_counter()
    _, interval = gcm.confidence_intervals(
        gcm.fit_and_compute(
            gcm.average_causal_effect,
            scm,
            frame,
            target_node=target,
            interventions_alternative={treatment: lambda x: 1.0},
            interventions_reference={treatment: lambda x: 0.0},
            num_samples_to_draw=samples,
        ),
        confidence_level=LEVEL,
        num_bootstrap_resamples=b,
        n_jobs=-1,
    )
    lower, upper = np.asarray(interval).reshape(-1)[:2]
    return time.perf_counter() - started, float(lower), float(upper)


def speed(address: str) -> list[dict[str, Any]]:
    cases: list[tuple[str, list[str], list[tuple[str, str]], dict[str, Any]]] = []
    for name in FIXTURE_NAMES:
        case = fixture_case(name)
        cases.append((name, case.nodes, case.edges, case.traces))
    cases.append(("20-node DAG, 1k rows", *dag(20, 1000, seed=3)))
    rows = []
    with Client(address, timeout=1800) as client:
        for name, names, edges, data in cases:
            asked = question(names, edges, data)
            if asked is None:
                rows.append({"case": name, "skipped": "no numeric treatment with a numeric descendant"})
                continue
            treatment, target = asked
            fitted = client.fit((names, edges), data)
            started = time.perf_counter()
            first = client.estimate_effect(
                fitted.model_id, treatment=treatment, target=target, alternative=1.0, reference=0.0,
                confidence_level=LEVEL, num_bootstrap=B, num_samples=SAMPLES,
            )  # fmt: skip
            first_seconds = time.perf_counter() - started
            started = time.perf_counter()
            client.estimate_effect(
                fitted.model_id, treatment=treatment, target=target, alternative=2.0, reference=-1.0,
                confidence_level=LEVEL, num_bootstrap=B, num_samples=SAMPLES,
            )  # fmt: skip
            later_seconds = time.perf_counter() - started
            try:
                dowhy_seconds, lower, upper = dowhy_interval(names, edges, data, treatment, target, B, SAMPLES)
            except Exception as error:  # DoWhy's own failure is a finding, printed as such
                rows.append({"case": name, "skipped": f"DoWhy failed: {type(error).__name__}: {error}"[:200]})
                continue
            assert first.interval is not None
            row = {
                "case": name,
                "question": f"{treatment} -> {target}",
                "dowhy_s": dowhy_seconds,
                "first_s": first_seconds,
                "later_s": later_seconds,
                "first_speedup": dowhy_seconds / first_seconds,
                "later_speedup": dowhy_seconds / later_seconds,
                "scmfit_width": first.interval.width,
                "dowhy_width": upper - lower,
            }
            rows.append(row)
            print(
                f"{name:<24} {row['question']:<16} DoWhy {dowhy_seconds:7.2f}s  first {first_seconds:6.2f}s "
                f"({row['first_speedup']:5.1f}x)  later {later_seconds:6.3f}s ({row['later_speedup']:6.1f}x)  "
                f"widths {first.interval.width:.3g} vs DoWhy {upper - lower:.3g}",
                flush=True,
            )
    return rows


def simulated(seed: int, rows: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.normal(size=rows)
    m = A_TM * t + rng.normal(size=rows)
    y = C * t + B_MY * m + rng.normal(size=rows)
    return {"T": t, "M": m, "Y": y}


def ols_standard_error(data: dict[str, np.ndarray]) -> float:
    """The delta-method standard error of c + a*b from the two OLS fits (what a right interval's width tracks)."""
    t, m, y = data["T"], data["M"], data["Y"]
    n = len(t)
    xm = np.column_stack([np.ones(n), t])
    beta_m, *_ = np.linalg.lstsq(xm, m, rcond=None)
    cov_m = np.linalg.inv(xm.T @ xm) * np.sum((m - xm @ beta_m) ** 2) / (n - 2)
    xy = np.column_stack([np.ones(n), t, m])
    beta_y, *_ = np.linalg.lstsq(xy, y, rcond=None)
    cov_y = np.linalg.inv(xy.T @ xy) * np.sum((y - xy @ beta_y) ** 2) / (n - 3)
    a, b = beta_m[1], beta_y[2]
    gradient_y = np.array([0.0, 1.0, a])  # d(c + a b)/d(intercept, c, b)
    variance = gradient_y @ cov_y @ gradient_y + b**2 * cov_m[1, 1]
    return float(np.sqrt(variance))


def coverage(address: str, sims: int, dowhy_sims: int, rows: int, first_seed: int = 1000) -> dict[str, Any]:
    """Each side's 95% intervals over simulated data sets, beside the exact OLS interval on the same ones:
    a stretch of seeds can be unlucky for every method, and the exact interval shows how unlucky."""
    truth = C + A_TM * B_MY
    results: dict[str, list[tuple[bool, float]]] = {"scmfit": [], "dowhy": [], "exact": [], "exact_dowhy": []}
    graph = (["T", "M", "Y"], [("T", "M"), ("M", "Y"), ("T", "Y")])
    with Client(address, timeout=600) as client:
        for sim in range(sims):
            data = simulated(first_seed + sim, rows)
            exact_half = 1.959964 * ols_standard_error(data)
            estimate_ols = float(np.polyfit(data["T"], data["Y"], 1)[0])  # c + a*b of the two fits, exactly
            exact = (abs(estimate_ols - truth) <= exact_half, 2 * exact_half)
            results["exact"].append(exact)
            fitted = client.fit(graph, data, seed=sim)
            estimate = client.estimate_effect(
                fitted.model_id, treatment="T", target="Y", alternative=1.0, reference=0.0,
                confidence_level=LEVEL, num_bootstrap=B, num_samples=2000, seed=sim,
            )  # fmt: skip
            assert estimate.interval is not None
            results["scmfit"].append((truth in estimate.interval, estimate.interval.width))
            client.delete_model(fitted.model_id)
            if sim < dowhy_sims:
                _, lower, upper = dowhy_interval(*graph, data, "T", "Y", B, 2000)
                results["dowhy"].append((lower <= truth <= upper, upper - lower))
                results["exact_dowhy"].append(exact)
            if (sim + 1) % 100 == 0:
                shown = {k: round(sum(c for c, _ in v) / len(v), 3) for k, v in results.items() if v}
                print(f"  {sim + 1} simulations: coverage {shown}", flush=True)
    summary: dict[str, Any] = {"rows": rows, "level": LEVEL, "bootstrap": B, "truth": truth, "first_seed": first_seed}
    for side, entries in results.items():
        if not entries:
            continue
        p = sum(c for c, _ in entries) / len(entries)
        reference = results["exact" if side in ("scmfit", "exact") else "exact_dowhy"]
        summary[side] = {
            "sims": len(entries),
            "coverage": p,
            "coverage_se": float(np.sqrt(p * (1 - p) / len(entries))),
            "mean_width": statistics.fmean(w for _, w in entries),
            "width_vs_exact": statistics.fmean(w for _, w in entries) / statistics.fmean(w for _, w in reference),
        }
    return summary


def percentile_or_normal(sims: int, rows: int, first_seed: int = 1000) -> dict[str, float]:
    """Why scmfit reports the normal bootstrap interval: on the same simulated data sets, the OLS total
    effect bootstrapped B times (numpy, as scmfit's refits draw rows), summarised both ways."""
    truth = C + A_TM * B_MY
    hits = {"percentile": 0, "normal": 0, "exact": 0}
    widths = {"percentile": 0.0, "normal": 0.0, "exact": 0.0}
    z = statistics.NormalDist().inv_cdf(1 - (1 - LEVEL) / 2)
    for sim in range(sims):
        data = simulated(first_seed + sim, rows)
        t, y = data["T"], data["Y"]
        estimate = float(np.polyfit(t, y, 1)[0])
        rng = np.random.default_rng(sim)
        draws = [rng.integers(0, rows, rows) for _ in range(B)]
        replicas = np.array([np.polyfit(t[d], y[d], 1)[0] for d in draws])
        lower, upper = np.quantile(replicas, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
        spread = z * float(replicas.std(ddof=1))
        exact = z * ols_standard_error(data)
        for name, (low, high) in {
            "percentile": (lower, upper),
            "normal": (estimate - spread, estimate + spread),
            "exact": (estimate - exact, estimate + exact),
        }.items():
            hits[name] += low <= truth <= high
            widths[name] += high - low
    return {f"{name}_coverage": hits[name] / sims for name in hits} | {
        f"{name}_width_vs_exact": widths[name] / widths["exact"] for name in widths
    }


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sides = ["scmfit", "exact", "dowhy"]
    labels = [
        f"scmfit\n(n draws with replacement)\n{summary['scmfit']['sims']} sims",
        f"exact OLS interval\n(same {summary['exact']['sims']} sims)",
        f"DoWhy default\n(75% subsamples)\n{summary['dowhy']['sims']} sims",
    ]
    values = [summary[side]["coverage"] for side in sides]
    errors = [1.96 * summary[side]["coverage_se"] for side in sides]
    figure, axis = plt.subplots(figsize=(7.2, 4.2))
    axis.axhspan(0.93, 0.97, color="tab:green", alpha=0.15, label="93-97%")
    axis.axhline(LEVEL, color="tab:green", linewidth=1)
    axis.bar(labels, values, yerr=errors, color=["tab:blue", "tab:gray", "tab:orange"], capsize=6)
    for index, value in enumerate(values):
        axis.text(index, value + 0.02, f"{value:.1%}", ha="center")
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("share of intervals holding the truth")
    axis.set_title(f"Nominal 95% intervals of a known effect, {summary['rows']} rows, B={B} (±1.96 SE bars)")
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=int, default=1000, help="simulations for scmfit and the exact interval")
    parser.add_argument("--dowhy-sims", type=int, default=200, help="the first this many also run DoWhy's")
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--first-seed", type=int, default=1000, help="the simulations' first data seed")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "effects-bench.json")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from dowhy import gcm

    gcm.config.disable_progress_bars()
    server = start_server(workers=2)
    try:
        report: dict[str, Any] = {}
        if not args.skip_speed:
            print(f"Speed, B={B}, {SAMPLES} samples per arm, 2 workers against DoWhy n_jobs=-1:")
            report["speed"] = speed(server.address)
        print(f"Coverage, {args.sims} simulations ({args.dowhy_sims} with DoWhy):")
        report["coverage"] = coverage(server.address, args.sims, args.dowhy_sims, args.rows, args.first_seed)
        report["percentile_or_normal"] = percentile_or_normal(args.sims, args.rows, args.first_seed)
    finally:
        server.terminate()
    for side in ("scmfit", "exact", "dowhy", "exact_dowhy"):
        if side not in report["coverage"]:
            continue
        entry = report["coverage"][side]
        print(
            f"{side:<11} {entry['sims']:>5} sims: coverage {entry['coverage']:.1%} "
            f"(±{1.96 * entry['coverage_se']:.1%}), mean width {entry['mean_width']:.3f} = "
            f"{entry['width_vs_exact']:.2f}x the exact OLS interval's"
        )
    choice = report["percentile_or_normal"]
    print(
        f"B={B} bootstrap of the OLS effect on the same data sets: percentile {choice['percentile_coverage']:.1%} "
        f"({choice['percentile_width_vs_exact']:.2f}x the exact width), normal {choice['normal_coverage']:.1%} "
        f"({choice['normal_width_vs_exact']:.2f}x), exact {choice['exact_coverage']:.1%}"
    )
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    if "dowhy" in report["coverage"]:
        plot(report["coverage"], args.out.with_name("effects-coverage.png"))
        print(f"wrote {args.out.with_name('effects-coverage.png')}")


if __name__ == "__main__":
    main()
