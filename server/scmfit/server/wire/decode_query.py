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
    BootstrapCount,
    InterventionKind,
    Interventions,
    InterventionSpec,
    Level,
    Magnitude,
    ModelFacts,
    Node,
    Nodes,
    Query,
    Rows,
    SampleCount,
    Scalar,
    Seed,
    TypedValue,
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


def read_count(value: int, default: int, name: str, limits: Limits, found: Violations) -> int:
    """A sample count: 0 means `default`; at most the server's max_samples."""
    count = default if value == 0 else value
    if count > limits.max_samples:
        found.append(FieldViolation(name, f"{count} exceeds the server limit max_samples={limits.max_samples}"))
    return count


def read_seed(request: Message, name: str, found: Violations) -> int:
    """An optional seed: unset means DEFAULT_QUERY_SEED; set, it must be in FIT_RANGES["seed"]."""
    if not request.HasField(name):
        return DEFAULT_QUERY_SEED
    seed: int = getattr(request, name)
    allowed = FIT_RANGES["seed"]  # queries seed the same numpy state as fits
    if not allowed.contains(seed):
        found.append(FieldViolation(name, f"must be {allowed.describe()}, got {seed}"))
    return seed


def read_level(value: float, name: str, found: Violations, default: float | None = None) -> float:
    """A level in (0, 1); 0 means `default`, or no level at all when there is none."""
    if value == 0:
        return 0.0 if default is None else default
    if not 0 < value < 1:
        unset = "no interval" if default is None else f"{default:g}"
        found.append(FieldViolation(name, f"must be in (0, 1), such as 0.95, or 0 for {unset}; got {value:g}"))
    return value


def _read_count(
    marker: SampleCount, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations
) -> int:
    return read_count(getattr(request, name), marker.default, name, limits, found)


def _read_seed(marker: Seed, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations) -> int:
    return read_seed(request, name, found)


def _read_magnitude(
    marker: Magnitude, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations
) -> float:
    value: float = getattr(request, name)
    _check_value(name, value, limits, found)
    return value


def _known(node: str, model: ModelFacts) -> str:
    known = model.categories.get(node, ())
    return f"; its categories are {', '.join(map(repr, known))}" if known else ""


def typed_value(
    value: pb.Value,
    fallback: tuple[str, float],
    node: str,
    field: str,
    model: ModelFacts,
    limits: Limits,
    found: Violations,
) -> Scalar:
    """`value` (or, unset, the double field `fallback`) as a cell of `node`'s type, exactly; never a guess."""
    kind = model.kinds[node]
    which = value.WhichOneof("kind")
    given: Scalar
    if which is None:
        if kind.categorical:
            wanted = "bool_value" if kind is ColumnType.BOOL else "string_value"
            found.append(
                FieldViolation(
                    field,
                    f"node {node!r} is {kind.value}: set a typed value ({wanted}), not a number{_known(node, model)}",
                )
            )
            return False if kind is ColumnType.BOOL else ""
        which, given = "double_value", fallback[1]
        where = fallback[0]
    else:
        given = getattr(value, which)
        where = f"{field}.{which}"
    if kind is ColumnType.STRING:
        if which != "string_value":
            found.append(FieldViolation(where, f"node {node!r} is string: set string_value{_known(node, model)}"))
            return ""
        known = model.categories.get(node, ())
        if known and given not in known:
            found.append(FieldViolation(where, f"{given!r} is not a category of {node!r}{_known(node, model)}"))
        return str(given)
    if kind is ColumnType.BOOL:
        if which != "bool_value":
            found.append(FieldViolation(where, f"node {node!r} is bool: set bool_value (true or false)"))
            return False
        return bool(given)
    if which not in ("double_value", "int64_value"):
        found.append(FieldViolation(where, f"node {node!r} is {kind.value}: set double_value or int64_value"))
        return 0.0
    _check_value(where, float(given), limits, found)
    if kind is ColumnType.INT64:
        if which == "double_value" and not float(given).is_integer():
            found.append(FieldViolation(where, f"node {node!r} is int64: {given!r} is not a whole number"))
            return 0
        return int(given)
    return float(given)


def _read_typed(
    marker: TypedValue, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations
) -> Scalar:
    node: str = getattr(request, marker.node_field)
    if node not in model.kinds:
        return 0.0  # the node's own field reports it
    fallback = (marker.fallback, getattr(request, marker.fallback))
    return typed_value(getattr(request, name), fallback, node, name, model, limits, found)


def _read_level(
    marker: Level, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations
) -> float:
    return read_level(getattr(request, name), name, found)


def read_bootstrap(value: int, default: int, name: str, limits: Limits, found: Violations) -> int:
    """A bootstrap count: 0 means `default`; at least 2, at most the server's max_bootstrap."""
    count = default if value == 0 else value
    if count > limits.max_bootstrap:
        found.append(FieldViolation(name, f"{count} exceeds the server limit max_bootstrap={limits.max_bootstrap}"))
    elif count < 2:
        found.append(FieldViolation(name, "an interval needs at least 2 bootstrap refits"))
    return count


def _read_bootstrap(
    marker: BootstrapCount, request: Message, name: str, model: ModelFacts, limits: Limits, found: Violations
) -> int:
    return read_bootstrap(getattr(request, name), marker.default, name, limits, found)


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
        detail = getattr(message, which)
        if kind is InterventionKind.HARD:
            fallback = (f"{where}.hard.value", detail.value)
            field = f"{where}.hard.typed_value"
            value: Scalar = typed_value(detail.typed_value, fallback, message.node, field, model, limits, found)
        else:
            value = float(getattr(detail, value_field))
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
    TypedValue: _read_typed,
    Level: _read_level,
    BootstrapCount: _read_bootstrap,
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
