"""The uploaded-dataset store: content-addressed, bounded by bytes, expiring when unused."""

from __future__ import annotations

import time

import numpy as np
import pytest

from scmfit.server.domain.errors import DatasetNotFoundError, InvalidRequestError
from scmfit.server.domain.fit import ColumnType
from scmfit.server.stores.datasets import DatasetStore


def test_store_is_content_addressed_bounded_and_expiring() -> None:
    store = DatasetStore(max_bytes=20_000, ttl_seconds=0.3)
    one = store.put({"x": np.arange(1000.0)}, {"x": ColumnType.DOUBLE})
    again = store.put({"x": np.arange(1000.0)}, {"x": ColumnType.DOUBLE})
    assert one.dataset_id == again.dataset_id and one.dataset_id.startswith("ds-")
    other = store.put({"x": np.arange(1000.0) + 1}, {"x": ColumnType.DOUBLE})
    assert other.dataset_id != one.dataset_id
    store.put({"y": np.arange(1500.0)}, {"y": ColumnType.DOUBLE})  # 12 kB more: the oldest goes
    with pytest.raises(DatasetNotFoundError):
        store.get(one.dataset_id)
    assert store.get(other.dataset_id).columns["x"][0] == 1.0
    time.sleep(0.4)
    with pytest.raises(DatasetNotFoundError):
        store.get(other.dataset_id)
    with pytest.raises(InvalidRequestError):
        store.put({"z": np.zeros(10_000)}, {"z": ColumnType.DOUBLE})  # larger than the whole store
