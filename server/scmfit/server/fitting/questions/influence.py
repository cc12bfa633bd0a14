"""Influence, as DoWhy's `gcm.influence` module measures it: how much each edge carries (`arrow_strength`:
the change in the target's conditional distribution when one parent is replaced by an independent draw
of itself), and how much of a target's variance each ancestor's own noise causes
(`intrinsic_causal_influence`)."""

from __future__ import annotations

from dowhy import gcm
from dowhy.gcm.util.general import set_random_seed

from scmfit.server.domain.query import (
    ArrowStrengthOutcome,
    ArrowStrengthQuery,
    EdgeStrength,
    IntrinsicInfluenceOutcome,
    IntrinsicInfluenceQuery,
    NodeContribution,
)
from scmfit.server.fitting import shapley
from scmfit.server.fitting.answers import answers
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.draws import replica_intervals


def _strengths(
    scm: gcm.InvertibleStructuralCausalModel, query: ArrowStrengthQuery, seed: int
) -> dict[tuple[str, str], float]:
    set_random_seed(seed)
    found = gcm.arrow_strength(scm, query.target, num_samples_conditional=query.num_samples, n_jobs=1)
    return {edge: float(value) for edge, value in found.items()}


@answers(ArrowStrengthQuery)
def arrow_strength(model: FittedModel, query: ArrowStrengthQuery) -> ArrowStrengthOutcome:
    """DoWhy's procedure with its defaults, on the worker alone (n_jobs=1): a process per parent would
    cost more than the few milliseconds each parent takes."""
    center = _strengths(model.scm, query, query.seed)
    spread = replica_intervals(
        model, center, lambda scm, seed: _strengths(scm, query, seed), query.seed, query.confidence_level
    )
    edges = [EdgeStrength(source, target, value, spread[source, target]) for (source, target), value in center.items()]
    edges.sort(key=lambda edge: (-edge.strength, edge.source))
    return ArrowStrengthOutcome(strengths=tuple(edges), num_samples=query.num_samples)


def _influences(
    scm: gcm.InvertibleStructuralCausalModel, query: IntrinsicInfluenceQuery, seed: int
) -> dict[str, float]:
    set_random_seed(seed)
    with shapley.processes():
        found = gcm.intrinsic_causal_influence(
            scm, query.target, num_training_samples=query.num_samples, shapley_config=shapley.config()
        )
    return {node: float(value) for node, value in found.items()}


@answers(IntrinsicInfluenceQuery)
def intrinsic_influence(model: FittedModel, query: IntrinsicInfluenceQuery) -> IntrinsicInfluenceOutcome:
    """DoWhy's procedure and defaults (variance attribution, its approximate prediction model), seeded,
    so the answer is DoWhy's for the seed."""
    center = _influences(model.scm, query, query.seed)
    spread = replica_intervals(
        model, center, lambda scm, seed: _influences(scm, query, seed), query.seed, query.confidence_level
    )
    parts = sorted(
        (NodeContribution(node, value, spread[node]) for node, value in center.items()),
        key=lambda part: (-part.contribution, part.node),
    )
    return IntrinsicInfluenceOutcome(
        contributions=tuple(parts), total=float(sum(part.contribution for part in parts)), num_samples=query.num_samples
    )
