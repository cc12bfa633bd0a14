"""Reads files for the CLI: JSON graphs as lift-sys writes them; CSV, JSON or Parquet traces.

Types are decided strictly. A column is numeric, boolean or text, and a column that is mostly
numbers but has a gap (an empty cell, `NA`, `nan`) or a stray word is refused with the file, column,
line and text, never quietly turned into a column of category labels. Text is chosen explicitly
(`string_columns`) or by a column that holds no numbers at all.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from scmfit.client._errors import FieldViolation, InvalidRequestError
from scmfit.client._request import dtype_for_kinds, refuse_duplicates, spread, value_kind

_BOOL_WORDS = {"true": True, "false": False}
MISSING_WORDS = frozenset({"", "na", "n/a", "nan", "-nan", "null", "none", "nil", "#n/a", "missing", "?"})
"""Cells that mean "no value" in common trace and spreadsheet exports; never a category by default."""
GRAPH_KEYS = ("nodes", "edges")


def _bad_file(path: Path | str, description: str, field: str | None = None) -> InvalidRequestError:
    return InvalidRequestError(f"{path}: {description}", (FieldViolation(field or str(path), description),))


def check_keys(raw: Mapping[str, Any], accepted: Collection[str], where: str, source: Path | str) -> None:
    """A misspelled key must not silently fall back to a default (an "edgse" graph has no edges)."""
    unknown = [str(key) for key in raw if key not in accepted]
    if unknown:
        raise _bad_file(
            source,
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in {where}; "
            f"accepted keys: {', '.join(accepted)}",
            f"{source}: {where}.{unknown[0]}",
        )


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str, first: int, second: int) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    positions: dict[str, int] = {}
    for position, (key, _) in enumerate(pairs, start=1):
        if key in positions:
            raise _DuplicateKeyError(key, positions[key], position)
        positions[key] = position
    return dict(pairs)


def load_json(text: str | bytes, source: Path | str) -> Any:
    """`json.loads`, refusing what it would silently accept: a key repeated in one object (the last
    one would win), and nesting too deep for Python's recursion (a RecursionError otherwise)."""
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as error:
        raise _bad_file(source, f"not JSON: {error}") from None
    except _DuplicateKeyError as error:
        raise _bad_file(
            source,
            f"key {error.key!r} appears twice in one object (keys {error.first} and {error.second}); "
            "the second would silently replace the first: rename or drop one",
        ) from None
    except RecursionError:
        raise _bad_file(source, "the JSON is nested too deeply to read") from None


