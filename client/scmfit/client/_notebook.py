"""How results show in a notebook: tidy pandas frames (one row per node, edge or candidate) and compact
HTML tables, with a small fit's graph as inline SVG. Every name in them comes from traces, so each is
escaped here, and pandas is imported only when a frame is asked for (the client never needs it)."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MAX_SVG_NODES = 40
"""Larger graphs are listed, not drawn: an inline picture of more nodes is unreadable in a cell."""
Row = Mapping[str, Any]


def frame(rows: Iterable[Row], columns: Sequence[str]) -> pd.DataFrame:
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_pandas() needs pandas: pip install 'scmfit[frames]'") from None
    return pd.DataFrame([dict(row) for row in rows], columns=list(columns))


def cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple | list):
        return ", ".join(map(str, value)) or "–"
    return str(value)


def table(rows: Iterable[Row], columns: Sequence[str], caption: str = "") -> str:
    """A compact table: each header and cell escaped."""
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell(row.get(column)))}</td>" for column in columns) + "</tr>"
        for row in rows
    )
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="scmfit">{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


COLOURS = {"pass": ("#e6f6ea", "#1a7f37"), "fail": ("#fdecec", "#c62828"), "none": ("#ffffff", "#8a93a3")}


def graph_svg(nodes: Sequence[tuple[str, Sequence[str], str]]) -> str:
    """(name, parents, colour class) per node, drawn in layers by longest path from a root; empty beyond
    MAX_SVG_NODES nodes. Boxes are sized to their labels (7 px a character at 12 px)."""
    if not nodes or len(nodes) > MAX_SVG_NODES:
        return ""
    parents = {name: list(node_parents) for name, node_parents, _ in nodes}
    depth: dict[str, int] = {}

    def layer(name: str) -> int:
        if name not in depth:
            depth[name] = 0  # a guard: the server only returns DAGs
            depth[name] = 1 + max((layer(p) for p in parents.get(name, ()) if p in parents), default=-1)
        return depth[name]

    columns: dict[int, list[str]] = {}
    for name, _, _ in nodes:
        columns.setdefault(layer(name), []).append(name)
    width = {name: 16 + 7 * len(name) for name, _, _ in nodes}
    column_width = {index: max(width[name] for name in names) + 50 for index, names in columns.items()}
    x_of = {}
    x = 10
    for index in sorted(columns):
        x_of[index] = x
        x += column_width[index]
    place = {name: (x_of[index], 10 + row * 44) for index, names in columns.items() for row, name in enumerate(names)}
    height = 10 + 44 * max(len(names) for names in columns.values())
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{x}" height="{height}" font-family="sans-serif" '
        'font-size="12"><defs><marker id="scmfit-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#6b7585"/></marker></defs>'
    ]
    for name, node_parents, _ in nodes:
        for parent in node_parents:
            if parent in place:
                (x1, y1), (x2, y2) = place[parent], place[name]
                parts.append(
                    f'<line x1="{x1 + width[parent]}" y1="{y1 + 14}" x2="{x2}" y2="{y2 + 14}" stroke="#6b7585" '
                    'marker-end="url(#scmfit-arrow)"/>'
                )
    for name, _, colour in nodes:
        (left, top), (fill, stroke) = place[name], COLOURS[colour]
        parts.append(
            f'<rect x="{left}" y="{top}" width="{width[name]}" height="28" rx="5" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{left + width[name] / 2}" y="{top + 18}" text-anchor="middle">{html.escape(name)}</text>'
        )
    return "".join(parts) + "</svg>"


def interval_columns(interval: Any) -> dict[str, float | None]:
    """An Interval (or None) as the columns a frame gives it."""
    if interval is None:
        return {"lower": None, "upper": None, "confidence_level": None}
    return {"lower": interval.lower, "upper": interval.upper, "confidence_level": interval.confidence_level}
