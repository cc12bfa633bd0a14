"""Scores one node's fitted mechanism on the held-out rows; `status.py` turns scores into a status."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from dowhy import gcm
from sklearn.metrics import mean_squared_error, r2_score

from scmfit.server.domain.fit import MechanismKind, NodeScore, R2Omission
from scmfit.server.fitting.summary import kind_of, predictor_of


def score_node(scm: gcm.StructuralCausalModel, node: str, parents: Sequence[str], test: pd.DataFrame) -> NodeScore:
    mechanism = scm.causal_mechanism(node)
    kind = kind_of(mechanism)
    if not parents or kind is MechanismKind.EMPIRICAL_ROOT:
        return NodeScore(r2=None, omission=R2Omission.ROOT_NODE)
    if len(test) == 0:
        return NodeScore(r2=None, omission=R2Omission.NOT_HELD_OUT)
    features = test[list(parents)].to_numpy()
    actual = test[node].to_numpy()
    predictor = predictor_of(mechanism)
    if kind is MechanismKind.CLASSIFIER and predictor is not None:
        predicted = predictor.predict(features).reshape(-1)
        accuracy = float(np.mean(predicted == actual)) if len(actual) else None
        return NodeScore(r2=None, omission=R2Omission.CATEGORICAL_TARGET, accuracy=accuracy)
    if predictor is not None:
        predicted = predictor.predict(features).reshape(-1)
    else:
        predicted = mechanism.evaluate(features, np.zeros((len(actual), 1))).reshape(-1)
    actual = actual.astype(float)
    if len(actual) < 2:
        mse = float(mean_squared_error(actual, predicted)) if len(actual) else None
        return NodeScore(r2=None, omission=R2Omission.TOO_FEW_TEST_ROWS, mse=mse)
    mse = float(mean_squared_error(actual, predicted))
    if np.ptp(actual) == 0:
        return NodeScore(r2=None, omission=R2Omission.CONSTANT_TARGET, mse=mse)
    return NodeScore(r2=float(r2_score(actual, predicted)), omission=R2Omission.NONE, mse=mse)
