"""Typed, documented views of the service's responses, filled by field name (`_views.py`); the top-level
ones keep their protobuf message as `raw`. Names, meanings and defaults are the proto's comments'."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from scmfit.client import _notebook as nb
from scmfit.client._views import Derived, descriptor_view, enum_name, seconds, view
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


class Quality(StrEnum):
    """DoWhy's assignment quality; the values are the proto's names, as the CLI and cases spell them."""

    GOOD = "GOOD"
    BETTER = "BETTER"
    BEST = "BEST"


@dataclass(frozen=True)
class Mechanism:
    """What was really fitted for a node."""

    kind: MechanismKind
    model_type: str
    """The unwrapped scikit-learn model, e.g. "Pipeline(PolynomialFeatures,LinearRegression)"."""
    coefficients: Mapping[str, float]
    """Linear weights keyed by parent name, polynomial term ("X^2", "X*Y") or category ("S=high")."""
    intercept: float | None

    DERIVED: ClassVar[Derived] = {
        "coefficients": ("coefficients", lambda m: {c.feature: c.value for c in m.coefficients}),
    }

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
class QualityStep:
    """One quality a node was selected at, and its held-out R² there."""

    quality: Quality
    r2: float | None


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
    num_train_rows: int = 0
    """Training rows its mechanism was fitted on: fewer than the split's where its or its parents'
    cells were missing (MISSING_VALUES_PER_NODE)."""
    num_test_rows: int = 0
    quality: Quality | None = None
    """The quality its kept model was selected at (above the fit's when it escalated)."""
    quality_steps: tuple[QualityStep, ...] = ()
    """Each quality it was selected at, with its R² there: more than one when it escalated."""
    categories: tuple[str, ...] = ()
    """For bool and string nodes, the categories seen: what `do(node, value)` may set it to."""
    column_type: str | None = None
    """"double", "int64", "bool" or "string": the type a value given to this node must have."""

    @classmethod
    def from_proto(cls, node: pb.NodeResult) -> NodeResult:
        return view(cls, node)


@dataclass(frozen=True)
class Validation:
    """The R² rule applied to the held-out split."""

    mean_r2: float | None
    threshold: float
    passed: bool
    failed_nodes: tuple[str, ...]
    enforced: bool


_METADATA_DERIVED: Derived = {
    "stage_seconds": (
        "stage_timings",
        lambda m: {Stage[enum_name(pb.Stage.DESCRIPTOR, t.stage)]: seconds(t.duration) for t in m.stage_timings},
    ),
    "total_seconds": ("total_time", lambda m: seconds(m.total_time)),
}

if TYPE_CHECKING:

    class FitMetadata:
        """Row counts, versions, timings and the effective settings of a fit: every field of
        scmfit.v1.FitMetadata by name (the proto's comments document them)."""

        quality: Quality
        stage_seconds: Mapping[Stage, float]
        total_seconds: float
        DERIVED: ClassVar[Derived]

        def __init__(self, **fields: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

else:
    FitMetadata = descriptor_view(
        "FitMetadata",
        pb.FitMetadata.DESCRIPTOR,
        _METADATA_DERIVED,
        {"quality": Quality, "stage_seconds": Mapping[Stage, float], "total_seconds": float},
        """Row counts, versions, timings and the effective settings of a fit: every field of
        scmfit.v1.FitMetadata by name (the proto's comments document them), so a setting the server
        echoes is here with no client change; `stage_seconds` and `total_seconds` are in seconds.""",
        __name__,
    )


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

    NODE_COLUMNS: ClassVar[tuple[str, ...]] = (
        "node", "parents", "kind", "model_type", "r2", "r2_omission", "accuracy", "passed", "intercept",
    )  # fmt: skip
    TABLES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "nodes": NODE_COLUMNS,
        "edges": ("source", "target", "coefficient"),
        "candidates": ("node", "model_type", "folds", "mean_loss", "outcome"),
    }

    def _rows(self, table: str) -> list[dict[str, Any]]:
        failed = set(self.validation.failed_nodes)
        if table == "nodes":
            return [
                {
                    "node": n.name,
                    "parents": ", ".join(n.parents),
                    "kind": n.mechanism.kind.value,
                    "model_type": n.mechanism.model_type,
                    "r2": n.r2,
                    "r2_omission": n.r2_omission,
                    "accuracy": n.accuracy,
                    "passed": None if n.r2 is None else n.name not in failed,
                    "intercept": n.mechanism.intercept,
                }
                for n in self.nodes
            ]
        if table == "edges":
            return [
                {"source": parent, "target": n.name, "coefficient": n.mechanism.coefficients.get(parent)}
                for n in self.nodes
                for parent in n.parents
            ]
        if table == "candidates":
            return [
                {
                    "node": n.name,
                    "model_type": c.model_type,
                    "folds": c.folds,
                    "mean_loss": c.mean_loss,
                    "outcome": c.outcome,
                }
                for n in self.nodes
                for c in n.candidates
            ]
        raise ValueError(f"table must be one of {', '.join(self.TABLES)}, not {table!r}")

    def to_pandas(self, table: str = "nodes") -> pd.DataFrame:
        """A tidy frame: one row per node ("nodes"), per edge with its coefficient ("edges"), or per
        model the selection tried ("candidates")."""
        rows = self._rows(table)
        return nb.frame(rows, self.TABLES[table])

    def _repr_html_(self) -> str:
        failed = set(self.validation.failed_nodes)
        drawn = [
            (n.name, n.parents, "none" if n.r2 is None else "fail" if n.name in failed else "pass") for n in self.nodes
        ]
        mean = "–" if self.mean_r2 is None else f"{self.mean_r2:.4g}"
        summary = (
            f"{self.status.value}: {self.message} (model {self.model_id[:12]}, mean held-out R² {mean}, "
            f"threshold {self.validation.threshold:g})"
        )
        return nb.paragraph(summary) + nb.graph_svg(drawn) + nb.table(self._rows("nodes"), self.NODE_COLUMNS)

    @classmethod
    def from_proto(cls, result: pb.FitResult) -> FitResult:
        return view(cls, result)


@dataclass(frozen=True)
class FitProgress:
    """A node has entered a stage; `done` of `total` nodes had completed it before."""

    stage: Stage
    node: str
    done: int
    total: int
    elapsed_seconds: float
    raw: pb.FitProgress

    DERIVED: ClassVar[Derived] = {"elapsed_seconds": ("elapsed", lambda m: seconds(m.elapsed))}

    @classmethod
    def from_proto(cls, progress: pb.FitProgress) -> FitProgress:
        return view(cls, progress)


def _limits(info: pb.GetServerInfoResponse) -> dict[str, Any]:
    """Every server limit by its proto name; durations in seconds."""
    limits = info.limits
    return {
        field.name: seconds(getattr(limits, field.name)) if field.message_type else getattr(limits, field.name)
        for field in limits.DESCRIPTOR.fields
    }


@dataclass(frozen=True)
class ServerInfo:
    """Versions, limits and capabilities of a server."""

    scmfit_version: str
    dowhy_version: str
    sklearn_version: str
    python_version: str
    limits: Mapping[str, Any]
    """Every bound of scmfit.v1.ServerLimits by name; durations in seconds."""
    max_request_bytes: int
    max_rows: int
    max_nodes: int
    qualities: tuple[Quality, ...]
    workers: int
    query_workers: int
    fit_share: float
    fit_workers: int
    raw: pb.GetServerInfoResponse

    DERIVED: ClassVar[Derived] = {
        "limits": ("limits", _limits),
        "max_request_bytes": ("limits", lambda m: m.limits.max_request_bytes),
        "max_rows": ("limits", lambda m: m.limits.max_rows),
        "max_nodes": ("limits", lambda m: m.limits.max_nodes),
        "qualities": (
            "available_qualities",
            lambda m: tuple(Quality[enum_name(pb.Quality.DESCRIPTOR, q)] for q in m.available_qualities),
        ),
    }

    @classmethod
    def from_proto(cls, info: pb.GetServerInfoResponse) -> ServerInfo:
        return view(cls, info)


@dataclass(frozen=True)
class ModelSummary:
    """A stored model in the server's registry."""

    model_id: str
    status: FitStatus
    nodes: tuple[str, ...]
    num_rows: int
    quality: Quality
    mean_r2: float | None
    create_time: float
    """Seconds since the epoch."""
    last_use_time: float
    size_bytes: int
    persisted: bool
    raw: pb.ModelSummary

    @classmethod
    def from_proto(cls, summary: pb.ModelSummary) -> ModelSummary:
        return view(cls, summary)


@dataclass(frozen=True)
class Interval:
    """A bootstrap confidence interval: the model's own mechanisms refitted on rows drawn with replacement."""

    lower: float
    upper: float
    confidence_level: float
    num_bootstrap: int

    def __contains__(self, value: float) -> bool:
        return self.lower <= value <= self.upper

    @property
    def width(self) -> float:
        return self.upper - self.lower


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
    mean_interval: Interval | None
    """The confidence interval of the mean, when the query asked for one."""

    DERIVED: ClassVar[Derived] = {"categories": ("categories", lambda m: {c.value: c.share for c in m.categories})}

    @classmethod
    def from_proto(cls, stats: pb.NodeStatistics) -> NodeStatistics:
        return view(cls, stats)

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

    DERIVED: ClassVar[Derived] = {
        "statistics": ("statistics", lambda m: {s.node: NodeStatistics.from_proto(s) for s in m.statistics}),
        "samples": ("samples", lambda m: columns_to_arrays(m.samples)),
        "seconds": ("duration", lambda m: seconds(m.duration)),
    }

    @classmethod
    def from_proto(cls, response: pb.SampleModelResponse) -> SampleResult:
        return view(cls, response)

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "node", "mean", "std", "q05", "q50", "q95", "min", "max", "lower", "upper", "confidence_level",
    )  # fmt: skip

    def _rows(self) -> list[dict[str, Any]]:
        return [
            {"node": node, **stats.as_dict(), **nb.interval_columns(stats.mean_interval)}
            for node, stats in self.statistics.items()
        ]

    def to_pandas(self) -> pd.DataFrame:
        """One row per node: its statistics, and the mean's interval (lower, upper) when one was asked."""
        return nb.frame(self._rows(), self.COLUMNS)

    def _repr_html_(self) -> str:
        return nb.paragraph(f"{self.num_samples} samples") + nb.table(self._rows(), self.COLUMNS)


