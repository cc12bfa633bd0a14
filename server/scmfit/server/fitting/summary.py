"""Describes what DoWhy really fitted: the unwrapped scikit-learn model and its coefficients by name.

DoWhy wraps every model (`SklearnRegressionModel`) and feeds parents in `sorted()` order, after
one-hot or CatBoost encoding of categorical parents. Coefficients are positional in that encoded
space; here they get the names of the features they belong to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from dowhy.gcm.causal_mechanisms import (
    AdditiveNoiseModel,
    ClassifierFCM,
    DiscreteAdditiveNoiseModel,
    PostNonlinearModel,
)
from dowhy.gcm.stochastic_models import EmpiricalDistribution
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures

from scmfit.server.domain.fit import MechanismKind, MechanismSummary


def kind_of(mechanism: object) -> MechanismKind:
    # DiscreteAdditiveNoiseModel subclasses AdditiveNoiseModel, so it is tested first.
    if isinstance(mechanism, EmpiricalDistribution):
        return MechanismKind.EMPIRICAL_ROOT
    if isinstance(mechanism, DiscreteAdditiveNoiseModel):
        return MechanismKind.DISCRETE_ADDITIVE_NOISE
    if isinstance(mechanism, AdditiveNoiseModel):
        return MechanismKind.ADDITIVE_NOISE
    if isinstance(mechanism, ClassifierFCM):
        return MechanismKind.CLASSIFIER
    if isinstance(mechanism, PostNonlinearModel):
        return MechanismKind.POST_NONLINEAR
    return MechanismKind.OTHER


def predictor_of(mechanism: object) -> Any | None:
    """The DoWhy prediction or classification model inside a mechanism, if it has one."""
    if isinstance(mechanism, ClassifierFCM):
        return mechanism.classifier_model
    return getattr(mechanism, "prediction_model", None)


def describe_mechanism(mechanism: object, parents: Sequence[str]) -> MechanismSummary:
    kind = kind_of(mechanism)
    predictor = predictor_of(mechanism)
    if predictor is None:
        return MechanismSummary(kind=kind, model_type=type(mechanism).__name__)
    estimator = getattr(predictor, "sklearn_model", None)
    if estimator is None:
        return MechanismSummary(kind=kind, model_type=type(predictor).__name__)
    features = encoded_feature_names(parents, getattr(predictor, "_encoders", {}))
    coefficients, intercept = linear_terms(estimator, features)
    anchored = getattr(predictor, "original_intercept", None)
    if anchored is not None:
        intercept = anchored  # the model was fitted relative to an anchor row; this is the data's own intercept
    return MechanismSummary(
        kind=kind, model_type=model_type_name(estimator), coefficients=coefficients, intercept=intercept
    )


def model_type_name(estimator: object) -> str:
    if isinstance(estimator, Pipeline):
        return "Pipeline(" + ",".join(model_type_name(step) for _, step in estimator.steps) + ")"
    return type(estimator).__name__


def encoded_feature_names(parents: Sequence[str], encoders: Mapping[int, object]) -> list[str]:
    """Mirrors dowhy.gcm.util.general.apply_one_hot_encoding / apply_catboost_encoding column order."""
    names: list[str] = []
    for position, parent in enumerate(parents):
        encoder = encoders.get(position)
        if isinstance(encoder, OneHotEncoder):
            names.extend(f"{parent}={category}" for category in encoder.categories_[0])
        else:
            names.append(parent)
    return names


def linear_terms(estimator: object, features: list[str]) -> tuple[tuple[tuple[str, float], ...], float | None]:
    """Coefficients only where every step before the final linear model keeps features nameable."""
    final = estimator
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps[:-1]:
            if not isinstance(step, PolynomialFeatures):
                return (), None
            features = [name.replace(" ", "*") for name in step.get_feature_names_out(features)]
        final = estimator.steps[-1][1]
    coef = getattr(final, "coef_", None)
    if coef is None:
        return (), None
    coef = np.atleast_2d(np.asarray(coef, dtype=float))
    raw_intercept = np.atleast_1d(np.asarray(getattr(final, "intercept_", np.nan), dtype=float))
    if coef.shape[0] == 1:
        named = tuple(zip(features, (float(v) for v in coef[0]), strict=True))
        intercept = float(raw_intercept[0]) if np.isfinite(raw_intercept[0]) else None
        return named, intercept
    # Multi-class: one row of weights per class, keyed "feature@class"; no single intercept exists.
    classes = getattr(final, "classes_", range(coef.shape[0]))
    named = tuple(
        (f"{feature}@{cls}", float(value))
        for cls, row in zip(classes, coef, strict=True)
        for feature, value in zip(features, row, strict=True)
    )
    return named, None
