"""Runs one fit inside a worker: split, then assign, fit and evaluate node by node, reporting each step."""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import metadata

import networkx as nx
import pandas as pd
from dowhy import gcm
from dowhy.gcm.util.general import set_random_seed
from sklearn.model_selection import train_test_split

from scmfit.server.assign import assign_mechanism
from scmfit.server.decode import classifier_target_violation
from scmfit.server.describe import describe_mechanism
from scmfit.server.errors import FitFailedError, InvalidRequestError
from scmfit.server.evaluate import judge, score_node
from scmfit.server.fitted import FittedModel, remember
from scmfit.server.fitting import fit_mechanism
from scmfit.server.job import FitJob, FitOutcome, NodeOutcome, Progress, Stage

Reporter = Callable[[Progress], None]


def split(job: FitJob) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split; rows keep their wire dtypes so DoWhy picks the same mechanism families."""
    frame = pd.DataFrame({name: job.columns[name] for name in job.nodes})
    train, test = train_test_split(frame, test_size=job.settings.test_fraction, random_state=job.settings.seed)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def build_model(job: FitJob) -> gcm.InvertibleStructuralCausalModel:
    """A fresh graph per request: DoWhy writes mechanisms into the graph object it is given.

    The invertible variant costs nothing extra and lets counterfactual queries use the model later.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(job.nodes)
    graph.add_edges_from(job.edges)
    return gcm.InvertibleStructuralCausalModel(graph)


def fit_order(job: FitJob, scm: gcm.StructuralCausalModel) -> list[str]:
    """Topological, with ties broken by request order, so that progress is deterministic."""
    position = {name: i for i, name in enumerate(job.nodes)}
    return list(nx.lexicographical_topological_sort(scm.graph, key=position.__getitem__))


def run_fit(job: FitJob, report: Reporter) -> FitOutcome:
    set_random_seed(job.settings.seed)
    train, test = split(job)
    _check_training_classes(job, train)
    scm = build_model(job)
    order = fit_order(job, scm)
    seconds = dict.fromkeys((Stage.ASSIGNING, Stage.FITTING, Stage.EVALUATING), 0.0)
    outcomes: dict[str, NodeOutcome] = {}
    total = len(order)
    for done, node in enumerate(order):
        parents = job.parents(node)
        try:
            started = _enter(report, seconds, Stage.ASSIGNING, node, done, total)
            assign_mechanism(scm, node, train, job.settings.quality)
            started = _enter(report, seconds, Stage.FITTING, node, done, total, started)
            fit_mechanism(scm, node, train)
            started = _enter(report, seconds, Stage.EVALUATING, node, done, total, started)
            score = score_node(scm, node, parents, test)
            seconds[Stage.EVALUATING] += time.perf_counter() - started
        except (ValueError, RuntimeError, ArithmeticError, TypeError) as error:
            raise FitFailedError(f"fitting node {node!r} failed: {type(error).__name__}: {error}"[:500]) from None
        outcomes[node] = NodeOutcome(
            name=node,
            parents=parents,
            mechanism=describe_mechanism(scm.causal_mechanism(node), parents),
            score=score,
        )
    nodes = tuple(outcomes[name] for name in job.nodes)
    verdict, message, validation = judge(nodes, job.settings, job.num_rows)
    fitted = FittedModel(scm=scm, kinds=dict(job.kinds))
    remember(job.model_id, fitted)
    return FitOutcome(
        verdict=verdict,
        message=message,
        nodes=nodes,
        validation=validation,
        num_train=len(train),
        num_test=len(test),
        stage_seconds=seconds,
        dowhy_version=metadata.version("dowhy"),
        sklearn_version=metadata.version("scikit-learn"),
        model_blob=fitted.dumps(),
    )


def _enter(
    report: Reporter,
    seconds: dict[Stage, float],
    stage: Stage,
    node: str,
    done: int,
    total: int,
    previous_started: float | None = None,
) -> float:
    """Closes the previous stage's clock, reports the new stage and starts its clock."""
    now = time.perf_counter()
    if previous_started is not None:
        previous = {Stage.FITTING: Stage.ASSIGNING, Stage.EVALUATING: Stage.FITTING}[stage]
        seconds[previous] += now - previous_started
    report(Progress(stage=stage, node=node, done=done, total=total))
    return time.perf_counter()


def _check_training_classes(job: FitJob, train: pd.DataFrame) -> None:
    """The request passed, but the split may leave a class too rare (or absent) in the training rows."""
    targets = {target for _, target in job.edges}
    violations = []
    for name in job.nodes:
        if name in targets and job.kinds[name].categorical:
            problem = classifier_target_violation(
                name, job.column_index[name], train[name].to_numpy(), "the training split"
            )
            if problem is not None:
                violations.append(problem)
    if violations:
        raise InvalidRequestError(violations)
