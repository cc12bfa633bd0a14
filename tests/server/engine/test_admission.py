"""Admission: bounded concurrency, a bounded queue, and an immediate busy error beyond it."""

from __future__ import annotations

import threading
import time

import pytest

from scmfit.server.domain.errors import FitCancelledError, ServerBusyError
from scmfit.server.engine.admission import Admission


def test_slots_queue_and_refuse_beyond_the_queue() -> None:
    admission = Admission(max_active=1, max_queued=1, retry_after_seconds=2.5)
    entered = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def hold() -> None:
        with admission.slot(lambda: True):
            order.append("first")
            entered.set()
            release.wait(5)

    def wait() -> None:
        with admission.slot(lambda: True):
            order.append("second")

    first = threading.Thread(target=hold)
    first.start()
    assert entered.wait(5)
    second = threading.Thread(target=wait)
    second.start()
    deadline = time.monotonic() + 5
    while admission.queued != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (admission.active, admission.queued) == (1, 1)
    with pytest.raises(ServerBusyError) as caught, admission.slot(lambda: True):
        pass
    assert caught.value.retry_after_seconds == 2.5
    release.set()
    first.join(5)
    second.join(5)
    assert order == ["first", "second"]
    assert (admission.active, admission.queued) == (0, 0)


def test_a_waiter_whose_call_ends_leaves_the_queue() -> None:
    admission = Admission(max_active=1, max_queued=4)
    alive = threading.Event()
    alive.set()
    with admission.slot(lambda: True):
        errors: list[BaseException] = []

        def wait() -> None:
            try:
                with admission.slot(alive.is_set):
                    pass
            except FitCancelledError as error:
                errors.append(error)

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.2)
        alive.clear()
        waiter.join(5)
        assert len(errors) == 1
        assert admission.queued == 0
    assert admission.active == 0


def test_slot_is_released_when_the_block_raises() -> None:
    admission = Admission(max_active=1, max_queued=0)
    with pytest.raises(RuntimeError), admission.slot(lambda: True):
        raise RuntimeError("boom")
    with admission.slot(lambda: True):
        assert admission.active == 1
