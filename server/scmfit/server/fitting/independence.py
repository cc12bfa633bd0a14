"""(Conditional) independence tests for graph checks: DoWhy's kernel-based test, each test seeded by
its own seed (see domain/graph_check.py), on one process."""

from __future__ import annotations

import functools

import pandas as pd
from dowhy.gcm.falsify import _compute_p_value
from dowhy.gcm.independence_test import kernel_based

from scmfit.server.domain.graph_check import IndependenceBatch

_TEST = functools.partial(kernel_based, bootstrap_n_jobs=1)


def p_values(batch: IndependenceBatch) -> list[float]:
    """Each test's p-value, in the batch's order; DoWhy's own per-test function, so a test gives
    DoWhy's p-value for its seed."""
    frame = pd.DataFrame(dict(batch.columns))
    found = []
    for test in batch.tests:
        value = _compute_p_value(frame, test.x, test.y, list(test.given), _TEST, _TEST, test.seed)
        found.append(float(value))
    return found
