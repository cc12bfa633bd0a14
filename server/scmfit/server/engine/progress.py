"""Where node-level progress of a running fit is delivered, whichever executor's workers report it."""

from __future__ import annotations

import queue
import threading

Event = tuple[str, str]
"""(stage, node), as a worker reports it."""


class ProgressChannels:
    """One queue per fit run, keyed by the run's token; events for a closed or unknown run are dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, queue.Queue[Event]] = {}

    def open(self, run: str) -> queue.Queue[Event]:
        events: queue.Queue[Event] = queue.Queue()
        with self._lock:
            self._runs[run] = events
        return events

    def close(self, run: str) -> None:
        with self._lock:
            self._runs.pop(run, None)

    def deliver(self, run: str, stage: str, node: str) -> None:
        with self._lock:
            events = self._runs.get(run)
        if events is not None:
            events.put((stage, node))
