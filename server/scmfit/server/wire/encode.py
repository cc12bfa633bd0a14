"""Turns domain outcomes into v1 protobuf messages; the only place that builds responses."""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from scmfit.server.config import Limits
from scmfit.server.domain.fit import (
    ColumnType,
    FitOutcome,
    NodeResult,
    Progress,
    Stage,
)
from scmfit.server.domain.identity import library_version, scmfit_version
from scmfit.server.domain.query import SampleOutcome
from scmfit.server.domain.settings import FitSettings, Quality
from scmfit.server.stores.registry import ListedModel, StoredModel
from scmfit.server.wire.enums import to_wire
from scmfit.v1 import causal_model_service_pb2 as pb


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


def progress_response(progress: Progress, elapsed_seconds: float) -> pb.FitModelResponse:
    return pb.FitModelResponse(
        progress=pb.FitProgress(
            stage=to_wire(progress.stage),
            node=progress.node,
            done=progress.done,
            total=progress.total,
            elapsed=duration(elapsed_seconds),
        )
    )


def node_result(node: NodeResult) -> pb.NodeResult:
    mechanism = node.mechanism
    return pb.NodeResult(
        name=node.name,
        parents=node.parents,
        mechanism=pb.Mechanism(
            kind=to_wire(mechanism.kind),
            model_type=mechanism.model_type,
            coefficients=[pb.Coefficient(feature=f, value=v) for f, v in mechanism.coefficients],
            intercept=mechanism.intercept,
        ),
        r2=node.score.r2,
        r2_omission=to_wire(node.score.omission),
        selection=to_wire(node.selection),
        screening_r2=node.screening_r2,
        mse=node.score.mse,
        accuracy=node.score.accuracy,
        candidates=[
            pb.Candidate(
                model_type=candidate.model_type,
                folds=candidate.folds,
                mean_loss=candidate.mean_loss,
                outcome=to_wire(candidate.outcome),
                cost_class=candidate.cost_class,
            )
            for candidate in node.candidates
        ],
        selection_metric=node.selection_metric,
        selection_note=node.selection_note,
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
    validation = outcome.validation
    return pb.FitModelResponse(
        result=pb.FitResult(
            status=to_wire(outcome.status),
            message=outcome.message,
            model_id=model_id,
            nodes=[node_result(node) for node in outcome.nodes],
            validation=pb.Validation(
                mean_r2=validation.mean_r2,
                threshold=validation.threshold,
                passed=validation.passed,
                failed_nodes=validation.failed_nodes,
                enforced=validation.enforced,
            ),
            metadata=pb.FitMetadata(
                num_rows=num_rows,
                num_train=outcome.num_train,
                num_test=outcome.num_test,
                quality=to_wire(settings.quality),
                dowhy_version=outcome.dowhy_version,
                sklearn_version=outcome.sklearn_version,
                stage_timings=[pb.StageTiming(stage=to_wire(s), duration=duration(t)) for s, t in timings],
                total_time=duration(total_seconds),
                seed=settings.seed,
                test_fraction=settings.test_fraction,
                selection_rows=outcome.selection_rows,
                linear_screening=settings.linear_screening,
                screening_r2=settings.screening_r2,
                refit_on_all_rows=outcome.refitted,
                num_model_rows=num_rows if outcome.refitted else outcome.num_train,
                selection=to_wire(settings.selection),
                selection_confidence=settings.selection_confidence,
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
    result = pb.FitResult.FromString(model.result)
    return pb.ModelSummary(
        model_id=model.model_id,
        status=result.status,
        nodes=list(model.nodes),
        num_rows=result.metadata.num_rows,
        quality=result.metadata.quality,
        mean_r2=result.validation.mean_r2 if result.validation.HasField("mean_r2") else None,
        create_time=timestamp(model.create_time),
        last_use_time=timestamp(model.last_use_time),
        size_bytes=model.size_bytes,
        persisted=model.persisted,
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


def sample_response(outcome: SampleOutcome, kinds: Mapping[str, ColumnType], seconds: float) -> pb.SampleModelResponse:
    return pb.SampleModelResponse(
        statistics=[
            pb.NodeStatistics(
                node=s.node,
                mean=s.mean,
                std=s.std,
                q05=s.q05,
                q50=s.q50,
                q95=s.q95,
                min=s.min,
                max=s.max,
                categories=[pb.CategoryShare(value=v, share=share) for v, share in s.categories],
            )
            for s in outcome.statistics
        ],
        samples=dataset(outcome.samples, kinds) if outcome.samples else None,
        num_samples=outcome.num_samples,
        duration=duration(seconds),
    )
