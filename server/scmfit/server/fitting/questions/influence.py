"""How much each edge carries (DoWhy's `gcm.arrow_strength`): the change in the target's conditional
distribution when one parent is replaced by an independent draw of itself."""

from __future__ import annotations

from dowhy import gcm
from dowhy.gcm.util.general import set_random_seed

from scmfit.server.domain.query import ArrowStrengthOutcome, ArrowStrengthQuery, EdgeStrength
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
