"""A CheckGraph request into its job: the graph and the traces are checked as a fit's are, and every
violation of every field is collected before the request is refused."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from scmfit.server.config import Limits
from scmfit.server.domain.errors import FieldViolation, InvalidRequestError
from scmfit.server.domain.graph_check import CheckGraphJob
from scmfit.server.wire.decode import Entry, decode_dataset, decode_graph
from scmfit.server.wire.decode_query import read_level, read_seed
from scmfit.v1 import causal_model_service_pb2 as pb

DEFAULT_LEVEL = 0.05
MIN_ROWS = 20
"""Kernel independence tests on fewer rows have almost no power: a pass would mean nothing."""
MAX_PERMUTATIONS = 1000


def decode_check_graph(
    request: pb.CheckGraphRequest, limits: Limits, uploaded: Callable[[str], Sequence[Entry]]
) -> CheckGraphJob:
    violations: list[FieldViolation] = []
    nodes, edges = decode_graph(request.graph, limits, violations)
    if request.dataset_id:
        if request.dataset.columns:
            violations.append(FieldViolation("dataset_id", "set dataset or dataset_id, not both"))
        prefix = "dataset_id"
        decoded = decode_dataset(uploaded(request.dataset_id), nodes, limits, violations, prefix)
    else:
        prefix = "dataset"
        decoded = decode_dataset(request.dataset, nodes, limits, violations)
    for name, mask in decoded.missing.items():
        violations.append(
            FieldViolation(
                f"{prefix}.columns[{decoded.index[name]}].missing_rows",
                f"column {name!r} is missing at row {int(mask.argmax())}; an independence test needs every cell "
                "(drop or fill those rows)",
            )
        )
    rows = len(next(iter(decoded.columns.values()))) if decoded.columns else 0
    if decoded.columns and rows < MIN_ROWS:
        violations.append(
            FieldViolation(f"{prefix}.columns", f"{rows} rows; checking a graph needs at least {MIN_ROWS}")
        )
    significance = read_level(request.significance_level, "significance_level", violations, DEFAULT_LEVEL)
    independence = read_level(request.independence_level, "independence_level", violations, DEFAULT_LEVEL)
    permutations = request.num_permutations or (int(1 / significance) if 0 < significance < 1 else 0)
    if permutations > MAX_PERMUTATIONS:
        violations.append(
            FieldViolation("num_permutations", f"{permutations} exceeds the server limit of {MAX_PERMUTATIONS}")
        )
    seed = read_seed(request, "seed", violations)
    if violations:
        raise InvalidRequestError(violations)
    return CheckGraphJob(
        nodes=nodes,
        edges=edges,
        columns={name: decoded.columns[name] for name in nodes},
        kinds={name: decoded.kinds[name] for name in nodes},
        significance_level=significance,
        independence_level=independence,
        num_permutations=permutations,
        seed=seed,
    )
