"""Average causal effects of an intervention (DoWhy's `average_causal_effect`)."""

from __future__ import annotations

from dowhy import gcm
from dowhy.gcm.util.general import set_random_seed

from scmfit.server.domain.query import EffectOutcome, EffectQuery, InterventionKind, InterventionSpec
from scmfit.server.fitting.answers import answers
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.draws import batch_sizes, interventions


@answers(EffectQuery)
def effect(model: FittedModel, query: EffectQuery) -> EffectOutcome:
    """DoWhy's average causal effect per batch (both arms on the same draws), weighted by batch size."""
    set_random_seed(query.seed)
    alternative = interventions([InterventionSpec(query.treatment, InterventionKind.HARD, query.alternative_value)])
    reference = interventions([InterventionSpec(query.treatment, InterventionKind.HARD, query.reference_value)])
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
