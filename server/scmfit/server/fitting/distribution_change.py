"""Which mechanisms changed between two versions, and how much each moved the target (DoWhy's
`gcm.distribution_change`), on the old version's selected model types."""

from __future__ import annotations

import functools
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from dowhy import gcm
from dowhy.gcm.causal_models import clone_causal_models
from dowhy.gcm.fitting_sampling import fit_causal_model_of_target
from dowhy.gcm.independence_test import kernel_based
from dowhy.gcm.util.general import set_random_seed
from dowhy.graph import get_ordered_predecessors, node_connected_subgraph_view

from scmfit.server.domain.distribution_change import ChangeOutcome, ChangeReplicas, ChangeTask, NodeChange
from scmfit.server.fitting import cache, shapley
from scmfit.server.fitting.questions.bootstrap import first_draw_that_fits
from scmfit.server.fitting.summary import describe_mechanism

_TEST = functools.partial(kernel_based, bootstrap_n_jobs=1)


def attribute(task: ChangeTask) -> ChangeOutcome:
    """DoWhy's procedure, seeded: each mechanism tested for a change (kernel test, then Benjamini-Hochberg),
    changed ones fitted per version and unchanged ones on both versions' rows, then the KL divergence of
    the target split by Shapley values, on the worker's Shapley jobs. DoWhy returns only the decisions; the
    p-values are recorded as its own tests return them, one per node in the graph's order."""
    model = cache.build(cache.bundle_of(task.old_model))
    old = pd.DataFrame(dict(task.old_columns))
    new = pd.DataFrame(dict(task.new_columns))
    recorded: list[float] = []

    def recording(*arrays: Any, **options: Any) -> float:
        p_value = float(_TEST(*arrays, **options))
        recorded.append(p_value)
        return p_value

    set_random_seed(task.seed)
    with shapley.processes():
        contributions, changed, old_scm, new_scm = gcm.distribution_change(
            model.scm,
            old,
            new,
            task.target,
            num_samples=task.num_samples,
            independence_test=recording,
            conditional_independence_test=recording,
            mechanism_change_test_significance_level=task.significance_level,
            return_additional_info=True,
            shapley_config=shapley.config(),
        )
    graph = old_scm.graph
    if len(recorded) != graph.number_of_nodes():
        raise RuntimeError(f"expected one mechanism test per node, DoWhy ran {len(recorded)}")
    p_values = dict(zip(graph.nodes, recorded, strict=True))
    nodes = []
    for node in nx.topological_sort(graph):
        parents = get_ordered_predecessors(graph, node)
        nodes.append(
            NodeChange(
                node=node,
                contribution=float(contributions[node]),
                p_value=p_values[node],
                changed=bool(changed[node]),
                old_mechanism=describe_mechanism(old_scm.causal_mechanism(node), parents),
                new_mechanism=describe_mechanism(new_scm.causal_mechanism(node), parents),
            )
        )
    nodes.sort(key=lambda change: (-change.contribution, change.node))
    return ChangeOutcome(nodes=tuple(nodes), total=float(np.sum([change.contribution for change in nodes])))


def attribute_resamples(replicas: ChangeReplicas) -> tuple[dict[str, float], ...]:
    """Each resample: both versions' rows drawn with replacement (seeded by the request's seed and the
    resample's index, so the same on any worker), the mechanisms refitted as DoWhy's accounting refits
    them for the changes found on the original rows, then DoWhy's attribution of the two graphs."""
    task = replicas.task
    model = cache.build(cache.bundle_of(task.old_model))
    graph = nx.DiGraph(node_connected_subgraph_view(model.scm.graph, task.target))
    old = pd.DataFrame(dict(task.old_columns))[list(graph.nodes)]
    new = pd.DataFrame(dict(task.new_columns))[list(graph.nodes)]

    def refitted(index: int, attempt: int) -> tuple[list[gcm.ProbabilisticCausalModel], int]:
        """Both versions refitted on one draw of their rows, and the seed of the attribution that follows."""
        rng = np.random.default_rng([task.seed, index, attempt])
        old_rows = old.iloc[rng.integers(0, len(old), len(old))].reset_index(drop=True)
        new_rows = new.iloc[rng.integers(0, len(new), len(new))].reset_index(drop=True)
        joint = pd.concat([old_rows, new_rows], ignore_index=True)
        versions = []
        for rows in (old_rows, new_rows):
            scm = gcm.ProbabilisticCausalModel(nx.DiGraph(graph))
            clone_causal_models(model.scm.graph, scm.graph)
            for node in graph.nodes:
                fit_causal_model_of_target(scm, node, rows if node in replicas.changed else joint)
            versions.append(scm)
        return versions, int(rng.integers(0, 2**31))

    answers = []
    for index in range(replicas.start, replicas.stop):
        versions, seed = first_draw_that_fits(f"bootstrap resample {index}", functools.partial(refitted, index))
        set_random_seed(seed)
        with shapley.processes():
            found = gcm.distribution_change_of_graphs(
                versions[0], versions[1], task.target, task.num_samples, shapley_config=shapley.config()
            )
        answers.append({node: float(value) for node, value in found.items()})
    return tuple(answers)
