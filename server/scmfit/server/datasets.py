"""Uploaded datasets: assembled from chunks into preallocated arrays, content-addressed, bounded, TTL'd.

An upload never holds more than its final arrays plus one chunk, so 1M rows x 10 float64 columns
(80 MB) peak at about that much on top of the idle server.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from scmfit.server.errors import DatasetNotFoundError, FieldViolation, InvalidRequestError
from scmfit.server.identity import hash_column
from scmfit.server.job import ColumnKind
from scmfit.v1 import causal_model_service_pb2 as pb

DATASET_ID_PREFIX = "ds-"
_TYPES = {
    pb.COLUMN_TYPE_DOUBLE: (ColumnKind.DOUBLE, np.float64, "doubles"),
    pb.COLUMN_TYPE_INT64: (ColumnKind.INT64, np.int64, "int64s"),
    pb.COLUMN_TYPE_BOOL: (ColumnKind.BOOL, np.bool_, "bools"),
    pb.COLUMN_TYPE_STRING: (ColumnKind.STRING, object, "strings"),
}


@dataclass(frozen=True)
class StoredDataset:
    dataset_id: str
    columns: Mapping[str, np.ndarray]
    kinds: Mapping[str, ColumnKind]
    size_bytes: int
    last_use_time: float


def _invalid(field: str, description: str) -> InvalidRequestError:
    return InvalidRequestError([FieldViolation(field, description)])


def assemble_upload(
    messages: Iterable[pb.UploadDatasetRequest], max_rows: int, max_columns: int
) -> tuple[dict[str, np.ndarray], dict[str, ColumnKind]]:
    """Reads the header, preallocates every column, then copies each chunk into place."""
    iterator = iter(messages)
    first = next(iterator, None)
    if first is None or not first.HasField("header"):
        raise _invalid("header", "the first message of an upload must be the header")
    header = first.header
    if not header.columns:
        raise _invalid("header.columns", "an upload needs at least one column")
    if len(header.columns) > max_columns:
        raise _invalid(
            "header.columns", f"{len(header.columns)} columns exceed the server limit max_columns={max_columns}"
        )
    if header.num_rows > max_rows:
        raise _invalid("header.num_rows", f"{header.num_rows} rows exceed the server limit max_rows={max_rows}")
    names: list[str] = []
    arrays: list[np.ndarray] = []
    kinds: list[ColumnKind] = []
    fields: list[str] = []
    for i, spec in enumerate(header.columns):
        if not spec.name or spec.name in names:
            raise _invalid(f"header.columns[{i}].name", f"names must be unique and non-empty, got {spec.name[:80]!r}")
        if spec.type not in _TYPES:
            raise _invalid(f"header.columns[{i}].type", "set a column type")
        kind, dtype, field = _TYPES[spec.type]
        names.append(spec.name)
        kinds.append(kind)
        fields.append(field)
        arrays.append(np.empty(header.num_rows, dtype=dtype))
    filled = [0] * len(names)
    for number, message in enumerate(iterator, start=1):
        if not message.HasField("chunk"):
            raise _invalid(f"messages[{number}]", "only the first message may be a header")
        chunk = message.chunk
        if chunk.column >= len(names):
            raise _invalid(f"messages[{number}].chunk.column", f"no column {chunk.column} in the header")
        which = chunk.WhichOneof("values")
        if which != fields[chunk.column]:
            raise _invalid(
                f"messages[{number}].chunk.values",
                f"column {names[chunk.column][:80]!r} is {fields[chunk.column]}, the chunk carries {which}",
            )
        values = getattr(chunk, which).values
        end = chunk.offset + len(values)
        if end > header.num_rows:
            raise _invalid(
                f"messages[{number}].chunk.offset", f"rows {chunk.offset}..{end} overrun num_rows={header.num_rows}"
            )
        target = arrays[chunk.column]
        target[chunk.offset : end] = list(values) if target.dtype == object else np.asarray(values, dtype=target.dtype)
        filled[chunk.column] += len(values)
    for i, count in enumerate(filled):
        if count != header.num_rows:
            raise _invalid(
                f"header.columns[{i}]", f"column {names[i][:80]!r} received {count} of {header.num_rows} rows"
            )
    return dict(zip(names, arrays, strict=True)), dict(zip(names, kinds, strict=True))


def dataset_id_for(columns: Mapping[str, np.ndarray], kinds: Mapping[str, ColumnKind]) -> str:
    digest = hashlib.sha256(b"scmfit-dataset-v1")
    for name in sorted(columns):
        hash_column(digest, name, kinds[name], columns[name])
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

    def put(self, columns: Mapping[str, np.ndarray], kinds: Mapping[str, ColumnKind]) -> StoredDataset:
        size = _size(columns)
        if size > self.max_bytes:
            raise _invalid("header.num_rows", f"the dataset takes {size} bytes, over the server's {self.max_bytes}")
        dataset_id = dataset_id_for(columns, kinds)
        stored = StoredDataset(dataset_id, dict(columns), dict(kinds), size, time.time())
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
            stored = StoredDataset(stored.dataset_id, stored.columns, stored.kinds, stored.size_bytes, time.time())
            self._items[dataset_id] = stored
            return stored

    def _expire(self) -> None:
        now = time.time()
        for dataset_id in [d for d, s in self._items.items() if now - s.last_use_time > self.ttl_seconds]:
            self._bytes -= self._items.pop(dataset_id).size_bytes
