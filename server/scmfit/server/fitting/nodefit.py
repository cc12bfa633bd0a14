"""One node's whole fit, run in a worker: choose the mechanism (linear screen, else DoWhy's zoo on a
seeded subsample), fit it on every training row, score it on the held-out rows, refit it on all rows
(unless turned off), and describe it."""

from __future__ import annotations

import dataclasses
import importlib.util
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from dowhy import gcm
from dowhy.gcm import auto, fitting_sampling
from dowhy.gcm.causal_mechanisms import AdditiveNoiseModel, ClassifierFCM, DiscreteAdditiveNoiseModel
from dowhy.gcm.ml.classification import ClassificationModel
from dowhy.gcm.util.general import is_discrete, set_random_seed
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from scmfit.server.domain.errors import FitFailedError
from scmfit.server.domain.fit import (
    Candidate,
    ColumnType,
    NodeFit,
    NodeResult,
    NodeScore,
    NodeTask,
    QualityStep,
    SelectionPath,
    Stage,
)
from scmfit.server.domain.settings import Quality
from scmfit.server.fitting.evaluate import score_node
from scmfit.server.fitting.models import AnchoredLinearRegressor, Int64DiscreteAdditiveNoiseModel, int64_safe
from scmfit.server.fitting.selection import choose_model
from scmfit.server.fitting.summary import describe_mechanism

Report = Callable[[Stage, str], None]
SCREEN_FOLDS = 5


def pin_to_one_thread() -> None:
    """Each worker fits one node at a time on one core; the pool of workers is the parallelism.

    n_jobs=-1 (DoWhy's default) starts loky pools inside the worker that outlive it by minutes and
    are orphaned when the worker is killed; BLAS threads would oversubscribe the cores.
    """
    gcm.config.set_default_n_jobs(1)
    gcm.config.disable_progress_bars()
    threadpool_limits(1)


def linear_screen(features: np.ndarray, target: np.ndarray, seed: int) -> float | None:
    """The cross-validated R² of DoWhy's own linear regressor, or None where R² is undefined."""
    if len(target) < SCREEN_FOLDS or np.ptp(target.astype(float)) == 0:
        return None
    scores = []
    for train, test in KFold(SCREEN_FOLDS, shuffle=True, random_state=seed).split(features):
        held_out = target[test].astype(float)
        if np.ptp(held_out) == 0:
            continue
        model = AnchoredLinearRegressor()
        model.fit(features[train], target[train].astype(float))
        scores.append(r2_score(held_out, model.predict(features[test]).reshape(-1)))
    return float(np.mean(scores)) if scores else None


@dataclass(frozen=True)
class Chosen:
    """How a node's mechanism was chosen: the path, the screen's R² when it ran, the rows selection
    used, and the candidates it weighed."""

    path: SelectionPath
    screening_r2: float | None = None
    rows: int = 0
    candidates: tuple[Candidate, ...] = ()
    metric: str = ""
    note: str = ""


def choose_mechanism(scm: gcm.InvertibleStructuralCausalModel, task: NodeTask, train: pd.DataFrame) -> Chosen:
    node = task.node
    settings = task.settings
    if not task.parents:
        scm.set_causal_mechanism(node, gcm.EmpiricalDistribution())
        return Chosen(SelectionPath.ROOT)
    rows = len(train)
    selection = train
    if settings.selection_rows and rows > settings.selection_rows:
        picked = np.random.default_rng(task.seed).choice(rows, size=settings.selection_rows, replace=False)
        selection = train.iloc[np.sort(picked)]
    screen_r2 = None
    numeric_parents = not any(task.kinds[parent].categorical for parent in task.parents)
    if settings.linear_screening and not task.kinds[node].categorical and numeric_parents:
        features = selection[list(task.parents)].to_numpy()
        target = selection[node].to_numpy()
        screen_r2 = linear_screen(features, target, task.seed)
        if screen_r2 is not None and screen_r2 >= settings.screening_r2:
            regressor = AnchoredLinearRegressor()
            mechanism = (
                Int64DiscreteAdditiveNoiseModel(regressor) if is_discrete(target) else AdditiveNoiseModel(regressor)
            )
            scm.set_causal_mechanism(node, mechanism)
            return Chosen(SelectionPath.LINEAR_SCREEN, screen_r2, len(selection))
    # Selection sees training rows only, so the held-out R² is not inflated by selection on test data.
    if settings.quality is Quality.BEST:  # AutoGluon: DoWhy's own assignment, no candidates to show
        auto.assign_causal_mechanism_node(scm, node, selection, auto.AssignmentQuality.BEST)
        scm.set_causal_mechanism(node, int64_safe(scm.causal_mechanism(node)))
        return Chosen(SelectionPath.MODEL_ZOO, screen_r2, len(selection))
    target = selection[node].to_numpy()
    choice = choose_model(
        selection[list(task.parents)].to_numpy(),
        target,
        settings.quality,
        settings.selection,
        settings.selection_confidence,
    )
    if isinstance(choice.model, ClassificationModel):  # as DoWhy's assign_causal_mechanism_node
        chosen: Any = ClassifierFCM(choice.model)
    elif is_discrete(target):
        chosen = DiscreteAdditiveNoiseModel(choice.model)
    else:
        chosen = AdditiveNoiseModel(choice.model)
    scm.set_causal_mechanism(node, int64_safe(chosen))
    return Chosen(SelectionPath.MODEL_ZOO, screen_r2, len(selection), choice.candidates, choice.metric, choice.note)


