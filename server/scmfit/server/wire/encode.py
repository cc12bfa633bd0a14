"""Turns domain outcomes into v1 protobuf messages; the only place that builds responses."""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import numpy as np
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from scmfit.server.config import Limits
from scmfit.server.domain.fit import (
    ColumnType,
    FitOutcome,
    MechanismSummary,
    NodeResult,
    Progress,
    Stage,
)
from scmfit.server.domain.identity import library_version, scmfit_version
from scmfit.server.domain.settings import FitSettings, Quality
from scmfit.server.stores.registry import ListedModel, StoredModel
from scmfit.server.wire.enums import to_wire
from scmfit.v1 import causal_model_service_pb2 as pb

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class AdmissionLimits:
    """The server-wide bounds that GetServerInfo reports beside the per-request limits."""

    registry_bytes: int
    max_concurrent: int
    max_queue: int
    default_fit_deadline: float
    max_concurrent_queries: int = 0
    max_query_queue: int = 0
    max_calls_per_peer: int = 0
    max_streams_per_connection: int = 0
    request_read_seconds: float = 0.0
    connection_idle_seconds: float = 0.0
    connection_max_age_seconds: float = 0.0


@dataclass(frozen=True)
class WorkerShares:
    """How fits and queries share the workers, for GetServerInfo."""

    workers: int
    query_workers: int = 0
    fit_share: float = 0.0
    fit_workers: int = 0


def duration(seconds: float) -> Duration:
    message = Duration()
    message.FromNanoseconds(round(seconds * 1e9))
    return message


def _wire_value(field: Any, value: Any, kinds: Mapping[str, ColumnType]) -> Any:
    """One domain value as the proto field holds it; None leaves the field unset."""
    message = field.message_type
    if field.is_repeated and not isinstance(value, Mapping):
        return [_wire_value_one(field, item, kinds) for item in value]
    if message is not None and message.full_name == "scmfit.v1.Dataset":
        return dataset(value, kinds) if value else None
    return _wire_value_one(field, value, kinds)


def _wire_value_one(field: Any, value: Any, kinds: Mapping[str, ColumnType]) -> Any:
    message = field.message_type
    if message is None:
        return to_wire(value) if isinstance(value, Enum) else value
    if isinstance(value, Message):
        return value
    if message.full_name == "google.protobuf.Duration":
        return duration(value)
    if message.full_name == "google.protobuf.Timestamp":
        return timestamp(value)
    return message_of(getattr(pb, message.name), value, kinds=kinds)


def message_of(
    message_type: type[M], *sources: object, kinds: Mapping[str, ColumnType] | None = None, **given: Any
) -> M:
    """A message whose fields are filled by name: from `given`, else from the first source (a dataclass)
    that has an attribute of that name. Nested dataclasses, enums, durations and column mappings convert
    by the proto field's type, so a field added to the proto and to the domain type under the same name
    travels with no edit here. tests/server/wire/test_shapes.py checks that every field maps."""
    fields: dict[str, Any] = {}
    for field in message_type.DESCRIPTOR.fields:
        if field.name in given:
            value = given[field.name]
        else:
            value = next((getattr(s, field.name) for s in sources if hasattr(s, field.name)), None)
        if value is not None:
            converted = _wire_value(field, value, kinds or {})
            if converted is not None:
                fields[field.name] = converted
    return message_type(**fields)


def progress_response(progress: Progress, elapsed_seconds: float) -> pb.FitModelResponse:
    return pb.FitModelResponse(progress=message_of(pb.FitProgress, progress, elapsed=elapsed_seconds))


def mechanism(summary: MechanismSummary) -> pb.Mechanism:
    """Coefficients travel as (feature, value) messages; the domain keeps them as pairs."""
    return message_of(
        pb.Mechanism,
        summary,
        coefficients=[pb.Coefficient(feature=f, value=v) for f, v in summary.coefficients],
    )


NODE_RESULT_GIVEN = ("r2", "r2_omission", "mse", "accuracy")
"""NodeResult's scores, which the domain keeps together in `NodeScore`."""


def node_result(node: NodeResult) -> pb.NodeResult:
    score = node.score
    return message_of(
        pb.NodeResult,
        node,
        mechanism=mechanism(node.mechanism),
        r2=score.r2,
        r2_omission=to_wire(score.omission),
        mse=score.mse,
        accuracy=score.accuracy,
    )


