from __future__ import annotations

import dataclasses
from enum import Enum

import numpy as np

from scmfit.server.domain.fit import ColumnType
from scmfit.server.domain.identity import MODEL_ID_PATTERN, model_id_for
from scmfit.server.domain.settings import FitSettings

NODES = ("X", "Y")
EDGES = (("X", "Y"),)
COLUMNS = {"X": np.arange(5.0), "Y": np.arange(5.0) * 2}
KINDS = {"X": ColumnType.DOUBLE, "Y": ColumnType.DOUBLE}


def test_id_is_a_stable_sha256_hex() -> None:
    first = model_id_for(NODES, EDGES, COLUMNS, KINDS, FitSettings())
    assert MODEL_ID_PATTERN.match(first)
    assert first == model_id_for(NODES, EDGES, {k: v.copy() for k, v in COLUMNS.items()}, KINDS, FitSettings())


def test_id_changes_with_data_config_kind_and_graph() -> None:
    base = model_id_for(NODES, EDGES, COLUMNS, KINDS, FitSettings())
    changed = {**COLUMNS, "Y": COLUMNS["Y"] + 1e-12}
    assert model_id_for(NODES, EDGES, changed, KINDS, FitSettings()) != base
    assert model_id_for(NODES, EDGES, COLUMNS, KINDS, dataclasses.replace(FitSettings(), seed=1)) != base
    ints = {"X": np.arange(5), "Y": np.arange(5) * 2}
    assert model_id_for(NODES, EDGES, ints, {"X": ColumnType.INT64, "Y": ColumnType.INT64}, FitSettings()) != base
    assert model_id_for(NODES, (("Y", "X"),), COLUMNS, KINDS, FitSettings()) != base


def test_string_columns_cannot_collide_by_concatenation() -> None:
    kinds = {"X": ColumnType.STRING}
    one = model_id_for(("X",), (), {"X": np.array(["ab", "c"], dtype=object)}, kinds, FitSettings())
    two = model_id_for(("X",), (), {"X": np.array(["a", "bc"], dtype=object)}, kinds, FitSettings())
    assert one != two


def test_every_settings_field_changes_the_id() -> None:
    """By construction: a field added to FitSettings later is covered without editing identity.py."""
    base_settings = FitSettings()
    base = model_id_for(NODES, EDGES, COLUMNS, KINDS, base_settings)
    for field in dataclasses.fields(FitSettings):
        value = getattr(base_settings, field.name)
        if isinstance(value, Enum):  # another member of the same enum
            other: object = next(member for member in type(value) if member is not value)
        elif isinstance(value, bool):
            other = not value
        elif isinstance(value, int):
            other = value + 1
        else:
            other = value / 2
        changed = dataclasses.replace(base_settings, **{field.name: other})  # type: ignore[arg-type]
        assert model_id_for(NODES, EDGES, COLUMNS, KINDS, changed) != base, field.name
