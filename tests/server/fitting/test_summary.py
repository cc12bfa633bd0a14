"""Describing real DoWhy mechanisms: unwrapped model names and coefficients keyed by feature name."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from dowhy import gcm
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from scmfit.server.domain.fit import MechanismKind
from scmfit.server.fitting.summary import describe_mechanism, encoded_feature_names, model_type_name

RNG = np.random.default_rng(0)


def fitted(mechanism: object, parents: list[str], frame: pd.DataFrame, child: str) -> object:
    graph = nx.DiGraph([(parent, child) for parent in parents])
    scm = gcm.StructuralCausalModel(graph)
    for parent in parents:
        scm.set_causal_mechanism(parent, gcm.EmpiricalDistribution())
    scm.set_causal_mechanism(child, mechanism)
    gcm.fit(scm, frame)
    return scm.causal_mechanism(child)


def test_coefficients_are_keyed_by_sorted_parent_name_not_insertion_order() -> None:
    # Insertion order puts Z before A; DoWhy feeds [A, Z]. A positional reading would swap them.
    frame = pd.DataFrame({"Z": RNG.normal(size=300), "A": RNG.normal(size=300)})
    frame["Y"] = 5 * frame["Z"] - 1 * frame["A"] + 0.5
    mechanism = fitted(gcm.AdditiveNoiseModel(gcm.ml.create_linear_regressor()), ["Z", "A"], frame, "Y")
    summary = describe_mechanism(mechanism, ["A", "Z"])
    assert summary.kind is MechanismKind.ADDITIVE_NOISE
    assert summary.model_type == "LinearRegression"
    coefficients = dict(summary.coefficients)
    assert coefficients["Z"] == pytest.approx(5.0)
    assert coefficients["A"] == pytest.approx(-1.0)
    assert summary.intercept == pytest.approx(0.5)


def test_polynomial_pipeline_names_its_terms() -> None:
    frame = pd.DataFrame({"X": RNG.uniform(-2, 2, 300), "W": RNG.uniform(-2, 2, 300)})
    frame["Y"] = frame["X"] ** 2 + 3 * frame["X"] * frame["W"]
    mechanism = fitted(gcm.AdditiveNoiseModel(gcm.ml.create_polynom_regressor(degree=2)), ["X", "W"], frame, "Y")
    summary = describe_mechanism(mechanism, ["W", "X"])
    assert summary.model_type == "Pipeline(PolynomialFeatures,LinearRegression)"
    coefficients = dict(summary.coefficients)
    assert set(coefficients) == {"W", "X", "W^2", "W*X", "X^2"}
    assert coefficients["X^2"] == pytest.approx(1.0, abs=1e-6)
    assert coefficients["W*X"] == pytest.approx(3.0, abs=1e-6)


def test_one_hot_encoded_parent_gets_category_features() -> None:
    assert encoded_feature_names(["A", "S"], {}) == ["A", "S"]
    encoder = gcm.util.general.fit_one_hot_encoders(np.array([["x"], ["y"], ["x"]], dtype=object))[0]
    assert encoded_feature_names(["A", "S"], {1: encoder}) == ["A", "S=x", "S=y"]


def test_nonlinear_model_has_no_coefficients() -> None:
    frame = pd.DataFrame({"X": RNG.uniform(-3, 3, 300)})
    frame["Y"] = np.sin(frame["X"])
    mechanism = fitted(gcm.AdditiveNoiseModel(gcm.ml.create_hist_gradient_boost_regressor()), ["X"], frame, "Y")
    summary = describe_mechanism(mechanism, ["X"])
    assert summary.model_type == "HistGradientBoostingRegressor"
    assert summary.coefficients == () and summary.intercept is None


def test_pipeline_with_a_scaler_reports_no_misleading_coefficients() -> None:
    assert (
        model_type_name(make_pipeline(StandardScaler(), LinearRegression()))
        == "Pipeline(StandardScaler,LinearRegression)"
    )
    assert model_type_name(HistGradientBoostingRegressor()) == "HistGradientBoostingRegressor"
    assert model_type_name(make_pipeline(PolynomialFeatures(), LinearRegression())).startswith("Pipeline(")


def test_root_is_empirical() -> None:
    summary = describe_mechanism(gcm.EmpiricalDistribution(), [])
    assert summary.kind is MechanismKind.EMPIRICAL_ROOT
    assert summary.model_type == "EmpiricalDistribution"
