"""Observational and interventional samples of a fitted model (DoWhy's `draw_samples` and
`interventional_samples`), drawn in bounded batches and summarised per node."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
from dowhy import gcm
from dowhy.gcm.util.general import set_random_seed

from scmfit.server.domain.fit import ColumnType
from scmfit.server.domain.query import SampleOutcome, SampleQuery, bootstrap_interval
from scmfit.server.fitting.answers import answers
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.draws import batch_sizes, interventions, replica_seed, summarise, typed_column


def _draw(
    scm: gcm.StructuralCausalModel, query: SampleQuery, kinds: Mapping[str, ColumnType], seed: int
) -> dict[str, np.ndarray]:
    set_random_seed(seed)
    nodes = query.nodes or tuple(kinds)
    parts: dict[str, list[np.ndarray]] = {node: [] for node in nodes}
    for size in batch_sizes(query.num_samples, len(kinds)):
        if query.interventions:
            frame = gcm.interventional_samples(scm, interventions(query.interventions), num_samples_to_draw=size)
        else:
            frame = gcm.draw_samples(scm, size)
        for node in nodes:
            parts[node].append(typed_column(frame[node].to_numpy(), kinds[node], node))
        del frame  # only the asked nodes outlive the batch
    return {node: np.concatenate(chunks) for node, chunks in parts.items()}


@answers(SampleQuery)
def sample(model: FittedModel, query: SampleQuery) -> SampleOutcome:
    columns = _draw(model.scm, query, model.kinds, query.seed)
    statistics = [summarise(node, values, model.kinds[node]) for node, values in columns.items()]
    numeric = [node for node in columns if model.kinds[node] is not ColumnType.STRING]
    if query.confidence_level and numeric:
        means: dict[str, list[float]] = {node: [] for node in numeric}
        for index, replica in enumerate(model.replicas[: query.num_bootstrap]):
            drawn = _draw(
                replica, dataclasses.replace(query, nodes=tuple(numeric)), model.kinds, replica_seed(query.seed, index)
            )
            for node in numeric:
                means[node].append(float(np.mean(drawn[node], dtype=np.float64)))
        statistics = [
            dataclasses.replace(
                entry, mean_interval=bootstrap_interval(entry.mean, means[entry.node], query.confidence_level)
            )
            if entry.node in means
            else entry
            for entry in statistics
        ]
    return SampleOutcome(
        statistics=tuple(statistics),
        samples=columns if query.include_samples else {},
        num_samples=query.num_samples,
    )
