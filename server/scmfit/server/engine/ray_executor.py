"""Runs each fit's node tasks on a Ray cluster; queries stay on the server's own worker pool.

Why these choices (measured in bench/ray_overhead.py, explained in docs/scaling.md):
- The Ray driver is a spawned process of its own (ray_bridge.py), not the server: Ray ends a driver's
  process when the cluster's GCS or the local raylet goes, and the server must outlive its cluster,
  say NOT_SERVING, fail the fits in flight with UNAVAILABLE, and reconnect when the cluster is back.
  The server process never imports Ray.
- Plain tasks, not an actor pool. Ray reuses a task's worker process for later tasks, so DoWhy is
  imported once per worker (warm-up tasks do it at start-up); a plain task can be stopped with
  `ray.cancel(force=True)` (an actor task cannot), and Ray retries it by itself when its worker or
  node dies, which is safe because node tasks are pure.
- A fit's columns cross the pipe to the driver once and go to the object store once (`ray.put`);
  each node task reads its own and its parents' columns from shared memory by reference.
- Queries stay local: a query is milliseconds of work on a model the local worker already caches.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from scmfit.server.config import StartupError
from scmfit.server.domain.errors import ShuttingDownError, WorkerLostError
from scmfit.server.domain.fit import FitJob, NodeFit
from scmfit.server.domain.query import Query
from scmfit.server.engine.executor import CallRun, FitRun, NodeParallelFitRun, ProcessFitExecutor, QueryRun
from scmfit.server.engine.plan import node_specs, split_rows
from scmfit.server.engine.progress import Event, ProgressChannels
from scmfit.server.engine.ray_address import gcs_endpoint, unreachable

_log = logging.getLogger(__name__)

CONNECT_SECONDS = 120.0
"""How long the driver may take to join the cluster at start-up."""
RECONNECT_SECONDS = 2.0
"""How often a server that lost its cluster checks whether it is back."""


class ClusterUnreachableError(StartupError):
    """Start-up could not reach the Ray cluster; the message says where and what to do."""


def _driver_main(address: str, connection: Connection, warm_up: bool, log_level: str) -> None:
    """The spawned driver's entry; Ray is imported there, never in the server's process."""
    from scmfit.server.engine import ray_bridge

    ray_bridge.main(address, connection, warm_up, log_level)


class _RayTask(concurrent.futures.Future[NodeFit]):
    """A node task on the cluster; cancelling it asks the driver for `ray.cancel(force=True)`."""

    def __init__(self, cancel: Callable[[], object]) -> None:
        super().__init__()
        self._stop = cancel

    def cancel(self) -> bool:
        if not super().cancel():
            return False
        self._stop()
        return True

    def settle(self, ok: bool, value: Any) -> None:
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            if ok:
                self.set_result(value)
            else:
                self.set_exception(value)


class _Driver:
    """The spawned driver process and the pipe to it."""

    def __init__(self, address: str, warm_up: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, theirs = context.Pipe()
        self.process = context.Process(
            target=_driver_main,
            args=(address, theirs, warm_up, logging.getLevelName(logging.getLogger().getEffectiveLevel())),
            name="scmfit-ray-driver",
            daemon=True,
        )
        self.process.start()
        theirs.close()
        self._lock = threading.Lock()

    def send(self, *message: Any) -> bool:
        with self._lock:
            try:
                self.connection.send(message)
                return True
            except (OSError, ValueError):
                return False

    def receive(self, timeout: float | None = None) -> tuple[Any, ...] | None:
        """The next message; None when the driver is gone (or nothing came within `timeout`)."""
        try:
            if timeout is not None and not self.connection.poll(timeout):
                return None
            message: tuple[Any, ...] = self.connection.recv()
            return message
        except (EOFError, OSError):
            return None

    def stop(self) -> None:
        self.send("close")
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.connection.close()


class RayFitExecutor:
    """Fits on a Ray cluster through a driver process; queries on `local`, the server's worker pool."""

    def __init__(self, address: str, local: ProcessFitExecutor, *, warm_up: bool = True) -> None:
        self.address = address
        self._local = local
        self._warm_up = warm_up
        try:
            gcs_endpoint(address)
        except ValueError as error:
            raise ClusterUnreachableError(str(error)) from None
        why = unreachable(address)
        if why is not None:
            raise ClusterUnreachableError(
                f"cannot reach the Ray cluster at {address} ({why}); start one with "
                f"`ray start --head --port {gcs_endpoint(address)[1]}` or fix --ray-address"
            )
        self._lock = threading.Lock()
        self._channels = ProgressChannels()
        self._tasks: dict[tuple[str, str], _RayTask] = {}
        self._closed = threading.Event()
        self._serving = threading.Event()
        self._live = threading.Event()
        """The driver's liveness probe passes: a task can run on the cluster now."""
        self._live.set()
        self._unhealthy_why = ""
        self._warm = threading.Event()
        self._driver, self.cpus = self._connect()
        self._reader = threading.Thread(target=self._read, name="scmfit-ray-reader", daemon=True)
        self._reader.start()
        _log.info("connected to the Ray cluster at %s: %d CPUs", address, self.cpus)

    def _connect(self) -> tuple[_Driver, int]:
        driver = _Driver(self.address, self._warm_up)
        message = driver.receive(timeout=CONNECT_SECONDS)
        if message is None or message[0] != "connected":
            driver.stop()
            why = message[1] if message is not None and message[0] == "failed" else "the driver did not answer"
            raise ClusterUnreachableError(f"cannot use the Ray cluster at {self.address}: {why}")
        self._serving.set()
        return driver, int(message[1])

    @property
    def capacity(self) -> int:
        """Node tasks that can run at once: the cluster's CPUs when the server started."""
        return self.cpus

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Every CPU's Ray worker has imported DoWhy, and the local query workers are warm too."""
        return self._warm.wait(timeout) and self._local.wait_ready(timeout)

    def warm_workers(self) -> int:
        """0 while the cluster is lost or no local query worker is warm: NOT_SERVING."""
        if not self._serving.is_set() or not self._live.is_set():
            return 0
        return self.cpus if self._local.warm_workers() > 0 else 0

    def node_tasks(self, job: FitJob, run: str) -> dict[str, concurrent.futures.Future[NodeFit]]:
        specs = node_specs(job)
        tasks: dict[str, concurrent.futures.Future[NodeFit]] = {}
        created: list[_RayTask] = []
        with self._lock:
            driver = self._driver
            if not self._serving.is_set():
                raise WorkerLostError(f"the Ray cluster at {self.address} is unreachable; the server is reconnecting")
            if not self._live.is_set():
                raise WorkerLostError(
                    f"the Ray cluster at {self.address} failed its liveness probe ({self._unhealthy_why}); "
                    "fits are refused until it passes again"
                )
            for spec in specs:
                task = _RayTask(functools.partial(driver.send, "cancel", run, spec.node))
                self._tasks[(run, spec.node)] = task
                tasks[spec.node] = task
                created.append(task)
        if not driver.send("fit", run, dict(job.columns), split_rows(job), specs, self._warm_up):
            lost = WorkerLostError(f"lost the Ray cluster at {self.address} while this fit ran")
            for task in created:
                task.settle(False, lost)
        return tasks

    def channel(self, run: str) -> queue.Queue[Event]:
        return self._channels.open(run)

    def close_channel(self, run: str) -> None:
        self._channels.close(run)
        with self._lock:
            for key in [key for key in self._tasks if key[0] == run]:
                del self._tasks[key]

    def submit(self, job: FitJob) -> FitRun:
        if self._closed.is_set():
            raise ShuttingDownError("the server is shutting down")
        return NodeParallelFitRun(self, job)

    def submit_query(
        self, query: Query, model_bytes: Callable[[], bytes], urgent: bool = True, replicas: tuple[bytes, ...] = ()
    ) -> QueryRun:
        return self._local.submit_query(query, model_bytes, urgent, replicas)

    def submit_call(self, function: Callable[[Any], Any], payload: Any) -> CallRun:
        """On this server's own workers: a graph check's tests are small next to shipping their data."""
        return self._local.submit_call(function, payload)

    def close(self) -> None:
        """Stops this server's tasks on the cluster and its driver; the cluster itself keeps running."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._driver.stop()
        self._reader.join(timeout=10)
        self._local.close()

    def _read(self) -> None:
        """Routes the driver's messages; when it goes, fails what was in flight and reconnects."""
        while not self._closed.is_set():
            message = self._driver.receive()
            if message is None:
                if self._closed.is_set():
                    return
                self._lose(f"lost the Ray cluster at {self.address} (its driver process ended)")
                self._reconnect()
                continue
            kind = message[0]
            if kind == "progress":
                _, run, stage, node = message
                self._channels.deliver(run, stage, node)
            elif kind == "done":
                _, run, node, ok, value = message
                with self._lock:
                    task = self._tasks.pop((run, node), None)
                if task is not None:
                    task.settle(ok, value)
            elif kind == "warm":
                processes = len(set(message[1]))
                _log.info("Ray workers warm: %d task slot(s) over %d worker process(es)", self.cpus, processes)
                self._warm.set()
            elif kind == "lost":
                self._lose(str(message[1]))
            elif kind == "health":
                _, ok, why = message
                if ok:
                    self._live.set()
                    _log.warning("the Ray cluster at %s passes its liveness probe again; serving", self.address)
                else:
                    self._unhealthy_why = str(why)
                    self._live.clear()
                    _log.error("the Ray cluster at %s: %s; NOT_SERVING", self.address, why)

    def _lose(self, why: str) -> None:
        if not self._serving.is_set():
            return
        with self._lock:
            self._serving.clear()
            tasks, self._tasks = list(self._tasks.values()), {}
        _log.error("%s: failing %d node task(s) in flight; NOT_SERVING until it is back", why, len(tasks))
        for task in tasks:
            task.settle(False, WorkerLostError(f"{why} while this fit ran"))

    def _reconnect(self) -> None:
        while not self._closed.wait(RECONNECT_SECONDS):
            if unreachable(self.address, timeout=RECONNECT_SECONDS) is not None:
                continue
            old = self._driver
            try:
                driver, cpus = self._connect()
            except ClusterUnreachableError as error:
                _log.warning("the Ray cluster answers again, but: %s", error)
                continue
            with self._lock:
                self._driver = driver
            self._live.set()  # a fresh driver: its own probes say from now on
            old.stop()
            _log.info("reconnected to the Ray cluster at %s: %d CPUs; serving again", self.address, cpus)
            return
