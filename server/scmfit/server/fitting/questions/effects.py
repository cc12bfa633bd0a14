"""Average causal effects of an intervention (DoWhy's `average_causal_effect`), on any node type, with
bootstrap intervals and the natural direct and indirect effects."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import networkx as nx
import numpy as np
import pandas as pd
from dowhy import gcm
from dowhy.gcm._noise import noise_samples_of_ancestors
from dowhy.gcm.util.general import set_random_seed
from dowhy.gcm.whatif import _interventional_samples
from dowhy.graph import get_ordered_predecessors, is_root_node

from scmfit.server.domain.fit import MechanismKind
from scmfit.server.domain.query import (
    EffectDecomposition,
    EffectOutcome,
    EffectQuery,
    InterventionKind,
    InterventionSpec,
    Scalar,
    bootstrap_interval,
)
from scmfit.server.fitting.answers import answers
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.draws import batch_sizes, interventions, replica_seed
from scmfit.server.fitting.summary import encoded_feature_names, kind_of, linear_terms, predictor_of

Indicator = Callable[[np.ndarray], np.ndarray] | None


def _mean(values: np.ndarray, indicator: Indicator) -> float:
    return float(np.mean(indicator(values) if indicator is not None else np.asarray(values, dtype=np.float64)))


def average_effect(
    scm: gcm.StructuralCausalModel, query: EffectQuery, indicator: Indicator, seed: int, num_samples: int
) -> float:
    """DoWhy's average causal effect per batch (both arms on the same observational draws), weighted by
    batch size; the same calls in the same order, so a numeric target gives DoWhy's number for the seed."""
    set_random_seed(seed)
    alternative = interventions([InterventionSpec(query.treatment, InterventionKind.HARD, query.alternative)])
    reference = interventions([InterventionSpec(query.treatment, InterventionKind.HARD, query.reference)])
    total = 0.0
    for size in batch_sizes(num_samples, scm.graph.number_of_nodes()):
        observed = gcm.draw_samples(scm, size)
        with_alternative = _interventional_samples(scm, observed, alternative)[query.target].to_numpy()
        with_reference = _interventional_samples(scm, observed, reference)[query.target].to_numpy()
        total += (_mean(with_alternative, indicator) - _mean(with_reference, indicator)) * size
    return total / num_samples


def mediators(graph: nx.DiGraph, treatment: str, target: str) -> tuple[str, ...]:
    """Every node on a directed path from treatment to target, in topological order."""
    between = nx.descendants(graph, treatment) & nx.ancestors(graph, target)
    return tuple(node for node in nx.topological_sort(graph) if node in between)


def _evaluate(
    scm: gcm.StructuralCausalModel, node: str, values: Mapping[str, np.ndarray], noise: np.ndarray
) -> np.ndarray:
    parents = get_ordered_predecessors(scm.graph, node)
    frame = pd.DataFrame({parent: values[parent] for parent in parents})
    return np.asarray(scm.causal_mechanism(node).evaluate(frame.to_numpy(), noise)).reshape(-1)


def _world(
    scm: gcm.StructuralCausalModel, noise: pd.DataFrame, order: list[str], treatment: str, value: Scalar
) -> dict[str, np.ndarray]:
    """Every ancestor of the target under do(treatment = value), on the given noise draws."""
    values: dict[str, np.ndarray] = {}
    for node in order:
        if node == treatment:
            values[node] = np.full(len(noise), value, dtype=object if isinstance(value, str) else None)
        elif is_root_node(scm.graph, node):
            values[node] = noise[node].to_numpy()
        else:
            values[node] = _evaluate(scm, node, values, noise[node].to_numpy())
    return values


def paired(
    scm: gcm.StructuralCausalModel, query: EffectQuery, indicator: Indicator, seed: int, num_samples: int
) -> tuple[float, float, float]:
    """(NDE, NIE, total) with both arms on the same noise draws (common random numbers), so Monte Carlo
    noise nearly cancels from the difference: NDE = E[Y(a, M(b))] - E[Y(b, M(b))], NIE = E[Y(a, M(a))] -
    E[Y(a, M(b))], and NDE + NIE = E[Y(a)] - E[Y(b)] exactly."""
    set_random_seed(seed)
    relevant = nx.ancestors(scm.graph, query.target) | {query.target}
    order = [node for node in nx.topological_sort(scm.graph) if node in relevant]
    direct = 0.0
    indirect = 0.0
    for size in batch_sizes(num_samples, len(order)):
        _, noise = noise_samples_of_ancestors(scm, query.target, size)
        with_alternative = _world(scm, noise, order, query.treatment, query.alternative)
        with_reference = _world(scm, noise, order, query.treatment, query.reference)
        crossed = dict(with_reference)
        if query.treatment in crossed:
            crossed[query.treatment] = with_alternative[query.treatment]  # a on the direct edge, mediators at M(b)
        cross = _evaluate(scm, query.target, crossed, noise[query.target].to_numpy())
        y_alternative = _mean(with_alternative[query.target], indicator)
        y_reference = _mean(with_reference[query.target], indicator)
        y_cross = _mean(cross, indicator)
        direct += (y_cross - y_reference) * size
        indirect += (y_alternative - y_cross) * size
    return direct / num_samples, indirect / num_samples, (direct + indirect) / num_samples