@dataclass(frozen=True)
class EffectDecomposition:
    """The total effect split on shared noise draws: direct + indirect == total, exactly."""

    natural_direct_effect: float
    natural_indirect_effect: float
    total_effect: float
    natural_direct_effect_interval: Interval | None
    natural_indirect_effect_interval: Interval | None
    mediators: tuple[str, ...]

    @classmethod
    def from_proto(cls, message: pb.EffectDecomposition) -> EffectDecomposition:
        return view(cls, message)


@dataclass(frozen=True)
class EffectEstimate:
    """An average causal effect, with its interval and decomposition when they were asked for."""

    effect: float
    num_samples: int
    interval: Interval | None
    decomposition: EffectDecomposition | None
    raw: pb.EstimateEffectResponse

    @classmethod
    def from_proto(cls, response: pb.EstimateEffectResponse) -> EffectEstimate:
        return view(cls, response)

    COLUMNS: ClassVar[tuple[str, ...]] = ("quantity", "estimate", "lower", "upper", "confidence_level")

    def _rows(self) -> list[dict[str, Any]]:
        rows = [{"quantity": "effect", "estimate": self.effect, **nb.interval_columns(self.interval)}]
        parts = self.decomposition
        if parts is not None:
            rows += [
                {"quantity": "natural direct effect", "estimate": parts.natural_direct_effect,
                 **nb.interval_columns(parts.natural_direct_effect_interval)},
                {"quantity": "natural indirect effect", "estimate": parts.natural_indirect_effect,
                 **nb.interval_columns(parts.natural_indirect_effect_interval)},
            ]  # fmt: skip
        return rows

    def to_pandas(self) -> pd.DataFrame:
        """One row per quantity: the effect, and its direct and indirect parts when asked for."""
        return nb.frame(self._rows(), self.COLUMNS)

    def _repr_html_(self) -> str:
        return nb.table(self._rows(), self.COLUMNS, f"{self.num_samples} samples per arm")


