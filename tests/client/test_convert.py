"""Graphs and data in every accepted form convert to the same typed request."""

from __future__ import annotations

import numpy as np
import pytest

from scmfit.client import InvalidRequestError, column, fit_request
from scmfit.client._request import normalize_data, normalize_graph
from scmfit.v1 import causal_model_service_pb2 as pb


def kinds(request: pb.FitModelRequest) -> dict[str, str]:
    return {c.name: str(c.WhichOneof("values")) for c in request.dataset.columns}


def test_graph_forms_agree() -> None:
    expected = (["X", "Y"], [("X", "Y")])
    assert normalize_graph((["X", "Y"], [("X", "Y")])) == expected
    assert normalize_graph({"nodes": ["X", "Y"], "edges": [["X", "Y"]]}) == expected


def test_networkx_digraph() -> None:
    nx = pytest.importorskip("networkx")
    graph = nx.DiGraph()
    graph.add_nodes_from(["X", "Y", "Z"])
    graph.add_edges_from([("X", "Y"), ("Y", "Z")])
    assert normalize_graph(graph) == (["X", "Y", "Z"], [("X", "Y"), ("Y", "Z")])
    with pytest.raises(InvalidRequestError, match="directed"):
        normalize_graph(nx.Graph([("X", "Y")]))


def test_pandas_dtypes_map_without_loss() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "f": [0.5, 1.5, 2.5],
            "i": np.array([1, 2, 2**60], dtype=np.int64),
            "b": [True, False, True],
            "s": ["a", "b", "a"],
            "c": pd.Categorical(["lo", "hi", "lo"]),
            "n": pd.array([1, 2, 3], dtype="Int64"),
        }
    )
    request = fit_request((list(frame.columns), []), frame)
    assert kinds(request) == {
        "f": "doubles",
        "i": "int64s",
        "b": "bools",
        "s": "strings",
        "c": "strings",
        "n": "int64s",
    }
    columns = {c.name: c for c in request.dataset.columns}
    assert list(columns["i"].int64s.values) == [1, 2, 2**60]
    assert list(columns["c"].strings.values) == ["lo", "hi", "lo"]


def test_pandas_gaps_become_missing_cells_in_every_dtype() -> None:
    """NaN, None and pd.NA are missing cells (Column.missing_rows), and the column keeps its own type:
    a nullable int column with a hole is still int64, never floats or labels."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "s": pd.Categorical(["a", None, "b"]),
            "i": pd.array([1, None, 3], dtype="Int64"),
            "b": pd.array([True, False, None], dtype="boolean"),
            "f": [1.5, float("nan"), 2.5],
            "o": [None, "x", "y"],
        }
    )
    columns = {name: column(name, values) for name, values in normalize_data(frame).items()}
    assert {name: c.WhichOneof("values") for name, c in columns.items()} == {
        "s": "strings", "i": "int64s", "b": "bools", "f": "doubles", "o": "strings",
    }  # fmt: skip
    assert {name: list(c.missing_rows) for name, c in columns.items()} == {
        "s": [1], "i": [1], "b": [2], "f": [1], "o": [0],
    }  # fmt: skip
    assert list(columns["i"].int64s.values)[::2] == [1, 3]


def test_mapping_of_lists_and_arrays() -> None:
    request = fit_request((["a", "b", "c"], []), {"a": [1, 2], "b": np.array([0.1, 0.2]), "c": ["x", "y"]})
    assert kinds(request) == {"a": "int64s", "b": "doubles", "c": "strings"}


def test_two_dimensional_column_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="one-dimensional"):
        normalize_data({"a": np.zeros((2, 2))})


def test_unsupported_inputs_are_refused() -> None:
    with pytest.raises(InvalidRequestError):
        normalize_graph(42)
    with pytest.raises(InvalidRequestError):
        normalize_data([1, 2, 3])
