"""Builds FitModelRequest messages from networkx graphs, pandas frames, mappings and numpy arrays.

Nothing here imports networkx or pandas: graphs and frames are recognised by their interfaces, so
the client stays installable without them. Columns convert array-wise (no Python loop over rows),
and local checks fail fast with the same error types the server would return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np

from scmfit.client._config import FitConfig
from scmfit.client._errors import FieldViolation, InvalidRequestError
from scmfit.v1 import causal_model_service_pb2 as pb

Edge: TypeAlias = tuple[str, str]
GraphLike: TypeAlias = Any
"""A networkx.DiGraph, a (nodes, edges) pair, or a mapping {"nodes": [...], "edges": [[a, b], ...]}."""
DataLike: TypeAlias = Any
"""A pandas.DataFrame, or a mapping from column name to a sequence or numpy array."""

_invalid = InvalidRequestError.of_field


def normalize_graph(graph: GraphLike) -> tuple[list[str], list[Edge]]:
    """Nodes in their given order and edges as (source, target) name pairs."""
    if hasattr(graph, "nodes") and hasattr(graph, "edges") and callable(getattr(graph, "is_directed", None)):
        if not graph.is_directed():
            raise _invalid("graph", "a causal graph must be directed (networkx.DiGraph)")
        nodes, edges = list(graph.nodes), list(graph.edges)
    elif isinstance(graph, Mapping):
        nodes, edges = list(graph.get("nodes", [])), list(graph.get("edges", []))
    elif isinstance(graph, Sequence) and len(graph) == 2:
        nodes, edges = list(graph[0]), list(graph[1])
    else:
        raise _invalid("graph", f"expected a networkx.DiGraph, (nodes, edges) or a mapping, got {type(graph).__name__}")
    pairs: list[Edge] = []
    for k, edge in enumerate(edges):
        if len(edge) < 2:
            raise _invalid(f"graph.edges[{k}]", f"an edge needs a source and a target, got {edge!r}")
        pairs.append((str(edge[0]), str(edge[1])))
    return [str(node) for node in nodes], pairs


def refuse_duplicates(names: Iterable[object], where: str, field: str = "data") -> None:
    """A repeated column name would silently keep only its last column: refused, naming both positions."""
    first: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        text = str(name)
        if text in first:
            raise _invalid(
                field,
                f"column {text!r} appears twice in {where} (columns {first[text]} and {position}); "
                "rename or drop one of them",
            )
        first[text] = position


def normalize_data(data: DataLike) -> dict[str, np.ndarray]:
    """One 1-D array per column; pandas categoricals and strings become str arrays."""
    if hasattr(data, "columns") and hasattr(data, "dtypes") and hasattr(data, "__getitem__"):
        refuse_duplicates(data.columns, "the DataFrame")
        return {str(name): _series_array(data[name]) for name in data.columns}
    if isinstance(data, Mapping):
        refuse_duplicates(data.keys(), "the mapping (names are compared as strings)")
        arrays: dict[str, np.ndarray] = {}
        for name, values in data.items():
            array: np.ndarray
            if np.ma.isMaskedArray(values):  # gaps already marked (the file readers, or the caller)
                array = values
            elif hasattr(values, "dtype") and hasattr(values, "to_numpy"):
                array = _series_array(values)
            else:
                array = _typed_object_array(str(name), np.asarray(values))
            if array.ndim != 1:
                raise _invalid(f"data[{name!r}]", f"columns must be one-dimensional, got shape {array.shape}")
            arrays[str(name)] = array
        return arrays
    raise _invalid("data", f"expected a pandas.DataFrame or a mapping of columns, got {type(data).__name__}")


def _series_array(series: Any) -> np.ndarray:
    """pandas' NaN, None and pd.NA are missing cells (a masked array), in every dtype."""
    dtype_name = str(series.dtype)
    gaps = np.asarray(series.isna().to_numpy(), dtype=bool)
    if dtype_name == "category" or dtype_name.startswith(("string", "str")):
        labels = np.asarray(series.astype(object).where(~series.isna(), "").astype(str).to_numpy(dtype=object))
        return masked(labels.astype(str), gaps)
    if dtype_name in {"Int64", "Int32", "Int16", "Int8", "boolean"}:
        kind = "int64" if dtype_name != "boolean" else "bool"
        return masked(np.asarray(series.to_numpy(dtype=kind, na_value=0 if kind == "int64" else False)), gaps)
    return _typed_object_array(str(series.name), np.asarray(series.to_numpy()))


