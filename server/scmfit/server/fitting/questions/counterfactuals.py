"""What observed rows would have been under interventions (DoWhy's `counterfactual_samples`)."""

from __future__ import annotations

import pandas as pd
from dowhy import gcm
from dowhy.gcm.causal_mechanisms import InvertibleFunctionalCausalModel

from scmfit.server.domain.errors import QueryNotSupportedError
from scmfit.server.domain.query import CounterfactualOutcome, CounterfactualQuery
from scmfit.server.fitting.answers import answers
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.draws import interventions, typed_column


@answers(CounterfactualQuery)
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
        counterfactual={node: typed_column(frame[node].to_numpy(), kind, node) for node, kind in model.kinds.items()}
    )
