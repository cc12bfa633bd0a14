"""The Ray driver: a process of its own between the server and the cluster (see ray_executor.py).

A Ray driver is attached to its node's raylet and object store, and Ray ends the driver's process
when it loses them (or the GCS): that must not be the server. So the server spawns this process,
sends it fits over a pipe, and gets back progress lines and node results in order. When the
cluster goes, this process says so and exits; the server stays up, NOT_SERVING, and reconnects.

Messages to the bridge: ("fit", run, columns, rows, specs, warm_up), ("cancel", run, node), ("close",).
Messages from it: ("connected", cpus), ("warm", pids), ("progress", run, stage, node),
("done", run, node, ok, NodeFit | error), ("failed", why), ("lost", why), ("health", ok, why).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from scmfit.server.domain.errors import FitFailedError, WorkerLostError
from scmfit.server.domain.fit import NodeFit, Rows
from scmfit.server.engine.plan import NodeSpec
from scmfit.server.engine.ray_address import unreachable

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# Ray ends a driver whose GCS stays unreachable this long (default 60 s); we notice sooner ourselves.
os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", str(24 * 3600))

import ray  # the settings above must precede Ray's import
from ray import exceptions as ray_errors

_log = logging.getLogger(__name__)

PROBE_SECONDS = 0.5
"""How often the GCS port is checked; bounds how long a lost cluster goes unnoticed."""
LIVENESS_SECONDS = 2.0
"""How often a zero-CPU task is sent through the cluster: the port alone is no proof, since a stopped
(SIGSTOP) or wedged GCS or raylet still accepts TCP connections while no task can run."""
LIVENESS_DEADLINE_SECONDS = 10.0
"""A probe task not finished by then turns the server NOT_SERVING until one finishes again."""
DRAIN_SECONDS = 0.05
TASK_RETRIES = 3
"""Retries of a node task whose worker or node died (never of a task that raised)."""


# -- what runs on the cluster's workers ----------------------------------------------------------

_warm = False


def _prepare(warm_up: bool) -> None:
    """Once per Ray worker process: Ray reuses it for later tasks, so DoWhy is imported once."""
    global _warm  # noqa: PLW0603 - per-process state, like the local workers' link
    if _warm:
        return
    from scmfit.server.engine import worker

    worker.initialize(warm_up)
    _warm = True


@ray.remote(num_cpus=0, max_retries=0)
def _alive() -> bool:
    """The liveness probe: needs the GCS, a raylet and a worker, and no CPU a fit could be using."""
    return True


@ray.remote(num_cpus=1)
def _warm_up(warm_up: bool) -> int:
    _prepare(warm_up)
    return os.getpid()


@ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False)
def _run_node(
    spec: NodeSpec, columns: Mapping[str, np.ndarray], rows: Rows, run: str, board: Any, warm_up: bool
) -> NodeFit:
    """`columns` and `rows` arrive as object references that Ray resolves from the node's shared memory."""
    _prepare(warm_up)
    from scmfit.server.engine.plan import node_task
    from scmfit.server.fitting.nodefit import fit_node

    posted: list[Any] = []

    def report(stage: Any, node: str) -> None:
        posted.append(board.post.remote(run, stage.value, node))  # not awaited: a lost line never fails a fit

    fit = fit_node(node_task(spec, columns, rows), report)
    # The board takes one caller's calls in order: once the last is in, so are the others, and the
    # bridge collects them before it reports this node done.
    with contextlib.suppress(Exception):
        ray.get(posted[-1:], timeout=10)
    return fit


@ray.remote(num_cpus=0, max_restarts=-1)
class _ProgressBoard:
    """Collects (run, stage, node) lines from node tasks; the bridge takes them all at each drain."""

    def __init__(self) -> None:
        self._lines: list[tuple[str, str, str]] = []

    def post(self, run: str, stage: str, node: str) -> None:
        self._lines.append((run, stage, node))

    def take(self) -> list[tuple[str, str, str]]:
        lines, self._lines = self._lines, []
        return lines


# -- the bridge process ------------------------------------------------------------------------


def _domain_error(error: BaseException) -> BaseException:
    """Ray's errors as the domain errors the server maps to gRPC codes."""
    if isinstance(error, ray_errors.TaskCancelledError | concurrent.futures.CancelledError):
        return concurrent.futures.CancelledError()
    if isinstance(error, ray_errors.RayTaskError):
        cause = error.cause
        return cause if isinstance(cause, Exception) else FitFailedError(str(error))
    if isinstance(error, ray_errors.WorkerCrashedError | ray_errors.NodeDiedError | ray_errors.ObjectLostError):
        return WorkerLostError(f"the Ray worker running this node died, and its {TASK_RETRIES} retries too")
    return WorkerLostError(f"the Ray cluster could not run this node: {error}")


