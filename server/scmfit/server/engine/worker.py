"""Entry points that run inside worker processes (spawned, never forked).

A worker imports DoWhy once, pins it to one thread and one process (our pool is the parallelism),
and runs a tiny fit so that the first real request pays no warm-up.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from scmfit.server.domain.distribution_change import ChangeOutcome, ChangeReplicas, ChangeTask
from scmfit.server.domain.fit import ColumnType, FitJob, FitOutcome, NodeFit, NodeTask, Progress
from scmfit.server.domain.graph_check import IndependenceBatch
from scmfit.server.domain.query import Query, QueryOutcome
from scmfit.server.domain.settings import FitSettings
from scmfit.server.engine.plan import ProgressTracker, assemble, plan_fit
from scmfit.server.engine.workerlink import WorkerSide

_log = logging.getLogger(__name__)
_link: WorkerSide | None = None


def initialize(
    warm_up: bool, link_address: str | None = None, shapley_jobs: int = 1, answers_queries: bool = False
) -> None:
    """Runs once per worker process, including the replacements the pool starts after a kill. A worker
    that `answers_queries` also starts its Shapley jobs, so that the first attribution pays no start-up."""
    global _link  # noqa: PLW0603 - one link per worker process, set before any task runs
    if link_address is not None:
        _link = WorkerSide(link_address)  # counted as a spawn, then beats while DoWhy imports
    from scmfit.server.fitting import shapley
    from scmfit.server.fitting.nodefit import pin_to_one_thread

    pin_to_one_thread()
    shapley.configure(shapley_jobs)
    warnings.filterwarnings("ignore")
    if warm_up:
        run_fit(_warm_up_job(), lambda _: None)
        if answers_queries:
            shapley.start()
    if _link is not None:
        _link.send("warm")
    _log.debug("worker %d ready", os.getpid())


def ping() -> int:
    """Completes only once a worker has finished `initialize`, so the pool knows it is warm."""
    return os.getpid()


def run_fit(job: FitJob, report: Callable[[Progress], None]) -> FitOutcome:
    """A whole fit in this process, node after node: the warm-up, and the tests that compare it with
    the server's fit spread over its workers (both share `plan.py`, so they give the same result)."""
    from scmfit.server.fitting.nodefit import fit_node

    tasks = plan_fit(job)
    tracker = ProgressTracker(len(tasks))
    fits: dict[str, NodeFit] = {}
    for task in tasks:
        fits[task.node] = fit_node(task, lambda stage, node: report(tracker.enter(stage, node)))
        tracker.finish(task.node)
    return assemble(job, fits)


def run_node(task: NodeTask, run: str) -> NodeFit:
    """One node of a fit; progress goes over the worker link, tagged with the fit's `run` token."""
    from scmfit.server.fitting.nodefit import fit_node

    def report(stage: Any, node: str) -> None:
        if _link is not None:
            _link.send("progress", run=run, stage=stage.value, node=node)

    return fit_node(task, report)


def _warm_up_job() -> FitJob:
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = 2 * x + rng.normal(scale=0.1, size=200)
    return FitJob(
        nodes=("x", "y"),
        edges=(("x", "y"),),
        columns={"x": x, "y": y},
        kinds={"x": ColumnType.DOUBLE, "y": ColumnType.DOUBLE},
        column_index={"x": 0, "y": 1},
        settings=FitSettings(),
        model_id="0" * 64,
    )


def run_query(query: Query, blob: bytes | None, replicas: tuple[bytes, ...] = ()) -> QueryOutcome:
    """Raises ModelNotLoadedError when this worker lacks the model and no blob was sent."""
    from scmfit.server.fitting import answers
    from scmfit.server.fitting import cache as fitted

    model = fitted.load(query.model_id, blob)
    if replicas:
        model = fitted.with_replicas(query.model_id, model, replicas)
    return answers.answer(model, query)


def run_independence_tests(batch: IndependenceBatch) -> list[float]:
    """One batch of a graph check's tests."""
    from scmfit.server.fitting.independence import p_values

    return p_values(batch)


def run_distribution_change(task: ChangeTask) -> ChangeOutcome:
    """The attribution step of AttributeDistributionChange, once both versions are fitted."""
    from scmfit.server.fitting.distribution_change import attribute

    return attribute(task)


def run_change_replicas(replicas: ChangeReplicas) -> tuple[dict[str, float], ...]:
    """Some of AttributeDistributionChange's bootstrap resamples, for its intervals."""
    from scmfit.server.fitting.distribution_change import attribute_resamples

    return attribute_resamples(replicas)
