"""The nine lift-sys fixtures, fitted through the real client and server, each against its stated outcome."""

from __future__ import annotations

import pytest

from scmfit.client import Client
from scmfit.client._cases import Case
from scmfit.v1 import causal_model_service_pb2 as pb
from tests.conftest import FIXTURE_NAMES

STATUS = {
    "success": pb.FIT_STATUS_SUCCESS,
    "validation_failed": pb.FIT_STATUS_VALIDATION_FAILED,
    "warning": pb.FIT_STATUS_WARNING,
}
LINEAR_TOLERANCE = 0.05


def test_all_nine_lift_sys_cases_are_present() -> None:
    assert (
        sorted(
            [
                "linear_chain",
                "multi_parent",
                "nonlinear",
                "insufficient_data",
                "noisy_data",
                "perfect_correlation",
                "code_execution",
                "validation_function",
                "complex_dag",
            ]
        )
        == FIXTURE_NAMES
    )


def _node(result: pb.FitResult, name: str) -> pb.NodeResult:
    return next(node for node in result.nodes if node.name == name)


def test_fixture_outcome(client: Client, case: Case) -> None:
    result = client.fit_proto(case.request())
    expected = case.expected
    assert pb.FitStatus.Name(result.status) == pb.FitStatus.Name(STATUS[expected["status"]]), result.message
    assert [node.name for node in result.nodes] == case.nodes
    assert len(result.model_id) == 64
    rows = len(next(iter(case.traces.values())))
    assert result.metadata.num_rows == rows
    assert result.metadata.num_train + result.metadata.num_test == rows

    for node_name, truth in expected.get("coefficients", {}).items():
        node = _node(result, node_name)
        assert node.mechanism.model_type == "LinearRegression", node.mechanism
        fitted = {c.feature: c.value for c in node.mechanism.coefficients}
        for parent, value in truth.items():
            assert fitted[parent] == pytest.approx(value, abs=LINEAR_TOLERANCE), (node_name, parent, fitted)

    for node_name, floor in expected.get("min_r2", {}).items():
        assert _node(result, node_name).r2 >= floor

    for node_name in expected.get("nonlinear_nodes", []):
        node = _node(result, node_name)
        assert node.mechanism.model_type != "LinearRegression"
        if node.mechanism.model_type.startswith("Pipeline(PolynomialFeatures"):
            # A polynomial model must have found the square term of Y = X^2.
            assert {c.feature: c.value for c in node.mechanism.coefficients}["X^2"] == pytest.approx(
                1.0, abs=0.1
            )

    for node_name, reason in expected.get("r2_omitted", {}).items():
        node = _node(result, node_name)
        assert not node.HasField("r2")
        assert pb.R2Omission.Name(node.r2_omission) == f"R2_OMISSION_{reason}"

    if "failed_nodes" in expected:
        assert list(result.validation.failed_nodes) == expected["failed_nodes"]
        assert not result.validation.passed


def test_roots_are_empirical_and_have_no_r2(client: Client, case: Case) -> None:
    result = client.fit_proto(case.request())
    targets = {target for _, target in case.edges}
    for node in result.nodes:
        if node.name not in targets:
            assert node.mechanism.kind == pb.MECHANISM_KIND_EMPIRICAL_ROOT
            assert node.r2_omission == pb.R2_OMISSION_ROOT_NODE
            assert not node.HasField("r2")
            assert list(node.parents) == []


def test_mean_r2_averages_the_defined_node_r2s(client: Client, case: Case) -> None:
    result = client.fit_proto(case.request())
    defined = [node.r2 for node in result.nodes if node.HasField("r2")]
    assert result.validation.mean_r2 == pytest.approx(sum(defined) / len(defined))
    assert result.validation.threshold == pytest.approx(0.7)
