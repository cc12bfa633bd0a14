"""Upload decoding: chunks assembled into columns, every row checked to arrive exactly once."""

from __future__ import annotations

import numpy as np
import pytest

from scmfit.client._upload import upload_messages
from scmfit.server.domain.errors import InvalidRequestError
from scmfit.server.domain.fit import ColumnType
from scmfit.server.stores.datasets import dataset_id_for
from scmfit.server.wire.decode_upload import UploadLimits, assemble_upload
from scmfit.v1 import causal_model_service_pb2 as pb

LIMITS = UploadLimits(max_rows=10**7, max_columns=10, max_cells=10**8, max_bytes=10**9)


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
    columns, kinds, _ = assemble_upload(messages, LIMITS)
    assert kinds == {"f": ColumnType.DOUBLE, "i": ColumnType.INT64, "b": ColumnType.BOOL, "s": ColumnType.STRING}
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
        ([header(), chunk(0, [1.0, 2.0]), chunk(1, [1.0, 2.0])], "messages[2].chunk.offset"),  # overlap
        ([header(), chunk(2, [1.0, 2.0])], "header.columns[0]"),  # rows 0..2 never sent
        ([header(), chunk(0, [1.0]), chunk(2, [1.0, 2.0])], "header.columns[0]"),  # row 1 never sent
    ],
)
def test_malformed_uploads_name_the_problem(messages: list[pb.UploadDatasetRequest], field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        assemble_upload(messages, UploadLimits(10**6, 10, 10**7, 10**8))
    assert caught.value.violations[0].field == field


def test_memory_follows_the_data_not_the_header_claim() -> None:
    """A header may not claim more cells than allowed, and the bytes sent are counted as they arrive."""
    specs = [pb.ColumnSpec(name=f"c{i}", type=pb.COLUMN_TYPE_STRING) for i in range(60)]
    claim = pb.UploadDatasetRequest(header=pb.DatasetHeader(columns=specs, num_rows=2_000_000))
    with pytest.raises(InvalidRequestError, match=r"max_upload_cells=1000000") as caught:
        assemble_upload([claim], UploadLimits(max_rows=10**7, max_columns=100, max_cells=10**6, max_bytes=10**9))
    assert caught.value.violations[0].field == "header.num_rows"
    chunks = [header(100_000)] + [chunk(i * 1000, [float(i)] * 1000) for i in range(100)]
    with pytest.raises(InvalidRequestError, match="max_upload_bytes=50000") as caught:
        assemble_upload(chunks, UploadLimits(max_rows=10**7, max_columns=10, max_cells=10**8, max_bytes=50_000))
    assert caught.value.violations[0].field.startswith("messages[")


def test_twenty_copies_of_the_same_rows_are_refused_with_the_offsets() -> None:
    """The review's attack: rows 0-99 sent twenty times, claiming a 2000-row column."""
    messages = [header(2000)] + [chunk(0, [float(v) for v in range(100)]) for _ in range(20)]
    with pytest.raises(InvalidRequestError, match=r"rows 0\.\.100 of column 'x' overlap rows up to 100") as caught:
        assemble_upload(messages, LIMITS)
    assert caught.value.violations[0].field == "messages[2].chunk.offset"


def test_a_half_filled_string_column_is_refused() -> None:
    spec = pb.ColumnSpec(name="s", type=pb.COLUMN_TYPE_STRING)
    messages = [
        pb.UploadDatasetRequest(header=pb.DatasetHeader(columns=[spec], num_rows=10)),
        pb.UploadDatasetRequest(chunk=pb.ColumnChunk(column=0, offset=0, strings=pb.StringValues(values=["a"] * 5))),
    ]
    with pytest.raises(InvalidRequestError, match=r"missing rows 5\.\.10"):
        assemble_upload(messages, LIMITS)


def test_chunks_in_any_order_give_the_same_column_and_the_same_content_addressed_id() -> None:
    values = [float(v) for v in range(30)]
    in_order = [header(30), chunk(0, values[:10]), chunk(10, values[10:20]), chunk(20, values[20:])]
    shuffled = [header(30), chunk(20, values[20:]), chunk(0, values[:10]), chunk(10, values[10:20])]
    ids = set()
    for messages in (in_order, shuffled, in_order):
        columns, kinds, _ = assemble_upload(messages, LIMITS)
        np.testing.assert_array_equal(columns["x"], values)
        ids.add(dataset_id_for(columns, kinds))
    assert len(ids) == 1
