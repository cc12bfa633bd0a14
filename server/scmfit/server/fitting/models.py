"""Mechanisms that stay exact on the values program traces hold: large integers and large offsets.

- DoWhy's `DiscreteAdditiveNoiseModel` casts targets and rounded predictions to int32, which silently
  wraps timestamps, ids, sizes and counters (10^12 becomes -727379968). `Int64DiscreteAdditiveNoiseModel`
  does the same arithmetic in int64 and refuses, rather than wraps, a prediction outside int64.
- scikit-learn's `LinearRegression` centres on the column means, which lose digits when the values sit
  far from zero (a counter near -10^15 that spans 400): the slope comes out 1.4e-6 off and the
  intercept billions off. `AnchoredLinearRegressor` subtracts one observed row first, which is exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from dowhy.gcm.causal_mechanisms import DiscreteAdditiveNoiseModel
from dowhy.gcm.ml.regression import SklearnRegressionModel
from dowhy.gcm.util.general import is_discrete, shape_into_2d
from sklearn.linear_model import LinearRegression

INT64_LIMIT = float(2**63 - 2**10)
"""Predictions beyond this magnitude do not fit in int64 after rounding (float64 spacing there is 2^11)."""


class IntegerOverflowError(ArithmeticError):
    """A prediction left the int64 range, so no integer value can represent it."""


class Int64DiscreteAdditiveNoiseModel(DiscreteAdditiveNoiseModel):  # type: ignore[misc]
    """Y = round(f(X)) + N over int64, with N the integer residuals seen in training."""

    def fit(self, X: np.ndarray, Y: np.ndarray) -> None:  # noqa: N803 - DoWhy's signature
        if not is_discrete(Y):
            raise ValueError("Cannot fit a discrete ANM to non-discrete target values!")
        X, Y = shape_into_2d(X, Y)  # noqa: N806
        Y = np.asarray(Y).astype(np.int64)  # noqa: N806
        self._prediction_model.fit(X=X, Y=Y)
        self._noise_model.fit(Y - self._rounded_prediction(X))

    def _rounded_prediction(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        predicted = np.rint(np.asarray(self._prediction_model.predict(X), dtype=np.float64))
        outside = ~np.isfinite(predicted) | (np.abs(predicted) > INT64_LIMIT)
        if outside.any():
            raise IntegerOverflowError(
                f"an integer node's prediction ({predicted[outside].flat[0]:g}) is beyond the int64 range"
            )
        return predicted.astype(np.int64)

    def clone(self) -> Int64DiscreteAdditiveNoiseModel:
        return Int64DiscreteAdditiveNoiseModel(
            prediction_model=self.prediction_model.clone(), noise_model=self.noise_model.clone()
        )


def int64_safe(mechanism: Any) -> Any:
    """Swaps DoWhy's int32 discrete model for the int64 one, keeping its (unfitted) regressor."""
    if type(mechanism) is DiscreteAdditiveNoiseModel:
        return Int64DiscreteAdditiveNoiseModel(
            prediction_model=mechanism.prediction_model, noise_model=mechanism.noise_model
        )
    return mechanism


class AnchoredLinearRegressor(SklearnRegressionModel):  # type: ignore[misc]
    """Ordinary least squares on numeric parents, relative to the first training row and column-scaled.

    Scaling matters since scikit-learn 1.9: `LinearRegression` passes `tol=1e-6` as `cond` to
    `scipy.linalg.lstsq`, which zeroes every direction whose singular value is below 1e-6 of the largest.
    A parent measured in thousandths next to one in thousands was dropped silently (its coefficient
    came out 7e-8 instead of -2.5, with R² still 1.0). Columns are scaled to unit spread first, and
    the coefficients are mapped back, so `coef_` stays in the data's own units.
    """

    def __init__(self) -> None:
        super().__init__(LinearRegression())
        self._x_anchor = np.zeros(0)
        self._y_anchor = 0.0
        self.original_intercept: float | None = None
        """The intercept at all-zero parents, in the data's own coordinates."""

    def fit(self, X: np.ndarray, Y: np.ndarray) -> None:  # noqa: N803
        X, Y = shape_into_2d(np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64))  # noqa: N806
        self._x_anchor, self._y_anchor = X[0].copy(), float(Y[0, 0])
        shifted = X - self._x_anchor
        spread = np.ptp(shifted, axis=0)
        spread[spread == 0] = 1.0
        model = self._sklearn_mdl
        model.fit(shifted / spread, (Y - self._y_anchor).squeeze())
        model.coef_ = np.asarray(model.coef_, dtype=np.float64) / spread  # back to the data's units
        self.original_intercept = float(model.intercept_ + self._y_anchor - np.dot(model.coef_, self._x_anchor))

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        shifted = shape_into_2d(np.asarray(X, dtype=np.float64)) - self._x_anchor
        predicted: np.ndarray = shape_into_2d(self._sklearn_mdl.predict(shifted) + self._y_anchor)
        return predicted

    def clone(self) -> AnchoredLinearRegressor:
        return AnchoredLinearRegressor()
