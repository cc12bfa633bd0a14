"""Typed interventions for queries: hard do(X = v), soft shift (X + c) and soft scale (X * c)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from scmfit.v1 import causal_model_service_pb2 as pb

Kind = Literal["hard", "shift", "scale"]

Scalar: TypeAlias = float | int | bool | str
"""A value in a node's own type: a number for double and int64 nodes, a bool, or a category."""


def value_proto(value: object, what: str) -> pb.Value:
    """`value` as a typed Value; bool before int (a bool is an int in Python), numpy scalars as Python's."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return pb.Value(bool_value=bool(value))
    if isinstance(value, numbers.Integral):
        return pb.Value(int64_value=int(value))
    if isinstance(value, numbers.Real):
        return pb.Value(double_value=float(value))
    if isinstance(value, str):
        return pb.Value(string_value=value)
    raise TypeError(f"{what}: {value!r} is a {type(value).__name__}; give a number, a bool or a string")


@dataclass(frozen=True)
class Intervention:
    """One node's changed mechanism; build with `do`, `shift` or `scale`."""

    node: str
    kind: Kind
    value: Scalar

    def to_proto(self) -> pb.Intervention:
        if self.kind == "hard":
            typed = value_proto(self.value, f"do({self.node})")
            # The double field too, for servers older than typed values (they read only it).
            plain = float(self.value) if typed.WhichOneof("kind") in ("double_value", "int64_value") else 0.0
            return pb.Intervention(node=self.node, hard=pb.HardIntervention(value=plain, typed_value=typed))
        if self.kind == "shift":
            return pb.Intervention(node=self.node, shift=pb.ShiftIntervention(by=float(self.value)))
        return pb.Intervention(node=self.node, scale=pb.ScaleIntervention(factor=float(self.value)))


def do(node: str, value: Scalar) -> Intervention:
    """do(node = value), in the node's type: `do("mode", "slow")`, `do("flag", True)`, `do("count", 7)`."""
    value_proto(value, f"do({node})")  # refused here, by name, not later inside protobuf
    return Intervention(node, "hard", value)


def shift(node: str, by: float) -> Intervention:
    """node := node + by."""
    return Intervention(node, "shift", float(by))


def scale(node: str, factor: float) -> Intervention:
    """node := node * factor."""
    return Intervention(node, "scale", float(factor))


Interventions: TypeAlias = Mapping[str, Scalar] | Iterable[Intervention] | None
"""A mapping {node: value} means hard interventions; otherwise a sequence of Intervention."""


def interventions_proto(interventions: Interventions) -> list[pb.Intervention]:
    if interventions is None:
        return []
    if isinstance(interventions, Mapping):
        return [do(node, value).to_proto() for node, value in interventions.items()]
    return [intervention.to_proto() for intervention in interventions]
