"""The client's translation of column fields to their ColumnType, derived from the proto itself."""

from __future__ import annotations

from scmfit.v1 import causal_model_service_pb2 as pb


def column_type(values_field: str) -> pb.ColumnType.ValueType:
    """The ColumnType of a Column's `values` oneof field: "doubles" is COLUMN_TYPE_DOUBLE."""
    return pb.ColumnType.Value(f"COLUMN_TYPE_{values_field.removesuffix('s').upper()}")
