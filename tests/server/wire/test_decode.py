"""Each decode and validation rule, one by one, without a server."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from scmfit.server.config import Limits
from scmfit.server.domain.errors import InvalidRequestError
from scmfit.server.domain.fit import ColumnType
from scmfit.server.domain.settings import Quality
from scmfit.server.wire.decode import decode_fit_request
from scmfit.v1 import causal_model_service_pb2 as pb

X = [float(i) for i in range(20)]


def request(
    nodes: list[str] | None = None,
    edges: list[tuple[str, str]] | None = None,
    columns: list[pb.Column] | None = None,
    **config: object,
) -> pb.FitModelRequest:
    nodes = ["X", "Y"] if nodes is None else nodes
    edges = [("X", "Y")] if edges is None else edges
    if columns is None:
        columns = [pb.Column(name=n, doubles=pb.DoubleValues(values=X)) for n in nodes]
    return pb.FitModelRequest(
        graph=pb.Graph(nodes=nodes, edges=[pb.Edge(source=s, target=t) for s, t in edges]),
        dataset=pb.Dataset(columns=columns),
        config=pb.FitConfig(**config),  # type: ignore[arg-type]
    )


def violations(message: pb.FitModelRequest, limits: Limits | None = None) -> dict[str, str]:
    with pytest.raises(InvalidRequestError) as caught:
        decode_fit_request(message, limits or Limits())
    return {v.field: v.description for v in caught.value.violations}


def test_valid_request_decodes_with_defaults_and_typed_columns() -> None:
    columns = [
        pb.Column(name="Y", int64s=pb.Int64Values(values=list(range(20)))),
        pb.Column(name="X", doubles=pb.DoubleValues(values=X)),
        pb.Column(name="B", bools=pb.BoolValues(values=[i % 2 == 0 for i in range(20)])),
        pb.Column(name="S", strings=pb.StringValues(values=["a", "b"] * 10)),
    ]
    job = decode_fit_request(request(["X", "Y", "B", "S"], [("X", "Y"), ("X", "B")], columns), Limits())
    assert job.nodes == ("X", "Y", "B", "S")
    assert list(job.columns) == ["X", "Y", "B", "S"]  # reordered to node order
    assert job.kinds == {
        "X": ColumnType.DOUBLE,
        "Y": ColumnType.INT64,
        "B": ColumnType.BOOL,
        "S": ColumnType.STRING,
    }
    assert job.columns["Y"].dtype == np.int64 and job.columns["B"].dtype == np.bool_
    assert job.column_index == {"X": 1, "Y": 0, "B": 2, "S": 3}
    settings = job.settings
    assert (settings.quality, settings.r2_threshold, settings.validate_r2) == (Quality.GOOD, 0.7, True)
    assert (settings.test_fraction, settings.seed, settings.min_samples) == (0.2, 42, 100)


def test_explicit_zero_values_are_kept_not_replaced_by_defaults() -> None:
    job = decode_fit_request(request(r2_threshold=0.0, validate_r2=False, seed=0, min_samples=0), Limits())
    assert (job.settings.r2_threshold, job.settings.validate_r2, job.settings.seed) == (0.0, False, 0)
    assert job.settings.min_samples == 0


def test_parents_are_sorted_as_dowhy_orders_them() -> None:
    job = decode_fit_request(request(["Z", "B", "A"], [("Z", "A"), ("B", "A")]), Limits())
    assert job.parents("A") == ("B", "Z")


def test_cycle_names_its_nodes() -> None:
    found = violations(request(["A", "B", "C"], [("A", "B"), ("B", "C"), ("C", "B")]))
    assert "'B' -> 'C' -> 'B'" in found["graph.edges"]


def test_self_loop() -> None:
    assert "self-loop on node 'X'" in violations(request(edges=[("X", "X")]))["graph.edges[0]"]


def test_duplicate_edge() -> None:
    assert "duplicate of graph.edges[0]" in violations(request(edges=[("X", "Y"), ("X", "Y")]))["graph.edges[1]"]


def test_duplicate_node() -> None:
    found = violations(request(["X", "Y", "Y"]))
    assert "already listed at graph.nodes[1]" in found["graph.nodes[2]"]


def test_empty_node_name() -> None:
    assert "must not be empty" in violations(request(["X", ""], []))["graph.nodes[1]"]


def test_edge_to_unknown_node() -> None:
    assert "unknown node 'Q'" in violations(request(edges=[("Q", "Y")]))["graph.edges[0].source"]


def test_node_without_column_and_column_without_node() -> None:
    columns = [pb.Column(name=n, doubles=pb.DoubleValues(values=X)) for n in ("X", "W")]
    found = violations(request(columns=columns))
    assert "'Y' has no column" in found["graph.nodes[1]"]
    assert "'W' matches no graph node" in found["dataset.columns[1].name"]


def test_duplicate_column() -> None:
    columns = [pb.Column(name=n, doubles=pb.DoubleValues(values=X)) for n in ("X", "Y", "X")]
    assert "duplicate column 'X'" in violations(request(columns=columns))["dataset.columns[2].name"]


def test_column_without_values() -> None:
    columns = [pb.Column(name="X", doubles=pb.DoubleValues(values=X)), pb.Column(name="Y")]
    assert "no values set" in violations(request(columns=columns))["dataset.columns[1].values"]


def test_ragged_columns() -> None:
    columns = [
        pb.Column(name="X", doubles=pb.DoubleValues(values=X)),
        pb.Column(name="Y", doubles=pb.DoubleValues(values=X[:-2])),
    ]
    assert "has 18 rows but 'X'" in violations(request(columns=columns))["dataset.columns[1]"]


def test_empty_dataset_and_zero_rows() -> None:
    assert "no columns" in violations(request(columns=[]))["dataset.columns"]
    empty = [pb.Column(name=n, doubles=pb.DoubleValues(values=[])) for n in ("X", "Y")]
    assert "no rows" in violations(request(columns=empty))["dataset.columns"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_value_names_column_and_first_row(bad: float) -> None:
    values = [*X[:4], bad, *X[5:9], bad, *X[10:]]
    columns = [
        pb.Column(name="X", doubles=pb.DoubleValues(values=X)),
        pb.Column(name="Y", doubles=pb.DoubleValues(values=values)),
    ]
    found = violations(request(columns=columns))
    description = found["dataset.columns[1].doubles.values[4]"]
    assert "column 'Y'" in description and "row 4" in description and "2 non-finite" in description


def test_single_class_classifier_target() -> None:
    columns = [
        pb.Column(name="X", doubles=pb.DoubleValues(values=X)),
        pb.Column(name="Y", bools=pb.BoolValues(values=[True] * 20)),
    ]
    assert "single class (True)" in violations(request(columns=columns))["dataset.columns[1]"]


def test_rare_class_of_a_classifier_target() -> None:
    labels = ["a"] * 16 + ["b"] * 4
    columns = [
        pb.Column(name="X", doubles=pb.DoubleValues(values=X)),
        pb.Column(name="Y", strings=pb.StringValues(values=labels)),
    ]
    description = violations(request(columns=columns))["dataset.columns[1]"]
    assert "class 'b' has 4 row(s)" in description and "at least 5" in description


def test_nul_characters_in_labels_are_refused() -> None:
    columns = [
        pb.Column(name="X", doubles=pb.DoubleValues(values=X)),
        pb.Column(name="Y", strings=pb.StringValues(values=["a", "b", "1\x00"] + ["a"] * 17)),
    ]
    assert "NUL character" in violations(request(columns=columns))["dataset.columns[1].strings.values[2]"]


def test_single_class_root_is_fine() -> None:
    columns = [
        pb.Column(name="X", strings=pb.StringValues(values=["only"] * 20)),
        pb.Column(name="Y", doubles=pb.DoubleValues(values=X)),
    ]
    decode_fit_request(request(columns=columns), Limits())


def test_too_few_training_rows_depends_on_test_fraction() -> None:
    short = [pb.Column(name=n, doubles=pb.DoubleValues(values=X[:7])) for n in ("X", "Y")]
    decode_fit_request(request(columns=short), Limits())  # 7 rows: 5 train, 2 test
    found = violations(request(columns=short, test_fraction=0.5))
    assert "leave 3 training rows" in found["dataset.columns"]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"r2_threshold": -0.1}, "config.r2_threshold"),
        ({"r2_threshold": 1.01}, "config.r2_threshold"),
        ({"r2_threshold": math.nan}, "config.r2_threshold"),
        ({"test_fraction": -0.1}, "config.test_fraction"),
        ({"test_fraction": 1.0}, "config.test_fraction"),
        ({"test_fraction": math.inf}, "config.test_fraction"),
        ({"seed": 2**32}, "config.seed"),
        ({"quality": 42}, "config.quality"),
    ],
)
def test_config_out_of_range(config: dict[str, Any], field: str) -> None:
    assert field in violations(request(**config))


def test_limits_on_nodes_and_rows() -> None:
    found = violations(request(), Limits(max_nodes=1, max_rows=10))
    assert "max_nodes=1" in found["graph.nodes"]
    assert "max_rows=10" in found["dataset.columns[0]"]


def test_all_violations_are_collected() -> None:
    found = violations(request(["X", "X"], [("X", "Q")], r2_threshold=3.0))
    assert {"graph.nodes[1]", "graph.edges[0].target", "config.r2_threshold"} <= set(found)
