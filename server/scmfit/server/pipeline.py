"""Runs a whole fit in one process, node after node: the worker's warm-up and the in-process tests.

The server runs the same node tasks spread over its workers (`executor.py`); both paths share
`plan.py` for the split, the seeds and the verdict, so they give the same result.
"""

from __future__ import annotations

from collections.abc import Callable

from scmfit.server.job import FitJob, FitOutcome, NodeFit, Progress
from scmfit.server.nodefit import fit_node
from scmfit.server.plan import ProgressTracker, assemble, plan_fit

Reporter = Callable[[Progress], None]


def run_fit(job: FitJob, report: Reporter) -> FitOutcome:
    tasks = plan_fit(job)
    tracker = ProgressTracker(len(tasks))
    fits: dict[str, NodeFit] = {}
    for task in tasks:
        fits[task.node] = fit_node(task, lambda stage, node: report(tracker.enter(stage, node)))
        tracker.finish(task.node)
    return assemble(job, fits)