Key = TypeVar("Key")


class Shares(dict[Key, float], Generic[Key]):
    """Contributions or strengths by node or edge, largest first: a plain dict, with each value's
    confidence interval in `intervals` when the request asked for them (else it is empty)."""

    intervals: Mapping[Key, Interval]

    def __init__(self, values: Mapping[Key, float], intervals: Mapping[Key, Interval]) -> None:
        super().__init__(values)
        self.intervals = intervals

    @classmethod
    def of_contributions(cls, parts: Any) -> Shares[str]:
        """From repeated NodeContribution."""
        return Shares(
            {part.node: part.contribution for part in parts},
            {part.node: view(Interval, part.interval) for part in parts if part.HasField("interval")},
        )

    def _rows(self) -> list[dict[str, Any]]:
        rows = []
        for key, value in self.items():
            named = {"source": key[0], "target": key[1]} if isinstance(key, tuple) else {"node": key}
            rows.append({**named, "value": value, **nb.interval_columns(self.intervals.get(key))})
        return rows

    def _columns(self) -> tuple[str, ...]:
        keys = ("source", "target") if any(isinstance(key, tuple) for key in self) else ("node",)
        return (*keys, "value", "lower", "upper", "confidence_level")

    def to_pandas(self) -> pd.DataFrame:
        """One row per node (or edge: source, target), largest first, with its interval when asked."""
        return nb.frame(self._rows(), self._columns())

    def _repr_html_(self) -> str:
        return nb.table(self._rows(), self._columns())

    @classmethod
    def of_edges(cls, edges: Any) -> Shares[tuple[str, str]]:
        """From repeated EdgeStrength."""
        return Shares(
            {(edge.source, edge.target): edge.strength for edge in edges},
            {(edge.source, edge.target): view(Interval, edge.interval) for edge in edges if edge.HasField("interval")},
        )


