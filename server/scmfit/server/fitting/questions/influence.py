"""Influence, as DoWhy's `gcm.influence` module measures it: how much each edge carries (`arrow_strength`:
the change in the target's conditional distribution when one parent is replaced by an independent draw
of itself), and how much of a target's variance each ancestor's own noise causes
(`intrinsic_causal_influence`)."""

from __future__ import annotations

from dowhy import gcm
from dowhy.gcm.shapley import ShapleyConfig
from dowhy.gcm.util.general import set_random_seed

from scmfit.server.domain.query import (
    ArrowStrengthOutcome,
    ArrowStrengthQuery,
    EdgeStrength,
    IntrinsicInfluenceOutcome,
    IntrinsicInfluenceQuery,
    NodeContribution,
)
from scmfit.server.fitting.answers import answers
from scmfit.server.fitting.cache import FittedModel


@answers(ArrowStrengthQuery)
def arrow_strength(model: FittedModel, query: ArrowStrengthQuery) -> ArrowStrengthOutcome:
    """DoWhy's procedure with its defaults, on one process (n_jobs=1): the worker is the unit of
    parallelism here, and one job keeps the answer the same for a seed whatever the machine."""
    set_random_seed(query.seed)
    strengths = gcm.arrow_strength(model.scm, query.target, num_samples_conditional=query.num_samples, n_jobs=1)
    edges = [EdgeStrength(source, target, float(value)) for (source, target), value in strengths.items()]
    edges.sort(key=lambda edge: (-edge.strength, edge.source))
    return ArrowStrengthOutcome(strengths=tuple(edges), num_samples=query.num_samples)


@answers(IntrinsicInfluenceQuery)
def intrinsic_influence(model: FittedModel, query: IntrinsicInfluenceQuery) -> IntrinsicInfluenceOutcome:
    """DoWhy's procedure and defaults (variance attribution, its approximate prediction model), on one
    process and seeded, so the answer is DoWhy's for the seed."""
    set_random_seed(query.seed)
    influence = gcm.intrinsic_causal_influence(
        model.scm, query.target, num_training_samples=query.num_samples, shapley_config=ShapleyConfig(n_jobs=1)
    )
    parts = sorted(
        (NodeContribution(node, float(value)) for node, value in influence.items()),
        key=lambda part: (-part.contribution, part.node),
    )
    return IntrinsicInfluenceOutcome(
        contributions=tuple(parts), total=float(sum(part.contribution for part in parts)), num_samples=query.num_samples
    )
