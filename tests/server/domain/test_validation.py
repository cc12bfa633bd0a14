"""The R² rule and the status it gives, including the documented edge cases."""

from __future__ import annotations

import pytest

from scmfit.server.domain.fit import FitStatus, MechanismKind, MechanismSummary, NodeResult, NodeScore, R2Omission
from scmfit.server.domain.settings import FitSettings
from scmfit.server.domain.validation import judge

ROOT = NodeResult(
    "X",
    (),
    MechanismSummary(MechanismKind.EMPIRICAL_ROOT, "EmpiricalDistribution"),
    NodeScore(None, R2Omission.ROOT_NODE),
)


def child(name: str, r2: float | None, omission: R2Omission = R2Omission.NONE) -> NodeResult:
    return NodeResult(
        name,
        ("X",),
        MechanismSummary(MechanismKind.ADDITIVE_NOISE, "LinearRegression"),
        NodeScore(r2, omission, mse=0.1),
    )


def test_success_when_mean_reaches_threshold_even_if_one_node_is_below() -> None:
    status, message, validation = judge([ROOT, child("Y", 0.95), child("Z", 0.5)], FitSettings(), 1000)
    assert status is FitStatus.SUCCESS
    assert validation.mean_r2 == pytest.approx(0.725)
    assert validation.failed_nodes == ("Z",)
    assert validation.passed and "0.7250" in message


def test_validation_failed_lists_failing_nodes() -> None:
    status, message, validation = judge([ROOT, child("Y", 0.2)], FitSettings(), 1000)
    assert status is FitStatus.VALIDATION_FAILED
    assert validation.failed_nodes == ("Y",) and not validation.passed
    assert "Y" in message


def test_insufficient_rows_warn_before_anything_else() -> None:
    status, message, _ = judge([ROOT, child("Y", 0.2)], FitSettings(min_samples=100), 99)
    assert status is FitStatus.WARNING
    assert "99 rows < min_samples 100" in message
    assert judge([ROOT, child("Y", 0.99)], FitSettings(min_samples=100), 100)[0] is FitStatus.SUCCESS


def test_validation_off_succeeds_but_still_reports() -> None:
    status, _, validation = judge([ROOT, child("Y", 0.2)], FitSettings(validate_r2=False), 1000)
    assert status is FitStatus.SUCCESS
    assert not validation.passed and not validation.enforced and validation.failed_nodes == ("Y",)


def test_nodes_without_r2_are_excluded_from_the_mean() -> None:
    nodes = [ROOT, child("C", None, R2Omission.CONSTANT_TARGET), child("Y", 0.9)]
    status, _, validation = judge(nodes, FitSettings(), 1000)
    assert status is FitStatus.SUCCESS and validation.mean_r2 == pytest.approx(0.9)


def test_nothing_to_validate_is_a_warning() -> None:
    status, message, validation = judge([ROOT], FitSettings(), 1000)
    assert status is FitStatus.WARNING
    assert validation.mean_r2 is None and not validation.passed
    assert "nothing to validate" in message and "root_node" in message
