"""Reads files for the CLI: JSON graphs as lift-sys writes them; CSV, JSON or Parquet traces."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from scmfit.client._errors import FieldViolation, InvalidRequestError

_BOOL_WORDS = {"true": True, "false": False}


def _bad_file(path: Path, description: str) -> InvalidRequestError:
    return InvalidRequestError(f"{path}: {description}", (FieldViolation(str(path), description),))


def read_graph(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """`{"nodes": [...], "edges": [[a, b], ...]}`."""
    return parse_graph(path.read_text(), str(path))


def infer_column(texts: list[str]) -> np.ndarray:
    """CSV cells are text: the narrowest of int64, float64, bool or str that holds every cell wins."""
    array = np.asarray(texts, dtype=str)
    for dtype in (np.int64, np.float64):
        try:
            return array.astype(dtype)
        except ValueError:
            continue
    lowered = np.char.lower(np.char.strip(array))
    if array.size and np.isin(lowered, list(_BOOL_WORDS)).all():
        flags: np.ndarray = lowered == "true"
        return flags
    return array


def parse_csv(text: str, source: str) -> dict[str, np.ndarray]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise _bad_file(Path(source), "the CSV file is empty")
    header, body = rows[0], rows[1:]
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise _bad_file(Path(source), f"line {number} has {len(row)} cells but the header has {len(header)}")
    return {name: infer_column([row[i] for row in body]) for i, name in enumerate(header)}


def parse_graph(text: str, source: str) -> tuple[list[str], list[tuple[str, str]]]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise _bad_file(Path(source), f"not JSON: {error}") from None
    if not isinstance(raw, dict) or "nodes" not in raw:
        raise _bad_file(Path(source), 'expected {"nodes": [...], "edges": [[source, target], ...]}')
    try:
        return [str(n) for n in raw["nodes"]], [(str(e[0]), str(e[1])) for e in raw.get("edges", [])]
    except (TypeError, IndexError, KeyError):
        raise _bad_file(Path(source), "every edge must be a [source, target] pair") from None


def read_traces(path: Path) -> dict[str, np.ndarray]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return parse_csv(path.read_text(), str(path))
    if suffix == ".json":
        raw: Any = json.loads(path.read_text())
        if isinstance(raw, dict) and "traces" in raw:
            raw = raw["traces"]
        if isinstance(raw, list):  # a list of row objects
            names = list(raw[0]) if raw else []
            return {name: np.asarray([row[name] for row in raw]) for name in names}
        if isinstance(raw, dict):
            return {str(name): np.asarray(values) for name, values in raw.items()}
        raise _bad_file(path, "expected {column: [values]} or [{column: value}, ...]")
    if suffix in {".parquet", ".pq"}:
        try:
            from pyarrow import parquet  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise _bad_file(path, "reading Parquet needs pyarrow: pip install pyarrow") from None
        table = parquet.read_table(path)
        return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    raise _bad_file(path, "traces must be .csv, .json or .parquet")
