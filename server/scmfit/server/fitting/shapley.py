"""Shapley estimates spread over processes, for one query on every core.

DoWhy evaluates a Shapley set function on subsets of players, and seeds every evaluation from its
caller's random state before it hands them to joblib (`shapley._evaluate_set_function`), so an answer
for a seed is the same for any number of jobs: the jobs only change how fast it comes. The jobs are
loky processes under the worker, killed with it (`configure`), and by the server's shutdown if the
worker itself was killed (`engine/executor.py`); idle ones exit after `IDLE_SECONDS`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

import joblib
import psutil
from dowhy.gcm.shapley import ShapleyConfig

IDLE_SECONDS = 1800
"""How long loky's processes wait for the next Shapley estimate before exiting (loky's default is 300).
Starting them takes about 1.7 s (each imports DoWhy), and each holds about 270 MiB (measured)."""

_jobs = 1


def configure(jobs: int) -> None:
    """Called once per worker: how many processes each Shapley estimate uses. With more than one, the
    worker's SIGTERM (pebble's stop: a cancelled call, an expired one, shutdown) first kills them: idle
    loky processes do not notice that their parent died, and would outlive the server."""
    global _jobs  # noqa: PLW0603 - one setting per worker process, set before any task runs
    _jobs = max(1, jobs)
    if _jobs == 1:
        return
    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum: int, frame: FrameType | None) -> None:
        kill_descendants()
        if callable(previous):
            previous(signum, frame)
        else:
            os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    atexit.register(kill_descendants)


def kill_descendants() -> None:
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.kill()


def config() -> ShapleyConfig:
    return ShapleyConfig(n_jobs=_jobs)


def _ready() -> int:
    import dowhy.gcm  # noqa: F401 - the import is the warm-up

    return os.getpid()


def start() -> None:
    """Starts the Shapley jobs now, each with DoWhy imported, instead of on the first attribution."""
    if _jobs > 1:
        with processes():
            joblib.Parallel(n_jobs=_jobs)(joblib.delayed(_ready)() for _ in range(_jobs))


@contextlib.contextmanager
def processes() -> Iterator[None]:
    """DoWhy's joblib calls inside this block run on loky processes pinned to one thread each (the
    worker's own BLAS pin does not reach them), which exit when idle for IDLE_SECONDS."""
    options: dict[str, Any] = {"inner_max_num_threads": 1, "idle_worker_timeout": IDLE_SECONDS}
    with joblib.parallel_config(backend="loky", **options):
        yield
