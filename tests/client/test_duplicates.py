"""A repeated column is refused wherever columns come from, naming the column and both positions;
before, the last one silently won."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scmfit.client import InvalidRequestError, fit_request
from scmfit.client._traces import load_json, parse_csv, read_traces


def test_a_csv_header_with_a_repeated_column() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_csv("a,b,b\n1,2,3\n", "traces.csv")
    assert "column 'b' appears twice in the header of traces.csv (line 1) (columns 2 and 3)" in caught.value.message
    assert caught.value.fields() == ["traces.csv: line 1"]


def test_a_json_object_with_a_repeated_key(tmp_path: Path) -> None:
    path = tmp_path / "traces.json"
    path.write_text('{"a": [1, 2], "b": [3, 4], "b": [5, 6]}')
    with pytest.raises(InvalidRequestError) as caught:
        read_traces(path)
    assert f"{path}: key 'b' appears twice in one object (keys 2 and 3)" in caught.value.message
    rows = tmp_path / "rows.json"
    rows.write_text('[{"a": 1, "a": 2}]')
    with pytest.raises(InvalidRequestError, match="'a' appears twice"):
        read_traces(rows)


def test_json_nested_beyond_recursion_is_a_precise_refusal() -> None:
    with pytest.raises(InvalidRequestError, match="nested too deeply"):
        load_json("[" * 100_000 + "]" * 100_000, "body")


def test_a_mapping_whose_names_collide_as_strings() -> None:
    with pytest.raises(InvalidRequestError, match=r"column '1' appears twice .* \(columns 1 and 2\)"):
        fit_request(["1"], [], {1: np.arange(5.0), "1": np.arange(5.0)})


def test_a_dataframe_with_a_repeated_column() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(np.arange(6.0).reshape(2, 3), columns=["a", "b", "b"])
    with pytest.raises(InvalidRequestError, match=r"column 'b' appears twice in the DataFrame \(columns 2 and 3\)"):
        fit_request(["a", "b"], [("a", "b")], frame)
