"""The lift-sys drop-in adapter against the real server, item by item of what lift-sys's own code
and the original subprocess client do (observed by running them; no lift-sys code is copied here).
Runs on Python 3.13, where lift-sys lives, with networkx graphs and pandas frames as it passes them."""

from __future__ import annotations

import logging
import math
import socket
import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from scmfit.client import Client
from scmfit.client._cases import Case
from scmfit.client.compat import ADDRESS_ENV, DoWhyClient, DoWhySubprocessError, fit_scm
from tests.conftest import fixture_case
from tests.serverproc import ServerProcess


@pytest.fixture
def adapter(server: ServerProcess) -> DoWhyClient:
    return DoWhyClient(target=server.address, timeout=120.0)


def as_lift_sys(case: Case) -> tuple[nx.DiGraph, pd.DataFrame]:
    graph = nx.DiGraph()
    graph.add_nodes_from(case.nodes)
    graph.add_edges_from(case.edges)
    return graph, pd.DataFrame({name: np.asarray(values) for name, values in case.traces.items()})


def chain(rows: int = 300, **extra: np.ndarray) -> tuple[nx.DiGraph, pd.DataFrame]:
    rng = np.random.default_rng(11)
    x = rng.normal(size=rows)
    frame = pd.DataFrame({"X": x, "Y": 2 * x + rng.normal(scale=0.1, size=rows), **extra})
    graph = nx.DiGraph([("X", "Y"), *(("X", name) for name in extra)])
    return graph, frame


def test_fixtures_keep_the_originals_keys_types_and_statuses(adapter: DoWhyClient, case: Case) -> None:
    graph, traces = as_lift_sys(case)
    out = adapter.fit_scm(graph, traces, "GOOD", True, 0.7, 0.2)
    assert out["status"] == case.expected["status"]
    if len(traces) < 100:  # insufficient_data: the original's warning, without a fit
        assert out == {"status": "warning", "message": out["message"], "scm": None, "validation": None}
        assert out["message"] == f"Only {len(traces)} samples (recommended: ≥100)"
        return
    assert set(out) == {"status", "scm", "validation", "metadata", "model_id"}
    assert out["scm"]["graph"] == {"nodes": case.nodes, "edges": [list(e) for e in case.edges]}
    validation = out["validation"]
    assert set(validation) == {"r2_scores", "mean_r2", "passed", "threshold", "failed_nodes"}
    assert isinstance(validation["mean_r2"], float)
    f"{validation['mean_r2']:.4f}"  # lift-sys formats it this way
    valid = [r2 for r2 in validation["r2_scores"].values() if not math.isnan(r2)]
    assert validation["mean_r2"] == pytest.approx(sum(valid) / len(valid) if valid else 0.0)
    assert validation["passed"] == (validation["mean_r2"] >= 0.7)
    assert validation["failed_nodes"] == [] if validation["passed"] else validation["failed_nodes"]
    metadata = out["metadata"]
    assert set(metadata) == {"fitting_time_ms", "num_samples", "num_train", "num_val", "dowhy_version", "quality"}
    assert isinstance(metadata["fitting_time_ms"], int)
    assert metadata["num_samples"] == len(traces) == metadata["num_train"] + metadata["num_val"]
    for name, mechanism in out["scm"]["mechanisms"].items():
        assert set(mechanism) == {"type", "params", "scmfit"}
        if not list(graph.predecessors(name)):
            assert mechanism == {"type": "empirical", "params": None, "scmfit": mechanism["scmfit"]}
        elif mechanism["type"] == "linear":
            params = mechanism["params"]
            assert params["model_type"] == "SklearnRegressionModel"
            assert isinstance(params["coefficients"], list) and isinstance(params["intercept"], float)
            named = mechanism["scmfit"]["coefficients"]
            assert params["coefficients"] == list(named.values())  # positional, in the model's order
    for node_name, truth in case.expected.get("coefficients", {}).items():
        named = out["scm"]["mechanisms"][node_name]["scmfit"]["coefficients"]
        for parent, value in truth.items():
            assert named[parent] == pytest.approx(value, abs=0.05)


