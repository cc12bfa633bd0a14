"""Uploaded datasets, once assembled (wire/decode_upload.py): content-addressed, bounded by bytes, TTL'd."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from scmfit.server.domain.errors import DatasetNotFoundError, FieldViolation, InvalidRequestError
from scmfit.server.domain.fit import ColumnType
from scmfit.server.domain.identity import hash_column

DATASET_ID_PREFIX = "ds-"


@dataclass(frozen=True)
class StoredDataset:
    dataset_id: str
    columns: Mapping[str, np.ndarray]
    kinds: Mapping[str, ColumnType]
    size_bytes: int
    last_use_time: float
    missing: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Per column with missing cells, their row numbers (ascending)."""


def _invalid(field: str, description: str) -> InvalidRequestError:
    return InvalidRequestError([FieldViolation(field, description)])


def dataset_id_for(
    columns: Mapping[str, np.ndarray], kinds: Mapping[str, ColumnType], missing: Mapping[str, np.ndarray] | None = None
) -> str:
    digest = hashlib.sha256(b"scmfit-dataset-v1")
    for name in sorted(columns):
        rows = (missing or {}).get(name)
        mask = None
        if rows is not None and len(rows):
            mask = np.zeros(len(columns[name]), dtype=bool)
            mask[rows.astype(np.int64)] = True
        hash_column(digest, name, kinds[name], columns[name], mask)
    return DATASET_ID_PREFIX + digest.hexdigest()


def _size(columns: Mapping[str, np.ndarray]) -> int:
    return sum(
        int(values.nbytes) + (sum(len(str(v)) for v in values) if values.dtype == object else 0)
        for values in columns.values()
    )


class DatasetStore:
    """Thread-safe, least-recently-used first out, bounded by bytes, expiring after `ttl_seconds` unused."""

    def __init__(self, max_bytes: int, ttl_seconds: float) -> None:
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._items: OrderedDict[str, StoredDataset] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(
        self,
        columns: Mapping[str, np.ndarray],
        kinds: Mapping[str, ColumnType],
        missing: Mapping[str, np.ndarray] | None = None,
    ) -> StoredDataset:
        size = _size(columns)
        if size > self.max_bytes:
            raise _invalid("header.num_rows", f"the dataset takes {size} bytes, over the server's {self.max_bytes}")
        dataset_id = dataset_id_for(columns, kinds, missing)
        stored = StoredDataset(dataset_id, dict(columns), dict(kinds), size, time.time(), dict(missing or {}))
        with self._lock:
            self._expire()
            old = self._items.pop(dataset_id, None)
            if old is not None:
                self._bytes -= old.size_bytes
            self._items[dataset_id] = stored
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.size_bytes
        return stored

    def get(self, dataset_id: str) -> StoredDataset:
        with self._lock:
            self._expire()
            stored = self._items.get(dataset_id)
            if stored is None:
                raise DatasetNotFoundError(dataset_id)
            self._items.move_to_end(dataset_id)
            stored = replace(stored, last_use_time=time.time())
            self._items[dataset_id] = stored
            return stored

    def _expire(self) -> None:
        now = time.time()
        for dataset_id in [d for d, s in self._items.items() if now - s.last_use_time > self.ttl_seconds]:
            self._bytes -= self._items.pop(dataset_id).size_bytes
