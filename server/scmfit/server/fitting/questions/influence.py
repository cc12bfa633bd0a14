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
from scmfit.server.fitting.answers import answers
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.shapley import shapley_config, spread


@answers(ArrowStrengthQuery)
def arrow_strength(model: FittedModel, query: ArrowStrengthQuery) -> ArrowStrengthOutcome:
    """DoWhy's procedure with its defaults, on the worker alone (n_jobs=1): a process per parent would
    cost more than the few milliseconds each parent takes."""
    set_random_seed(query.seed)
    strengths = gcm.arrow_strength(model.scm, query.target, num_samples_conditional=query.num_samples, n_jobs=1)
    edges = [EdgeStrength(source, target, float(value)) for (source, target), value in strengths.items()]
    edges.sort(key=lambda edge: (-edge.strength, edge.source))
    return ArrowStrengthOutcome(strengths=tuple(edges), num_samples=query.num_samples)


@answers(IntrinsicInfluenceQuery)
def intrinsic_influence(model: FittedModel, query: IntrinsicInfluenceQuery) -> IntrinsicInfluenceOutcome:
    """DoWhy's procedure and defaults (variance attribution, its approximate prediction model), seeded,
    so the answer is DoWhy's for the seed."""
    set_random_seed(query.seed)
    with spread():
        influence = gcm.intrinsic_causal_influence(
            model.scm, query.target, num_training_samples=query.num_samples, shapley_config=shapley_config()
        )
    parts = sorted(
        (NodeContribution(node, float(value)) for node, value in influence.items()),
        key=lambda part: (-part.contribution, part.node),
    )
    return IntrinsicInfluenceOutcome(
        contributions=tuple(parts), total=float(sum(part.contribution for part in parts)), num_samples=query.num_samples
    )
