"""Root causes of anomalous rows (DoWhy's `gcm.attribute_anomalies` and `gcm.anomaly_scores`)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
from dowhy import gcm
from dowhy.gcm._noise import noise_samples_of_ancestors
from dowhy.gcm.anomaly_scorers import MedianCDFQuantileScorer
from dowhy.gcm.util.general import set_random_seed

from scmfit.server.domain.query import (
    AttributeAnomaliesOutcome,
    AttributeAnomaliesQuery,
    NodeAnomalyScore,
    NodeContribution,
    RowAttribution,
)
from scmfit.server.fitting import shapley
from scmfit.server.fitting.answers import answers
from scmfit.server.fitting.cache import FittedModel
from scmfit.server.fitting.draws import replica_intervals, require_invertible


def _it_scores(model: FittedModel, query: AttributeAnomaliesQuery, rows: pd.DataFrame) -> np.ndarray:
    """-log P(g(X) >= g(x)) for each row: the distribution samples attribute_anomalies draws for the seed
    (its first draws), scored by its default scorer, with its relative-frequency estimate."""
    set_random_seed(query.seed)
    samples, _ = noise_samples_of_ancestors(model.scm, query.target, query.num_samples)
    scorer = MedianCDFQuantileScorer()
    distribution = samples[query.target].to_numpy()
    scorer.fit(distribution)
    reference = scorer.score(distribution)
    observed = scorer.score(rows[query.target].to_numpy())
    frequency = (np.sum(reference[None, :] >= observed[:, None], axis=1) + 0.5) / (len(reference) + 0.5)
    scores: np.ndarray = -np.log(frequency)
    return scores


def _contributions(
    scm: gcm.InvertibleStructuralCausalModel, query: AttributeAnomaliesQuery, rows: pd.DataFrame, seed: int
) -> dict[tuple[int, str], float]:
    set_random_seed(seed)
    with shapley.processes():
        found = gcm.attribute_anomalies(
            scm,
            query.target,
            anomaly_samples=rows,
            num_distribution_samples=query.num_samples,
            shapley_config=shapley.config(),
        )
    return {(row, node): float(values[row]) for node, values in found.items() for row in range(len(rows))}


@answers(AttributeAnomaliesQuery)
def attribute_anomalies(model: FittedModel, query: AttributeAnomaliesQuery) -> AttributeAnomaliesOutcome:
    """DoWhy's procedure with its defaults, seeded once, so that the answer is DoWhy's for the seed (on
    any number of Shapley jobs). The target's score is computed apart, so that a client can check Shapley
    efficiency: the contributions add up to it up to the sampling noise of the two estimates."""
    upstream = nx.ancestors(model.scm.graph, query.target) | {query.target}
    require_invertible(model, upstream, "anomaly attributions (they recover each upstream node's noise from the row)")
    rows = pd.DataFrame({node: query.anomalous[node] for node in model.kinds})
    center = _contributions(model.scm, query, rows, query.seed)
    spread = replica_intervals(
        model, center, lambda scm, seed: _contributions(scm, query, rows, seed), query.seed, query.confidence_level
    )
    target_scores = _it_scores(model, query, rows)
    set_random_seed(query.seed)
    scores = gcm.anomaly_scores(
        model.scm, rows, num_samples_conditional=query.num_samples, num_samples_unconditional=query.num_samples
    )
    explained = []
    for row in range(len(rows)):
        parts = sorted(
            (NodeContribution(node, center[row, node], spread[row, node]) for node in upstream),
            key=lambda part: (-part.contribution, part.node),
        )
        explained.append(
            RowAttribution(
                row=row,
                target_score=float(target_scores[row]),
                contributions=tuple(parts),
                node_scores=tuple(NodeAnomalyScore(node, float(scores[node][row])) for node in model.kinds),
            )
        )
    return AttributeAnomaliesOutcome(rows=tuple(explained), num_samples=query.num_samples)
