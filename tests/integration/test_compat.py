"""The lift-sys drop-in adapter: the nine fixtures through it, the dict shape, and its error contract."""

from __future__ import annotations

import socket

import pytest

from scmfit.client._cases import Case
from scmfit.client.compat import DoWhyClient, DoWhySubprocessError
from tests.serverproc import ServerProcess


@pytest.fixture
def adapter(server: ServerProcess) -> DoWhyClient:
    return DoWhyClient(target=server.address, timeout=120.0)


def test_fixture_through_the_adapter_has_lift_sys_shape_and_values(adapter: DoWhyClient, case: Case) -> None:
    out = adapter.fit_scm(case.graph, case.traces, "GOOD", True, 0.7, 0.2)
    assert set(out) >= {"status", "scm", "validation", "metadata", "model_id"}
    assert out["status"] == case.expected["status"]
    assert out["scm"]["graph"] == {"nodes": case.nodes, "edges": [list(e) for e in case.edges]}
    assert set(out["scm"]["mechanisms"]) == set(case.nodes)
    for mechanism in out["scm"]["mechanisms"].values():
        assert mechanism["type"] in {"empirical", "linear", "nonlinear", "classifier"}
        assert set(mechanism["params"]) == {"model_type", "coefficients", "intercept"}
        assert mechanism["params"]["model_type"] != "SklearnRegressionModel"
    validation = out["validation"]
    assert set(validation) == {"r2_scores", "mean_r2", "passed", "threshold", "failed_nodes"}
    assert validation["threshold"] == 0.7
    assert validation["mean_r2"] == pytest.approx(sum(validation["r2_scores"].values()) / len(validation["r2_scores"]))
    metadata = out["metadata"]
    assert set(metadata) == {
        "fitting_time_ms",
        "num_samples",
        "num_train",
        "num_val",
        "dowhy_version",
        "quality",
    }
    rows = len(next(iter(case.traces.values())))
    assert metadata["num_samples"] == rows == metadata["num_train"] + metadata["num_val"]
    assert metadata["quality"] == "GOOD" and metadata["dowhy_version"] == "0.14"
    for node_name, truth in case.expected.get("coefficients", {}).items():
        mechanism = out["scm"]["mechanisms"][node_name]
        assert mechanism["type"] == "linear"
        for parent, value in truth.items():
            assert mechanism["params"]["coefficients"][parent] == pytest.approx(value, abs=0.05)


def test_roots_are_empirical_and_nonlinear_is_named(adapter: DoWhyClient) -> None:
    from tests.conftest import fixture_case

    case = fixture_case("nonlinear")
    out = adapter.fit_scm(case.graph, case.traces)
    assert out["scm"]["mechanisms"]["X"]["type"] == "empirical"
    assert out["scm"]["mechanisms"]["Y"]["type"] == "nonlinear"


def test_not_a_dag_and_mismatched_columns_raise_value_error(adapter: DoWhyClient) -> None:
    with pytest.raises(ValueError, match="cycle"):
        adapter.fit_scm((["A", "B"], [("A", "B"), ("B", "A")]), {"A": [1.0, 2.0], "B": [2.0, 3.0]})
    with pytest.raises(ValueError, match="no column"):
        adapter.fit_scm((["A", "B"], [("A", "B")]), {"A": [1.0, 2.0]})


def test_service_side_failures_raise_dowhy_subprocess_error(adapter: DoWhyClient) -> None:
    with pytest.raises(DoWhySubprocessError) as caught:
        adapter.fit_scm((["A", "B"], [("A", "B")]), {"A": [1.0, float("nan")] * 10, "B": [1.0, 2.0] * 10})
    assert caught.value.cause is not None
    assert "dataset.columns[0].doubles.values[1]" in str(caught.value.cause.violations)  # type: ignore[attr-defined]


def test_unreachable_server_is_a_dowhy_subprocess_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = DoWhyClient(target=f"127.0.0.1:{port}", timeout=3.0)
    with pytest.raises(DoWhySubprocessError, match=r"Unavailable|DeadlineExceeded"):
        client.fit_scm((["A", "B"], [("A", "B")]), {"A": [1.0, 2.0] * 5, "B": [2.0, 4.0] * 5})


def test_query_scm_reuses_the_fit_and_returns_lift_sys_statistics(adapter: DoWhyClient) -> None:
    from tests.conftest import fixture_case

    case = fixture_case("linear_chain")
    first = adapter.query_scm(case.graph, case.traces, [{"type": "hard", "node": "X", "value": 2}], ["Z"], 2000)
    assert first["status"] == "success" and first["query_type"] == "interventional"
    assert set(first["statistics"]) == {"Z"} and len(first["samples"]["Z"]) == 2000
    assert set(first["statistics"]["Z"]) == {"mean", "std", "q05", "q50", "q95", "min", "max"}
    assert first["statistics"]["Z"]["mean"] == pytest.approx(12.0, abs=0.3)
    soft = [{"type": "soft", "node": "X", "transform": "shift", "param": 1.0}]
    second = adapter.query_scm(case.graph, case.traces, soft, None, 1000)
    assert second["metadata"]["reused_model"] is True
    assert second["metadata"]["model_id"] == first["metadata"]["model_id"]
    assert set(second["statistics"]) == {"X", "Y", "Z"}
    observational = adapter.query_scm(case.graph, case.traces, [], None, 1000)
    assert observational["query_type"] == "observational"


def test_query_scm_rejects_malformed_interventions(adapter: DoWhyClient) -> None:
    from tests.conftest import fixture_case

    case = fixture_case("linear_chain")
    with pytest.raises(ValueError, match=r"interventions\[0\]"):
        adapter.query_scm(case.graph, case.traces, [{"type": "soft", "node": "X", "transform": "warp", "param": 1}])
    with pytest.raises(ValueError, match="unknown node"):
        adapter.query_scm(case.graph, case.traces, [{"type": "hard", "node": "Q", "value": 1}])