def linear_effects(
    scm: gcm.StructuralCausalModel, query: EffectQuery, indicator: Indicator
) -> tuple[float, float, float] | None:
    """(NDE, NIE, total) in closed form when every mechanism on the paths from treatment to target is
    additive noise over a plain linear model: then each paired draw differs by the same path sum, so
    `paired` would return these numbers (tests/server/fitting/questions/test_effects.py checks it) and
    sampling is skipped. None otherwise."""
    if indicator is not None or isinstance(query.alternative, str | bool) or isinstance(query.reference, str | bool):
        return None
    graph = scm.graph
    between = mediators(graph, query.treatment, query.target)
    on_path = {query.treatment, *between}
    slopes: dict[str, float] = {query.treatment: 1.0}
    direct = 0.0
    for node in (*between, query.target):
        weights = _linear_weights(scm.causal_mechanism(node), get_ordered_predecessors(graph, node))
        if weights is None:
            return None
        slope = 0.0
        for parent in get_ordered_predecessors(graph, node):
            if parent in on_path:
                if parent not in weights:
                    return None
                slope += weights[parent] * slopes[parent]
        slopes[node] = slope
        if node == query.target:
            direct = weights.get(query.treatment, 0.0)
    change = float(query.alternative) - float(query.reference)
    total = slopes[query.target] * change
    return direct * change, total - direct * change, total


def _linear_weights(mechanism: object, parents: list[str]) -> dict[str, float] | None:
    if kind_of(mechanism) is not MechanismKind.ADDITIVE_NOISE:
        return None
    predictor = predictor_of(mechanism)
    estimator = getattr(predictor, "sklearn_model", None)
    if estimator is None or not type(estimator).__module__.startswith("sklearn.linear_model"):
        return None  # a Pipeline (polynomial terms) or any other model is not linear in its parents
    features = encoded_feature_names(parents, getattr(predictor, "_encoders", {}))
    named, _ = linear_terms(estimator, features)
    return dict(named) if named else None


def _paired_or_exact(
    scm: gcm.StructuralCausalModel, query: EffectQuery, indicator: Indicator, seed: int
) -> tuple[float, float, float]:
    exact = linear_effects(scm, query, indicator)
    return exact if exact is not None else paired(scm, query, indicator, seed, query.num_samples)


@answers(EffectQuery)
def effect(model: FittedModel, query: EffectQuery) -> EffectOutcome:
    """Asked alone, the effect is DoWhy's own estimate for the seed. With an interval or a decomposition
    it is the paired estimate (both arms on the same noise draws, or the closed form on linear paths):
    the same quantity with far less Monte Carlo noise, so that the interval is centred on it and the
    decomposition's parts add up to it. Replicas give the spread the same way."""
    indicator = query.indicator(model.kinds[query.target])
    replicas = model.replicas[: query.num_bootstrap] if query.confidence_level else ()
    parts = [
        _paired_or_exact(replica, query, indicator, replica_seed(query.seed, index))
        for index, replica in enumerate(replicas)
    ]
    decomposition = None
    if query.confidence_level or query.decompose:
        direct, indirect, point = _paired_or_exact(model.scm, query, indicator, query.seed)
    else:
        point = average_effect(model.scm, query, indicator, query.seed, query.num_samples)
    if query.decompose:
        decomposition = EffectDecomposition(
            natural_direct_effect=direct,
            natural_indirect_effect=indirect,
            total_effect=point,
            mediators=mediators(model.scm.graph, query.treatment, query.target),
            natural_direct_effect_interval=bootstrap_interval(
                direct, [part[0] for part in parts], query.confidence_level
            ),
            natural_indirect_effect_interval=bootstrap_interval(
                indirect, [part[1] for part in parts], query.confidence_level
            ),
        )
    return EffectOutcome(
        effect=point,
        num_samples=query.num_samples,
        interval=bootstrap_interval(point, [part[2] for part in parts], query.confidence_level),
        decomposition=decomposition,
    )
