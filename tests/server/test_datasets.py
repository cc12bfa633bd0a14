"""Uploaded datasets: chunk assembly into preallocated columns, and the bounded, expiring store."""

from __future__ import annotations

import time

import numpy as np
import pytest

from scmfit.client._upload import upload_messages
from scmfit.server.datasets import DatasetStore, assemble_upload
from scmfit.server.errors import DatasetNotFoundError, InvalidRequestError
from scmfit.server.job import ColumnKind
from scmfit.v1 import causal_model_service_pb2 as pb


def dataset(rows: int) -> pb.Dataset:
    rng = np.random.default_rng(0)
    return pb.Dataset(
        columns=[
            pb.Column(name="f", doubles=pb.DoubleValues(values=rng.normal(size=rows).tolist())),
            pb.Column(name="i", int64s=pb.Int64Values(values=list(range(rows)))),
            pb.Column(name="b", bools=pb.BoolValues(values=[i % 3 == 0 for i in range(rows)])),
            pb.Column(name="s", strings=pb.StringValues(values=[f"c{i % 7}" for i in range(rows)])),
        ]
    )


def test_chunks_reassemble_every_type_exactly() -> None:
    source = dataset(300_000)  # several chunks per column
    messages = list(upload_messages(source))
    assert len(messages) > 8 and messages[0].HasField("header")
    assert all(m.ByteSize() < 4 * 1024 * 1024 for m in messages)
    columns, kinds = assemble_upload(messages, max_rows=10**7, max_columns=10)
    assert kinds == {"f": ColumnKind.DOUBLE, "i": ColumnKind.INT64, "b": ColumnKind.BOOL, "s": ColumnKind.STRING}
    np.testing.assert_array_equal(columns["f"], np.asarray(source.columns[0].doubles.values))
    assert columns["i"][-1] == 299_999 and columns["i"].dtype == np.int64
    assert columns["b"].sum() == 100_000
    assert columns["s"][8] == "c1"


def header(rows: int = 4) -> pb.UploadDatasetRequest:
    spec = pb.ColumnSpec(name="x", type=pb.COLUMN_TYPE_DOUBLE)
    return pb.UploadDatasetRequest(header=pb.DatasetHeader(columns=[spec], num_rows=rows))


def chunk(offset: int, values: list[float]) -> pb.UploadDatasetRequest:
    return pb.UploadDatasetRequest(
        chunk=pb.ColumnChunk(column=0, offset=offset, doubles=pb.DoubleValues(values=values))
    )


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ([chunk(0, [1.0])], "header"),
        ([header(), chunk(0, [1.0, 2.0]), chunk(3, [1.0, 2.0])], "messages[2].chunk.offset"),
        ([header(), chunk(0, [1.0, 2.0, 3.0])], "header.columns[0]"),
        (
            [header(), pb.UploadDatasetRequest(chunk=pb.ColumnChunk(column=0, int64s=pb.Int64Values(values=[1])))],
            "messages[1].chunk.values",
        ),
        ([header(), pb.UploadDatasetRequest(chunk=pb.ColumnChunk(column=5))], "messages[1].chunk.column"),
        ([header(10**9)], "header.num_rows"),
    ],
)
def test_malformed_uploads_name_the_problem(messages: list[pb.UploadDatasetRequest], field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        assemble_upload(messages, max_rows=10**6, max_columns=10)
    assert caught.value.violations[0].field == field


def test_store_is_content_addressed_bounded_and_expiring() -> None:
    store = DatasetStore(max_bytes=20_000, ttl_seconds=0.3)
    one = store.put({"x": np.arange(1000.0)}, {"x": ColumnKind.DOUBLE})
    again = store.put({"x": np.arange(1000.0)}, {"x": ColumnKind.DOUBLE})
    assert one.dataset_id == again.dataset_id and one.dataset_id.startswith("ds-")
    other = store.put({"x": np.arange(1000.0) + 1}, {"x": ColumnKind.DOUBLE})
    assert other.dataset_id != one.dataset_id
    store.put({"y": np.arange(1500.0)}, {"y": ColumnKind.DOUBLE})  # 12 kB more: the oldest goes
    with pytest.raises(DatasetNotFoundError):
        store.get(one.dataset_id)
    assert store.get(other.dataset_id).columns["x"][0] == 1.0
    time.sleep(0.4)
    with pytest.raises(DatasetNotFoundError):
        store.get(other.dataset_id)
    with pytest.raises(InvalidRequestError):
        store.put({"z": np.zeros(10_000)}, {"z": ColumnKind.DOUBLE})  # larger than the whole store
