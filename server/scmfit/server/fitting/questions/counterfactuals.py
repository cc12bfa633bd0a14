"""What observed rows would have been under interventions (DoWhy's `counterfactual_samples`)."""

from __future__ import annotations

import pandas as pd
from dowhy import gcm

from scmfit.server.domain.query import CounterfactualOutcome, CounterfactualQuery
from scmfit.server.fitting.answers import answers
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.draws import interventions, require_invertible, typed_column


@answers(CounterfactualQuery)
def counterfactual(model: FittedModel, query: CounterfactualQuery) -> CounterfactualOutcome:
    require_invertible(model, model.kinds, "counterfactuals")
    observed = pd.DataFrame({node: query.observed[node] for node in model.kinds})
    frame = gcm.counterfactual_samples(model.scm, interventions(query.interventions), observed_data=observed)
    return CounterfactualOutcome(
        counterfactual={node: typed_column(frame[node].to_numpy(), kind, node) for node, kind in model.kinds.items()}
    )