def result_response(
    outcome: FitOutcome,
    *,
    model_id: str,
    num_rows: int,
    settings: FitSettings,
    validating_seconds: float,
    total_seconds: float,
) -> pb.FitModelResponse:
    timings: Iterable[tuple[Stage, float]] = [
        (Stage.VALIDATING, validating_seconds),
        *outcome.stage_seconds.items(),
    ]
    return pb.FitModelResponse(
        result=message_of(
            pb.FitResult,
            outcome,
            model_id=model_id,
            nodes=[node_result(node) for node in outcome.nodes],
            metadata=message_of(
                pb.FitMetadata,
                outcome,
                settings,
                num_rows=num_rows,
                stage_timings=[pb.StageTiming(stage=to_wire(s), duration=duration(t)) for s, t in timings],
                total_time=total_seconds,
                refit_on_all_rows=outcome.refitted,
                num_model_rows=num_rows if outcome.refitted else outcome.num_train,
            ),
        )
    )


def server_info(
    limits: Limits, qualities: Iterable[Quality], workers: WorkerShares, admission: AdmissionLimits
) -> pb.GetServerInfoResponse:
    return pb.GetServerInfoResponse(
        scmfit_version=scmfit_version(),
        dowhy_version=library_version("dowhy"),
        sklearn_version=library_version("scikit-learn"),
        python_version=platform.python_version(),
        limits=pb.ServerLimits(
            # Every bound whose name the proto shares, by construction; the three that differ, by hand.
            **_same_named(limits, admission),
            max_registry_bytes=admission.registry_bytes,
            default_fit_deadline=duration(admission.default_fit_deadline),
            upload_idle_timeout=duration(limits.upload_idle_seconds),
            request_read_timeout=duration(admission.request_read_seconds),
            connection_idle_timeout=duration(admission.connection_idle_seconds),
            connection_max_age=duration(admission.connection_max_age_seconds),
        ),
        available_qualities=[to_wire(q) for q in qualities],
        **dataclasses.asdict(workers),
    )


def _same_named(*sources: Limits | AdmissionLimits) -> dict[str, Any]:
    wire = pb.ServerLimits.DESCRIPTOR.fields_by_name
    return {
        field.name: getattr(source, field.name)
        for source in sources
        for field in dataclasses.fields(source)
        if field.name in wire and wire[field.name].message_type is None
    }


def timestamp(seconds: float) -> Timestamp:
    message = Timestamp()
    message.FromNanoseconds(round(seconds * 1e9))
    return message


def model_summary(model: StoredModel | ListedModel) -> pb.ModelSummary:
    """The registry entry's own fields by name; the rest comes from the FitResult it stores."""
    result = pb.FitResult.FromString(model.result)
    validation = result.validation
    return message_of(
        pb.ModelSummary,
        model,
        result,
        result.metadata,
        mean_r2=validation.mean_r2 if validation.HasField("mean_r2") else None,
    )


def column(name: str, values: np.ndarray, kind: ColumnType) -> pb.Column:
    if kind is ColumnType.DOUBLE:
        return pb.Column(name=name, doubles=pb.DoubleValues(values=values.tolist()))
    if kind is ColumnType.INT64:
        return pb.Column(name=name, int64s=pb.Int64Values(values=values.tolist()))
    if kind is ColumnType.BOOL:
        return pb.Column(name=name, bools=pb.BoolValues(values=values.tolist()))
    return pb.Column(name=name, strings=pb.StringValues(values=[str(v) for v in values.tolist()]))


def dataset(columns: Mapping[str, np.ndarray], kinds: Mapping[str, ColumnType]) -> pb.Dataset:
    return pb.Dataset(columns=[column(name, values, kinds[name]) for name, values in columns.items()])


def answer_response(response_type: type[M], outcome: object, kinds: Mapping[str, ColumnType], seconds: float) -> M:
    """Any query's answer: its outcome's fields by name, and the time it took where the response has one."""
    has_duration = "duration" in response_type.DESCRIPTOR.fields_by_name
    return message_of(response_type, outcome, kinds=kinds, **({"duration": seconds} if has_duration else {}))
