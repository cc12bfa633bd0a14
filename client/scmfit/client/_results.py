"""Typed, documented views of the service's responses; each keeps its protobuf message as `raw`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from scmfit.client._wire import enum_name
from scmfit.v1 import causal_model_service_pb2 as pb


class FitStatus(StrEnum):
    """The verdict of a fit that ran."""

    SUCCESS = "success"
    VALIDATION_FAILED = "validation_failed"
    WARNING = "warning"


class Stage(StrEnum):
    """A phase of a fit, as reported by progress events."""

    VALIDATING = "validating"
    ASSIGNING = "assigning"
    FITTING = "fitting"
    EVALUATING = "evaluating"


class MechanismKind(StrEnum):
    """The DoWhy mechanism family of a node."""

    EMPIRICAL_ROOT = "empirical_root"
    ADDITIVE_NOISE = "additive_noise"
    DISCRETE_ADDITIVE_NOISE = "discrete_additive_noise"
    CLASSIFIER = "classifier"
    POST_NONLINEAR = "post_nonlinear"
    OTHER = "other"


@dataclass(frozen=True)
class Mechanism:
    """What was really fitted for a node."""

    kind: MechanismKind
    model_type: str
    """The unwrapped scikit-learn model, e.g. "Pipeline(PolynomialFeatures,LinearRegression)"."""
    coefficients: Mapping[str, float]
    """Linear weights keyed by parent name, polynomial term ("X^2", "X*Y") or category ("S=high")."""
    intercept: float | None

    @property
    def is_linear(self) -> bool:
        return self.model_type == "LinearRegression"


@dataclass(frozen=True)
class Candidate:
    """One model selection evaluated for a node."""

    model_type: str
    folds: int
    """Folds it was evaluated on before it was chosen, dropped or ranked."""
    mean_loss: float
    outcome: str
    """"chosen", "eliminated" (dropped by the race), "ranked" (every fold, not the lowest) or
    "passed_over" (the lowest loss, but indistinguishable from the chosen one, which is cheaper)."""
    cost_class: int = 0
    """How its fit and prediction grow with rows, cheapest first (1 linear ... 6 kernel); 0 unknown."""


@dataclass(frozen=True)
class NodeResult:
    """One node's mechanism and held-out scores."""

    name: str
    parents: tuple[str, ...]
    """In the order DoWhy feeds them to the model: sorted by name."""
    mechanism: Mechanism
    r2: float | None
    """Held-out R²; None for roots, categorical and constant nodes (see `r2_omission`)."""
    r2_omission: str | None
    """Why `r2` is None: "root_node", "constant_target", "categorical_target" or "too_few_test_rows"."""
    mse: float | None
    accuracy: float | None
    """Held-out accuracy of classifier nodes."""
    selection: str = "model_zoo"
    """How the mechanism was chosen: "root", "linear_screen" or "model_zoo"."""
    screening_r2: float | None = None
    """The cross-validated R² of the linear screen, when it ran."""
    candidates: tuple[Candidate, ...] = ()
    """The models selection tried, in DoWhy's order, and what it decided about each."""
    selection_metric: str = ""
    """The loss the candidates were compared on."""
    selection_note: str = ""
    """Why racing chose a candidate other than the lowest loss; empty otherwise."""

    @classmethod
    def from_proto(cls, node: pb.NodeResult) -> NodeResult:
        mechanism = node.mechanism
        omission = enum_name(pb.R2Omission, node.r2_omission, "R2_OMISSION_")
        return cls(
            name=node.name,
            parents=tuple(node.parents),
            mechanism=Mechanism(
                kind=MechanismKind(enum_name(pb.MechanismKind, mechanism.kind, "MECHANISM_KIND_")),
                model_type=mechanism.model_type,
                coefficients={c.feature: c.value for c in mechanism.coefficients},
                intercept=mechanism.intercept if mechanism.HasField("intercept") else None,
            ),
            r2=node.r2 if node.HasField("r2") else None,
            r2_omission=None if omission == "unspecified" else omission,
            mse=node.mse if node.HasField("mse") else None,
            accuracy=node.accuracy if node.HasField("accuracy") else None,
            selection=enum_name(pb.SelectionPath, node.selection, "SELECTION_PATH_"),
            screening_r2=node.screening_r2 if node.HasField("screening_r2") else None,
            candidates=tuple(
                Candidate(
                    model_type=c.model_type,
                    folds=c.folds,
                    mean_loss=c.mean_loss,
                    outcome=enum_name(pb.CandidateOutcome, c.outcome, "CANDIDATE_OUTCOME_"),
                    cost_class=c.cost_class,
                )
                for c in node.candidates
            ),
            selection_metric=node.selection_metric,
            selection_note=node.selection_note,
        )


