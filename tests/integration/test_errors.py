"""Bad input gets INVALID_ARGUMENT naming the field, through the real server; the server keeps serving."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from scmfit.client import Client, FailedPreconditionError, FitStatus, InvalidRequestError
from scmfit.v1 import causal_model_service_pb2 as pb
from tests.conftest import fixture_case


def _request(
    nodes: list[str],
    edges: list[tuple[str, str]],
    columns: list[pb.Column],
    config: pb.FitConfig | None = None,
) -> pb.FitModelRequest:
    return pb.FitModelRequest(
        graph=pb.Graph(nodes=nodes, edges=[pb.Edge(source=s, target=t) for s, t in edges]),
        dataset=pb.Dataset(columns=columns),
        config=config,
    )


def doubles(name: str, values: list[float]) -> pb.Column:
    return pb.Column(name=name, doubles=pb.DoubleValues(values=values))


def strings(name: str, values: list[str]) -> pb.Column:
    return pb.Column(name=name, strings=pb.StringValues(values=values))


X = [float(i) for i in range(40)]
Y = [2 * v + (i % 3) for i, v in enumerate(X)]
GOOD_COLUMNS = [doubles("X", X), doubles("Y", Y)]

CASES: dict[str, tuple[Callable[[], pb.FitModelRequest], str, str]] = {
    "cycle": (
        lambda: _request(
            ["A", "B", "C"],
            [("A", "B"), ("B", "C"), ("C", "A")],
            [doubles("A", X), doubles("B", X), doubles("C", X)],
        ),
        "graph.edges",
        "cycle: 'A' -> 'B' -> 'C' -> 'A'",
    ),
    "self_loop": (lambda: _request(["X", "Y"], [("X", "X")], GOOD_COLUMNS), "graph.edges[0]", "self-loop"),
    "duplicate_node": (
        lambda: _request(["X", "Y", "X"], [("X", "Y")], GOOD_COLUMNS),
        "graph.nodes[2]",
        "duplicate node 'X'",
    ),
    "edge_to_unknown_node": (
        lambda: _request(["X", "Y"], [("X", "Q")], GOOD_COLUMNS),
        "graph.edges[0].target",
        "unknown node 'Q'",
    ),
    "node_without_column": (
        lambda: _request(["X", "Y", "Z"], [("X", "Y")], GOOD_COLUMNS),
        "graph.nodes[2]",
        "'Z' has no column",
    ),
    "column_without_node": (
        lambda: _request(["X", "Y"], [("X", "Y")], [*GOOD_COLUMNS, doubles("W", X)]),
        "dataset.columns[2].name",
        "'W' matches no graph node",
    ),
    "ragged_columns": (
        lambda: _request(["X", "Y"], [("X", "Y")], [doubles("X", X), doubles("Y", Y[:-1])]),
        "dataset.columns[1]",
        "has 39 rows but 'X'",
    ),
    "empty_dataset": (lambda: _request(["X", "Y"], [("X", "Y")], []), "dataset.columns", "no columns"),
    "zero_rows": (
        lambda: _request(["X", "Y"], [("X", "Y")], [doubles("X", []), doubles("Y", [])]),
        "dataset.columns",
        "no rows",
    ),
    "nan": (
        lambda: _request(["X", "Y"], [("X", "Y")], [doubles("X", X), doubles("Y", [*Y[:7], math.nan, *Y[8:]])]),
        "dataset.columns[1].doubles.values[7]",
        "row 7",
    ),
    "infinity": (
        lambda: _request(["X", "Y"], [("X", "Y")], [doubles("X", [*X[:3], -math.inf, *X[4:]]), doubles("Y", Y)]),
        "dataset.columns[0].doubles.values[3]",
        "-inf",
    ),
    "single_class_classifier": (
        lambda: _request(["X", "S"], [("X", "S")], [doubles("X", X), strings("S", ["a"] * len(X))]),
        "dataset.columns[1]",
        "single class ('a')",
    ),
    "too_few_rows": (
        lambda: _request(["X", "Y"], [("X", "Y")], [doubles("X", X[:5]), doubles("Y", Y[:5])]),
        "dataset.columns",
        "at least 5",
    ),
    "empty_graph": (lambda: _request([], [], GOOD_COLUMNS), "graph.nodes", "no nodes"),
    "threshold_out_of_range": (
        lambda: _request(["X", "Y"], [("X", "Y")], GOOD_COLUMNS, pb.FitConfig(r2_threshold=1.5)),
        "config.r2_threshold",
        "[0, 1]",
    ),
    "test_fraction_out_of_range": (
        lambda: _request(["X", "Y"], [("X", "Y")], GOOD_COLUMNS, pb.FitConfig(test_fraction=-0.1)),
        "config.test_fraction",
        "within [0, 0.5]",
    ),
    "seed_too_large": (
        lambda: _request(["X", "Y"], [("X", "Y")], GOOD_COLUMNS, pb.FitConfig(seed=2**40)),
        "config.seed",
        "within [0, 4294967295]",
    ),
    "unknown_quality": (
        lambda: _request(["X", "Y"], [("X", "Y")], GOOD_COLUMNS, pb.FitConfig(quality=9)),  # type: ignore[arg-type]
        "config.quality",
        "unknown quality value 9",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_names_the_field(client: Client, name: str) -> None:
    build, field, fragment = CASES[name]
    with pytest.raises(InvalidRequestError) as caught:
        client.fit(build())
    error = caught.value
    assert error.code is not None and error.code.name == "INVALID_ARGUMENT"
    matching = [v for v in error.violations if v.field == field]
    assert matching, error.violations
    assert any(fragment in v.description for v in matching), matching


def test_every_violation_is_reported_at_once(client: Client) -> None:
    request = _request(
        ["X", "Y", "Y"],
        [("X", "Q")],
        [doubles("X", X), doubles("W", X)],
        pb.FitConfig(r2_threshold=-2.0, test_fraction=1.0),
    )
    with pytest.raises(InvalidRequestError) as caught:
        client.fit(request)
    fields = set(caught.value.fields())
    assert {
        "graph.nodes[2]",
        "graph.edges[0].target",
        "dataset.columns[1].name",
        "config.r2_threshold",
        "config.test_fraction",
    } <= fields


def test_best_quality_without_autogluon_is_a_failed_precondition(client: Client) -> None:
    if "BEST" in client.server_info().qualities:
        pytest.skip("this server has AutoGluon installed")
    with pytest.raises(FailedPreconditionError, match=r"autogluon\.tabular"):
        client.fit(fixture_case("linear_chain").request(quality="BEST"))


def test_server_keeps_serving_after_every_kind_of_bad_input(client: Client) -> None:
    for build, _, _ in CASES.values():
        with pytest.raises(InvalidRequestError):
            client.fit(build())
    assert client.health() == "SERVING"
    result = client.fit(fixture_case("linear_chain").request())
    assert result.status is FitStatus.SUCCESS
