"""The client's one translation between proto enums and Python names, derived from the proto itself.

Names are the proto's without the enum's prefix (`FIT_STATUS_SUCCESS` is "success"), so a value
added to the proto needs no table here; the result types' enums use the same names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scmfit.v1 import causal_model_service_pb2 as pb


def enum_name(enum: Any, value: int, prefix: str) -> str:
    """`enum_name(pb.FitStatus, 1, "FIT_STATUS_")` is "success"."""
    return str(enum.Name(value)).removeprefix(prefix).lower()


QUALITY_NAMES: Mapping[str, pb.Quality.ValueType] = {
    name.removeprefix("QUALITY_"): value for name, value in pb.Quality.items() if value != pb.QUALITY_UNSPECIFIED
}
"""GOOD, BETTER, BEST (and any quality a newer proto adds) to their wire values."""
SELECTION_NAMES: Mapping[str, pb.Selection.ValueType] = {
    name.removeprefix("SELECTION_"): value for name, value in pb.Selection.items() if value != pb.SELECTION_UNSPECIFIED
}
"""RACING and EXHAUSTIVE to their wire values."""


def column_type(values_field: str) -> pb.ColumnType.ValueType:
    """The ColumnType of a Column's `values` oneof field: "doubles" is COLUMN_TYPE_DOUBLE."""
    return pb.ColumnType.Value(f"COLUMN_TYPE_{values_field.removesuffix('s').upper()}")
