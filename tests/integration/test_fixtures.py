"""The nine lift-sys fixtures, fitted through the real client and server, each against its stated outcome."""

from __future__ import annotations

import pytest

from scmfit.client import Client, FitStatus, MechanismKind
from scmfit.client._cases import Case
from tests.conftest import FIXTURE_NAMES

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


def test_fixture_outcome(client: Client, case: Case) -> None:
    result = client.fit(case.graph, case.traces, case.config)
    expected = case.expected
    assert result.status is FitStatus(expected["status"]), result.message
    assert [node.name for node in result.nodes] == case.nodes
    assert len(result.model_id) == 64
    rows = len(next(iter(case.traces.values())))
    assert result.metadata.num_rows == rows
    assert result.metadata.num_train + result.metadata.num_test == rows

    for node_name, truth in expected.get("coefficients", {}).items():
        mechanism = result.node(node_name).mechanism
        assert mechanism.model_type == "LinearRegression", mechanism
        for parent, value in truth.items():
            assert mechanism.coefficients[parent] == pytest.approx(value, abs=LINEAR_TOLERANCE), (
                node_name,
                parent,
            )

    for node_name, floor in expected.get("min_r2", {}).items():
        r2 = result.node(node_name).r2
        assert r2 is not None and r2 >= floor

    for node_name in expected.get("nonlinear_nodes", []):
        mechanism = result.node(node_name).mechanism
        assert not mechanism.is_linear
        if mechanism.model_type.startswith("Pipeline(PolynomialFeatures"):
            # A polynomial model must have found the square term of Y = X^2.
            assert mechanism.coefficients["X^2"] == pytest.approx(1.0, abs=0.1)

    for node_name, reason in expected.get("r2_omitted", {}).items():
        node = result.node(node_name)
        assert node.r2 is None
        assert node.r2_omission == reason.lower()

    if "failed_nodes" in expected:
        assert list(result.validation.failed_nodes) == expected["failed_nodes"]
        assert not result.validation.passed


def test_roots_are_empirical_and_have_no_r2(client: Client, case: Case) -> None:
    result = client.fit(case.graph, case.traces)
    targets = {target for _, target in case.edges}
    for node in result.nodes:
        if node.name not in targets:
            assert node.mechanism.kind is MechanismKind.EMPIRICAL_ROOT
            assert node.r2_omission == "root_node"
            assert node.r2 is None
            assert node.parents == ()


def test_mean_r2_averages_the_defined_node_r2s(client: Client, case: Case) -> None:
    result = client.fit(case.graph, case.traces)
    defined = [node.r2 for node in result.nodes if node.r2 is not None]
    assert result.mean_r2 == pytest.approx(sum(defined) / len(defined))
    assert result.validation.threshold == pytest.approx(0.7)
