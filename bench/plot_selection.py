"""Plots `docs/selection-agreement.txt` (the raw output of bench/selection_agreement.py) as
docs/bench-selection.png: end-to-end speed-up over in-process DoWhy per workload and confidence.

    .venv/bin/python bench/plot_selection.py [docs/selection-agreement.txt] [docs/bench-selection.png]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKLOAD = re.compile(r"^== (.+)$")
LEVEL = re.compile(r"^  -- racing at confidence ([0-9.]+)$")
SPEED = re.compile(r"end to end: .* ([0-9.]+)x faster than in-process DoWhy")
AGREEMENT = re.compile(r"agreement as the issue counts it: ([0-9.]+)%")


def parse(text: str) -> dict[str, dict[str, tuple[float, float]]]:
    """{workload: {confidence: (speed-up, agreement %)}}, for workloads with model-zoo nodes."""
    results: dict[str, dict[str, tuple[float, float]]] = {}
    workload, level, agreement = "", "", 0.0
    for line in text.splitlines():
        if found := WORKLOAD.match(line):
            workload = found.group(1)
        elif found := LEVEL.match(line):
            level = found.group(1)
        elif found := AGREEMENT.search(line):
            agreement = float(found.group(1))
        elif (found := SPEED.search(line)) and agreement > 0:
            results.setdefault(workload, {})[level] = (float(found.group(1)), agreement)
    return results


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    source = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "selection-agreement.txt"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "docs" / "bench-selection.png"
    results = parse(source.read_text())
    workloads = list(results)
    levels = sorted({level for by_level in results.values() for level in by_level}, reverse=True)
    width = 0.8 / max(len(levels), 1)
    figure, axes = plt.subplots(figsize=(11, 4.8))
    for index, level in enumerate(levels):
        xs = [position + (index - (len(levels) - 1) / 2) * width for position in range(len(workloads))]
        speeds = [results[name].get(level, (0.0, 0.0))[0] for name in workloads]
        bars = axes.bar(xs, speeds, width, label=f"racing at {level}")
        for bar, name in zip(bars, workloads, strict=True):
            agreement = results[name].get(level, (0.0, 0.0))[1]
            axes.annotate(
                f"{agreement:.0f}%",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    axes.axhline(10, color="grey", linestyle="--", linewidth=0.8)
    axes.axhline(15, color="grey", linestyle=":", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_xticks(range(len(workloads)))
    axes.set_xticklabels([name.replace(", ", "\n", 1) for name in workloads], fontsize=7, rotation=30, ha="right")
    axes.set_ylabel("end-to-end speed-up over in-process DoWhy (log)")
    axes.set_title("scmfit (2 workers) against in-process DoWhy; labels: agreement with exhaustive selection")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    print(f"wrote {target}: {len(workloads)} workloads, confidence levels {', '.join(levels)}")


if __name__ == "__main__":
    main()
