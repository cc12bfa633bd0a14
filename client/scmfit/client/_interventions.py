"""Typed interventions for queries: hard do(X = v), soft shift (X + c) and soft scale (X * c)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from scmfit.v1 import causal_model_service_pb2 as pb

Kind = Literal["hard", "shift", "scale"]


@dataclass(frozen=True)
class Intervention:
    """One node's changed mechanism; build with `do`, `shift` or `scale`."""

    node: str
    kind: Kind
    value: float

    def to_proto(self) -> pb.Intervention:
        if self.kind == "hard":
            return pb.Intervention(node=self.node, hard=pb.HardIntervention(value=self.value))
        if self.kind == "shift":
            return pb.Intervention(node=self.node, shift=pb.ShiftIntervention(by=self.value))
        return pb.Intervention(node=self.node, scale=pb.ScaleIntervention(factor=self.value))


def do(node: str, value: float) -> Intervention:
    """do(node = value)."""
    return Intervention(node, "hard", float(value))


def shift(node: str, by: float) -> Intervention:
    """node := node + by."""
    return Intervention(node, "shift", float(by))


def scale(node: str, factor: float) -> Intervention:
    """node := node * factor."""
    return Intervention(node, "scale", float(factor))


Interventions: TypeAlias = Mapping[str, float] | Iterable[Intervention] | None
"""A mapping {node: value} means hard interventions; otherwise a sequence of Intervention."""


def interventions_proto(interventions: Interventions) -> list[pb.Intervention]:
    if interventions is None:
        return []
    if isinstance(interventions, Mapping):
        return [do(node, value).to_proto() for node, value in interventions.items()]
    return [intervention.to_proto() for intervention in interventions]
