"""The one domain↔proto vocabulary: every member of every paired enum maps both ways, and nothing is left
unpaired, so a value added on one side without the other fails here."""

from __future__ import annotations

from enum import Enum

import pytest

from scmfit.server.domain.fit import ColumnType, R2Omission
from scmfit.server.wire.enums import COLUMN_OF_FIELD, VALUES_FIELD, WIRE, from_wire, to_wire
from scmfit.v1 import causal_model_service_pb2 as pb


@pytest.mark.parametrize("kind", list(WIRE), ids=lambda kind: kind.__name__)
def test_each_enum_pairs_with_its_proto_enum_both_ways(kind: type[Enum]) -> None:
    wire, prefix = WIRE[kind]
    assert wire.DESCRIPTOR.name == kind.__name__  # the domain takes the proto's name
    for member in kind:
        assert from_wire(kind, to_wire(member)) is member
    unpaired = [
        name for name, value in wire.items() if from_wire(kind, value) is None and name != f"{prefix}UNSPECIFIED"
    ]
    assert unpaired == []


def test_unset_and_unknown_values_are_none_for_the_caller_to_name() -> None:
    assert from_wire(ColumnType, pb.COLUMN_TYPE_UNSPECIFIED) is None
    assert from_wire(ColumnType, 99) is None
    assert from_wire(R2Omission, pb.R2_OMISSION_UNSPECIFIED) is R2Omission.NONE  # a zero value with a meaning


def test_every_column_type_has_its_oneof_field() -> None:
    fields = {field.name for field in pb.Column.DESCRIPTOR.oneofs_by_name["values"].fields}
    assert set(VALUES_FIELD.values()) == fields
    assert all(COLUMN_OF_FIELD[VALUES_FIELD[kind]] is kind for kind in ColumnType)
