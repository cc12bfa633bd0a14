"""Which mechanisms changed between two versions, and how much each moved the target (DoWhy's
`gcm.distribution_change`), on the old version's selected model types."""

from __future__ import annotations

import functools

import networkx as nx
import numpy as np
import pandas as pd
from dowhy import gcm
from dowhy.gcm.distribution_change import mechanism_change_test
from dowhy.gcm.independence_test import kernel_based
from dowhy.gcm.shapley import ShapleyConfig
from dowhy.gcm.util.general import set_random_seed
from dowhy.graph import get_ordered_predecessors, is_root_node

from scmfit.server.domain.distribution_change import ChangeOutcome, ChangeTask, NodeChange
from scmfit.server.fitting import cache
from scmfit.server.fitting.summary import describe_mechanism

_TEST = functools.partial(kernel_based, bootstrap_n_jobs=1)


def attribute(task: ChangeTask) -> ChangeOutcome:
    """DoWhy's procedure, seeded, on one process: each mechanism tested for a change (kernel test, then
    Benjamini-Hochberg), changed ones fitted per version and unchanged ones on both versions' rows, then
    the KL divergence of the target split by Shapley values. DoWhy returns only the decisions; the
    p-values are recomputed with its own test, which is deterministic below 2000 rows."""
    model = cache.build(cache.bundle_of(task.old_model))
    old = pd.DataFrame(dict(task.old_columns))
    new = pd.DataFrame(dict(task.new_columns))
    set_random_seed(task.seed)
    contributions, changed, old_scm, new_scm = gcm.distribution_change(
        model.scm,
        old,
        new,
        task.target,
        num_samples=task.num_samples,
        independence_test=_TEST,
        conditional_independence_test=_TEST,
        mechanism_change_test_significance_level=task.significance_level,
        return_additional_info=True,
        shapley_config=ShapleyConfig(n_jobs=1),
    )
    graph = old_scm.graph
    nodes = []
    for node in nx.topological_sort(graph):
        parents = get_ordered_predecessors(graph, node)
        root = is_root_node(graph, node)
        p_value = mechanism_change_test(
            old[node].to_numpy(),
            new[node].to_numpy(),
            None if root else old[parents].to_numpy(),
            None if root else new[parents].to_numpy(),
            independence_test=_TEST,
            conditional_independence_test=_TEST,
        )
        nodes.append(
            NodeChange(
                node=node,
                contribution=float(contributions[node]),
                p_value=float(p_value),
                changed=bool(changed[node]),
                old_mechanism=describe_mechanism(old_scm.causal_mechanism(node), parents),
                new_mechanism=describe_mechanism(new_scm.causal_mechanism(node), parents),
            )
        )
    nodes.sort(key=lambda change: (-change.contribution, change.node))
    return ChangeOutcome(nodes=tuple(nodes), total=float(np.sum([change.contribution for change in nodes])))
