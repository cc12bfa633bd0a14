"""Answers causal queries on a fitted model inside a worker: sampling, average effects, counterfactuals."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from dowhy import gcm
from dowhy.gcm.causal_mechanisms import InvertibleFunctionalCausalModel
from dowhy.gcm.util.general import set_random_seed

from scmfit.server.domain.errors import QueryNotSupportedError, ResultOutOfRangeError
from scmfit.server.domain.fit import ColumnType
from scmfit.server.domain.query import (
    CounterfactualOutcome,
    CounterfactualQuery,
    EffectOutcome,
    EffectQuery,
    InterventionKind,
    InterventionSpec,
    NodeSummary,
    Query,
    QueryOutcome,
    SampleOutcome,
    SampleQuery,
)
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.models import INT64_LIMIT, IntegerOverflowError

Transform = Callable[[np.ndarray], np.ndarray | float]

SAMPLE_BATCH_CELLS = 2_000_000
"""Draws are made in batches of at most this many cells (samples x model nodes), keeping only the asked
nodes between batches, so memory no longer grows as nodes x samples. A constant, not a setting: a seeded
query must give the same answer on every server. Queries of one batch draw exactly as before."""


def batch_sizes(num_samples: int, num_nodes: int) -> list[int]:
    batch = max(1, SAMPLE_BATCH_CELLS // max(1, num_nodes))
    return [min(batch, num_samples - start) for start in range(0, num_samples, batch)]


def transform(spec: InterventionSpec) -> Transform:
    """Typed interventions become DoWhy's callables here, in the worker; no code travels on the wire."""
    value = spec.value
    if spec.kind is InterventionKind.HARD:
        return lambda x: np.full_like(x, value, dtype=float)
    if spec.kind is InterventionKind.SHIFT:
        return lambda x: x + value
    return lambda x: x * value


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


def summarise(node: str, values: np.ndarray, kind: ColumnType) -> NodeSummary:
    if kind is ColumnType.STRING:
        labels, counts = np.unique(values.astype(str), return_counts=True)
        shares = counts / counts.sum()
        return NodeSummary(node=node, categories=tuple(zip(labels.tolist(), shares.tolist(), strict=True)))
    numbers = np.asarray(values, dtype=np.float64)
    q05, q50, q95 = np.quantile(numbers, [0.05, 0.5, 0.95])
    summary = NodeSummary(
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
        return dataclasses.replace(summary, categories=(("false", 1 - share), ("true", share)))
    return summary


def sample(model: FittedModel, query: SampleQuery) -> SampleOutcome:
    set_random_seed(query.seed)
    nodes = query.nodes or tuple(model.kinds)
    parts: dict[str, list[np.ndarray]] = {node: [] for node in nodes}
    for size in batch_sizes(query.num_samples, len(model.kinds)):
        if query.interventions:
            frame = gcm.interventional_samples(model.scm, interventions(query.interventions), num_samples_to_draw=size)
        else:
            frame = gcm.draw_samples(model.scm, size)
        for node in nodes:
            parts[node].append(typed_column(frame[node].to_numpy(), model.kinds[node], node))
        del frame  # only the asked nodes outlive the batch
    columns = {node: np.concatenate(chunks) for node, chunks in parts.items()}
    return SampleOutcome(
        statistics=tuple(summarise(node, columns[node], model.kinds[node]) for node in nodes),
        samples=columns if query.include_samples else {},
        num_samples=query.num_samples,
    )


def effect(model: FittedModel, query: EffectQuery) -> EffectOutcome:
    """DoWhy's average causal effect per batch (both arms on the same draws), weighted by batch size."""
    set_random_seed(query.seed)
    alternative = interventions([InterventionSpec(query.treatment, InterventionKind.HARD, query.alternative)])
    reference = interventions([InterventionSpec(query.treatment, InterventionKind.HARD, query.reference)])
    total = 0.0
    for size in batch_sizes(query.num_samples, len(model.kinds)):
        value = gcm.average_causal_effect(
            model.scm,
            query.target,
            interventions_alternative=alternative,
            interventions_reference=reference,
            num_samples_to_draw=size,
        )
        total += float(value) * size
    return EffectOutcome(effect=total / query.num_samples, num_samples=query.num_samples)


def counterfactual(model: FittedModel, query: CounterfactualQuery) -> CounterfactualOutcome:
    blocked = [
        node
        for node in model.kinds
        if model.scm.graph.in_degree(node) > 0
        and not isinstance(model.scm.causal_mechanism(node), InvertibleFunctionalCausalModel)
    ]
    if blocked:
        names = ", ".join(repr(node) for node in blocked)
        raise QueryNotSupportedError(
            blocked[0],
            f"counterfactuals need invertible mechanisms, but node(s) {names} have non-invertible ones "
            "(classifiers cannot recover their noise from observed values)",
        )
    observed = pd.DataFrame({node: query.observed[node] for node in model.kinds})
    frame = gcm.counterfactual_samples(model.scm, interventions(query.interventions), observed_data=observed)
    return CounterfactualOutcome(
        rows={node: typed_column(frame[node].to_numpy(), kind, node) for node, kind in model.kinds.items()}
    )


def answer(model: FittedModel, query: Query) -> QueryOutcome:
    try:
        return _answer(model, query)
    except IntegerOverflowError as error:  # raised inside DoWhy's sampling, which does not say which node
        raise ResultOutOfRangeError(f"{error}, under the requested interventions") from None


def _answer(model: FittedModel, query: Query) -> QueryOutcome:
    if isinstance(query, SampleQuery):
        return sample(model, query)
    if isinstance(query, EffectQuery):
        return effect(model, query)
    if isinstance(query, CounterfactualQuery):
        return counterfactual(model, query)
    raise TypeError(f"unknown query {type(query).__name__}")  # pragma: no cover
