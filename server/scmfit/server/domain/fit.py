"""The domain of one fit: the checked job that goes to workers and the outcome that comes back.

These are plain frozen dataclasses so that they pickle between our own processes without stubs,
and so that fitting code never sees a protobuf message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from scmfit.server.domain.settings import FitSettings, Quality


class ColumnType(Enum):
    """The wire type of a column, which decides how DoWhy models it."""

    DOUBLE = "double"
    INT64 = "int64"
    BOOL = "bool"
    STRING = "string"

    @property
    def categorical(self) -> bool:
        """DoWhy treats bool and str columns as categories and fits classifiers for them."""
        return self in (ColumnType.BOOL, ColumnType.STRING)


@dataclass(frozen=True)
class FitJob:
    """A request that passed validation."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    columns: Mapping[str, np.ndarray]
    kinds: Mapping[str, ColumnType]
    column_index: Mapping[str, int]
    """Where each node's column sat in the request, so that later errors can name the field."""
    settings: FitSettings
    model_id: str
    missing: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Per column with missing cells (MISSING_VALUES_PER_NODE only), a mask of them; their values are
    placeholders, never read."""

    @property
    def num_rows(self) -> int:
        return len(next(iter(self.columns.values())))

    def parents(self, node: str) -> tuple[str, ...]:
        """Parents sorted by name, because DoWhy feeds them to models in `sorted()` order."""
        return tuple(sorted(source for source, target in self.edges if target == node))


def present_rows(names: Sequence[str], missing: Mapping[str, np.ndarray], num_rows: int) -> np.ndarray:
    """The mask of rows where every named column has a value (`missing` holds a mask per column with
    gaps): what a node is fitted on under MISSING_VALUES_PER_NODE, decided once for decode and plan."""
    keep = np.ones(num_rows, dtype=bool)
    for name in names:
        if name in missing:
            keep &= ~missing[name]
    return keep


class Stage(Enum):
    """A phase of a fit."""

    VALIDATING = "validating"
    ASSIGNING = "assigning"
    FITTING = "fitting"
    EVALUATING = "evaluating"


@dataclass(frozen=True)
class Progress:
    """A node has entered a stage; `done` nodes had completed it before."""

    stage: Stage
    node: str
    done: int
    total: int


class MechanismKind(Enum):
    """The DoWhy causal mechanism class assigned to a node."""

    EMPIRICAL_ROOT = "empirical_root"
    ADDITIVE_NOISE = "additive_noise"
    DISCRETE_ADDITIVE_NOISE = "discrete_additive_noise"
    CLASSIFIER = "classifier"
    POST_NONLINEAR = "post_nonlinear"
    OTHER = "other"


@dataclass(frozen=True)
class MechanismSummary:
    """What was really fitted: the unwrapped model and its named coefficients."""

    kind: MechanismKind
    model_type: str
    coefficients: tuple[tuple[str, float], ...] = ()
    intercept: float | None = None


class SelectionPath(Enum):
    """How a node's mechanism was chosen."""

    ROOT = "root"
    LINEAR_SCREEN = "linear_screen"
    MODEL_ZOO = "model_zoo"


class R2Omission(Enum):
    """Why a node has no held-out R²."""

    NONE = "none"
    ROOT_NODE = "root_node"
    CONSTANT_TARGET = "constant_target"
    CATEGORICAL_TARGET = "categorical_target"
    TOO_FEW_TEST_ROWS = "too_few_test_rows"
    NOT_HELD_OUT = "not_held_out"


@dataclass(frozen=True)
class NodeScore:
    """Held-out scores of one node's mechanism."""

    r2: float | None
    omission: R2Omission
    mse: float | None = None
    accuracy: float | None = None


class CandidateOutcome(Enum):
    """What model selection decided about one candidate."""

    CHOSEN = "chosen"
    ELIMINATED = "eliminated"
    RANKED = "ranked"
    PASSED_OVER = "passed_over"


@dataclass(frozen=True)
class Candidate:
    """One model selection evaluated: on how many folds, its mean held-out loss, and the decision."""

    model_type: str
    folds: int
    mean_loss: float
    outcome: CandidateOutcome
    cost_class: int = 0
    """How its fit and prediction grow with rows (fitting/selection.py's COST_CLASSES); 0 unknown."""


@dataclass(frozen=True)
class QualityStep:
    """One quality a node was selected and scored at, with its held-out R² there."""

    quality: Quality
    r2: float | None