class _Bridge:
    def __init__(self, address: str, connection: Connection) -> None:
        self.address = address
        self._connection = connection
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._refs: dict[tuple[str, str], Any] = {}
        self._finished: list[tuple[str, str, concurrent.futures.Future[Any]]] = []
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._board: Any = None

    def send(self, *message: Any) -> None:
        with self._send_lock:
            try:
                self._connection.send(message)
            except (OSError, ValueError):  # the server is gone: nothing left to serve
                os._exit(0)

    def connect(self, warm_up: bool) -> None:
        ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False, namespace="scmfit")
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            self.send("failed", f"the Ray cluster at {self.address} has no CPUs to run node tasks")
            os._exit(2)
        self._board = _ProgressBoard.remote()  # type: ignore[attr-defined]
        self.send("connected", cpus)
        threading.Thread(target=self._watch, name="scmfit-ray-watch", daemon=True).start()
        warming = [_warm_up.options(scheduling_strategy="SPREAD").remote(warm_up) for _ in range(cpus)]
        threading.Thread(target=lambda: self.send("warm", ray.get(warming)), daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                message = self._connection.recv()
            except (EOFError, OSError):
                message = ("close",)
            if message[0] == "fit":
                self._fit(*message[1:])
            elif message[0] == "cancel":
                with self._lock:
                    ref = self._refs.get((message[1], message[2]))
                if ref is not None:
                    with contextlib.suppress(Exception):
                        ray.cancel(ref, force=True)
            elif message[0] == "close":
                self._closed.set()
                with self._lock:
                    refs = list(self._refs.values())
                for ref in refs:
                    with contextlib.suppress(Exception):
                        ray.cancel(ref, force=True)
                with contextlib.suppress(Exception):
                    ray.shutdown()
                return

    def _fit(
        self, run: str, columns: Mapping[str, np.ndarray], rows: Rows, specs: list[NodeSpec], warm_up: bool
    ) -> None:
        try:
            stored_columns: Any = ray.put(dict(columns))  # once per fit: every node task reads this one copy
            stored_rows = ray.put(rows)
        except Exception as error:
            for spec in specs:
                self.send("done", run, spec.node, False, _domain_error(error))
            return
        for spec in specs:
            ref = _run_node.remote(spec, stored_columns, stored_rows, run, self._board, warm_up)
            with self._lock:
                self._refs[(run, spec.node)] = ref
            ref.future().add_done_callback(functools.partial(self._on_finished, run, spec.node))

    def _on_finished(self, run: str, node: str, done: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._finished.append((run, node, done))
        self._wake.set()

    def _watch(self) -> None:
        next_probe = 0.0
        liveness = _Liveness(self.send)
        while not self._closed.is_set():
            self._wake.wait(DRAIN_SECONDS)
            self._wake.clear()
            now = time.monotonic()
            if now >= next_probe:
                next_probe = now + PROBE_SECONDS
                self._check_cluster()
                liveness.check(now)
            with self._lock:
                finished, self._finished = self._finished, []
                running = bool(self._refs)
            if running:
                self._drain()
            for run, node, done in finished:
                with self._lock:
                    self._refs.pop((run, node), None)
                try:
                    outcome: tuple[bool, Any] = (True, done.result())
                except Exception as error:
                    if not isinstance(error, ray_errors.RayTaskError | ray_errors.TaskCancelledError):
                        self._check_cluster()  # a raylet or the GCS gone: say so, for every fit at once
                    outcome = (False, _domain_error(error))
                try:
                    self.send("done", run, node, *outcome)
                except Exception as error:  # a result or an error that does not pickle
                    self.send("done", run, node, False, FitFailedError(f"{type(error).__name__}: {error}"))

    def _check_cluster(self) -> None:
        """Ends this process when the GCS is gone; the server then fails what was in flight and reconnects."""
        why = unreachable(self.address, timeout=PROBE_SECONDS)
        if why is not None:
            self.send("lost", f"lost the Ray cluster at {self.address} ({why})")
            os._exit(3)

    def _drain(self) -> None:
        try:
            lines: list[tuple[str, str, str]] = ray.get(self._board.take.remote(), timeout=5)
        except Exception as error:  # a restarting board, or a cluster about to be declared lost
            _log.debug("progress board: %s", error)
            return
        for run, stage, node in lines:
            self.send("progress", run, stage, node)


class _Liveness:
    """Sends a probe task every LIVENESS_SECONDS; says ("health", False, why) when one misses its
    deadline and ("health", True, "") when one finishes again. Never blocks the watch loop."""

    def __init__(self, send: Any) -> None:
        self._send = send
        self._probe: Any = None
        self._sent_at = 0.0
        self._healthy = True

    def check(self, now: float) -> None:
        if self._probe is not None:
            done, _ = ray.wait([self._probe], timeout=0)
            if done:
                self._probe = None
                if not self._healthy:
                    self._healthy = True
                    self._send("health", True, "")
            elif now - self._sent_at > LIVENESS_DEADLINE_SECONDS and self._healthy:
                self._healthy = False
                self._send(
                    "health",
                    False,
                    f"a probe task did not finish within {LIVENESS_DEADLINE_SECONDS:g}s (the GCS or a raylet "
                    "is stopped or wedged, though its port accepts connections)",
                )
            if self._probe is not None and now - self._sent_at < 3 * LIVENESS_DEADLINE_SECONDS:
                return  # still waiting for it; a very old one is given up and a fresh one sent
        if self._probe is None and now - self._sent_at < LIVENESS_SECONDS:
            return
        try:
            self._probe = _alive.remote()
        except Exception as error:  # submission itself failed: as unhealthy as a missed deadline
            _log.warning("liveness probe: %s", error)
            self._probe = None
        self._sent_at = now


def main(address: str, connection: Connection, warm_up: bool, log_level: str) -> None:
    """The bridge process's entry point (spawned by RayFitExecutor)."""
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s [ray-bridge] %(name)s: %(message)s")
    bridge = _Bridge(address, connection)
    try:
        bridge.connect(warm_up)
    except Exception as error:
        bridge.send("failed", f"could not connect to the Ray cluster at {address}: {error}")
        os._exit(2)
    bridge.serve()
    os._exit(0)