def _typed_object_array(name: str, array: np.ndarray) -> np.ndarray:
    """An object column is typed by what its present cells hold, so an int trace with a hole stays int64;
    a gap (None, NaN) is a missing cell (a masked array). A mix of numbers and text is refused, because
    guessing would turn a numeric trace into category labels."""
    if array.dtype.kind == "f":
        return masked(array, np.isnan(array))
    if array.dtype.kind != "O":
        return array
    values = array.tolist()
    kinds = [value_kind(value) for value in values]
    for index, kind in enumerate(kinds):
        if kind == "other":
            raise _invalid(
                f"data[{name!r}][{index}]",
                f"row {index} holds a {type(values[index]).__name__}, not a number or string",
            )
    gaps = np.fromiter((kind is None for kind in kinds), dtype=bool, count=len(kinds))
    if gaps.any():
        present = [value for value, gap in zip(values, gaps, strict=True) if not gap]
        return spread(_typed_object_array(name, np.asarray(present, dtype=object)) if present else np.zeros(0), gaps)
    dtype = dtype_for_kinds(set(kinds))
    if dtype is not None:
        return array.astype(dtype)
    first = next(index for index, kind in enumerate(kinds) if kind != kinds[0])
    raise _invalid(
        f"data[{name!r}][{first}]",
        f"the column mixes {kinds[0]} and {kinds[first]} values (row {first}: {values[first]!r}); convert it "
        "explicitly (astype('string') for labels, astype(float) for numbers)",
    )


