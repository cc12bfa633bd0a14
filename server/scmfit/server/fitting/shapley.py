"""Shapley estimates spread over processes, for one query on every core.

DoWhy evaluates a Shapley set function on subsets of players, and seeds every evaluation from its
caller's random state before it hands them to joblib (`shapley._evaluate_set_function`), so an answer
for a seed is the same for any number of jobs: the jobs only change how fast it comes. The jobs are
loky processes under the worker. When a cancelled or expired call stops the worker, they finish the
subset in hand and exit as their task pipe closes (tests/integration/test_shapley_jobs.py checks it);
idle ones exit after `IDLE_SECONDS`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import joblib
from dowhy.gcm.shapley import ShapleyConfig

IDLE_SECONDS = 60
"""How long loky's processes wait for the next Shapley estimate before exiting (loky's default is 300)."""

_jobs = 1


def configure(jobs: int) -> None:
    """Called once per worker: how many processes each Shapley estimate uses."""
    global _jobs  # noqa: PLW0603 - one setting per worker process, set before any task runs
    _jobs = max(1, jobs)


def jobs() -> int:
    return _jobs


def config() -> ShapleyConfig:
    return ShapleyConfig(n_jobs=_jobs)


@contextlib.contextmanager
def processes() -> Iterator[None]:
    """DoWhy's joblib calls inside this block run on loky processes pinned to one thread each (the
    worker's own BLAS pin does not reach them), which exit when idle for IDLE_SECONDS."""
    options: dict[str, Any] = {"inner_max_num_threads": 1, "idle_worker_timeout": IDLE_SECONDS}
    with joblib.parallel_config(backend="loky", **options):
        yield
