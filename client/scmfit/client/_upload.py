"""Splits a Dataset into UploadDataset messages: a header, then chunks of about 1 MiB each.

Chunks stay far below gRPC's default 4 MiB message limit, and the server writes each one straight
into a column it preallocated from the header, so neither side ever holds the data twice.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from scmfit.client._wire import column_type
from scmfit.v1 import causal_model_service_pb2 as pb

CHUNK_VALUES = {"doubles": 131_072, "int64s": 131_072, "bools": 1_048_576, "strings": 32_768}


def dataset_rows(dataset: pb.Dataset) -> int:
    """The rows of a dataset built by `fit_request` (typed, equal-length columns): its first column's,
    and 0 for a dataset without columns (an empty graph)."""
    if not dataset.columns:
        return 0
    first = dataset.columns[0]
    return len(getattr(first, str(first.WhichOneof("values"))).values)


def upload_messages(dataset: pb.Dataset) -> Iterator[pb.UploadDatasetRequest]:
    kinds = [str(column.WhichOneof("values")) for column in dataset.columns]
    rows = dataset_rows(dataset)
    header = pb.DatasetHeader(
        columns=[pb.ColumnSpec(name=c.name, type=column_type(k)) for c, k in zip(dataset.columns, kinds, strict=True)],
        num_rows=rows,
    )
    yield pb.UploadDatasetRequest(header=header)
    for index, (column, kind) in enumerate(zip(dataset.columns, kinds, strict=True)):
        values = getattr(column, kind).values
        missing = np.asarray(column.missing_rows, dtype=np.uint64)
        step = CHUNK_VALUES[kind]
        for start in range(0, rows, step):
            end = start + step
            marked = missing[(missing >= start) & (missing < end)]  # each chunk carries its own gaps
            chunk = pb.ColumnChunk(
                column=index,
                offset=start,
                missing_rows=marked.tolist(),
                **{kind: type(getattr(column, kind))(values=values[start:end])},
            )
            yield pb.UploadDatasetRequest(chunk=chunk)


def uploadable(dataset: pb.Dataset) -> bool:
    """Typed, equal-length columns; anything else goes inline, so the server can name the problem."""
    kinds = [column.WhichOneof("values") for column in dataset.columns]
    if not kinds or None in kinds:
        return False
    return len({len(getattr(c, str(k)).values) for c, k in zip(dataset.columns, kinds, strict=True)}) == 1
