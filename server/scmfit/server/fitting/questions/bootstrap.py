"""Bootstrap replicas of a fitted model: its own mechanisms, refitted without reselection on rows drawn
with replacement, as DoWhy's `fit_and_compute` refits them (which draws 75% subsamples without
replacement instead: intervals from those are too narrow by about sqrt(1/0.75 - 1), see bench/effects.py)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd
from dowhy.gcm import fitting_sampling
from dowhy.gcm.causal_models import clone_causal_models
from dowhy.gcm.util.general import set_random_seed
from dowhy.graph import get_ordered_predecessors

from scmfit.server.domain.errors import FitFailedError, QueryNotSupportedError
from scmfit.server.domain.fit import TrainingRows
from scmfit.server.domain.query import RefitOutcome, RefitQuery
from scmfit.server.fitting.answers import answers
from scmfit.server.fitting.cache import FittedModel

ATTEMPTS = 3
"""Draws tried per replica: a resample can leave a classifier one category, which it cannot be fitted on."""


def replica_rng(model_id: str, index: int, attempt: int) -> np.random.Generator:
    """Replica `index` of a model draws the same rows on every server and for every query."""
    return np.random.default_rng([int(model_id[:16], 16), index, attempt])


REFIT_ERRORS = (ValueError, RuntimeError, ArithmeticError, TypeError, IndexError, KeyError)
"""What refitting a mechanism on drawn rows can raise; another draw may fit."""

Fitted = TypeVar("Fitted")


def first_draw_that_fits(what: str, attempt: Callable[[int], Fitted]) -> Fitted:
    """`attempt(0)`, then `attempt(1)`, ... until a draw fits; after ATTEMPTS failures, a FitFailedError
    naming `what` and the last failure."""
    problem = ""
    for number in range(ATTEMPTS):
        try:
            return attempt(number)
        except REFIT_ERRORS as error:
            problem = f"{type(error).__name__}: {error}"
    raise FitFailedError(f"{what} could not be refitted in {ATTEMPTS} draws ({problem})"[:500])


def refit(model: FittedModel, training: TrainingRows, model_id: str, index: int) -> dict[str, object]:
    """One replica: n row draws with replacement, shared by every node (so that estimation errors keep
    their dependence), each node refitted on the draws that land on its own fitted rows."""
    graph = model.scm.graph

    def attempt(number: int) -> dict[str, object]:
        rng = replica_rng(model_id, index, number)
        counts = np.bincount(rng.integers(0, training.num_rows, training.num_rows), minlength=training.num_rows)
        set_random_seed(int(rng.integers(0, 2**31)))
        replica = model.scm.__class__(graph.copy())
        clone_causal_models(graph, replica.graph)
        for node in graph.nodes:
            parents = get_ordered_predecessors(graph, node)
            fitted = training.fitted_on(node, parents)
            drawn = np.repeat(fitted, counts[fitted])
            frame = pd.DataFrame({name: training.columns[name][drawn] for name in (*parents, node)})
            fitting_sampling.fit_causal_model_of_target(replica, node, frame)
        return {node: replica.causal_mechanism(node) for node in graph.nodes}

    return first_draw_that_fits(f"bootstrap replica {index}", attempt)


@answers(RefitQuery)
def replicas(model: FittedModel, query: RefitQuery) -> RefitOutcome:
    if model.training is None:
        raise QueryNotSupportedError(
            "confidence_level",
            "this model was stored before scmfit kept its training rows, so it cannot be refitted for an "
            "interval; fit it again to ask for intervals",
            "NO_TRAINING_ROWS",
        )
    return RefitOutcome(
        replicas=tuple(
            pickle.dumps(refit(model, model.training, query.model_id, index), protocol=pickle.HIGHEST_PROTOCOL)
            for index in range(query.start, query.stop)
        )
    )