def read_graph(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """`{"nodes": [...], "edges": [[a, b], ...]}`."""
    return parse_graph(path.read_text(), str(path))


def parse_graph(text: str, source: str) -> tuple[list[str], list[tuple[str, str]]]:
    return graph_from_json(load_json(text, source), source)


def graph_from_json(raw: Any, source: Path | str, where: str = "the graph") -> tuple[list[str], list[tuple[str, str]]]:
    if not isinstance(raw, dict) or "nodes" not in raw:
        raise _bad_file(source, f'{where}: expected {{"nodes": [...], "edges": [[source, target], ...]}}')
    check_keys(raw, GRAPH_KEYS, where, source)
    if not isinstance(raw["nodes"], list) or not isinstance(raw.get("edges", []), list):
        raise _bad_file(source, f"{where}: nodes and edges must be lists")
    edges: list[tuple[str, str]] = []
    for k, edge in enumerate(raw.get("edges", [])):
        if not isinstance(edge, list | tuple) or len(edge) != 2:
            raise _bad_file(source, f"{where}: edges[{k}] must be a [source, target] pair, got {edge!r}")
        edges.append((str(edge[0]), str(edge[1])))
    return [str(n) for n in raw["nodes"]], edges


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


GAPS_HINT = "--missing-values PER_NODE (or COMPLETE_ROWS) fits with gaps"
"""How a gap is accepted instead of refused: the fit's missing-value policy."""


def _gap_hint(name: str) -> str:
    return f"fill or drop the row, {GAPS_HINT}, or, if {name!r} holds labels, pass it in --string-columns"


def infer_column(
    texts: list[str],
    name: str = "column",
    source: str = "traces",
    lines: list[int] | None = None,
    allow_missing: bool = False,
) -> np.ndarray:
    """CSV cells are text: int64, then float64, then bool, then str, each only where every cell fits. With
    `allow_missing`, gap cells (empty, NA, null, ...) are missing and the type comes from the others."""
    line_of = (lambda row: lines[row]) if lines is not None else (lambda row: row + 2)
    if allow_missing:
        gaps = np.fromiter((text.strip().lower() in MISSING_WORDS for text in texts), dtype=bool, count=len(texts))
        if gaps.any():
            rows = np.flatnonzero(~gaps)
            return spread(
                infer_column([texts[row] for row in rows], name, source, [line_of(row) for row in rows]), gaps
            )
    array = np.asarray(texts, dtype=str)
    try:
        return array.astype(np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        floats = array.astype(np.float64)
    except ValueError:
        floats = None
    if floats is not None:
        bad = np.flatnonzero(~np.isfinite(floats))
        if bad.size == 0:
            return floats
        row = int(bad[0])
        raise _cell_error(source, name, line_of(row), texts[row], "is not a finite number", _gap_hint(name))
    stripped = np.char.lower(np.char.strip(array))
    if array.size and np.isin(stripped, list(_BOOL_WORDS)).all():
        flags: np.ndarray = stripped == "true"
        return flags
    missing = np.flatnonzero(np.isin(stripped, list(MISSING_WORDS)))
    # Only this path loops over cells: it runs for text columns, to tell labels from a numeric gap.
    numeric = [row for row, text in enumerate(texts) if _is_number(text)]
    if numeric:
        row = next(row for row, text in enumerate(texts) if not _is_number(text))
        raise _cell_error(
            source,
            name,
            line_of(row),
            texts[row],
            f"is not a number, but the column is numeric (line {line_of(numeric[0])} holds {texts[numeric[0]]!r})",
            _gap_hint(name),
        )
    if missing.size:
        row = int(missing[0])
        raise _cell_error(
            source,
            name,
            line_of(row),
            texts[row],
            "is a missing value",
            f"fill or drop the row, {GAPS_HINT}, or pass {name!r} in --string-columns to keep the text as a label",
        )
    return array


def _cell_error(source: str, name: str, line: int, text: str, problem: str, fix: str) -> InvalidRequestError:
    description = f"column {name!r}, line {line}: {text!r} {problem}; {fix}"
    return InvalidRequestError(f"{source}: {description}", (FieldViolation(f"{source}:{line}:{name}", description),))


def parse_csv(
    text: str, source: str, string_columns: Collection[str] = (), allow_missing: bool = False
) -> dict[str, np.ndarray]:
    reader = csv.reader(io.StringIO(text))
    rows: list[list[str]] = []
    lines: list[int] = []
    for row in reader:
        rows.append(row)
        lines.append(reader.line_num)
    if not rows:
        raise _bad_file(source, "the CSV file is empty")
    header, body, body_lines = rows[0], rows[1:], lines[1:]
    refuse_duplicates(header, f"the header of {source} (line {lines[0]})", f"{source}: line {lines[0]}")
    for row, number in zip(body, body_lines, strict=True):
        if len(row) != len(header):
            raise _bad_file(source, f"line {number} has {len(row)} cells but the header has {len(header)}")
    _check_string_columns(string_columns, header, source)
    columns: dict[str, np.ndarray] = {}
    for i, name in enumerate(header):
        cells = [row[i] for row in body]
        columns[name] = (
            np.asarray(cells, dtype=str)
            if name in string_columns
            else infer_column(cells, name, source, body_lines, allow_missing)
        )
    return columns


def _check_string_columns(string_columns: Collection[str], names: Iterable[str], source: str) -> None:
    unknown = sorted(set(string_columns) - set(names))
    if unknown:
        raise _bad_file(source, f"--string-columns names no column {', '.join(map(repr, unknown))}")


def typed_json_column(
    values: Any, name: str, source: str, as_strings: bool = False, allow_missing: bool = False
) -> np.ndarray:
    """JSON values carry their own types; a column must hold one of them. A null is a missing cell when
    `allow_missing` (the type then comes from the other values), and refused otherwise."""
    if not isinstance(values, list):
        raise _bad_file(source, f"column {name!r} must be a list of values", f"{source}: traces.{name}")
    if allow_missing and any(value is None for value in values):
        gaps = np.fromiter((value is None for value in values), dtype=bool, count=len(values))
        present = typed_json_column([value for value in values if value is not None], name, source, as_strings)
        return spread(present, gaps)
    if as_strings:
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise _json_cell_error(source, name, index, value, "is not a string")
        return np.asarray(values, dtype=str)
    kinds = [value_kind(value) for value in values]
    for index, kind in enumerate(kinds):
        if kind is None or kind == "other":
            problem = "is a missing value" if kind is None else "is not a number, bool or string"
            raise _json_cell_error(source, name, index, values[index], problem)
    dtype = dtype_for_kinds(set(kinds))
    if dtype is None:
        index = max(kinds.index(kind) for kind in set(kinds))
        mixed = ", ".join(sorted(str(kind) for kind in set(kinds)))
        raise _json_cell_error(source, name, index, values[index], f"mixes types in one column ({mixed})")
    if not values:
        return np.asarray([], dtype=np.float64)
    column: np.ndarray = np.asarray(values, dtype=dtype)
    if dtype is np.float64:
        bad = np.flatnonzero(~np.isfinite(column))
        if bad.size:
            raise _json_cell_error(source, name, int(bad[0]), values[int(bad[0])], "is not a finite number")
    if dtype is str:
        gap = next((i for i, value in enumerate(values) if value.strip().lower() in MISSING_WORDS), None)
        if gap is not None:
            raise _json_cell_error(source, name, gap, values[gap], "is a missing value")
    return column


def _json_cell_error(source: str, name: str, index: int, value: Any, problem: str) -> InvalidRequestError:
    description = (
        f"column {name!r}, value {index} (row {index + 1}): {json.dumps(value)} {problem}; "
        f"every value of a column must have the column's type, with no nulls ({GAPS_HINT})"
    )
    return InvalidRequestError(
        f"{source}: {description}", (FieldViolation(f"{source}: traces.{name}[{index}]", description),)
    )


def traces_from_json(
    raw: Any, source: str, string_columns: Collection[str] = (), allow_missing: bool = False
) -> dict[str, np.ndarray]:
    """`{column: [values]}` or a list of row objects `[{column: value}, ...]`."""
    if isinstance(raw, list):
        if not all(isinstance(row, dict) for row in raw):
            raise _bad_file(source, "a list of traces must hold one object per row")
        names = list(raw[0]) if raw else []
        for number, row in enumerate(raw):
            if list(row) != names:
                raise _bad_file(
                    source, f"row {number + 1} has keys {sorted(row)}, but row 1 has {sorted(names)}", source
                )
        raw = {name: [row[name] for row in raw] for name in names}
    if not isinstance(raw, dict):
        raise _bad_file(source, "expected {column: [values]} or [{column: value}, ...]")
    _check_string_columns(string_columns, raw, source)
    return {
        str(name): typed_json_column(values, str(name), source, str(name) in string_columns, allow_missing)
        for name, values in raw.items()
    }


def read_traces(path: Path, string_columns: Collection[str] = (), allow_missing: bool = False) -> dict[str, np.ndarray]:
    """A traces file's typed columns; gaps are refused, naming file, line and column, unless
    `allow_missing` (the fit's missing-value policy accepts them), when they are missing cells."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return parse_csv(path.read_text(), str(path), string_columns, allow_missing)
    if suffix == ".json":
        raw: Any = load_json(path.read_text(), path)
        if isinstance(raw, dict) and "traces" in raw:
            check_keys(raw, ("traces",), "the traces file", path)
            raw = raw["traces"]
        return traces_from_json(raw, str(path), string_columns, allow_missing)
    if suffix in {".parquet", ".pq"}:
        try:
            from pyarrow import parquet  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise _bad_file(path, "reading Parquet needs pyarrow: pip install pyarrow") from None
        table = parquet.read_table(path)
        refuse_duplicates(table.column_names, str(path), str(path))
        return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    raise _bad_file(path, "traces must be .csv, .json or .parquet")
