"""Reads case files: graph, traces and config in one JSON, the format of lift-sys's fixtures."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scmfit.client._request import fit_request
from scmfit.v1 import causal_model_service_pb2 as pb


@dataclass(frozen=True)
class Case:
    """A graph, its traces, the fit config and, for fixtures, the expected outcome."""

    name: str
    nodes: list[str]
    edges: list[tuple[str, str]]
    traces: dict[str, np.ndarray]
    config: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def graph(self) -> tuple[list[str], list[tuple[str, str]]]:
        return self.nodes, self.edges

    def request(self, **overrides: Any) -> pb.FitModelRequest:
        config = {**self.config, **overrides}
        return fit_request(self.nodes, self.edges, self.traces, **config)


def load_case(path: Path) -> Case:
    raw = json.loads(path.read_text())
    graph = raw["graph"]
    return Case(
        name=raw.get("name", path.stem),
        nodes=[str(node) for node in graph["nodes"]],
        edges=[(str(source), str(target)) for source, target in graph["edges"]],
        traces={name: np.asarray(values) for name, values in raw["traces"].items()},
        config=dict(raw.get("config", {})),
        expected=dict(raw.get("expected", {})),
        description=raw.get("description", ""),
    )