def test_constant_targets_score_one_and_classifiers_have_no_score(adapter: DoWhyClient) -> None:
    graph, traces = chain(is_valid=np.ones(300))
    out = adapter.fit_scm(graph, traces)
    assert out["validation"]["r2_scores"]["is_valid"] == 1.0
    assert out["status"] == "success"
    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    graph = nx.DiGraph([("X", "B")])
    out = adapter.fit_scm(graph, pd.DataFrame({"X": x, "B": x + rng.normal(size=300) > 0}))
    assert out["validation"]["r2_scores"] == {}
    assert (out["validation"]["mean_r2"], out["status"]) == (0.0, "validation_failed")
    assert out["scm"]["mechanisms"]["B"]["type"] == "unknown"
    assert out["scm"]["mechanisms"]["B"]["params"] == {"class": "ClassifierFCM"}


def test_fewer_than_100_rows_is_the_originals_warning_without_a_fit(adapter: DoWhyClient) -> None:
    graph, traces = chain(rows=6)
    out = adapter.fit_scm(graph, traces)
    assert out == {
        "status": "warning",
        "message": "Only 6 samples (recommended: ≥100)",
        "scm": None,
        "validation": None,
    }


def test_an_empty_graph_and_frame_is_the_same_warning(adapter: DoWhyClient) -> None:
    out = adapter.fit_scm(nx.DiGraph(), pd.DataFrame())
    assert (out["status"], out["message"], out["scm"]) == ("warning", "Only 0 samples (recommended: ≥100)", None)


def test_failed_nodes_are_emptied_when_validation_passes_or_is_off(adapter: DoWhyClient) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=300)
    frame = pd.DataFrame({"X": x, "Y": 2 * x, "Z": rng.normal(size=300), "W": 3 * x})
    graph = nx.DiGraph([("X", "Y"), ("X", "Z"), ("X", "W")])
    passed = adapter.fit_scm(graph, frame, r2_threshold=0.6)  # mean about 2/3: Z fails alone
    assert passed["status"] == "success" and passed["validation"]["failed_nodes"] == []
    assert passed["validation"]["r2_scores"]["Z"] < 0.6
    strict = adapter.fit_scm(graph, frame, r2_threshold=0.9)
    assert strict["status"] == "validation_failed" and strict["validation"]["failed_nodes"] == ["Z"]
    off = adapter.fit_scm(graph, frame, validate_r2=False, r2_threshold=0.9)
    assert off["status"] == "success" and off["validation"]["passed"] and off["validation"]["failed_nodes"] == []


def test_the_server_comes_from_the_environment_and_old_arguments_warn(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADDRESS_ENV, server.address)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = DoWhyClient(python_path="/opt/py311/bin/python", script_path="scripts/dowhy/fit_scm.py", timeout=60.0)
    assert any(issubclass(w.category, DeprecationWarning) and "ignored" in str(w.message) for w in caught)
    assert client.target == server.address and client.timeout == 60.0
    assert client.check_availability() is True
    graph, traces = chain()
    assert fit_scm(graph, traces)["status"] == "success"  # the module-level function, as lift-sys has it