@dataclass(frozen=True)
class RowAttribution:
    """Why one row is anomalous at the target: each upstream node's share of the target's score."""

    row: int
    target_score: float
    """The target's information-theoretic anomaly score, -log P(g(X) >= g(x)); the contributions add up to it."""
    contributions: Mapping[str, float]
    """Each upstream node (the target included), largest first."""
    node_scores: Mapping[str, float]
    """Every node's own anomaly score in this row given its parents, in the model's node order."""

    intervals: Mapping[str, Interval]
    """Each contribution's confidence interval, when the request asked for them; else empty."""

    DERIVED: ClassVar[Derived] = {
        "contributions": ("contributions", lambda m: {c.node: c.contribution for c in m.contributions}),
        "node_scores": ("node_scores", lambda m: {s.node: s.score for s in m.node_scores}),
        "intervals": ("contributions", lambda m: Shares.of_contributions(m.contributions).intervals),
    }

    @classmethod
    def from_proto(cls, message: pb.RowAttribution) -> RowAttribution:
        return view(cls, message)

    @property
    def root_cause(self) -> str:
        return next(iter(self.contributions))

    COLUMNS: ClassVar[tuple[str, ...]] = ("row", "node", "contribution", "node_score", "lower", "upper")

    def _rows(self) -> list[dict[str, Any]]:
        return [
            {
                "row": self.row,
                "node": node,
                "contribution": value,
                "node_score": self.node_scores.get(node),
                **nb.interval_columns(self.intervals.get(node)),
            }
            for node, value in self.contributions.items()
        ]

    def to_pandas(self) -> pd.DataFrame:
        """One row per upstream node, largest contribution first; `pd.concat` a list of them for every row."""
        return nb.frame(self._rows(), self.COLUMNS)

    def _repr_html_(self) -> str:
        caption = f"row {self.row}: target score {self.target_score:.4g}, root cause {self.root_cause}"
        return nb.table(self._rows(), self.COLUMNS, caption)


@dataclass(frozen=True)
class IndependenceViolation:
    """A local Markov condition the traces reject: `node` depends on `other` even given `given`."""

    node: str
    other: str
    given: tuple[str, ...]
    p_value: float

    @classmethod
    def from_proto(cls, message: pb.IndependenceViolation) -> IndependenceViolation:
        return view(cls, message)


