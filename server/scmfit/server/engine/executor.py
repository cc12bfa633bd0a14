"""Runs fits off the RPC threads, in a pool of spawned worker processes that can be killed.

`FitExecutor` is the small interface the servicer depends on. A fit runs as one task per node
(`plan.py`), spread over whatever `TaskPool` runs them: here a pebble pool of spawned processes, in
`ray_executor.py` a Ray cluster. Both share `NodeParallelFitRun`, so progress, cancellation and the
assembled outcome are the same on either.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import logging
import math
import multiprocessing
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pebble

from scmfit.server.domain.errors import FitCancelledError, ModelNotLoadedError, ShuttingDownError, WorkerLostError
from scmfit.server.domain.fit import FitJob, FitOutcome, NodeFit, Progress, Stage
from scmfit.server.domain.query import Query, QueryOutcome
from scmfit.server.engine import worker
from scmfit.server.engine.plan import ProgressTracker, assemble, lazy_plan
from scmfit.server.engine.workerlink import DEFAULT_STALL_SECONDS, WorkerLink

_log = logging.getLogger(__name__)

SUPERVISE_SECONDS = 0.5
STOP_SECONDS = 10.0
"""How long close() waits for pebble to stop its pools before it kills the workers itself."""
POLL_SECONDS = 0.05
"""How often a waiting RPC thread looks for progress or completion; bounds cancel latency too."""


class FitRun(Protocol):
    """A fit in flight.

    The cancellation contract, which every executor keeps (the servicer relies on it for cancelled and
    expired calls, and tests/integration checks it through the real server on each executor):
    - `cancel()` may be called from any thread, any number of times, before or after the fit ends.
    - After it returns, no node task of this fit starts, and running ones are stopped: a local worker
      is killed and replaced, a Ray task is cancelled with force.
    - `events()` then ends, and `outcome()` raises FitCancelledError instead of waiting for work.
    """

    def events(self) -> Iterator[Progress]:
        """Progress events as they arrive; ends when the fit has finished, failed or been cancelled."""
        ...

    def outcome(self) -> FitOutcome:
        """The result, or the domain error the fit raised."""
        ...

    def cancel(self) -> bool:
        """Stops the work as the contract above says; True when that killed a running worker."""
        ...


class TaskPool(Protocol):
    """The seam between a fit and an engine: run each node's task somewhere, and carry progress back."""

    def node_tasks(self, job: FitJob, run: str) -> dict[str, concurrent.futures.Future[NodeFit]]:
        """One future per node, queued in fit order; their progress arrives on `channel(run)`.
        Cancelling a future must stop its task whatever its state: a queued one never starts, and a
        running one is stopped, killing the worker that runs it if need be."""
        ...

    def channel(self, run: str) -> queue.Queue[tuple[str, str]]:
        """Where the (stage, node) progress of tasks given the `run` token arrives."""
        ...

    def close_channel(self, run: str) -> None: ...


class QueryRun(Protocol):
    """A query in flight."""

    def outcome(self) -> QueryOutcome:
        """The answer, or the domain error the query raised."""
        ...

    def cancel(self) -> None:
        """Stops the query, from any thread, any number of times: a queued query never starts, and a
        running one's worker is killed and replaced; `outcome()` then raises FitCancelledError."""
        ...


class CallRun(Protocol):
    """One function call on a worker, with the cancellation contract of QueryRun."""

    def outcome(self) -> Any:
        """The function's return value, or the domain error it raised."""
        ...

    def cancel(self) -> None: ...


class FitExecutor(Protocol):
    """Where fits and queries run; `executors.py` registers each by name."""

    def submit(self, job: FitJob) -> FitRun: ...

    def submit_call(self, function: Callable[[Any], Any], payload: Any) -> CallRun:
        """`function(payload)` on a fit worker: one independent piece of a larger job (a graph check's
        tests), so that the job's pieces spread over every worker."""
        ...

    def submit_query(
        self, query: Query, model_bytes: Callable[[], bytes], urgent: bool = True, replicas: tuple[bytes, ...] = ()
    ) -> QueryRun:
        """`model_bytes` is called only when the worker that takes the query does not hold the model;
        an urgent query goes to a reserved query worker first, then to a fit worker within the share
        that fits keep (see BoundedDispatch). `replicas` are the model's bootstrap refits an interval uses."""
        ...

    def close(self) -> None: ...


