"""What every question that samples a fitted model shares: interventions as DoWhy callables, bounded
batches, and samples turned back into each node's own type and statistics."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from dowhy import gcm
from dowhy.gcm.causal_mechanisms import InvertibleFunctionalCausalModel

from scmfit.server.domain.errors import QueryNotSupportedError, ResultOutOfRangeError
from scmfit.server.domain.fit import ColumnType
from scmfit.server.domain.query import (
    CategoryShare,
    Interval,
    InterventionKind,
    InterventionSpec,
    NodeStatistics,
    bootstrap_interval,
)
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.models import INT64_LIMIT

Key = TypeVar("Key", bound=Hashable)
Transform = Callable[[Any], Any]
"""DoWhy calls an intervention once per cell, with that cell's value."""

SAMPLE_BATCH_CELLS = 2_000_000
"""Draws are made in batches of at most this many cells (samples x model nodes), keeping only the asked
nodes between batches, so memory no longer grows as nodes x samples. A constant, not a setting: a seeded
query must give the same answer on every server. Queries of one batch draw exactly as before."""


def batch_sizes(num_samples: int, num_nodes: int) -> list[int]:
    batch = max(1, SAMPLE_BATCH_CELLS // max(1, num_nodes))
    return [min(batch, num_samples - start) for start in range(0, num_samples, batch)]


def transform(spec: InterventionSpec) -> Transform:
    """Typed interventions become DoWhy's callables here, in the worker; no code travels on the wire.
    DoWhy applies them cell by cell, so a hard one returns the value itself, in the node's own type."""
    value = spec.value
    if spec.kind is InterventionKind.HARD:
        return lambda x: value
    number = float(value)
    if spec.kind is InterventionKind.SHIFT:
        return lambda x: x + number
    return lambda x: x * number


def replica_seed(seed: int, index: int) -> int:
    """The sampling seed of bootstrap replica `index` for a query seeded `seed`: distinct per replica."""
    return (seed + 1_000_003 * (index + 1)) % 2**32


def replica_intervals(
    model: FittedModel,
    center: Mapping[Key, float],
    answer: Callable[[gcm.InvertibleStructuralCausalModel, int], Mapping[Key, float]],
    seed: int,
    level: float,
) -> dict[Key, Interval | None]:
    """Each entry of `center` with its interval: `answer(scm, seed)` asked again of each replica the
    query was sent with (none without a level), each on its own seed, so that the spread holds both
    the refits' estimation error and the answer's own Monte Carlo noise."""
    estimates = (
        [answer(replica, replica_seed(seed, index)) for index, replica in enumerate(model.replicas)] if level else []
    )
    return {
        key: bootstrap_interval(value, [estimate[key] for estimate in estimates], level)
        for key, value in center.items()
    }


def interventions(specs: Sequence[InterventionSpec]) -> dict[str, Transform]:
    return {spec.node: transform(spec) for spec in specs}


def typed_column(values: np.ndarray, kind: ColumnType, node: str = "") -> np.ndarray:
    """Samples come back as DoWhy produced them; columns go out in the node's own wire type, or not at all."""
    if kind in (ColumnType.DOUBLE, ColumnType.INT64):
        numbers = np.asarray(values)
        if numbers.dtype.kind == "f" and not np.isfinite(numbers).all():
            raise ResultOutOfRangeError(f"node {node!r}: the answer overflowed to a non-finite value")
        if kind is ColumnType.DOUBLE:
            return numbers.astype(np.float64)
        if numbers.dtype.kind in "iu":
            return numbers.astype(np.int64)
        rounded = np.rint(numbers.astype(np.float64))
        if (np.abs(rounded) > INT64_LIMIT).any():
            raise ResultOutOfRangeError(f"node {node!r}: the answer is beyond the int64 range of this integer node")
        return rounded.astype(np.int64)
    if kind is ColumnType.BOOL:
        return np.asarray(values, dtype=np.bool_)
    return np.asarray(values).astype(str).astype(object)


def summarise(node: str, values: np.ndarray, kind: ColumnType) -> NodeStatistics:
    if kind is ColumnType.STRING:
        labels, counts = np.unique(values.astype(str), return_counts=True)
        shares = counts / counts.sum()
        return NodeStatistics(
            node=node,
            categories=tuple(
                CategoryShare(label, share) for label, share in zip(labels.tolist(), shares.tolist(), strict=True)
            ),
        )
    numbers = np.asarray(values, dtype=np.float64)
    q05, q50, q95 = np.quantile(numbers, [0.05, 0.5, 0.95])
    statistics = NodeStatistics(
        node=node,
        mean=float(numbers.mean()),
        std=float(numbers.std(ddof=1)) if len(numbers) > 1 else 0.0,
        q05=float(q05),
        q50=float(q50),
        q95=float(q95),
        min=float(numbers.min()),
        max=float(numbers.max()),
    )
    if kind is ColumnType.BOOL:
        share = float(numbers.mean())
        return NodeStatistics(
            **{**vars(statistics), "categories": (CategoryShare("false", 1 - share), CategoryShare("true", share))}
        )
    return statistics


def require_invertible(model: FittedModel, nodes: Collection[str], purpose: str) -> None:
    """Questions that recover each node's noise from observed values (counterfactuals, anomaly
    attribution) need invertible mechanisms there; classifiers cannot give their noise back."""
    blocked = [
        node
        for node in model.kinds
        if node in nodes
        and model.scm.graph.in_degree(node) > 0
        and not isinstance(model.scm.causal_mechanism(node), InvertibleFunctionalCausalModel)
    ]
    if blocked:
        names = ", ".join(repr(node) for node in blocked)
        raise QueryNotSupportedError(
            blocked[0],
            f"{purpose} need invertible mechanisms, but node(s) {names} have non-invertible ones "
            "(classifiers cannot recover their noise from observed values)",
        )
