"""Shapley estimates spread over processes, for one query on every core.

DoWhy evaluates a Shapley set function on subsets of players, and seeds every evaluation from its
caller's random state before it hands them to joblib (`shapley._evaluate_set_function`), so an answer
for a seed is the same for any number of jobs: the jobs only change how fast it comes. The jobs are
loky processes under the worker, killed whenever it exits (`configure`), and by the kernel if it is
killed outright (`_die_with`); idle ones exit after `IDLE_SECONDS`.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing.util
import os
import signal
import sys
from collections.abc import Iterator
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
    worker takes them down whenever it exits: on pebble's SIGTERM (a cancelled or expired call, shutdown)
    and when its server dies. Idle loky processes never notice that their parent died, and the worker's
    own exit would wait for them: multiprocessing joins its children before the interpreter's atexit
    handlers run, so the kill is a multiprocessing finalizer, which runs first."""
    global _jobs  # noqa: PLW0603 - one setting per worker process, set before any task runs
    _jobs = max(1, jobs)
    if _jobs > 1:
        multiprocessing.util.Finalize(None, kill_descendants, exitpriority=100)


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


PR_SET_PDEATHSIG = 1
"""prctl(2): the signal a process receives when the thread that started it exits."""


def _die_with(parent: int) -> None:
    """Runs first in each Shapley job: on Linux, the kernel kills it when its worker dies, even by SIGKILL
    (which no finalizer sees). loky starts its processes from the worker's main thread, which lives as
    long as the worker."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the worker died before the line above
            os._exit(0)


@contextlib.contextmanager
def processes() -> Iterator[None]:
    """DoWhy's joblib calls inside this block run on loky processes pinned to one thread each (the
    worker's own BLAS pin does not reach them), which exit when idle for IDLE_SECONDS and die with the
    worker."""
    options: dict[str, Any] = {
        "inner_max_num_threads": 1,
        "idle_worker_timeout": IDLE_SECONDS,
        "initializer": _die_with,
        "initargs": (os.getpid(),),
    }
    with joblib.parallel_config(backend="loky", **options):
        yield