def _refittable(mechanism: object, every_row: pd.DataFrame, task: NodeTask) -> bool:
    """A discrete mechanism, chosen because the training targets were whole numbers, cannot take a
    held-out fraction: such a node (rare: a double column whole on its training rows only) keeps
    the model it was scored with, rather than failing the fit."""
    return not isinstance(mechanism, DiscreteAdditiveNoiseModel) or is_discrete(every_row[task.node].to_numpy())


ESCALATION = (Quality.GOOD, Quality.BETTER, Quality.BEST)


def _escalations(task: NodeTask, score: NodeScore) -> list[Quality]:
    """The qualities above the fit's to try for a node whose held-out R² is below the threshold: BETTER,
    then BEST where AutoGluon is installed; none for nodes that pass, or that have no R²."""
    settings = task.settings
    if not settings.escalate_quality or score.r2 is None or score.r2 >= settings.r2_threshold:
        return []
    higher = list(ESCALATION[ESCALATION.index(settings.quality) + 1 :])
    if Quality.BEST in higher and importlib.util.find_spec("autogluon") is None:
        higher.remove(Quality.BEST)
    return higher


def fit_node(task: NodeTask, report: Report) -> NodeFit:
    set_random_seed(task.seed)
    names = [*task.parents, task.node]
    train = pd.DataFrame({name: task.train[name] for name in names})
    test = pd.DataFrame({name: task.test[name] for name in names})
    graph = nx.DiGraph([(parent, task.node) for parent in task.parents])
    graph.add_node(task.node)
    scm = gcm.InvertibleStructuralCausalModel(graph)
    seconds: dict[Stage, float] = {}
    refitted = False
    try:
        report(Stage.ASSIGNING, task.node)
        started = time.perf_counter()
        chosen = choose_mechanism(scm, task, train)
        seconds[Stage.ASSIGNING] = time.perf_counter() - started
        report(Stage.FITTING, task.node)
        started = time.perf_counter()
        fitting_sampling.fit_causal_model_of_target(scm, task.node, train)
        seconds[Stage.FITTING] = time.perf_counter() - started
        report(Stage.EVALUATING, task.node)
        started = time.perf_counter()
        score = score_node(scm, task.node, task.parents, test)
        seconds[Stage.EVALUATING] = time.perf_counter() - started
        quality = task.settings.quality
        steps = [QualityStep(quality, score.r2)]
        for higher in _escalations(task, score):
            # Reselected from scratch at the higher quality, alone: other nodes are never refitted.
            candidate_scm = gcm.InvertibleStructuralCausalModel(graph)
            step_task = dataclasses.replace(task, settings=dataclasses.replace(task.settings, quality=higher))
            set_random_seed(task.seed)
            started = time.perf_counter()
            step_chosen = choose_mechanism(candidate_scm, step_task, train)
            fitting_sampling.fit_causal_model_of_target(candidate_scm, task.node, train)
            step_score = score_node(candidate_scm, task.node, task.parents, test)
            seconds[Stage.ASSIGNING] += time.perf_counter() - started
            steps.append(QualityStep(higher, step_score.r2))
            if step_score.r2 is not None and (score.r2 is None or step_score.r2 > score.r2):
                scm, chosen, score, quality = candidate_scm, step_chosen, step_score, higher
            if score.r2 is not None and score.r2 >= task.settings.r2_threshold:
                break
        if task.settings.refit_on_all_rows and len(test):
            # Scored on the split, stored fitted on everything: queries then use all the data, as
            # scikit-learn's search refits its best model. The model type chosen above is kept.
            started = time.perf_counter()
            every_row = pd.concat([train, test], ignore_index=True)
            if _refittable(scm.causal_mechanism(task.node), every_row, task):
                fitting_sampling.fit_causal_model_of_target(scm, task.node, every_row)
                refitted = True
            seconds[Stage.FITTING] += time.perf_counter() - started
    except (ValueError, RuntimeError, ArithmeticError, TypeError, IndexError, KeyError) as error:
        raise FitFailedError(f"fitting node {task.node!r} failed: {type(error).__name__}: {error}"[:500]) from None
    mechanism = scm.causal_mechanism(task.node)
    outcome = NodeResult(
        name=task.node,
        parents=task.parents,
        mechanism=describe_mechanism(mechanism, task.parents),
        score=score,
        selection=chosen.path,
        screening_r2=chosen.screening_r2,
        candidates=chosen.candidates,
        selection_metric=chosen.metric,
        selection_note=chosen.note,
        num_train_rows=len(train),
        num_test_rows=len(test),
        quality=quality,
        quality_steps=tuple(steps),
        categories=categories_of(task),
        column_type=task.kinds[task.node],
    )
    return NodeFit(
        outcome=outcome,
        mechanism=pickle.dumps(mechanism, protocol=pickle.HIGHEST_PROTOCOL),
        seconds=seconds,
        selection_rows=chosen.rows,
        refitted=refitted,
    )


def categories_of(task: NodeTask) -> tuple[str, ...]:
    """The categories a bool or string node showed in its rows: what a hard intervention may set it to."""
    if not task.kinds[task.node].categorical:
        return ()
    values = np.concatenate([np.asarray(task.train[task.node]), np.asarray(task.test[task.node])])
    if task.kinds[task.node] is ColumnType.BOOL:
        return tuple(sorted({"true" if value else "false" for value in values.tolist()}))
    return tuple(sorted(set(values.astype(str).tolist())))