@dataclass(frozen=True)
class NodeResult:
    """One node's fitted mechanism and its scores."""

    name: str
    parents: tuple[str, ...]
    mechanism: MechanismSummary
    score: NodeScore
    selection: SelectionPath = SelectionPath.MODEL_ZOO
    screening_r2: float | None = None
    candidates: tuple[Candidate, ...] = ()
    """What model selection tried, in DoWhy's order, and what it decided about each."""
    selection_metric: str = ""
    selection_note: str = ""
    """Why racing's choice weighed cost: a cheaper candidate chosen over the lowest loss, or a dearer one
    dropped as no better than a cheaper one by more than the R² tolerance; empty otherwise."""
    num_train_rows: int = 0
    """Training rows the mechanism was selected and fitted on (fewer than the split's when cells were missing)."""
    num_test_rows: int = 0
    quality: Quality | None = None
    """The quality the kept model was selected at; None until the task sets it."""
    quality_steps: tuple[QualityStep, ...] = ()
    categories: tuple[str, ...] = ()
    """For bool and string nodes, the categories seen in the node's rows, sorted."""
    column_type: ColumnType | None = None
    """The node's column type."""


class FitStatus(Enum):
    """The status of a fit that ran."""

    SUCCESS = "success"
    VALIDATION_FAILED = "validation_failed"
    WARNING = "warning"


@dataclass(frozen=True)
class ValidationSummary:
    """The R² rule applied to the held-out split."""

    mean_r2: float | None
    threshold: float
    passed: bool
    failed_nodes: tuple[str, ...]
    enforced: bool


@dataclass(frozen=True)
class FitOutcome:
    """Everything a worker reports about a finished fit."""

    status: FitStatus
    message: str
    nodes: tuple[NodeResult, ...]
    validation: ValidationSummary
    num_train: int
    num_test: int
    stage_seconds: Mapping[Stage, float]
    dowhy_version: str
    sklearn_version: str
    model_blob: bytes = b""
    """The pickled ModelBundle, for the registry; built from our own workers' output."""
    selection_rows: int = 0
    """The training rows model selection ran on."""
    refitted: bool = False
    """Whether the stored mechanisms were refitted on every row after scoring."""
    escalated_nodes: tuple[str, ...] = ()
    """Nodes reselected at a higher quality because their R² was below the threshold."""


@dataclass(frozen=True)
class NodeTask:
    """Everything one node's assignment, fit and evaluation need: its own and its parents' columns only."""

    node: str
    parents: tuple[str, ...]
    kinds: Mapping[str, ColumnType]
    train: Mapping[str, np.ndarray]
    test: Mapping[str, np.ndarray]
    settings: FitSettings
    seed: int
    """Derived from the fit's seed and the node's position, so results do not depend on scheduling."""


@dataclass(frozen=True)
class NodeFit:
    """What a node task returns: the summary, the pickled mechanism and where the time went."""

    outcome: NodeResult
    mechanism: bytes
    seconds: Mapping[Stage, float]
    selection_rows: int
    refitted: bool = False
    """Whether the stored mechanism was refitted on every row (config.refit_on_all_rows)."""


@dataclass(frozen=True)
class Rows:
    """The fit's split, decided once: row indices for training and for held-out scoring, and the masks of
    missing cells (MISSING_VALUES_PER_NODE), so each node keeps only the rows where it and its parents
    are all present."""

    train: np.ndarray
    held_out: np.ndarray
    missing: Mapping[str, np.ndarray] = field(default_factory=dict)

    def of(self, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The training and held-out rows where every named column is present."""
        if not any(name in self.missing for name in names):
            return self.train, self.held_out
        present = present_rows(names, self.missing, len(self.train) + len(self.held_out))
        return self.train[present[self.train]], self.held_out[present[self.held_out]]


@dataclass(frozen=True)
class TrainingRows:
    """The rows each stored mechanism was fitted on, kept so that bootstrap refits can resample them."""

    columns: Mapping[str, np.ndarray]
    rows: Rows
    refitted: frozenset[str]
    """Nodes whose mechanism was refitted on every present row; the others were fitted on the training split."""

    @property
    def num_rows(self) -> int:
        return len(next(iter(self.columns.values())))

    def fitted_on(self, node: str, parents: Sequence[str]) -> np.ndarray:
        """The row indices `node`'s stored mechanism was fitted on."""
        train, held_out = self.rows.of((*parents, node))
        return np.concatenate([train, held_out]) if node in self.refitted else train


@dataclass(frozen=True)
class ModelBundle:
    """A fitted model as the registry stores it: the graph and one pickled mechanism per node.

    It needs no DoWhy to build, so the main process can assemble it from node tasks run anywhere.
    """

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    kinds: Mapping[str, ColumnType]
    mechanisms: Mapping[str, bytes]
    training: TrainingRows | None = None
    """None in models stored before training rows were kept: they answer no interval question."""
