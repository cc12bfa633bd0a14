"""Runs fits off the RPC threads, in a pool of spawned worker processes that can be killed.

`FitExecutor` is the small interface the servicer depends on. A fit runs as one task per node
(`plan.py`), spread over whatever `TaskPool` runs tasks: here a pebble pool of spawned processes;
a Ray or Dask engine would implement `schedule` and `channel` without touching the fitting code.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pebble

from scmfit.server import worker
from scmfit.server.errors import FitCancelledError, ModelNotLoadedError, ShuttingDownError, WorkerLostError
from scmfit.server.job import FitJob, FitOutcome, NodeFit, Progress, Query, QueryOutcome
from scmfit.server.plan import ProgressTracker, assemble, plan_fit

_log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
"""How often a waiting RPC thread looks for progress or completion; bounds cancel latency too."""


class FitRun(Protocol):
    """A fit in flight."""

    def events(self) -> Iterator[Progress]:
        """Progress events as they arrive; ends when the fit has finished, failed or been cancelled."""
        ...

    def outcome(self) -> FitOutcome:
        """The result, or the domain error the fit raised."""
        ...

    def cancel(self) -> bool:
        """Stops the work; True when that killed a running worker (which the pool then replaces)."""
        ...


class TaskPool(Protocol):
    """The seam for other engines (Ray, Dask): run a function on a worker, and carry progress back."""

    def schedule(self, function: Callable[..., Any], args: tuple[Any, ...]) -> concurrent.futures.Future[Any]: ...

    def channel(self) -> Any:
        """A queue-like object (put, get_nowait) that tasks can be given and write to."""
        ...


class QueryRun(Protocol):
    """A query in flight."""

    def outcome(self) -> QueryOutcome:
        """The answer, or the domain error the query raised."""
        ...

    def cancel(self) -> None: ...


class FitExecutor(Protocol):
    """Where fits and queries run."""

    def submit(self, job: FitJob) -> FitRun: ...

    def submit_query(self, query: Query, model_bytes: Callable[[], bytes]) -> QueryRun:
        """`model_bytes` is called only when the worker that takes the query does not hold the model."""
        ...

    def close(self) -> None: ...


class _NodeParallelFitRun:
    """A fit spread over the pool node by node; progress from every worker arrives on one queue."""

    def __init__(self, pool: TaskPool, job: FitJob) -> None:
        self._job = job
        tasks = plan_fit(job)
        self._tracker = ProgressTracker(len(tasks))
        self._events = pool.channel()
        # Submitted in fit order, so with fewer workers than nodes the parents start first.
        self._futures = {task.node: pool.schedule(worker.run_node, (task, self._events)) for task in tasks}
        self._finished: set[str] = set()

    def events(self) -> Iterator[Progress]:
        while True:
            pending = [future for future in self._futures.values() if not future.done()]
            failed = any(f.done() and not f.cancelled() and f.exception() is not None for f in self._futures.values())
            try:
                while True:
                    stage, node = self._events.get_nowait()
                    yield self._tracker.enter(stage, node)
            except queue.Empty:
                pass
            except (EOFError, OSError):
                return
            for node, future in self._futures.items():
                if future.done() and node not in self._finished:
                    self._finished.add(node)
                    self._tracker.finish(node)
            if not pending or failed:
                return
            concurrent.futures.wait(pending, timeout=POLL_SECONDS, return_when=concurrent.futures.FIRST_COMPLETED)

    def outcome(self) -> FitOutcome:
        fits: dict[str, NodeFit] = {}
        try:
            for node, future in self._futures.items():
                fits[node] = _result_of(future)
        except BaseException:
            self.cancel()
            raise
        return assemble(self._job, fits)

    def cancel(self) -> bool:
        stopped = False
        for future in self._futures.values():
            was_running = future.running()
            if future.cancel() and was_running:
                stopped = True
        if stopped:
            _log.info("fit cancelled; its busy workers are being replaced")
        return stopped


def _result_of(future: concurrent.futures.Future[Any]) -> Any:
    try:
        return future.result()
    except pebble.ProcessExpired as error:
        raise WorkerLostError(f"the worker process running this call died (exit code {error.exitcode})") from None
    except concurrent.futures.CancelledError:
        raise FitCancelledError("the call was cancelled") from None


class _QueryRun:
    """Asks first without the model's bytes; resends them only to a worker that lacks the model."""

    def __init__(self, pool: TaskPool, query: Query, model_bytes: Callable[[], bytes]) -> None:
        self._pool = pool
        self._query = query
        self._model_bytes = model_bytes
        self._lock = threading.Lock()
        self._cancelled = False
        self._future: concurrent.futures.Future[QueryOutcome] = pool.schedule(worker.run_query, (query, None))

    def outcome(self) -> QueryOutcome:
        try:
            result: QueryOutcome = _result_of(self._future)
            return result
        except ModelNotLoadedError:
            pass
        with self._lock:
            if self._cancelled:
                raise FitCancelledError("the call was cancelled")
            self._future = self._pool.schedule(worker.run_query, (self._query, self._model_bytes()))
        resent: QueryOutcome = _result_of(self._future)
        return resent

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            self._future.cancel()


class ProcessFitExecutor:
    """A pebble ProcessPool of spawned workers plus a manager that carries progress events.

    Both are created before the gRPC server, so no worker ever inherits gRPC's threads.
    """

    def __init__(self, workers: int, *, warm_up: bool = True) -> None:
        context = multiprocessing.get_context("spawn")
        self.workers = workers
        self._manager = context.Manager()
        self._pool = pebble.ProcessPool(
            max_workers=workers, initializer=worker.initialize, initargs=(warm_up,), context=context
        )
        self._closed = False

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Blocks until the workers have imported DoWhy and run their warm-up fit."""
        pings = [self._pool.schedule(worker.ping) for _ in range(self.workers)]
        done, _ = concurrent.futures.wait(pings, timeout=timeout)
        return len(done) == len(pings) and all(future.exception() is None for future in done)

    def schedule(self, function: Callable[..., Any], args: tuple[Any, ...]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = self._pool.schedule(function, args=args)
        return future

    def channel(self) -> Any:
        return self._manager.Queue()

    def submit(self, job: FitJob) -> FitRun:
        if self._closed:
            raise ShuttingDownError("the server is shutting down")
        return _NodeParallelFitRun(self, job)

    def submit_query(self, query: Query, model_bytes: Callable[[], bytes]) -> QueryRun:
        if self._closed:
            raise ShuttingDownError("the server is shutting down")
        return _QueryRun(self, query, model_bytes)

    def close(self) -> None:
        """Stops the workers (killing any still running) and the manager; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._pool.stop()
        self._pool.join(timeout=10)
        self._manager.shutdown()
