"""Bootstrap refits of stored models, kept in memory within a byte budget so that only the first
interval question on a model pays for refitting; later ones only sample."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from scmfit.server.domain.errors import DeadlineError, ReplicaBudgetError

Refit = Callable[[int, int], list[bytes]]
"""Computes replicas [start, stop) of one model, in order."""


class ReplicaStore:
    """Replica i of a model is the same bytes whenever it is computed (its draws are seeded by the model),
    so a store that kept 100 and is asked for 200 computes only the other 100."""

    def __init__(self, budget_bytes: int, on_refit: Callable[[int], None] | None = None) -> None:
        self._budget = budget_bytes
        self._on_refit = on_refit
        self._kept: OrderedDict[str, list[bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return sum(len(blob) for blobs in self._kept.values() for blob in blobs)

    def kept(self, model_id: str) -> int:
        with self._lock:
            return len(self._kept.get(model_id, ()))

    def ensure(self, model_id: str, count: int, refit: Refit, wait_seconds: float | None) -> tuple[bytes, ...]:
        """The model's first `count` replicas, refitting the missing ones; one refit per model at a time,
        and a second question waits for the first's (at most `wait_seconds`, its deadline)."""
        with self._lock:
            computing = self._computing.setdefault(model_id, threading.Lock())
        unbounded = wait_seconds is None or wait_seconds >= threading.TIMEOUT_MAX  # a call without a deadline
        if not computing.acquire(timeout=-1 if unbounded else max(0.0, wait_seconds or 0.0)):
            raise DeadlineError("the deadline passed while another call refitted this model's bootstrap replicas")
        try:
            with self._lock:
                have = list(self._kept.get(model_id, ()))
                if model_id in self._kept:
                    self._kept.move_to_end(model_id)
            if len(have) >= count:
                return tuple(have[:count])
            fresh = refit(len(have), count)
            if self._on_refit is not None:
                self._on_refit(len(fresh))
            every = have + fresh
            size = sum(map(len, every))
            if size > self._budget:
                raise ReplicaBudgetError(
                    f"{count} bootstrap refits of this model take {size} bytes, over the server's "
                    f"max_replica_bytes={self._budget}; ask for fewer (num_bootstrap)"
                )
            with self._lock:
                self._kept[model_id] = every
                self._kept.move_to_end(model_id)
                self._evict(keep=model_id)
            return tuple(every[:count])
        finally:
            computing.release()

    def drop(self, model_id: str) -> None:
        with self._lock:
            self._kept.pop(model_id, None)

    def _evict(self, keep: str) -> None:
        total = sum(len(blob) for blobs in self._kept.values() for blob in blobs)
        for model_id in list(self._kept):
            if total <= self._budget:
                return
            if model_id != keep:
                total -= sum(map(len, self._kept.pop(model_id)))
