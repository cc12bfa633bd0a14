"""Reads case files: graph, traces and config in one JSON, the format of lift-sys's fixtures."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scmfit.client._config import FIELD_NAMES, FitConfig
from scmfit.client._errors import FieldViolation, InvalidRequestError
from scmfit.client._request import fit_request
from scmfit.client._traces import check_keys, graph_from_json, load_json, traces_from_json
from scmfit.v1 import causal_model_service_pb2 as pb


@dataclass(frozen=True)
class Case:
    """A graph, its traces, the fit config and, for fixtures, the expected outcome."""

    name: str
    nodes: list[str]
    edges: list[tuple[str, str]]
    traces: dict[str, np.ndarray]
    config: FitConfig = field(default_factory=FitConfig)
    expected: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def graph(self) -> tuple[list[str], list[tuple[str, str]]]:
        return self.nodes, self.edges

    def request(self, **overrides: Any) -> pb.FitModelRequest:
        return fit_request(self.nodes, self.edges, self.traces, self.config, **overrides)


CASE_KEYS = ("name", "description", "graph", "traces", "config", "expected")
CONFIG_KEYS = FIELD_NAMES
"""The config keys a case may set: exactly FitConfig's fields, so a misspelling is an error."""


def accepts_gaps(config: FitConfig) -> bool:
    """Whether the fit's missing-value policy takes gaps (so readers mark them instead of refusing)."""
    return config.missing_values in ("PER_NODE", "COMPLETE_ROWS")


def load_case(path: Path, string_columns: Collection[str] = (), overrides: FitConfig | None = None) -> Case:
    """`overrides` (the command line's settings) win over the case's config, and decide with it whether
    gaps in the traces are refused or read as missing cells."""
    raw = load_json(path.read_text(), path)
    if not isinstance(raw, dict) or "graph" not in raw or "traces" not in raw:
        description = 'a case file is {"graph": {...}, "traces": {...}, "config": {...}}'
        raise InvalidRequestError(f"{path}: {description}", (FieldViolation(str(path), description),))
    check_keys(raw, CASE_KEYS, "the case file", path)
    config = raw.get("config", {})
    if not isinstance(config, dict):
        description = "config must be an object"
        raise InvalidRequestError(f"{path}: {description}", (FieldViolation(f"{path}: config", description),))
    check_keys(config, CONFIG_KEYS, "config", path)
    try:
        settings = FitConfig.of(**config)
    except InvalidRequestError as error:
        raise InvalidRequestError(
            f"{path}: {error.message}",
            tuple(FieldViolation(f"{path}: {v.field}", v.description) for v in error.violations),
        ) from None
    if overrides is not None:
        settings = FitConfig.of(settings, **{name: getattr(overrides, name) for name in FIELD_NAMES})
    nodes, edges = graph_from_json(raw["graph"], path, "graph")
    return Case(
        name=raw.get("name", path.stem),
        nodes=nodes,
        edges=edges,
        traces=traces_from_json(raw["traces"], str(path), string_columns, accepts_gaps(settings)),
        config=settings,
        expected=dict(raw.get("expected", {})),
        description=raw.get("description", ""),
    )
