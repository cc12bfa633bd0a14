"""One node's fit: the linear screen, DoWhy's zoo, and selection on a subsample."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from dowhy import gcm

from scmfit.server.domain.fit import ColumnType, NodeTask, R2Omission, SelectionPath
from scmfit.server.domain.settings import FitSettings
from scmfit.server.fitting.nodefit import fit_node, linear_screen

gcm.config.set_default_n_jobs(1)
gcm.config.disable_progress_bars()
RNG = np.random.default_rng(0)


def task(y: np.ndarray, x: np.ndarray, settings: FitSettings, kind: ColumnType = ColumnType.DOUBLE) -> NodeTask:
    cut = int(len(x) * 0.8)
    return NodeTask(
        node="Y",
        parents=("X",),
        kinds={"X": ColumnType.DOUBLE, "Y": kind},
        train={"X": x[:cut], "Y": y[:cut]},
        test={"X": x[cut:], "Y": y[cut:]},
        settings=settings,
        seed=3,
    )


def test_deterministic_linear_node_takes_the_screen_and_skips_the_zoo() -> None:
    x = RNG.normal(size=1000)
    fit = fit_node(task(2 * x + 1, x, FitSettings()), lambda *_: None)
    assert fit.outcome.selection is SelectionPath.LINEAR_SCREEN
    assert fit.outcome.screening_r2 is not None and fit.outcome.screening_r2 > 0.9999
    assert fit.outcome.mechanism.model_type == "LinearRegression"
    assert abs(dict(fit.outcome.mechanism.coefficients)["X"] - 2) < 1e-9


def test_nonlinear_node_goes_to_the_zoo_with_its_screen_score_reported() -> None:
    x = RNG.uniform(-3, 3, size=1000)
    fit = fit_node(task(x**2 + RNG.normal(scale=0.3, size=1000), x, FitSettings()), lambda *_: None)
    assert fit.outcome.selection is SelectionPath.MODEL_ZOO
    assert fit.outcome.screening_r2 is not None and fit.outcome.screening_r2 < 0.5
    assert fit.outcome.mechanism.model_type != "LinearRegression"


def test_screening_can_be_switched_off() -> None:
    x = RNG.normal(size=500)
    fit = fit_node(task(2 * x, x, FitSettings(linear_screening=False)), lambda *_: None)
    assert fit.outcome.selection is SelectionPath.MODEL_ZOO
    assert fit.outcome.screening_r2 is None


def test_selection_runs_on_a_subsample_and_the_fit_on_all_training_rows() -> None:
    x = RNG.normal(size=5000)
    y = np.sin(x) + RNG.normal(scale=0.1, size=5000)
    fit = fit_node(task(y, x, FitSettings(selection_rows=500)), lambda *_: None)
    assert fit.selection_rows == 500
    full = fit_node(task(y, x, FitSettings(selection_rows=0)), lambda *_: None)
    assert full.selection_rows == 4000


def test_integer_node_screened_linear_stays_discrete() -> None:
    x = np.arange(200, dtype=float)
    fit = fit_node(task((3 * x).astype(np.int64), x, FitSettings(), ColumnType.INT64), lambda *_: None)
    assert fit.outcome.selection is SelectionPath.LINEAR_SCREEN
    assert fit.outcome.mechanism.kind.value == "discrete_additive_noise"


def test_progress_is_reported_stage_by_stage() -> None:
    x = RNG.normal(size=200)
    seen: list[tuple[str, str]] = []
    fit_node(task(2 * x, x, FitSettings()), lambda stage, node: seen.append((stage.value, node)))
    assert seen == [("assigning", "Y"), ("fitting", "Y"), ("evaluating", "Y")]


def test_linear_screen_is_undefined_for_constant_targets() -> None:
    assert linear_screen(np.arange(20.0).reshape(-1, 1), np.ones(20), seed=0) is None


def least_squares_slope(x: np.ndarray, y: np.ndarray) -> float:
    """The closed-form OLS slope, cov(x, y) / var(x)."""
    return float(np.cov(x, y, bias=True)[0, 1] / np.var(x))


def test_the_stored_mechanism_is_refitted_on_every_row_and_the_score_stays_the_split_models() -> None:
    x = RNG.normal(size=400)
    y = 3 * x + RNG.normal(scale=2.0, size=400)  # noisy: the split and all-row slopes differ
    refitted = fit_node(task(y, x, FitSettings(linear_screening=False)), lambda *_: None)
    split_only = fit_node(task(y, x, FitSettings(linear_screening=False, refit_on_all_rows=False)), lambda *_: None)
    assert refitted.outcome.mechanism.model_type == split_only.outcome.mechanism.model_type == "LinearRegression"
    assert dict(refitted.outcome.mechanism.coefficients)["X"] == pytest.approx(least_squares_slope(x, y), rel=1e-9)
    assert dict(split_only.outcome.mechanism.coefficients)["X"] == pytest.approx(
        least_squares_slope(x[:320], y[:320]), rel=1e-9
    )
    assert refitted.outcome.score == split_only.outcome.score  # R² of the model that was scored
    stored = pickle.loads(refitted.mechanism)
    assert stored.prediction_model.sklearn_model.coef_[0] == pytest.approx(least_squares_slope(x, y), rel=1e-9)


def test_nothing_held_out_scores_nothing_and_fits_every_row() -> None:
    x = RNG.normal(size=50)
    whole = NodeTask(
        node="Y",
        parents=("X",),
        kinds={"X": ColumnType.DOUBLE, "Y": ColumnType.DOUBLE},
        train={"X": x, "Y": 2 * x + 1},
        test={"X": x[:0], "Y": x[:0]},
        settings=FitSettings(test_fraction=0.0),
        seed=3,
    )
    fit = fit_node(whole, lambda *_: None)
    assert (fit.outcome.score.r2, fit.outcome.score.omission) == (None, R2Omission.NOT_HELD_OUT)
    assert dict(fit.outcome.mechanism.coefficients)["X"] == pytest.approx(2.0, rel=1e-9)


def test_a_discrete_mechanism_keeps_its_split_model_when_held_out_values_are_fractions() -> None:
    x = RNG.normal(size=200)
    y = np.round(3 * x)  # whole numbers on the training rows: DoWhy's rule picks a discrete mechanism
    test_rows = slice(160, 200)
    y[test_rows] += 0.5  # the held-out rows are not whole
    fit = fit_node(task(y, x, FitSettings(linear_screening=False)), lambda *_: None)
    assert fit.outcome.mechanism.kind.value == "discrete_additive_noise"
    assert fit.outcome.score.r2 is not None  # scored, and the fit did not fail on the refit