def value_kind(value: Any) -> str | None:
    """ "bool", "int", "float", "str", "other", or None for a gap (None or NaN); shared by every column source."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | np.integer):
        return "int"
    if isinstance(value, float | np.floating):
        return "float" if np.isfinite(value) or np.isinf(value) else None  # NaN is a gap, not a number
    if isinstance(value, str):
        return "str"
    return "other"


def dtype_for_kinds(kinds: set[str | None]) -> type | None:
    """The one array type that holds every value of these kinds without loss, or None for a mix."""
    if kinds <= {"str"}:
        return str
    if kinds == {"bool"}:
        return np.bool_
    if kinds == {"int"}:
        return np.int64
    if kinds <= {"int", "float"}:
        return np.float64
    return None


PLACEHOLDER = {"b": False, "i": 0, "u": 0, "f": np.nan, "U": "", "O": ""}
"""What a missing cell holds on the wire, by dtype kind; the server never reads it."""


def masked(values: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """`values` with `gaps` marked missing (a numpy masked array), or `values` itself when nothing is."""
    if not gaps.any():
        return values
    filled = values.copy()
    filled[gaps] = PLACEHOLDER.get(values.dtype.kind, 0)
    return np.ma.masked_array(filled, mask=gaps)


def spread(present: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """The typed values of the present cells laid back over all rows, the gaps marked missing: how every
    reader (objects, CSV, JSON) types a column by its present cells alone."""
    full = np.zeros(len(gaps), dtype=present.dtype)  # "" for strings, 0 or False otherwise
    full[~gaps] = present
    return masked(full, gaps)


def column(name: str, values: Sequence[Any] | np.ndarray) -> pb.Column:
    """Lossless typing: int stays int64, bool stays bool, str and categories become strings. A masked
    array's masked cells travel as missing_rows (Arrow's validity), whatever its type."""
    if np.ma.isMaskedArray(values):
        gaps = np.ma.getmaskarray(values)
        data = np.ma.getdata(values).copy()
        data[gaps] = PLACEHOLDER.get(data.dtype.kind, 0)
        built = column(name, data)
        built.missing_rows.extend(np.flatnonzero(gaps).tolist())
        return built
    array = np.asarray(values)
    kind = array.dtype.kind
    if kind == "b":
        return pb.Column(name=name, bools=pb.BoolValues(values=array.tolist()))
    if kind in "iu":
        if kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
            raise _invalid(f"data[{name!r}]", "unsigned values above the int64 range cannot be sent losslessly")
        return pb.Column(name=name, int64s=pb.Int64Values(values=array.astype(np.int64, copy=False).tolist()))
    if kind == "f":
        return pb.Column(name=name, doubles=pb.DoubleValues(values=array.astype(np.float64, copy=False).tolist()))
    if kind == "U":
        return pb.Column(name=name, strings=pb.StringValues(values=array.tolist()))
    if kind == "O":
        typed = _typed_object_array(name, array)
        if typed.dtype.kind == "O":
            raise _invalid(f"data[{name!r}]", "values must be numbers, bools or strings")
        return column(name, typed)
    raise _invalid(f"data[{name!r}]", f"unsupported dtype {array.dtype}")


def check_graph(nodes: Sequence[str], edges: Iterable[Edge], columns: Iterable[str]) -> None:
    """Fails fast on what the server would reject anyway: unknown nodes, cycles, column mismatches."""
    violations: list[FieldViolation] = []
    node_set = set(nodes)
    edge_list = list(edges)
    for k, (source, target) in enumerate(edge_list):
        for end, name in (("source", source), ("target", target)):
            if name not in node_set:
                violations.append(FieldViolation(f"graph.edges[{k}].{end}", f"unknown node {name!r}"))
    column_set = set(columns)
    violations.extend(
        FieldViolation(f"graph.nodes[{i}]", f"node {name!r} has no column")
        for i, name in enumerate(nodes)
        if name not in column_set
    )
    violations.extend(
        FieldViolation(f"data[{name!r}]", f"column {name!r} matches no graph node")
        for name in sorted(column_set - node_set)
    )
    if not violations:
        cycle = find_cycle(nodes, edge_list)
        if cycle:
            violations.append(
                FieldViolation("graph.edges", "the graph must be acyclic; cycle: " + " -> ".join(map(repr, cycle)))
            )
    if violations:
        raise InvalidRequestError("; ".join(f"{v.field}: {v.description}" for v in violations), tuple(violations))


def find_cycle(nodes: Sequence[str], edges: Sequence[Edge]) -> list[str]:
    """A cycle as a closed path of names, or []; the client does not depend on networkx."""
    children: dict[str, list[str]] = {name: [] for name in nodes}
    for source, target in edges:
        children.setdefault(source, []).append(target)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for root, first_children in children.items():
        if root in state:
            continue
        path = [root]
        stack = [iter(first_children)]
        state[root] = 1
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append(iter(children.get(child, [])))
    return []


GAP_POLICIES = ("PER_NODE", "COMPLETE_ROWS")
"""The missing-value policies that accept gaps; unset (the server's default) refuses them."""


def refuse_gaps(arrays: Mapping[str, np.ndarray]) -> None:
    """The default policy's precise refusal, before any RPC: the first gap of each column, and the fix."""
    violations = []
    for name, values in arrays.items():
        gaps = np.ma.getmaskarray(values)
        if gaps.any():
            first = int(np.argmax(gaps))
            violations.append(
                FieldViolation(
                    f"data[{name!r}][{first}]",
                    f"row {first} is missing ({int(gaps.sum())} gap(s) in the column); fill or drop those rows, "
                    "or fit with missing_values='PER_NODE' (each node on its own present rows) or 'COMPLETE_ROWS'",
                )
            )
    if violations:
        raise InvalidRequestError("; ".join(f"{v.field}: {v.description}" for v in violations), tuple(violations))


def fit_request(
    graph: GraphLike,
    edges_or_data: Any,
    data: DataLike | None = None,
    config: FitConfig | None = None,
    *,
    check_gaps: bool = True,
    **settings: Any,
) -> pb.FitModelRequest:
    """`fit_request(graph, data, config)` or `fit_request(nodes, edges, data, config)`; keyword settings
    (`seed=7`) change single fields of `config`, and an unknown one is an error. Gaps (NaN, None, pd.NA)
    are refused here unless `missing_values` accepts them; `check_gaps=False` leaves that to the server
    (the lift-sys adapter does, so that the error comes from the service, as the original's did)."""
    if data is None:
        nodes, edges = normalize_graph(graph)
        data = edges_or_data
    else:
        nodes, edges = normalize_graph((graph, edges_or_data))
    arrays = normalize_data(data)
    check_graph(nodes, edges, arrays.keys())
    settled = FitConfig.of(config, **settings)
    if check_gaps and settled.missing_values not in GAP_POLICIES:
        refuse_gaps(arrays)
    return pb.FitModelRequest(
        graph=pb.Graph(nodes=nodes, edges=[pb.Edge(source=s, target=t) for s, t in edges]),
        dataset=pb.Dataset(columns=[column(name, values) for name, values in arrays.items()]),
        config=settled.to_proto(),
    )
