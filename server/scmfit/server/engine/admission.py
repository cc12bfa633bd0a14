"""Admission control: at most `max_active` fits and queries run at once, and at most `max_queued` wait.

A call beyond the queue is refused at once with RESOURCE_EXHAUSTED and a retry delay, before it
has streamed anything, so that gRPC's own retry policy on the client can retry it after that delay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from scmfit.server.domain.errors import FitCancelledError, ServerBusyError

WAIT_SLICE_SECONDS = 0.1


class Admission:
    def __init__(
        self,
        max_active: int,
        max_queued: int,
        retry_after_seconds: float = 1.0,
        *,
        what: str = "calls",
        limit_names: str = "max_concurrent and max_queue",
    ) -> None:
        self.what = what
        self.limit_names = limit_names
        self.max_active = max_active
        self.max_queued = max_queued
        self.retry_after_seconds = retry_after_seconds
        self._active = 0
        self._queued = 0
        self._condition = threading.Condition()

    @property
    def active(self) -> int:
        return self._active

    @property
    def queued(self) -> int:
        return self._queued

    @contextmanager
    def slot(self, still_wanted: Callable[[], bool]) -> Iterator[None]:
        """Holds a slot for the block; waits in the queue while `still_wanted()` (the call is alive)."""
        with self._condition:
            if self._active >= self.max_active:
                if self._queued >= self.max_queued:
                    raise ServerBusyError(
                        self._active, self._queued, self.retry_after_seconds, self.what, self.limit_names
                    )
                self._queued += 1
                try:
                    while self._active >= self.max_active:
                        if not still_wanted():
                            raise FitCancelledError("the call ended while it waited for a worker")
                        self._condition.wait(WAIT_SLICE_SECONDS)
                finally:
                    self._queued -= 1
            self._active += 1
        try:
            yield
        finally:
            with self._condition:
                self._active -= 1
                self._condition.notify()
