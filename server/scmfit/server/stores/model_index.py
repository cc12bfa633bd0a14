"""Where the registry's models live beyond memory, and what it knows of them there: one small class per
kind of store, so that the registry itself never asks which kind it has.

- `MemoryOnly`: no store; a model evicted from memory is gone.
- `LocalIndex`: a private directory, this server's alone: scanned once at start-up, then kept in step
  by our own writes; it has a disk budget and counts the files it cannot verify.
- `SharedIndex`: an object store other replicas write too: the store is the truth, so lookups ask it,
  and listings read each model's small signed index entry instead of the model.

Every method runs under the registry's lock (a re-entrant one, passed in), as the registry's own
bookkeeping does, so the two never disagree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from scmfit.server.stores.modelfiles import FileInfo
from scmfit.server.stores.models import ListedModel, StoredModel
from scmfit.server.stores.sealing import SealedFiles

_log = logging.getLogger(__name__)


class ModelIndex(Protocol):
    """What the registry asks of a store."""

    persists: bool
    """Whether `write` keeps the model beyond memory."""

    def write(self, model: StoredModel) -> None:
        """Stores the model (before the registry returns its id), with whatever entry a listing needs."""
        ...

    def ids(self, prefix: str) -> set[str]:
        """Ids of stored models starting with `prefix`, besides those in memory."""
        ...

    def gone(self, model_id: str) -> bool:
        """True when the store says the model was deleted, even if this replica still holds it in memory."""
        ...

    def load(self, model_id: str) -> StoredModel | None:
        """The model read back from the store, verified; None when it has no intact, signed copy."""
        ...

    def loaded(self, model: StoredModel, listed_before: bool) -> None:
        """Called after a load: a shared store heals a model written before index entries existed."""
        ...

    def delete(self, model_id: str, in_memory: bool) -> bool:
        """Deletes the stored copy; True when the model existed (the store decides, where it is shared)."""
        ...

    def page(self, keys: dict[str, float]) -> tuple[dict[str, float], dict[str, FileInfo]]:
        """Every listable id with its create time (given those in memory), and the store's file infos."""
        ...

    def listing(self, model_id: str, info: FileInfo | None) -> ListedModel | None:
        """A listing entry for a model the registry has not seen, read without reading the model."""
        ...

    def expire(self, now: float, ttl_seconds: float, in_memory: set[str], expired: set[str]) -> list[str]:
        """Deletes the stored copies of `expired` (models memory just expired) and of models not in memory
        written longer than the TTL ago; returns the latter's ids. A shared store's objects expire by the
        bucket's lifecycle rules instead."""
        ...

    def held(self) -> set[str]:
        """Ids this replica alone holds in its store, for the registry's statistics."""
        ...

    def unverified(self) -> tuple[int, int]:
        """Files in the store that no key of ours verifies, and their bytes."""
        ...


class MemoryOnly:
    """No store: nothing outlives memory."""

    persists = False

    def write(self, model: StoredModel) -> None:
        return None

    def ids(self, prefix: str) -> set[str]:
        return set()

    def gone(self, model_id: str) -> bool:
        return False

    def load(self, model_id: str) -> StoredModel | None:
        return None

    def loaded(self, model: StoredModel, listed_before: bool) -> None:
        return None

    def delete(self, model_id: str, in_memory: bool) -> bool:
        return in_memory

    def page(self, keys: dict[str, float]) -> tuple[dict[str, float], dict[str, FileInfo]]:
        return keys, {}

    def listing(self, model_id: str, info: FileInfo | None) -> ListedModel | None:
        return None

    def expire(self, now: float, ttl_seconds: float, in_memory: set[str], expired: set[str]) -> list[str]:
        return []

    def held(self) -> set[str]:
        return set()

    def unverified(self) -> tuple[int, int]:
        return 0, 0


