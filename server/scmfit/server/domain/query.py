"""The domain of a query on a stored model: interventions, the three kinds of query and their answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np


class InterventionKind(Enum):
    """How an intervention changes a node."""

    HARD = "hard"
    SHIFT = "shift"
    SCALE = "scale"


@dataclass(frozen=True)
class InterventionSpec:
    """do(node = value), node := node + value, or node := node * value."""

    node: str
    kind: InterventionKind
    value: float


@dataclass(frozen=True)
class SampleQuery:
    """Draw samples, observational when there are no interventions."""

    model_id: str
    interventions: tuple[InterventionSpec, ...]
    nodes: tuple[str, ...]
    num_samples: int
    seed: int
    include_samples: bool


@dataclass(frozen=True)
class EffectQuery:
    """E[target | do(treatment = alternative)] - E[target | do(treatment = reference)]."""

    model_id: str
    treatment: str
    target: str
    alternative: float
    reference: float
    num_samples: int
    seed: int


@dataclass(frozen=True)
class CounterfactualQuery:
    """What observed rows would have been under the interventions."""

    model_id: str
    interventions: tuple[InterventionSpec, ...]
    observed: Mapping[str, np.ndarray]


Query = SampleQuery | EffectQuery | CounterfactualQuery


@dataclass(frozen=True)
class NodeSummary:
    """Statistics of one node's samples; `categories` is set instead for categorical nodes."""

    node: str
    mean: float = 0.0
    std: float = 0.0
    q05: float = 0.0
    q50: float = 0.0
    q95: float = 0.0
    min: float = 0.0
    max: float = 0.0
    categories: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class SampleOutcome:
    statistics: tuple[NodeSummary, ...]
    samples: Mapping[str, np.ndarray]
    num_samples: int


@dataclass(frozen=True)
class EffectOutcome:
    effect: float
    num_samples: int


@dataclass(frozen=True)
class CounterfactualOutcome:
    rows: Mapping[str, np.ndarray]


QueryOutcome = SampleOutcome | EffectOutcome | CounterfactualOutcome