@dataclass(frozen=True)
class Validation:
    """The R² rule applied to the held-out split."""

    mean_r2: float | None
    threshold: float
    passed: bool
    failed_nodes: tuple[str, ...]
    enforced: bool


@dataclass(frozen=True)
class FitMetadata:
    """Row counts, versions and timings of a fit."""

    num_rows: int
    num_train: int
    num_test: int
    quality: str
    dowhy_version: str
    sklearn_version: str
    seed: int
    test_fraction: float
    stage_seconds: Mapping[Stage, float]
    total_seconds: float
    selection_rows: int = 0
    """The training rows model selection ran on (a seeded subsample of large data)."""
    refit_on_all_rows: bool = False
    """Whether the stored model was refitted on every row after scoring (what queries use)."""
    num_model_rows: int = 0
    """The rows the stored model was fitted on."""
    selection: str = "racing"
    """How models were selected: "racing" or "exhaustive"."""
    selection_confidence: float = 0.0


@dataclass(frozen=True)
class FitResult:
    """The outcome of a fit; `raw` is the scmfit.v1.FitResult it came from."""

    status: FitStatus
    message: str
    model_id: str
    nodes: tuple[NodeResult, ...]
    validation: Validation
    metadata: FitMetadata
    reused: bool
    """True when the server returned a stored model for an identical request instead of refitting."""
    raw: pb.FitResult

    @property
    def mean_r2(self) -> float | None:
        return self.validation.mean_r2

    def node(self, name: str) -> NodeResult:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    @classmethod
    def from_proto(cls, result: pb.FitResult) -> FitResult:
        meta, validation = result.metadata, result.validation
        return cls(
            status=FitStatus(enum_name(pb.FitStatus, result.status, "FIT_STATUS_")),
            message=result.message,
            model_id=result.model_id,
            nodes=tuple(NodeResult.from_proto(node) for node in result.nodes),
            validation=Validation(
                mean_r2=validation.mean_r2 if validation.HasField("mean_r2") else None,
                threshold=validation.threshold,
                passed=validation.passed,
                failed_nodes=tuple(validation.failed_nodes),
                enforced=validation.enforced,
            ),
            metadata=FitMetadata(
                num_rows=meta.num_rows,
                num_train=meta.num_train,
                num_test=meta.num_test,
                quality=enum_name(pb.Quality, meta.quality, "QUALITY_").upper(),
                dowhy_version=meta.dowhy_version,
                sklearn_version=meta.sklearn_version,
                seed=meta.seed,
                test_fraction=meta.test_fraction,
                stage_seconds={
                    Stage(enum_name(pb.Stage, t.stage, "STAGE_")): t.duration.ToNanoseconds() / 1e9
                    for t in meta.stage_timings
                },
                total_seconds=meta.total_time.ToNanoseconds() / 1e9,
                selection_rows=meta.selection_rows,
                refit_on_all_rows=meta.refit_on_all_rows,
                num_model_rows=meta.num_model_rows,
                selection=enum_name(pb.Selection, meta.selection, "SELECTION_"),
                selection_confidence=meta.selection_confidence,
            ),
            reused=result.reused,
            raw=result,
        )


@dataclass(frozen=True)
class FitProgress:
    """A node has entered a stage; `done` of `total` nodes had completed it before."""

    stage: Stage
    node: str
    done: int
    total: int
    elapsed_seconds: float
    raw: pb.FitProgress

    @classmethod
    def from_proto(cls, progress: pb.FitProgress) -> FitProgress:
        return cls(
            stage=Stage(enum_name(pb.Stage, progress.stage, "STAGE_")),
            node=progress.node,
            done=progress.done,
            total=progress.total,
            elapsed_seconds=progress.elapsed.ToNanoseconds() / 1e9,
            raw=progress,
        )


