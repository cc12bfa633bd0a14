"""What changed between two versions' traces: the task a worker runs once both versions are fitted, and
its answer, node by node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scmfit.server.domain.fit import MechanismSummary
from scmfit.server.domain.query import Interval


@dataclass(frozen=True)
class ChangeTask:
    old_model: bytes
    """The old version's fitted ModelBundle, pickled by our own worker: its mechanisms' types are refitted."""
    target: str
    old_columns: Mapping[str, np.ndarray]
    new_columns: Mapping[str, np.ndarray]
    num_samples: int
    significance_level: float
    seed: int


@dataclass(frozen=True)
class ChangeReplicas:
    """Bootstrap resamples `start` to `stop` of both versions, each attributed with the mechanisms that
    changed on the original rows (`changed`) refitted per version and the others on both."""

    task: ChangeTask
    changed: frozenset[str]
    start: int
    stop: int


@dataclass(frozen=True)
class NodeChange:
    node: str
    contribution: float
    p_value: float
    changed: bool
    old_mechanism: MechanismSummary
    new_mechanism: MechanismSummary
    interval: Interval | None = None


@dataclass(frozen=True)
class ChangeOutcome:
    nodes: tuple[NodeChange, ...]
    """Largest contribution first."""
    total: float
