"""Turns an UploadDataset stream into typed columns, checked row by row before anything is stored.

Memory follows the bytes received, never the header's claim: chunks are kept as they arrive and
joined once every row of every column has arrived exactly once, so the peak is about twice the
data (chunks plus the joined arrays), and nothing uninitialised can reach a fit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from scmfit.server.domain.errors import FieldViolation, InvalidRequestError
from scmfit.server.domain.fit import ColumnType
from scmfit.server.wire.enums import DTYPE, VALUES_FIELD, from_wire
from scmfit.v1 import causal_model_service_pb2 as pb


def _invalid(field: str, description: str) -> InvalidRequestError:
    return InvalidRequestError([FieldViolation(field, description)])


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may claim and send; checked at the header and as bytes arrive."""

    max_rows: int
    max_columns: int
    max_cells: int
    """Declared rows x columns."""
    max_bytes: int
    """Bytes of messages received, header included."""


@dataclass
class _Column:
    """The chunks of one column as they arrived: memory follows the data received, not the header's claim."""

    index: int
    name: str
    kind: ColumnType
    dtype: type | np.dtype
    field: str
    chunks: list[tuple[int, np.ndarray, int]]
    """(offset, values, message number)."""
    missing: list[np.ndarray] = dataclasses.field(default_factory=list)
    """The missing rows each chunk marked (absolute row numbers, checked to lie in the chunk)."""


def assemble_upload(
    messages: Iterable[pb.UploadDatasetRequest], limits: UploadLimits
) -> tuple[dict[str, np.ndarray], dict[str, ColumnType], dict[str, np.ndarray]]:
    """Checks the header's claim against the limits, collects each chunk, then checks that every column
    received each row exactly once before it builds the arrays: no row is ever left uninitialised."""
    iterator = iter(messages)
    first = next(iterator, None)
    if first is None or not first.HasField("header"):
        raise _invalid("header", "the first message of an upload must be the header")
    received = first.ByteSize()
    header = first.header
    num_rows = header.num_rows
    columns = _check_header(header, limits)
    for number, message in enumerate(iterator, start=1):
        received += message.ByteSize()
        if received > limits.max_bytes:
            raise _invalid(
                f"messages[{number}]", f"the upload passed the server limit max_upload_bytes={limits.max_bytes}"
            )
        if not message.HasField("chunk"):
            raise _invalid(f"messages[{number}]", "only the first message may be a header")
        chunk = message.chunk
        if chunk.column >= len(columns):
            raise _invalid(f"messages[{number}].chunk.column", f"no column {chunk.column} in the header")
        column = columns[chunk.column]
        which = chunk.WhichOneof("values")
        if which != column.field:
            raise _invalid(
                f"messages[{number}].chunk.values",
                f"column {column.name[:80]!r} is {column.field}, the chunk carries {which}",
            )
        values = getattr(chunk, which).values
        end = chunk.offset + len(values)
        if end > num_rows:
            raise _invalid(
                f"messages[{number}].chunk.offset", f"rows {chunk.offset}..{end} overrun num_rows={num_rows}"
            )
        if len(values):
            array = np.array(list(values), dtype=object) if column.dtype is object else np.asarray(values, column.dtype)
            column.chunks.append((chunk.offset, array, number))
        if chunk.missing_rows:
            marked = np.asarray(chunk.missing_rows, dtype=np.uint64)
            if int(marked.min()) < chunk.offset or int(marked.max()) >= end:
                raise _invalid(
                    f"messages[{number}].chunk.missing_rows",
                    f"rows marked missing must lie in this chunk's rows {chunk.offset}..{end}",
                )
            column.missing.append(marked)
    arrays = {column.name: _join(column, num_rows) for column in columns}
    missing = {column.name: np.sort(np.concatenate(column.missing)) for column in columns if column.missing}
    return arrays, {column.name: column.kind for column in columns}, missing


def _check_header(header: pb.DatasetHeader, limits: UploadLimits) -> list[_Column]:
    if not header.columns:
        raise _invalid("header.columns", "an upload needs at least one column")
    if len(header.columns) > limits.max_columns:
        raise _invalid(
            "header.columns", f"{len(header.columns)} columns exceed the server limit max_columns={limits.max_columns}"
        )
    if header.num_rows > limits.max_rows:
        raise _invalid("header.num_rows", f"{header.num_rows} rows exceed the server limit max_rows={limits.max_rows}")
    if header.num_rows * len(header.columns) > limits.max_cells:
        raise _invalid(
            "header.num_rows",
            f"{header.num_rows} rows x {len(header.columns)} columns exceed the server limit "
            f"max_upload_cells={limits.max_cells}",
        )
    columns: list[_Column] = []
    seen: set[str] = set()
    for i, spec in enumerate(header.columns):
        if not spec.name or spec.name in seen:
            raise _invalid(f"header.columns[{i}].name", f"names must be unique and non-empty, got {spec.name[:80]!r}")
        kind = from_wire(ColumnType, spec.type)
        if kind is None:
            raise _invalid(f"header.columns[{i}].type", "set a column type")
        seen.add(spec.name)
        columns.append(_Column(i, spec.name, kind, DTYPE[kind], VALUES_FIELD[kind], []))
    return columns


def _join(column: _Column, num_rows: int) -> np.ndarray:
    """The column in row order, after proving its chunks tile rows 0..num_rows with no overlap or gap."""
    chunks = sorted(column.chunks, key=lambda chunk: (chunk[0], chunk[2]))
    covered = 0
    last_message = 0
    for offset, values, number in chunks:
        if offset < covered:
            raise _invalid(
                f"messages[{number}].chunk.offset",
                f"rows {offset}..{offset + len(values)} of column {column.name[:80]!r} overlap rows up to {covered} "
                f"already sent in messages[{last_message}]; send each row once",
            )
        if offset > covered:
            raise _invalid(
                f"header.columns[{column.index}]",
                f"column {column.name[:80]!r} is missing rows {covered}..{offset}; send every row once",
            )
        covered, last_message = offset + len(values), number
    if covered != num_rows:
        raise _invalid(
            f"header.columns[{column.index}]",
            f"column {column.name[:80]!r} is missing rows {covered}..{num_rows}; send every row once",
        )
    if not chunks:
        return np.empty(0, dtype=column.dtype)
    return np.concatenate([values for _, values, _ in chunks])