class ManagedExecutor(FitExecutor, Protocol):
    """What the server's start-up and readiness need besides running calls."""

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Blocks until the workers are warm; False when they failed to start."""
        ...

    def warm_workers(self) -> int:
        """Workers able to take a task now; 0 turns health to NOT_SERVING."""
        ...

    @property
    def capacity(self) -> int:
        """Tasks that can run at once; the default bound on concurrent calls."""
        ...


class NodeParallelFitRun:
    """A fit spread over the pool node by node; progress from every worker arrives on one queue."""

    def __init__(self, pool: TaskPool, job: FitJob) -> None:
        self._job = job
        self._tracker = ProgressTracker(len(job.nodes))
        self._run = secrets.token_hex(8)
        self._pool = pool
        self._events = pool.channel(self._run)
        # Queued in fit order, so with fewer workers than nodes the parents start first.
        self._futures = pool.node_tasks(job, self._run)
        self._finished: set[str] = set()

    def events(self) -> Iterator[Progress]:
        while True:
            pending = [future for future in self._futures.values() if not future.done()]
            failed = any(f.done() and not f.cancelled() and f.exception() is not None for f in self._futures.values())
            try:
                while True:
                    stage, node = self._events.get_nowait()
                    yield self._tracker.enter(Stage(stage), node)
            except queue.Empty:
                pass
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
        finally:
            self._pool.close_channel(self._run)
        return assemble(self._job, fits)

    def cancel(self) -> bool:
        stopped = False
        # Queued tasks first: cancelling a running one frees a worker, and the dispatch would hand it
        # the next queued task of this very fit, whose cancel would then kill a fresh worker too.
        for future in sorted(self._futures.values(), key=lambda future: future.running()):
            was_running = future.running()
            if future.cancel() and was_running:
                stopped = True
        self._pool.close_channel(self._run)
        if stopped:
            _log.info("fit cancelled; its queued tasks dropped, its busy workers being replaced")
        return stopped


class _Task(concurrent.futures.Future[Any]):
    """A task that waits in our queue until a worker is free; only then is it built and sent to pebble.

    Cancelling a waiting task just drops it. A task already handed to pebble is cancelled there,
    which kills the one worker that runs (or is about to run) it.
    """

    def __init__(self, function: Callable[..., Any], build: Callable[[], Any], extra: tuple[Any, ...]) -> None:
        super().__init__()
        self.function = function
        self.build = build
        self.extra = extra
        self.inner: concurrent.futures.Future[Any] | None = None
        self._attach_lock = threading.Lock()
        self._cancel_requested = False

    def cancel(self) -> bool:
        with self._attach_lock:
            self._cancel_requested = True
            inner = self.inner
        if inner is not None:
            return inner.cancel()
        if super().cancel():
            return True
        # Being sent right now (taken from the queue, not yet handed to pebble): `attach` cancels it.
        return self.running()

    def attach(self, inner: concurrent.futures.Future[Any]) -> None:
        """The pebble future, once sent; a cancel that came while it was being sent applies now."""
        with self._attach_lock:
            self.inner = inner
            cancel = self._cancel_requested
        if cancel:
            inner.cancel()


GENERAL = "general"
RESERVED = "reserved"
"""The two pools of a dispatch: the fit workers (which queries may share) and the workers kept for queries."""


class BoundedDispatch:
    """Hands each pebble pool at most one task per worker, and decides which waiting task goes next.

    pebble cannot take back a task once it is in the pipe to its workers: a cancelled one kills each
    fresh worker that picks it up. Holding tasks here until a worker is free bounds that to the
    tasks really started, and keeps unsent tasks (and their column copies) out of memory.

    Two lanes share the workers by design, so neither can starve the other:
    - urgent tasks (queries, milliseconds each) go first to the reserved pool, whose workers never
      run a fit's node, so a query does not wait for one;
    - beyond it they take general workers ahead of fits' waiting nodes, but only up to
      `capacity - fit_workers` of them while fit tasks wait: fits keep `fit_workers` whatever the
      query load (0 gives queries strict priority, the layout before this).
    """

    def __init__(
        self,
        pool: pebble.ProcessPool,
        capacity: int,
        *,
        reserved: pebble.ProcessPool | None = None,
        reserved_capacity: int = 0,
        fit_workers: int = 0,
        on_send: Callable[[str, bool], None] | None = None,
    ) -> None:
        self._on_send = on_send
        self._pools: dict[str, pebble.ProcessPool] = {GENERAL: pool}
        if reserved is not None:
            self._pools[RESERVED] = reserved
        self._capacity = {GENERAL: capacity, RESERVED: reserved_capacity if reserved is not None else 0}
        self._query_cap = capacity - min(capacity, fit_workers)
        self._lock = threading.Lock()
        self._urgent: collections.deque[_Task] = collections.deque()
        self._waiting: collections.deque[_Task] = collections.deque()
        self._sent: dict[_Task, tuple[str, bool]] = {}
        """Each task on a worker: its pool, and whether it is urgent."""

    def schedule(
        self, function: Callable[..., Any], build: Callable[[], Any], *extra: Any, urgent: bool = False
    ) -> _Task:
        """`function(build(), *extra)` on a worker; `build` runs only when the task is sent."""
        task = _Task(function, build, extra)
        with self._lock:
            (self._urgent if urgent else self._waiting).append(task)
        self._pump()
        return task

    @property
    def waiting(self) -> int:
        return len(self._urgent) + len(self._waiting)

    def pools(self) -> dict[str, pebble.ProcessPool]:
        with self._lock:
            return dict(self._pools)

    def busy(self) -> dict[str, tuple[int, int]]:
        """Per pool: (tasks running, of which urgent)."""
        with self._lock:
            return {name: (self._running(name), self._running(name, urgent=True)) for name in self._pools}

    def replace_pool(self, pool: pebble.ProcessPool, error: BaseException, name: str = GENERAL) -> None:
        """The old pool is gone: the tasks it held fail with `error`, the waiting ones go to `pool`."""
        with self._lock:
            self._pools[name] = pool
            lost = [task for task, (lane, _) in self._sent.items() if lane == name]
            for task in lost:
                del self._sent[task]
        for task in lost:
            if not task.done():
                task.set_exception(error)
        self._pump()

    def _running(self, name: str, urgent: bool | None = None) -> int:
        return sum(1 for lane, kind in self._sent.values() if lane == name and urgent in (None, kind))

    def _next(self) -> tuple[_Task, str, bool] | None:
        """The task to send now and where, under the lock; None when nothing may go."""
        if self._urgent and self._running(RESERVED) < self._capacity[RESERVED]:
            return self._urgent.popleft(), RESERVED, True
        if self._running(GENERAL) >= self._capacity[GENERAL]:
            return None
        if self._urgent and (not self._waiting or self._running(GENERAL, urgent=True) < self._query_cap):
            return self._urgent.popleft(), GENERAL, True
        if self._waiting:
            return self._waiting.popleft(), GENERAL, False
        return None

    def _pump(self) -> None:
        while True:
            with self._lock:
                chosen = self._next()
                if chosen is None:
                    return
                task, lane, urgent = chosen
                if not task.set_running_or_notify_cancel():
                    continue  # cancelled while it waited: it never reaches a worker
                self._sent[task] = (lane, urgent)
                pool = self._pools[lane]
            try:
                inner = pool.schedule(task.function, args=(task.build(), *task.extra))
            except BaseException as error:  # a closed pool, or a task that cannot be built
                self._finish(task, None, error)
                continue
            inner.add_done_callback(functools.partial(self._finish, task))
            task.attach(inner)
            if self._on_send is not None:
                self._on_send(lane, urgent)

    def _finish(
        self, task: _Task, done: concurrent.futures.Future[Any] | None, error: BaseException | None = None
    ) -> None:
        with self._lock:
            if task not in self._sent:
                return  # its pool was replaced and the task already failed
            del self._sent[task]
        if done is None:
            task.set_exception(error or RuntimeError("the task was not sent"))
        elif done.cancelled():
            task.set_exception(concurrent.futures.CancelledError())
        elif done.exception() is not None:
            task.set_exception(done.exception())
        else:
            task.set_result(done.result())
        self._pump()


def _result_of(future: concurrent.futures.Future[Any]) -> Any:
    try:
        return future.result()
    except pebble.ProcessExpired as error:
        raise WorkerLostError(f"the worker process running this call died (exit code {error.exitcode})") from None
    except concurrent.futures.CancelledError:
        raise FitCancelledError("the call was cancelled") from None


INLINE_MODEL_BYTES = 16 * 1024 * 1024
"""Models up to this size travel with every query (see _QueryRun)."""


class QueryPool(Protocol):
    """Where queries run: any pool that can schedule a function on a worker that caches models."""

    def schedule(
        self, function: Callable[..., Any], build: Callable[[], Any], *extra: Any, urgent: bool = False
    ) -> concurrent.futures.Future[Any]: ...


class _QueryRun:
    """Sends a model of up to INLINE_MODEL_BYTES with the query, which a worker that holds it ignores;
    a larger one is asked for first without its bytes, and resent only to a worker that lacks it.

    Asking first costs a second trip through the dispatch when the worker lacks the model, and on a
    busy server that trip waits for a fit's node to finish: a measured 20 s on one worker. Piping a
    few MB costs milliseconds.
    """

    def __init__(
        self,
        pool: QueryPool,
        query: Query,
        model_bytes: Callable[[], bytes],
        urgent: bool,
        replicas: tuple[bytes, ...] = (),
    ) -> None:
        self._pool = pool
        self._replicas = replicas
        self._query = query
        self._model_bytes = model_bytes
        self._urgent = urgent
        self._lock = threading.Lock()
        self._cancelled = False
        blob = model_bytes()
        inline = blob if len(blob) <= INLINE_MODEL_BYTES else None
        self._future: concurrent.futures.Future[QueryOutcome] = pool.schedule(
            worker.run_query, lambda: query, inline, replicas, urgent=urgent
        )

    def outcome(self) -> QueryOutcome:
        try:
            result: QueryOutcome = _result_of(self._future)
            return result
        except ModelNotLoadedError:
            pass
        with self._lock:
            if self._cancelled:
                raise FitCancelledError("the call was cancelled")
            self._future = self._pool.schedule(
                worker.run_query, lambda: self._query, self._model_bytes(), self._replicas, urgent=self._urgent
            )
        resent: QueryOutcome = _result_of(self._future)
        return resent

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            self._future.cancel()


class _CallRun:
    def __init__(self, pool: QueryPool, function: Callable[[Any], Any], payload: Any) -> None:
        self._future = pool.schedule(function, lambda: payload)

    def outcome(self) -> Any:
        return _result_of(self._future)

    def cancel(self) -> None:
        self._future.cancel()


class ProcessFitExecutor:
    """A pebble ProcessPool of spawned workers, a bounded dispatch in front of it, and the worker link.

    All are created before the gRPC server, so no worker ever inherits gRPC's threads. A supervisor
    replaces the whole pool when a worker stalls or pebble declares the pool broken: a stopped or
    killed worker may hold the lock on pebble's task pipe, and then no other worker can take a task.
    """

    def __init__(
        self,
        workers: int,
        *,
        query_workers: int = 0,
        fit_share: float = 0.0,
        warm_up: bool = True,
        shapley_jobs: int = 1,
        stall_seconds: float = DEFAULT_STALL_SECONDS,
        on_spawn: Callable[[int], None] | None = None,
        on_stall: Callable[[], None] | None = None,
        on_send: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.workers = workers
        self.query_workers = query_workers
        self.fit_workers = fit_workers(workers, fit_share)
        self.fit_share = fit_share if self.fit_workers else 0.0
        self._warm_up = warm_up
        self._shapley_jobs = shapley_jobs
        self._on_stall = on_stall
        self._stalled = threading.Event()
        self.link = WorkerLink(stall_seconds, on_spawn=on_spawn, on_stall=self._stalled.set)
        self._dispatch = BoundedDispatch(
            self._new_pool(GENERAL),
            workers,
            reserved=self._new_pool(RESERVED) if query_workers else None,
            reserved_capacity=query_workers,
            fit_workers=self.fit_workers,
            on_send=on_send,
        )
        self._closed = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="scmfit-pool-supervisor", daemon=True)
        self._supervisor.start()

    def _new_pool(self, name: str) -> pebble.ProcessPool:
        return pebble.ProcessPool(
            max_workers=self.workers if name == GENERAL else self.query_workers,
            initializer=worker.initialize,
            # Queries go to the reserved workers first, or to any worker when none is reserved.
            initargs=(self._warm_up, self.link.address, self._shapley_jobs, name == RESERVED or not self.query_workers),
            context=multiprocessing.get_context("spawn"),
        )

    def _supervise(self) -> None:
        while not self._closed.wait(SUPERVISE_SECONDS):
            if self._stalled.is_set():
                self._stalled.clear()
                if self._on_stall is not None:
                    self._on_stall()
                # The link does not say whose worker it killed, and either pool's pipe may be wedged.
                for name in self._dispatch.pools():
                    self._replace_pool(name, "a worker stopped responding and was killed")
            else:
                for name, pool in self._dispatch.pools().items():
                    if not pool.active:
                        self._replace_pool(name, "the worker pool broke (a worker died outside a task)")

    def _replace_pool(self, name: str, reason: str) -> None:
        if self._closed.is_set():
            return
        _log.error("%s; replacing the %s worker pool", reason, name)
        old = self._dispatch.pools()[name]
        self._dispatch.replace_pool(self._new_pool(name), WorkerLostError(f"{reason}; the call's work was lost"), name)
        old.stop()
        if not joined([old], STOP_SECONDS):
            _log.warning(
                "the old %s worker pool did not stop within %gs; close() will kill its workers", name, STOP_SECONDS
            )

    @property
    def capacity(self) -> int:
        return self.workers

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Blocks until every worker has imported DoWhy and run its warm-up fit."""
        pools = self._dispatch.pools()
        pings = [
            pool.schedule(worker.ping)
            for name, pool in pools.items()
            for _ in range(self.workers if name == GENERAL else self.query_workers)
        ]
        done, _ = concurrent.futures.wait(pings, timeout=timeout)
        return len(done) == len(pings) and all(future.exception() is None for future in done)

    def warm_workers(self) -> int:
        """Warm, live, responsive workers: readiness is false when there are none."""
        return self.link.warm_workers()

    def schedule(
        self, function: Callable[..., Any], build: Callable[[], Any], *extra: Any, urgent: bool = False
    ) -> concurrent.futures.Future[Any]:
        return self._dispatch.schedule(function, build, *extra, urgent=urgent)

    def node_tasks(self, job: FitJob, run: str) -> dict[str, concurrent.futures.Future[NodeFit]]:
        return {node: self.schedule(worker.run_node, build, run) for node, build in lazy_plan(job)}

    def channel(self, run: str) -> queue.Queue[tuple[str, str]]:
        return self.link.channels.open(run)

    def close_channel(self, run: str) -> None:
        self.link.channels.close(run)

    def submit(self, job: FitJob) -> FitRun:
        if self._closed.is_set():
            raise ShuttingDownError("the server is shutting down")
        return NodeParallelFitRun(self, job)

    def submit_query(
        self, query: Query, model_bytes: Callable[[], bytes], urgent: bool = True, replicas: tuple[bytes, ...] = ()
    ) -> QueryRun:
        if self._closed.is_set():
            raise ShuttingDownError("the server is shutting down")
        return _QueryRun(self, query, model_bytes, urgent, replicas)

    def submit_call(self, function: Callable[[Any], Any], payload: Any) -> CallRun:
        if self._closed.is_set():
            raise ShuttingDownError("the server is shutting down")
        return _CallRun(self, function, payload)

    def close(self) -> None:
        """Stops the workers (killing any still running) and the link; idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._supervisor.join(timeout=STOP_SECONDS)
        pools = list(self._dispatch.pools().values())
        for pool in pools:
            pool.stop()
        if not joined(pools, STOP_SECONDS):
            _log.warning("the worker pools did not stop within %gs; killing their workers", STOP_SECONDS)
        kill_workers()
        self.link.close()


def joined(pools: list[pebble.ProcessPool], seconds: float) -> bool:
    """Joins the stopped pools within `seconds`: a stopped pebble pool ignores join's timeout, and its
    join can wait without end on a worker that holds the task pipe's lock (pebble issue #147)."""
    joiners = [threading.Thread(target=pool.join, name="scmfit-pool-join", daemon=True) for pool in pools]
    for joiner in joiners:
        joiner.start()
    deadline = time.monotonic() + seconds
    for joiner in joiners:
        joiner.join(timeout=max(0.0, deadline - time.monotonic()))
    return not any(joiner.is_alive() for joiner in joiners)


def kill_workers() -> None:
    """Kills pebble workers still alive: they are not daemons, so the interpreter's exit would wait for them."""
    for child in multiprocessing.active_children():
        if child.name.startswith(pebble.pool.process.WORKERS_NAME) and child.is_alive():
            _log.warning("killing worker pid %s, which outlived its pool", child.pid)
            child.kill()
            child.join(timeout=STOP_SECONDS)


def fit_workers(workers: int, fit_share: float) -> int:
    """The general workers that queries may not take while fits wait: at least one when the share is set."""
    if fit_share <= 0:
        return 0
    return min(workers, max(1, math.ceil(fit_share * workers)))
