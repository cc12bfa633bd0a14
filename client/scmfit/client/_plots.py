"""The CLI's `--plot FILE` charts, drawn with matplotlib (the `plot` extra): a fit's held-out R² against
its threshold, a what-if's distributions before and after, and an attribution's sorted bars. The
same pictures as the web page's, as PNG or SVG by the file's suffix.

Node names come from traces: matplotlib would read `$...$` in a label as mathtext, so every name is
drawn through `literal`, and SVG keeps text as text (escaped by matplotlib's writer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scmfit.client._results import FitResult, RowAttribution

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = (".png", ".svg")
MAX_PANELS = 6
"""A what-if draws at most this many nodes, one panel each."""


def literal(name: str) -> str:
    """A user string as matplotlib draws it literally: no mathtext."""
    return name.replace("\\", "\\\\").replace("$", r"\$")


def check_path(path: Path) -> None:
    """Refused before any RPC: a wrong suffix should not cost a fit."""
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"--plot {path}: the file must end in .png or .svg")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError("--plot needs matplotlib: pip install 'scmfit[plot]'") from None


def _figure(height: float, width: float = 7.0) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: searchable, and escaped as XML
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(figure: Figure, path: Path) -> None:
    figure.savefig(path, format=path.suffix.lower().lstrip("."), dpi=120)


def fit_chart(result: FitResult, path: Path) -> Figure:
    """Each node's held-out R² (accuracy for classifiers), coloured by the threshold; roots are listed
    without a bar."""
    figure = _figure(0.9 + 0.32 * len(result.nodes))
    axes = figure.subplots()
    failed = set(result.validation.failed_nodes)
    names = [node.name for node in result.nodes]
    scores = [node.r2 if node.r2 is not None else node.accuracy for node in result.nodes]
    colours = ["#c62828" if name in failed else "#1a7f37" if score is not None else "#8a93a3"
               for name, score in zip(names, scores, strict=True)]  # fmt: skip
    positions = np.arange(len(names))[::-1]
    axes.barh(positions, [score if score is not None else 0.0 for score in scores], color=colours)
    axes.set_yticks(positions, [literal(name) for name in names])
    axes.axvline(result.validation.threshold, color="#3056d3", linestyle="--", label="threshold")
    axes.set_xlabel("held-out R² (accuracy for classifiers)")
    axes.set_title(literal(f"{result.status.value}: mean R² {result.mean_r2 or 0:.3f}"))
    axes.legend(loc="lower right")
    _save(figure, path)
    return figure


def what_if_chart(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray], title: str, path: Path) -> Figure:
    """Each numeric node's distribution without and with the intervention, on shared bins, with both means."""
    nodes = [node for node in after if np.asarray(after[node]).dtype.kind in "fiu"][:MAX_PANELS]
    if not nodes:
        raise ValueError("--plot draws numeric nodes; the sampled ones are all categorical")
    figure = _figure(2.2 * len(nodes))
    for axes, node in zip(np.atleast_1d(figure.subplots(len(nodes), 1)), nodes, strict=True):
        old, new = np.asarray(before[node], dtype=float), np.asarray(after[node], dtype=float)
        edges = np.histogram_bin_edges(np.concatenate([old, new]), bins=50)
        axes.hist(old, bins=edges, density=True, alpha=0.5, color="#6b7585", label="observed model")
        axes.hist(new, bins=edges, density=True, alpha=0.5, color="#3056d3", label=literal(title))
        axes.axvline(float(np.mean(old)), color="#6b7585", linestyle="--", gid="mean-before")
        axes.axvline(float(np.mean(new)), color="#3056d3", linestyle="--", gid="mean-after")
        axes.set_xlabel(literal(node))
        axes.legend(fontsize="small")
    _save(figure, path)
    return figure


def attribution_chart(rows: Sequence[RowAttribution], target: str, path: Path) -> Figure:
    """Each row's contributions to the target's anomaly score, largest on top."""
    shown = list(rows)[:MAX_PANELS]
    figure = _figure(0.8 + sum(0.3 * len(row.contributions) + 0.6 for row in shown))
    for axes, row in zip(np.atleast_1d(figure.subplots(len(shown), 1)), shown, strict=True):
        names, values = list(row.contributions), list(row.contributions.values())
        positions = np.arange(len(names))[::-1]
        axes.barh(positions, values, color=["#c62828" if value > 0 else "#8a93a3" for value in values])
        axes.set_yticks(positions, [literal(name) for name in names])
        axes.set_title(literal(f"row {row.row}: {target} anomaly score {row.target_score:.3g}"), fontsize="medium")
    _save(figure, path)
    return figure
