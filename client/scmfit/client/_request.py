"""Builds FitModelRequest messages from plain Python and numpy data, checking what can be checked locally."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from scmfit.client._errors import FieldViolation, InvalidRequestError
from scmfit.v1 import causal_model_service_pb2 as pb

QUALITY_NAMES: Mapping[str, pb.Quality.ValueType] = {
    "GOOD": pb.QUALITY_GOOD,
    "BETTER": pb.QUALITY_BETTER,
    "BEST": pb.QUALITY_BEST,
}


def column(name: str, values: Sequence[Any] | np.ndarray) -> pb.Column:
    """Maps numpy dtypes to typed columns without loss: int stays int64, bool stays bool, str is strings."""
    array = np.asarray(values)
    kind = array.dtype.kind
    if kind == "b":
        return pb.Column(name=name, bools=pb.BoolValues(values=array.tolist()))
    if kind in "iu":
        return pb.Column(name=name, int64s=pb.Int64Values(values=array.astype(np.int64, copy=False).tolist()))
    if kind == "f":
        return pb.Column(
            name=name, doubles=pb.DoubleValues(values=array.astype(np.float64, copy=False).tolist())
        )
    if kind in "UO":
        return pb.Column(name=name, strings=pb.StringValues(values=[str(v) for v in array.tolist()]))
    raise InvalidRequestError(
        f"column {name!r} has unsupported dtype {array.dtype}",
        (FieldViolation(f"data[{name!r}]", f"unsupported dtype {array.dtype}"),),
    )


def check_graph(nodes: Sequence[str], edges: Iterable[tuple[str, str]], columns: Iterable[str]) -> None:
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
                FieldViolation(
                    "graph.edges", "the graph must be acyclic; cycle: " + " -> ".join(map(repr, cycle))
                )
            )
    if violations:
        raise InvalidRequestError(
            "; ".join(f"{v.field}: {v.description}" for v in violations), tuple(violations)
        )


def find_cycle(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[str]:
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


def fit_request(
    nodes: Sequence[str],
    edges: Iterable[tuple[str, str]],
    data: Mapping[str, Sequence[Any] | np.ndarray],
    *,
    quality: str = "GOOD",
    r2_threshold: float | None = None,
    validate_r2: bool | None = None,
    test_fraction: float | None = None,
    seed: int | None = None,
    min_samples: int | None = None,
) -> pb.FitModelRequest:
    edge_list = [(str(source), str(target)) for source, target in edges]
    check_graph(nodes, edge_list, data.keys())
    if quality.upper() not in QUALITY_NAMES:
        raise InvalidRequestError(
            f"unknown quality {quality!r}",
            (FieldViolation("config.quality", f"must be one of {', '.join(QUALITY_NAMES)}"),),
        )
    config = pb.FitConfig(
        quality=QUALITY_NAMES[quality.upper()],
        r2_threshold=r2_threshold,
        validate_r2=validate_r2,
        test_fraction=test_fraction,
        seed=seed,
        min_samples=min_samples,
    )
    return pb.FitModelRequest(
        graph=pb.Graph(nodes=list(nodes), edges=[pb.Edge(source=s, target=t) for s, t in edge_list]),
        dataset=pb.Dataset(columns=[column(name, values) for name, values in data.items()]),
        config=config,
    )
