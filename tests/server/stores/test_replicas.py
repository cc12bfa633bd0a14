"""The replica store: computes only what it lacks, keeps within its budget, and waits as a deadline allows."""

from __future__ import annotations

import sys
import threading

import pytest

from scmfit.server.domain.errors import DeadlineError, ReplicaBudgetError
from scmfit.server.stores.replicas import Refit, ReplicaStore


def counting() -> tuple[list[tuple[int, int]], Refit]:
    asked: list[tuple[int, int]] = []

    def refit(start: int, stop: int) -> list[bytes]:
        asked.append((start, stop))
        return [bytes([index % 256]) * 10 for index in range(start, stop)]

    return asked, refit


def test_a_larger_count_refits_only_the_replicas_it_lacks() -> None:
    store = ReplicaStore(budget_bytes=10_000)
    asked, refit = counting()
    first = store.ensure("m", 5, refit, None)
    again = store.ensure("m", 3, refit, None)
    more = store.ensure("m", 8, refit, None)
    assert asked == [(0, 5), (5, 8)]
    assert again == first[:3] and more[:5] == first and len(more) == 8


def test_the_least_recently_used_model_goes_first_and_one_too_big_is_refused() -> None:
    store = ReplicaStore(budget_bytes=250)
    _, refit = counting()
    store.ensure("a", 10, refit, None)
    store.ensure("b", 10, refit, None)
    store.ensure("a", 1, refit, None)  # a is now the most recent
    store.ensure("c", 10, refit, None)
    assert (store.kept("a"), store.kept("b"), store.kept("c")) == (10, 0, 10)
    assert store.size_bytes <= 250
    with pytest.raises(ReplicaBudgetError, match="num_bootstrap"):
        store.ensure("d", 30, refit, None)
    assert store.kept("d") == 0


def test_a_call_without_a_deadline_waits_and_one_with_a_passed_deadline_does_not() -> None:
    """gRPC gives a call without a deadline a huge time_remaining(), beyond what a lock wait takes."""
    store = ReplicaStore(budget_bytes=10_000)
    _, refit = counting()
    assert len(store.ensure("m", 2, refit, sys.float_info.max)) == 2
    started, release = threading.Event(), threading.Event()

    def slow(start: int, stop: int) -> list[bytes]:
        started.set()
        release.wait(30)
        return [b"x"] * (stop - start)

    worker = threading.Thread(target=store.ensure, args=("n", 2, slow, None))
    worker.start()
    assert started.wait(30)
    with pytest.raises(DeadlineError):
        store.ensure("n", 2, refit, 0.05)
    release.set()
    worker.join(30)
    assert store.kept("n") == 2