def test_a_down_server_takes_lift_sys_s_not_available_path(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(ADDRESS_ENV, f"127.0.0.1:{port}")
    with caplog.at_level(logging.WARNING), pytest.raises(FileNotFoundError, match="scmfit serve"):
        DoWhyClient(timeout=60.0)
    assert f"not reachable at 127.0.0.1:{port}" in caplog.text


def test_errors_have_the_originals_types(adapter: DoWhyClient) -> None:
    graph, traces = chain()
    cyclic = nx.DiGraph([("X", "Y"), ("Y", "X")])
    with pytest.raises(ValueError, match="cycle"):
        adapter.fit_scm(cyclic, traces)
    with pytest.raises(ValueError, match="no column"):
        adapter.fit_scm(nx.DiGraph([("X", "Y"), ("Y", "Q")]), traces)
    bad = traces.assign(X=traces["X"].where(traces.index != 3, np.nan))
    with pytest.raises(DoWhySubprocessError) as caught:
        adapter.fit_scm(graph, bad)
    assert caught.value.cause is not None and "values[3]" in str(caught.value.cause)
    for interventions in (
        [{"type": "hard", "node": "Q", "value": 1}],  # unknown node
        [{"type": "soft", "node": "X", "transform": "warp", "param": 1}],  # unknown transform
        [{"type": "hard", "node": "X", "value": "high"}],  # not a number
        [{"type": "sideways", "node": "X"}],  # unknown type
    ):
        with pytest.raises(DoWhySubprocessError):
            adapter.query_scm(graph, traces, interventions)
    with pytest.raises(DoWhySubprocessError, match="num_samples"):
        adapter.query_scm(graph, traces, [], num_samples=0)


def test_queries_have_the_originals_shape_order_and_last_wins(adapter: DoWhyClient) -> None:
    case = fixture_case("linear_chain")
    graph, traces = as_lift_sys(case)
    twice = [{"type": "hard", "node": "X", "value": 100}, {"type": "hard", "node": "X", "value": 2}]
    out = adapter.query_scm(graph, traces, twice, None, 2000)
    assert (out["status"], out["query_type"]) == ("success", "interventional")
    assert list(out["statistics"]) == list(graph.nodes) == list(out["samples"])
    assert out["statistics"]["Z"]["mean"] == pytest.approx(12.0, abs=0.3)  # do(X = 2), the last one
    metadata = out["metadata"]
    assert {
        "query_time_ms",
        "num_samples",
        "num_interventions",
        "query_nodes",
        "fit_time_ms",
        "num_training_samples",
    } <= set(metadata)
    assert (metadata["num_interventions"], metadata["num_samples"]) == (2, 2000)
    assert metadata["num_training_samples"] == len(traces)
    assert metadata["query_nodes"] == list(graph.nodes)
    assert isinstance(metadata["fit_time_ms"], int) and isinstance(metadata["query_time_ms"], int)
    again = adapter.query_scm(graph, traces, [], ["Z", "X"], 500)
    assert again["query_type"] == "interventional"  # even with no interventions
    assert list(again["statistics"]) == ["Z", "X"] and len(again["samples"]["Z"]) == 500
    assert again["metadata"]["scmfit"]["reused_model"] is True


def test_queries_use_a_model_fitted_on_every_row_even_six(adapter: DoWhyClient) -> None:
    graph, traces = chain(rows=6)
    out = adapter.query_scm(graph, traces, [{"type": "hard", "node": "X", "value": 1.5}], None, 400)
    assert out["status"] == "success"
    assert out["metadata"]["num_training_samples"] == 6
    assert out["metadata"]["scmfit"]["num_fit_rows"] == 6  # every row, as the original's query script
    assert out["statistics"]["X"]["mean"] == 1.5
    # Y = 2X + small noise: a model on six rows still puts E[Y | do(X = 1.5)] near 3.
    assert out["statistics"]["Y"]["mean"] == pytest.approx(3.0, abs=0.5)


def test_fit_describes_the_model_it_scored_as_the_original_does(adapter: DoWhyClient, server: ServerProcess) -> None:
    graph, traces = chain(rows=300)
    out = adapter.fit_scm(graph, traces)
    assert (out["status"], out["metadata"]["num_train"]) == ("success", 240)
    # The description is of the split model (refit_on_all_rows off), as in the original's result.
    with Client(server.address) as client:
        stored, _ = client.get_model(out["model_id"])
    assert (stored.metadata.refit_on_all_rows, stored.metadata.num_model_rows) == (False, 240)
    assert out["scm"]["mechanisms"]["Y"]["params"]["coefficients"] == [
        pytest.approx(stored.node("Y").mechanism.coefficients["X"], rel=1e-12)
    ]
