"""Validates registry and query requests against the stored model they name."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from scmfit.server.config import Limits
from scmfit.server.domain.errors import FieldViolation, InvalidRequestError
from scmfit.server.domain.fit import ColumnType
from scmfit.server.domain.query import CounterfactualQuery, EffectQuery, InterventionKind, InterventionSpec, SampleQuery
from scmfit.server.domain.settings import FIT_RANGES
from scmfit.server.stores.registry import StoredModel
from scmfit.server.wire.decode import decode_dataset
from scmfit.v1 import causal_model_service_pb2 as pb

DEFAULT_SAMPLES = 1000
DEFAULT_EFFECT_SAMPLES = 10_000
DEFAULT_QUERY_SEED = 42


def _raise_if(violations: list[FieldViolation]) -> None:
    if violations:
        raise InvalidRequestError(violations)


def _num_samples(value: int, default: int, limits: Limits, violations: list[FieldViolation]) -> int:
    count = default if value == 0 else value
    if count > limits.max_samples:
        violations.append(
            FieldViolation("num_samples", f"{count} exceeds the server limit max_samples={limits.max_samples}")
        )
    return count


def _seed(has_seed: bool, seed: int, violations: list[FieldViolation]) -> int:
    if not has_seed:
        return DEFAULT_QUERY_SEED
    allowed = FIT_RANGES["seed"]  # queries seed the same numpy state as fits
    if not allowed.contains(seed):
        violations.append(FieldViolation("seed", f"must be {allowed.describe()}, got {seed}"))
    return seed


def _node(name: str, kinds: Mapping[str, ColumnType], field: str, violations: list[FieldViolation]) -> bool:
    if name not in kinds:
        violations.append(FieldViolation(field, f"unknown node {name!r}; the model has {', '.join(kinds)}"))
        return False
    return True


def _numeric(name: str, kinds: Mapping[str, ColumnType], field: str, violations: list[FieldViolation]) -> None:
    if kinds[name].categorical:
        violations.append(
            FieldViolation(field, f"node {name!r} is categorical ({kinds[name].value}); it takes no numeric value")
        )


def _check_value(field: str, value: float, limits: Limits, violations: list[FieldViolation]) -> None:
    """Intervention values obey the same magnitude limit as data: beyond it models overflow."""
    if not math.isfinite(value):
        violations.append(FieldViolation(field, f"must be finite, got {value}"))
    elif abs(value) > limits.max_abs_value:
        violations.append(
            FieldViolation(field, f"{value:g} is beyond the server limit max_abs_value={limits.max_abs_value:g}")
        )


def decode_interventions(
    messages: Sequence[pb.Intervention],
    kinds: Mapping[str, ColumnType],
    violations: list[FieldViolation],
    limits: Limits,
) -> tuple[InterventionSpec, ...]:
    specs: list[InterventionSpec] = []
    seen: dict[str, int] = {}
    for i, message in enumerate(messages):
        where = f"interventions[{i}]"
        if not _node(message.node, kinds, f"{where}.node", violations):
            continue
        if message.node in seen:
            violations.append(
                FieldViolation(
                    f"{where}.node",
                    f"node {message.node!r} is already intervened on at interventions[{seen[message.node]}]",
                )
            )
            continue
        seen[message.node] = i
        which = message.WhichOneof("kind")
        if which is None:
            violations.append(FieldViolation(f"{where}.kind", "set one of hard, shift or scale"))
            continue
        kind, value = {
            "hard": (InterventionKind.HARD, message.hard.value),
            "shift": (InterventionKind.SHIFT, message.shift.by),
            "scale": (InterventionKind.SCALE, message.scale.factor),
        }[which]
        field = f"{where}.{which}." + {"hard": "value", "shift": "by", "scale": "factor"}[which]
        _check_value(field, value, limits, violations)
        _numeric(message.node, kinds, f"{where}.{which}", violations)
        specs.append(InterventionSpec(message.node, kind, value))
    return tuple(specs)


def decode_sample(request: pb.SampleModelRequest, model: StoredModel, limits: Limits) -> SampleQuery:
    violations: list[FieldViolation] = []
    specs = decode_interventions(request.interventions, model.kinds, violations, limits)
    for i, node in enumerate(request.nodes):
        _node(node, model.kinds, f"nodes[{i}]", violations)
    query = SampleQuery(
        model_id=model.model_id,
        interventions=specs,
        nodes=tuple(dict.fromkeys(request.nodes)),
        num_samples=_num_samples(request.num_samples, DEFAULT_SAMPLES, limits, violations),
        seed=_seed(request.HasField("seed"), request.seed, violations),
        include_samples=request.include_samples,
    )
    _check_answer_size(query, model.kinds, limits, violations)
    _raise_if(violations)
    return query


_MIN_WIRE_BYTES = {ColumnType.DOUBLE: 8, ColumnType.INT64: 1, ColumnType.BOOL: 1, ColumnType.STRING: 2}
"""The fewest bytes one sampled value takes in a response (int64 varints and strings can take more)."""


def _check_answer_size(
    query: SampleQuery, kinds: Mapping[str, ColumnType], limits: Limits, violations: list[FieldViolation]
) -> None:
    """Refuses, before any sampling, answers the server could not hold or could not send."""
    nodes = query.nodes or tuple(kinds)
    cells = query.num_samples * len(nodes)
    if cells > limits.max_sample_cells:
        violations.append(
            FieldViolation(
                "num_samples",
                f"{query.num_samples} samples x {len(nodes)} nodes = {cells} values exceed the server limit "
                f"max_sample_cells={limits.max_sample_cells}; ask for fewer samples or name fewer nodes",
            )
        )
    elif query.include_samples:
        least = query.num_samples * sum(_MIN_WIRE_BYTES[kinds[node]] for node in nodes)
        if least > limits.max_request_bytes:
            violations.append(
                FieldViolation(
                    "include_samples",
                    f"the samples would take at least {least} bytes, over the server's message limit of "
                    f"{limits.max_request_bytes}; ask for fewer samples, name fewer nodes, or ask for statistics only",
                )
            )


def decode_effect(request: pb.EstimateEffectRequest, model: StoredModel, limits: Limits) -> EffectQuery:
    violations: list[FieldViolation] = []
    for field, name in (("treatment", request.treatment), ("target", request.target)):
        if _node(name, model.kinds, field, violations):
            _numeric(name, model.kinds, field, violations)
    if request.treatment and request.treatment == request.target:
        violations.append(FieldViolation("target", "the target must differ from the treatment"))
    for field, value in (
        ("alternative_value", request.alternative_value),
        ("reference_value", request.reference_value),
    ):
        _check_value(field, value, limits, violations)
    query = EffectQuery(
        model_id=model.model_id,
        treatment=request.treatment,
        target=request.target,
        alternative=request.alternative_value,
        reference=request.reference_value,
        num_samples=_num_samples(request.num_samples, DEFAULT_EFFECT_SAMPLES, limits, violations),
        seed=_seed(request.HasField("seed"), request.seed, violations),
    )
    _raise_if(violations)
    return query


def decode_counterfactual(request: pb.CounterfactualRequest, model: StoredModel, limits: Limits) -> CounterfactualQuery:
    violations: list[FieldViolation] = []
    specs = decode_interventions(request.interventions, model.kinds, violations, limits)
    if not specs and not violations:
        violations.append(FieldViolation("interventions", "a counterfactual needs at least one intervention"))
    columns, kinds, index = decode_dataset(request.observed, model.nodes, limits, violations, prefix="observed")
    for name, kind in kinds.items():
        if name in model.kinds and kind is not model.kinds[name]:
            violations.append(
                FieldViolation(
                    f"observed.columns[{index[name]}]",
                    f"column {name!r} is {kind.value} but the model was fitted on {model.kinds[name].value}",
                )
            )
    if not violations and columns and len(next(iter(columns.values()))) == 0:
        violations.append(FieldViolation("observed.columns", "no observed rows"))
    _raise_if(violations)
    return CounterfactualQuery(model_id=model.model_id, interventions=specs, observed=columns)
