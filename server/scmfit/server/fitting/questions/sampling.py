"""Observational and interventional samples of a fitted model (DoWhy's `draw_samples` and
`interventional_samples`), drawn in bounded batches and summarised per node."""

from __future__ import annotations

import numpy as np
from dowhy import gcm
from dowhy.gcm.util.general import set_random_seed

from scmfit.server.domain.query import SampleOutcome, SampleQuery
from scmfit.server.fitting.answers import answers
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.draws import batch_sizes, interventions, summarise, typed_column


@answers(SampleQuery)
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