@dataclass(frozen=True)
class GraphCheck:
    """The verdict of `Client.check_graph` (DoWhy's falsify_graph), with the edges the violations point to."""

    can_evaluate: bool
    falsified: bool
    informative: bool
    violations_p_value: float
    equivalence_p_value: float
    num_violations: int
    num_tests: int
    num_permutations: int
    violations: tuple[IndependenceViolation, ...]
    suggested_edges: tuple[tuple[str, str], ...]
    """(source, target) edges the graph lacks that would explain a violation: hidden dependencies."""

    DERIVED: ClassVar[Derived] = {
        "suggested_edges": ("suggested_edges", lambda m: tuple((e.source, e.target) for e in m.suggested_edges)),
    }

    @classmethod
    def from_proto(cls, message: pb.GraphCheck) -> GraphCheck:
        return view(cls, message)

    COLUMNS: ClassVar[tuple[str, ...]] = ("node", "other", "given", "p_value")

    def _rows(self) -> list[dict[str, Any]]:
        return [
            {"node": v.node, "other": v.other, "given": ", ".join(v.given), "p_value": v.p_value}
            for v in self.violations
        ]

    def to_pandas(self) -> pd.DataFrame:
        """One row per violated independence: `node` depends on `other` given `given`."""
        return nb.frame(self._rows(), self.COLUMNS)

    def _repr_html_(self) -> str:
        verdict = "falsified" if self.falsified else "not falsified"
        informative = "informative" if self.informative else "not informative"
        missing = ", ".join(f"{a} -> {b}" for a, b in self.suggested_edges) or "none"
        violated = f"{self.num_violations} of {self.num_tests} tests violated"
        text = f"{verdict}, {informative}: {violated}; missing edges? {missing}"
        return nb.paragraph(text) + nb.table(self._rows(), self.COLUMNS)


@dataclass(frozen=True)
class CheckProgress:
    """Independence tests done of all those the graph and its permutations imply."""

    done: int
    total: int
    elapsed: float

    @classmethod
    def from_proto(cls, message: pb.CheckGraphProgress) -> CheckProgress:
        return view(cls, message)


@dataclass(frozen=True)
class NodeChange:
    """What changed at one node between two versions."""

    node: str
    contribution: float
    """Its share of the change in the target's distribution (they add up to `DistributionChange.total`)."""
    p_value: float
    changed: bool
    """After the false discovery rate control; an unchanged node contributes nothing."""
    old_mechanism: Mechanism
    new_mechanism: Mechanism
    interval: Interval | None
    """The contribution's bootstrap interval, when the request asked for one."""

    @classmethod
    def from_proto(cls, message: pb.NodeChange) -> NodeChange:
        return view(cls, message)


@dataclass(frozen=True)
class BootstrapProgress:
    """How many of a distribution change's bootstrap resamples are attributed so far."""

    done: int
    total: int


@dataclass(frozen=True)
class DistributionChange:
    """Which mechanisms changed between versions, and how much each moved the target's distribution."""

    target: str
    nodes: tuple[NodeChange, ...]
    """The target and its ancestors, largest contribution first."""
    total: float
    """The estimated KL divergence between the target's new and old distributions."""
    old_fit: FitResult
    new_fit: FitResult
    num_samples: int
    raw: pb.DistributionChange

    @classmethod
    def from_proto(cls, message: pb.DistributionChange) -> DistributionChange:
        return view(cls, message)

    @property
    def changed(self) -> tuple[str, ...]:
        return tuple(change.node for change in self.nodes if change.changed)

    COLUMNS: ClassVar[tuple[str, ...]] = ("node", "contribution", "p_value", "changed", "lower", "upper")

    def _rows(self) -> list[dict[str, Any]]:
        return [
            {
                "node": n.node,
                "contribution": n.contribution,
                "p_value": n.p_value,
                "changed": n.changed,
                **nb.interval_columns(n.interval),
            }
            for n in self.nodes
        ]

    def to_pandas(self) -> pd.DataFrame:
        """One row per node (the target and its ancestors), largest contribution first."""
        return nb.frame(self._rows(), self.COLUMNS)

    def _repr_html_(self) -> str:
        changed = ", ".join(self.changed) or "none"
        caption = f"change of {self.target}'s distribution: {self.total:.4g} nats; changed: {changed}"
        return nb.table(self._rows(), self.COLUMNS, caption)


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
