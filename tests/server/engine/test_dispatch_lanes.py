"""How the dispatch shares workers between fits' node tasks and queries, with a pool we complete by hand:
queries go to reserved workers first, and while fit tasks wait they never hold more than their share."""

from __future__ import annotations

import concurrent.futures
import random
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from scmfit.server.engine.executor import GENERAL, RESERVED, BoundedDispatch, fit_workers


class HandPool:
    """Stands in for a pebble pool: records what it was given and finishes only when told."""

    def __init__(self) -> None:
        self.running: list[tuple[str, concurrent.futures.Future[Any]]] = []

    def schedule(self, function: Any, args: tuple[Any, ...]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        self.running.append((args[0], future))
        return future

    def finish(self, index: int = 0) -> str:
        name, future = self.running.pop(index)
        future.set_result(name)
        return name


def named(name: str) -> Callable[[], str]:
    """A task's build function: the pool is handed the name."""
    return lambda: name


def kinds(pool: HandPool) -> list[str]:
    return sorted(name.split(":")[0] for name, _ in pool.running)


def test_fit_share_keeps_a_worker_for_fits_under_a_query_flood() -> None:
    pool = HandPool()
    dispatch = BoundedDispatch(pool, 2, fit_workers=1)  # type: ignore[arg-type]
    for i in range(2):
        dispatch.schedule(str, named(f"query:{i}"), urgent=True)
    assert kinds(pool) == ["query", "query"]  # no fit waits: queries may use every worker
    for i in range(3):
        dispatch.schedule(str, named(f"fit:{i}"))
    for i in range(2, 50):
        dispatch.schedule(str, named(f"query:{i}"), urgent=True)
    pool.finish(0)  # a query ends while fits and queries wait: the fit takes the worker
    assert kinds(pool) == ["fit", "query"]
    for _ in range(10):  # the query worker turns over; the fit worker stays with fits
        index = next(i for i, (name, _) in enumerate(pool.running) if name.startswith("query"))
        pool.finish(index)
        assert kinds(pool) == ["fit", "query"]


def test_strict_priority_without_a_share_lets_queries_take_every_worker() -> None:
    """The layout before: under a flood, a fit's waiting nodes never start (the starvation the share ends)."""
    pool = HandPool()
    dispatch = BoundedDispatch(pool, 2, fit_workers=0)  # type: ignore[arg-type]
    dispatch.schedule(str, named("fit:0"))
    dispatch.schedule(str, named("fit:1"))
    dispatch.schedule(str, named("fit:2"))
    for i in range(20):
        dispatch.schedule(str, named(f"query:{i}"), urgent=True)
    pool.finish(0)
    pool.finish(0)
    for _ in range(10):
        assert kinds(pool) == ["query", "query"]
        pool.finish(0)


def test_queries_go_to_the_reserved_workers_first_and_never_wait_for_a_fit() -> None:
    general, reserved = HandPool(), HandPool()
    dispatch = BoundedDispatch(general, 1, reserved=reserved, reserved_capacity=1, fit_workers=1)  # type: ignore[arg-type]
    for i in range(3):
        dispatch.schedule(str, named(f"fit:{i}"))
    query = dispatch.schedule(str, named("query:0"), urgent=True)
    assert kinds(general) == ["fit"] and kinds(reserved) == ["query"]
    reserved.finish()
    assert query.result(timeout=1) == "query:0"
    assert dispatch.busy() == {GENERAL: (1, 0), RESERVED: (0, 0)}
    # Fits never reach the reserved worker, even when it is idle and they wait.
    assert kinds(reserved) == [] and dispatch.waiting == 2


class WatchedPool(HandPool):
    """Checks the share at the moment a query is sent: the only moment the dispatch decides it."""

    def __init__(self, workers: int, keep: int) -> None:
        super().__init__()
        self.dispatch: BoundedDispatch | None = None
        self.limit = workers - keep

    def schedule(self, function: Any, args: tuple[Any, ...]) -> concurrent.futures.Future[Any]:
        assert self.dispatch is not None
        if str(args[0]).startswith("query") and self.dispatch._waiting:
            assert kinds(self).count("query") + 1 <= self.limit, "a query took a worker kept for fits"
        return super().schedule(function, args)


@settings(max_examples=60, deadline=None)
@given(
    workers=st.integers(1, 6),
    share=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    reserved=st.integers(0, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_share_holds_whatever_order_tasks_arrive_and_finish(
    workers: int, share: float, reserved: int, seed: int
) -> None:
    """No query is sent to a kept worker while fit tasks wait; fits never run on reserved workers; and
    no worker idles while a task it may take waits (sharing never wastes a worker)."""
    rng = random.Random(seed)
    keep = fit_workers(workers, share)
    general, spare = WatchedPool(workers, keep), HandPool()
    dispatch = BoundedDispatch(
        general,  # type: ignore[arg-type]
        workers,
        reserved=spare if reserved else None,  # type: ignore[arg-type]
        reserved_capacity=reserved,
        fit_workers=keep,
    )
    general.dispatch = dispatch
    for step in range(200):
        action = rng.random()
        if action < 0.3:
            dispatch.schedule(str, named(f"fit:{step}"))
        elif action < 0.6:
            dispatch.schedule(str, named(f"query:{step}"), urgent=True)
        else:
            pools = [p for p in (general, spare) if p.running]
            if pools:
                chosen = rng.choice(pools)
                chosen.finish(rng.randrange(len(chosen.running)))
        assert len(general.running) <= workers and len(spare.running) <= reserved
        assert "fit" not in kinds(spare)
        if dispatch._waiting:
            assert len(general.running) == workers
        if dispatch._urgent:
            assert len(spare.running) == reserved
            queries = kinds(general).count("query")
            assert len(general.running) == workers or (dispatch._waiting and queries == workers - keep)


class PendingPool:
    """A pool whose futures stay pending, as pebble's do until a worker takes the task."""

    def __init__(self) -> None:
        self.sent: list[concurrent.futures.Future[Any]] = []

    def schedule(self, function: Any, args: tuple[Any, ...]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.sent.append(future)
        return future


def test_a_cancel_that_lands_while_a_task_is_being_sent_reaches_the_worker() -> None:
    """Between leaving our queue and being handed to pebble, a task had no pebble future: a cancel
    then (an expired deadline, say) returned False and the task ran to the end on its worker."""
    pool = PendingPool()
    dispatch = BoundedDispatch(pool, 1)  # type: ignore[arg-type]
    holder: list[concurrent.futures.Future[Any]] = []

    def build() -> str:
        assert holder[0].cancel()  # the cancel arrives while the task is being built and sent
        return "node"

    holder.append(dispatch.schedule(str, lambda: "first"))  # takes the worker
    holder[0] = dispatch.schedule(str, build)
    pool.sent[0].set_result("first")  # the worker frees: the second task is built and sent
    assert len(pool.sent) == 2
    assert pool.sent[1].cancelled()  # pebble was told, so it kills the worker if it started the task