@dataclass(frozen=True)
class ServerInfo:
    """Versions, limits and capabilities of a server."""

    scmfit_version: str
    dowhy_version: str
    sklearn_version: str
    python_version: str
    max_request_bytes: int
    max_rows: int
    max_nodes: int
    qualities: tuple[str, ...]
    workers: int
    raw: pb.GetServerInfoResponse

    @classmethod
    def from_proto(cls, info: pb.GetServerInfoResponse) -> ServerInfo:
        return cls(
            scmfit_version=info.scmfit_version,
            dowhy_version=info.dowhy_version,
            sklearn_version=info.sklearn_version,
            python_version=info.python_version,
            max_request_bytes=info.limits.max_request_bytes,
            max_rows=info.limits.max_rows,
            max_nodes=info.limits.max_nodes,
            qualities=tuple(enum_name(pb.Quality, q, "QUALITY_").upper() for q in info.available_qualities),
            workers=info.workers,
            raw=info,
        )


@dataclass(frozen=True)
class ModelSummary:
    """A stored model in the server's registry."""

    model_id: str
    status: FitStatus
    nodes: tuple[str, ...]
    num_rows: int
    quality: str
    mean_r2: float | None
    create_time: float
    """Seconds since the epoch."""
    last_use_time: float
    size_bytes: int
    persisted: bool
    raw: pb.ModelSummary

    @classmethod
    def from_proto(cls, summary: pb.ModelSummary) -> ModelSummary:
        return cls(
            model_id=summary.model_id,
            status=FitStatus(enum_name(pb.FitStatus, summary.status, "FIT_STATUS_")),
            nodes=tuple(summary.nodes),
            num_rows=summary.num_rows,
            quality=enum_name(pb.Quality, summary.quality, "QUALITY_").upper(),
            mean_r2=summary.mean_r2 if summary.HasField("mean_r2") else None,
            create_time=summary.create_time.ToNanoseconds() / 1e9,
            last_use_time=summary.last_use_time.ToNanoseconds() / 1e9,
            size_bytes=summary.size_bytes,
            persisted=summary.persisted,
            raw=summary,
        )


@dataclass(frozen=True)
class NodeStatistics:
    """Summary of one node's samples; categorical nodes fill `categories` (share by category)."""

    node: str
    mean: float
    std: float
    q05: float
    q50: float
    q95: float
    min: float
    max: float
    categories: Mapping[str, float]

    @classmethod
    def from_proto(cls, stats: pb.NodeStatistics) -> NodeStatistics:
        return cls(
            node=stats.node,
            mean=stats.mean,
            std=stats.std,
            q05=stats.q05,
            q50=stats.q50,
            q95=stats.q95,
            min=stats.min,
            max=stats.max,
            categories={c.value: c.share for c in stats.categories},
        )

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("mean", "std", "q05", "q50", "q95", "min", "max")}


@dataclass(frozen=True)
class SampleResult:
    """Statistics per node and, when asked for, the samples as numpy arrays."""

    statistics: Mapping[str, NodeStatistics]
    samples: Mapping[str, np.ndarray]
    num_samples: int
    seconds: float
    raw: pb.SampleModelResponse

    @classmethod
    def from_proto(cls, response: pb.SampleModelResponse) -> SampleResult:
        return cls(
            statistics={s.node: NodeStatistics.from_proto(s) for s in response.statistics},
            samples=columns_to_arrays(response.samples),
            num_samples=response.num_samples,
            seconds=response.duration.ToNanoseconds() / 1e9,
            raw=response,
        )


def columns_to_arrays(dataset: pb.Dataset) -> dict[str, np.ndarray]:
    """Typed columns back to numpy: float64, int64, bool or str arrays."""
    arrays: dict[str, np.ndarray] = {}
    for column in dataset.columns:
        which = column.WhichOneof("values")
        if which == "doubles":
            arrays[column.name] = np.asarray(column.doubles.values, dtype=np.float64)
        elif which == "int64s":
            arrays[column.name] = np.asarray(column.int64s.values, dtype=np.int64)
        elif which == "bools":
            arrays[column.name] = np.asarray(column.bools.values, dtype=np.bool_)
        elif which == "strings":
            arrays[column.name] = np.asarray(list(column.strings.values), dtype=str)
    return arrays
