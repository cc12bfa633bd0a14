"""The one translation between the domain's enums and the proto's.

Each domain enum is named after its proto enum, and each member after the proto value without the
enum's prefix (`FitStatus.SUCCESS` is `FIT_STATUS_SUCCESS`), so no per-enum table exists anywhere:
a value added to the proto needs only its domain member. The one convention: a domain `NONE` is the
proto's `*_UNSPECIFIED` where that zero value carries a meaning (R² reported, nothing omitted).
A test checks that every pair maps both ways.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

import numpy as np

from scmfit.server.domain.fit import (
    CandidateOutcome,
    ColumnType,
    FitStatus,
    MechanismKind,
    R2Omission,
    SelectionPath,
    Stage,
)
from scmfit.server.domain.settings import MissingValues, Quality, Selection
from scmfit.v1 import causal_model_service_pb2 as pb

E = TypeVar("E", bound=Enum)

WIRE: dict[type[Enum], tuple[Any, str]] = {
    CandidateOutcome: (pb.CandidateOutcome, "CANDIDATE_OUTCOME_"),
    Selection: (pb.Selection, "SELECTION_"),
    ColumnType: (pb.ColumnType, "COLUMN_TYPE_"),
    FitStatus: (pb.FitStatus, "FIT_STATUS_"),
    MissingValues: (pb.MissingValues, "MISSING_VALUES_"),
    MechanismKind: (pb.MechanismKind, "MECHANISM_KIND_"),
    Quality: (pb.Quality, "QUALITY_"),
    R2Omission: (pb.R2Omission, "R2_OMISSION_"),
    SelectionPath: (pb.SelectionPath, "SELECTION_PATH_"),
    Stage: (pb.Stage, "STAGE_"),
}
"""Each domain enum's proto enum and value prefix."""


def to_wire(member: Enum) -> Any:
    """The proto value of a domain member (typed Any: each proto enum has its own ValueType)."""
    wire, prefix = WIRE[type(member)]
    return wire.Value(prefix + ("UNSPECIFIED" if member.name == "NONE" else member.name))


def from_wire(kind: type[E], value: int) -> E | None:
    """The domain member, or None for an unset or unknown wire value (the caller names the field)."""
    wire, prefix = WIRE[kind]
    try:
        name = str(wire.Name(value)).removeprefix(prefix)
    except ValueError:
        return None
    if name == "UNSPECIFIED":
        name = "NONE"
    return kind.__members__.get(name)


VALUES_FIELD: dict[ColumnType, str] = {kind: f"{kind.name.lower()}s" for kind in ColumnType}
"""The `values` oneof field of a Column (and of a ColumnChunk) that holds each column type."""
COLUMN_OF_FIELD: dict[str, ColumnType] = {field: kind for kind, field in VALUES_FIELD.items()}
DTYPE: dict[ColumnType, type] = {
    ColumnType.DOUBLE: np.float64,
    ColumnType.INT64: np.int64,
    ColumnType.BOOL: np.bool_,
    ColumnType.STRING: object,
}
"""The numpy dtype each column type decodes into."""
