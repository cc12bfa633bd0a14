"""Turns any registered query request into its domain query, field by field, by name.

The domain type's fields are named as the request's; each field's annotation (`domain/query.py`'s
markers) picks its check here, so a new query type needs no decoder of its own. Every violation of
every field is collected before the request is refused.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from google.protobuf.message import Message

from scmfit.server.config import Limits
from scmfit.server.domain.errors import FieldViolation, InvalidRequestError
from scmfit.server.domain.fit import ColumnType
from scmfit.server.domain.query import (
    DEFAULT_QUERY_SEED,
    InterventionKind,
    Interventions,
    InterventionSpec,
    Magnitude,
    ModelFacts,
    Node,
    Nodes,
    Query,
    Rows,
    SampleCount,
    Seed,
)
from scmfit.server.domain.settings import FIT_RANGES
from scmfit.server.wire.decode import decode_dataset
from scmfit.v1 import causal_model_service_pb2 as pb

Violations = list[FieldViolation]
Reader = Callable[[Any, Message, str, ModelFacts, Limits, Violations], Any]
"""(marker, request, field name, model, limits, violations) -> the domain value."""


def _node(name: str, kinds: Mapping[str, ColumnType], field: str, violations: Violations) -> bool:
    if name not in kinds:
        violations.append(FieldViolation(field, f"unknown node {name!r}; the model has {', '.join(kinds)}"))
        return False
    return True


def _numeric(name: str, kinds: Mapping[str, ColumnType], field: str, violations: Violations) -> None:
    if kinds[name].categorical:
        violations.append(
            FieldViolation(field, f"node {name!r} is categorical ({kinds[name].value}); it takes no numeric value")
        )


def _check_value(field: str, value: float, limits: Limits, violations: Violations) -> None:
    """Intervention values obey the same magnitude limit as data: beyond it models overflow."""
    if not math.isfinite(value):
        violations.append(FieldViolation(field, f"must be finite, got {value}"))
    elif abs(value) > limits.max_abs_value:
        violations.append(
            FieldViolation(field, f"{value:g} is beyond the server limit max_abs_value={limits.max_abs_value:g}")
        )


def _read_node(marker: Node, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations) -> str:
    value: str = getattr(request, name)
    if _node(value, model.kinds, name, found) and marker.numeric:
        _numeric(value, model.kinds, name, found)
    return value


def _read_nodes(
    marker: Nodes, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations
) -> tuple[str, ...]:
    values: Sequence[str] = getattr(request, name)
    for i, node in enumerate(values):
        _node(node, model.kinds, f"{name}[{i}]", found)
    return tuple(dict.fromkeys(values))


def _read_count(
    marker: SampleCount, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations
) -> int:
    value: int = getattr(request, name)
    count = marker.default if value == 0 else value
    if count > limits.max_samples:
        found.append(FieldViolation(name, f"{count} exceeds the server limit max_samples={limits.max_samples}"))
    return count


def _read_seed(marker: Seed, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations) -> int:
    if not request.HasField(name):
        return DEFAULT_QUERY_SEED
    seed: int = getattr(request, name)
    allowed = FIT_RANGES["seed"]  # queries seed the same numpy state as fits
    if not allowed.contains(seed):
        found.append(FieldViolation(name, f"must be {allowed.describe()}, got {seed}"))
    return seed


def _read_magnitude(
    marker: Magnitude, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations
) -> float:
    value: float = getattr(request, name)
    _check_value(name, value, limits, found)
    return value


_KINDS = {
    "hard": (InterventionKind.HARD, "value"),
    "shift": (InterventionKind.SHIFT, "by"),
    "scale": (InterventionKind.SCALE, "factor"),
}


def _read_interventions(
    marker: Interventions, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations
) -> tuple[InterventionSpec, ...]:
    specs: list[InterventionSpec] = []
    seen: dict[str, int] = {}
    message: pb.Intervention
    for i, message in enumerate(getattr(request, name)):
        where = f"{name}[{i}]"
        if not _node(message.node, model.kinds, f"{where}.node", found):
            continue
        if message.node in seen:
            found.append(
                FieldViolation(
                    f"{where}.node", f"node {message.node!r} is already intervened on at {name}[{seen[message.node]}]"
                )
            )
            continue
        seen[message.node] = i
        which = message.WhichOneof("kind")
        if which is None:
            found.append(FieldViolation(f"{where}.kind", "set one of hard, shift or scale"))
            continue
        kind, value_field = _KINDS[which]
        value = float(getattr(getattr(message, which), value_field))
        _check_value(f"{where}.{which}.{value_field}", value, limits, found)
        _numeric(message.node, model.kinds, f"{where}.{which}", found)
        specs.append(InterventionSpec(message.node, kind, value))
    return tuple(specs)


def _read_rows(
    marker: Rows, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations
) -> Mapping[str, Any]:
    decoded = decode_dataset(getattr(request, name), tuple(model.kinds), limits, found, prefix=name)
    columns, kinds, index = decoded.columns, decoded.kinds, decoded.index
    for column, mask in decoded.missing.items():
        found.append(
            FieldViolation(
                f"{name}.columns[{index[column]}].missing_rows",
                f"column {column!r} is missing at row {int(np.argmax(mask))}; a counterfactual needs every "
                "observed cell (drop or fill those rows)",
            )
        )
    for column, kind in kinds.items():
        if column in model.kinds and kind is not model.kinds[column]:
            found.append(
                FieldViolation(
                    f"{name}.columns[{index[column]}]",
                    f"column {column!r} is {kind.value} but the model was fitted on {model.kinds[column].value}",
                )
            )
    return columns


READERS: dict[type, Reader] = {
    Node: _read_node,
    Nodes: _read_nodes,
    SampleCount: _read_count,
    Seed: _read_seed,
    Magnitude: _read_magnitude,
    Interventions: _read_interventions,
    Rows: _read_rows,
}
"""How each marker of `domain/query.py` is read; a field without one is copied as the proto holds it."""


@functools.cache
def markers(query_type: type) -> dict[str, Any]:
    """Each field's marker (None for a plain field), from the type's `Annotated` hints."""
    hints = typing.get_type_hints(query_type, include_extras=True)
    found: dict[str, Any] = {}
    for field in dataclasses.fields(query_type):
        extras = getattr(hints[field.name], "__metadata__", ())
        found[field.name] = next((extra for extra in extras if type(extra) in READERS), None)
    return found


def decode_query(query_type: type, request: Message, model: ModelFacts, limits: Limits) -> Query:
    """The domain query of `request`, asked of `model`; InvalidRequestError lists every violation."""
    violations: Violations = []
    values: dict[str, Any] = {"model_id": model.model_id}
    for name, marker in markers(query_type).items():
        if name == "model_id":
            continue
        if marker is None:
            values[name] = getattr(request, name)
        else:
            values[name] = READERS[type(marker)](marker, request, name, model, limits, violations)
    query: Query = query_type(**values)
    if not violations:
        violations.extend(query.check(model, limits))
    if violations:
        raise InvalidRequestError(violations)
    return query