class LocalIndex:
    """A private directory: indexed once at start-up, then kept in step by our writes, within a disk budget."""

    persists = True

    def __init__(
        self,
        sealed: SealedFiles,
        lock: threading.RLock,
        disk_bytes: int | None,
        forget: Callable[[str], object],
    ) -> None:
        """`forget(model_id)` drops a model the budget deleted from the registry's listing cache."""
        self._sealed = sealed
        self._lock = lock
        self.disk_bytes = disk_bytes
        self._forget = forget
        self._on_disk: dict[str, FileInfo] = {}
        self._unverified: dict[str, FileInfo] = {}
        """Files that failed their signature or format: never served, but on disk, so they count against
        the disk budget (and go first) and are reported."""

    def scan(self) -> dict[str, ListedModel]:
        """Reads every file once; returns the listing entries of the intact ones."""
        files = self._sealed.files
        listed: dict[str, ListedModel] = {}
        for model_id, info in files.list().items():
            model = self._sealed.read_model(model_id)
            if model is not None:
                self._on_disk[model.model_id] = FileInfo(model.create_time, info.size)
                listed[model.model_id] = ListedModel.of(model)
            else:
                self._unverified[model_id] = info
        if self._unverified:
            _log.warning(
                "%d model file(s) in %s failed their signature or format (%d bytes): they are never served, "
                "count against the disk budget and are deleted first when it is passed",
                len(self._unverified),
                files.describe(),
                sum(f.size for f in self._unverified.values()),
            )
        _log.info("found %d stored model(s) in %s", len(self._on_disk), files.describe())
        if self._on_disk:
            self._enforce_budget(keep=max(self._on_disk, key=lambda mid: self._on_disk[mid].create_time))
        return listed

    def write(self, model: StoredModel) -> None:
        size = self._sealed.write_model(model)
        with self._lock:
            self._on_disk[model.model_id] = FileInfo(model.create_time, size)
        self._enforce_budget(keep=model.model_id)

    def ids(self, prefix: str) -> set[str]:
        with self._lock:
            return {model_id for model_id in self._on_disk if model_id.startswith(prefix)}

    def gone(self, model_id: str) -> bool:
        return False

    def load(self, model_id: str) -> StoredModel | None:
        with self._lock:
            if model_id not in self._on_disk:
                return None
        model = self._sealed.read_model(model_id)
        if model is None:
            with self._lock:
                self._on_disk.pop(model_id, None)
        return model

    def loaded(self, model: StoredModel, listed_before: bool) -> None:
        return None

    def delete(self, model_id: str, in_memory: bool) -> bool:
        with self._lock:
            on_disk = self._on_disk.pop(model_id, None) is not None
        if on_disk:
            self._sealed.files.delete(model_id)
        return in_memory or on_disk

    def page(self, keys: dict[str, float]) -> tuple[dict[str, float], dict[str, FileInfo]]:
        with self._lock:
            merged = dict(keys)
            merged.update({mid: f.create_time for mid, f in self._on_disk.items() if mid not in keys})
        return merged, {}

    def listing(self, model_id: str, info: FileInfo | None) -> ListedModel | None:
        return None

    def expire(self, now: float, ttl_seconds: float, in_memory: set[str], expired: set[str]) -> list[str]:
        with self._lock:
            old = [
                mid for mid, f in self._on_disk.items() if mid not in in_memory and now - f.create_time > ttl_seconds
            ]
            doomed = [mid for mid in (*expired, *old) if self._on_disk.pop(mid, None) is not None]
        for model_id in doomed:
            self._sealed.files.delete(model_id)
        return old

    def held(self) -> set[str]:
        with self._lock:
            return set(self._on_disk)

    def unverified(self) -> tuple[int, int]:
        with self._lock:
            return len(self._unverified), sum(f.size for f in self._unverified.values())

    def _enforce_budget(self, keep: str) -> None:
        """Deletes the oldest model files until the directory fits its byte budget (the newest stays)."""
        if self.disk_bytes is None:
            return
        with self._lock:
            total = sum(f.size for f in self._on_disk.values()) + sum(f.size for f in self._unverified.values())
            # Files no key of ours verifies cannot be served: they go before any model that can.
            oldest = sorted((f.create_time, mid) for mid, f in self._unverified.items())
            oldest += sorted((f.create_time, mid) for mid, f in self._on_disk.items() if mid != keep)
            doomed = []
            for _, model_id in oldest:
                if total <= self.disk_bytes:
                    break
                info = self._unverified.pop(model_id, None) or self._on_disk.pop(model_id)
                self._forget(model_id)
                total -= info.size
                doomed.append(model_id)
        for model_id in doomed:
            self._sealed.files.delete(model_id)
            _log.info(
                "deleted model file %s: the model directory is over its %d-byte budget", model_id[:12], self.disk_bytes
            )


class SharedIndex:
    """An object store that other replicas write too: it, not this replica's memory, says what exists."""

    persists = True

    def __init__(self, sealed: SealedFiles, lock: threading.RLock) -> None:
        self._sealed = sealed
        self._lock = lock
        self._not_indexed: set[tuple[str, float, int]] = set()
        """Store objects (id, time, size) whose index entry is missing or forged: not asked for again."""

    def write(self, model: StoredModel) -> None:
        self._sealed.write_model(model)
        self._sealed.write_index(model)

    def ids(self, prefix: str) -> set[str]:
        return set(self._sealed.files.list(prefix))

    def gone(self, model_id: str) -> bool:
        return not self._sealed.files.exists(model_id)

    def load(self, model_id: str) -> StoredModel | None:
        return self._sealed.read_model(model_id)

    def loaded(self, model: StoredModel, listed_before: bool) -> None:
        if not listed_before:
            # Written by a replica before index entries existed: from now on it is listed without a read.
            self._sealed.write_index(model)

    def delete(self, model_id: str, in_memory: bool) -> bool:
        return self._sealed.files.delete(model_id)  # a copy another replica already deleted is not a model

    def page(self, keys: dict[str, float]) -> tuple[dict[str, float], dict[str, FileInfo]]:
        infos = self._sealed.files.list()  # the store is the truth: what others wrote or deleted
        return {mid: keys.get(mid, f.create_time) for mid, f in infos.items()}, infos

    def listing(self, model_id: str, info: FileInfo | None) -> ListedModel | None:
        if info is None:
            return None
        with self._lock:
            if (model_id, info.create_time, info.size) in self._not_indexed:
                return None
        entry = self._sealed.read_index(model_id)
        if entry is None:
            with self._lock:
                self._not_indexed.add((model_id, info.create_time, info.size))
        return entry

    def expire(self, now: float, ttl_seconds: float, in_memory: set[str], expired: set[str]) -> list[str]:
        return []  # a shared store's objects expire by the bucket's lifecycle rules

    def held(self) -> set[str]:
        return set()  # a shared store is not this replica's to count

    def unverified(self) -> tuple[int, int]:
        return 0, 0
