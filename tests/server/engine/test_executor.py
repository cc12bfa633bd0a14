"""The bounded dispatch in front of pebble, with a real spawned pool: at most `capacity` tasks reach
pebble, tasks are built only when sent, and a cancel drops queued tasks without a worker kill."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator

import pebble
import pytest

from scmfit.server.engine.executor import BoundedDispatch, joined, kill_workers
from tests.integration.test_lifecycle import wait_for


def sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@pytest.fixture
def pool() -> Iterator[pebble.ProcessPool]:
    pool = pebble.ProcessPool(max_workers=1, context=multiprocessing.get_context("spawn"))
    yield pool
    pool.stop()
    pool.join(10)


def test_tasks_are_built_only_when_sent_and_cancelled_ones_never_run(pool: pebble.ProcessPool) -> None:
    dispatch = BoundedDispatch(pool, capacity=1)
    built: list[int] = []

    def build(index: int, seconds: float) -> Callable[[], float]:
        def make() -> float:
            built.append(index)
            return seconds

        return make

    first = dispatch.schedule(sleep_then_pid, build(0, 3.0))
    queued = [dispatch.schedule(sleep_then_pid, build(i, 0.0)) for i in range(1, 6)]
    assert built == [0] and dispatch.waiting == 5  # one task in pebble; the rest not even built
    assert wait_for(first.running)
    for task in queued[:4]:
        assert task.cancel()
    worker = first.result(timeout=60)
    assert queued[4].result(timeout=60) == worker  # the same worker: nothing was killed
    assert built == [0, 5]
    assert all(task.cancelled() for task in queued[:4])


def test_cancelling_a_sent_task_kills_only_its_worker_and_the_rest_go_on(pool: pebble.ProcessPool) -> None:
    dispatch = BoundedDispatch(pool, capacity=1)
    running = dispatch.schedule(sleep_then_pid, lambda: 30.0)
    after = dispatch.schedule(sleep_then_pid, lambda: 0.0)
    time.sleep(2)  # the worker has started the long task
    assert running.cancel()
    with pytest.raises(concurrent.futures.CancelledError):
        running.result(timeout=60)
    assert after.result(timeout=120) > 0  # a replacement worker ran it


def test_urgent_tasks_are_sent_before_every_waiting_ordinary_one(pool: pebble.ProcessPool) -> None:
    """Queries are urgent: on a busy worker they go next, not behind a fit's queued nodes."""
    dispatch = BoundedDispatch(pool, capacity=1)
    sent: list[str] = []

    def build(name: str) -> Callable[[], float]:
        def make() -> float:
            sent.append(name)
            return 0.0 if name != "busy" else 1.0

        return make

    busy = dispatch.schedule(sleep_then_pid, build("busy"))
    nodes = [dispatch.schedule(sleep_then_pid, build(f"node{i}")) for i in range(3)]
    query = dispatch.schedule(sleep_then_pid, build("query"), urgent=True)
    assert dispatch.waiting == 4
    for task in (busy, query, *nodes):
        task.result(timeout=60)
    assert sent == ["busy", "query", "node0", "node1", "node2"]


def test_a_pool_whose_join_never_returns_is_abandoned_and_its_worker_killed() -> None:
    """pebble issue #147: a stopped pool's join can wait without end, and its workers are not daemons."""
    pool = pebble.ProcessPool(max_workers=1, context=multiprocessing.get_context("spawn"))
    running = pool.schedule(sleep_then_pid, args=(120,))
    assert wait_for(running.running)
    workers = [child for child in multiprocessing.active_children() if child.name.startswith("pebble_pool_worker")]
    assert len(workers) == 1 and workers[0].is_alive()
    real_join = pool.join
    wedged = threading.Event()
    pool.join = lambda timeout=None: wedged.wait()  # type: ignore[method-assign]
    try:
        assert not joined([pool], 0.5)
        kill_workers()
        assert not workers[0].is_alive()
    finally:
        wedged.set()
        pool.join = real_join  # type: ignore[method-assign]
        pool.stop()
        pool.join(10)
