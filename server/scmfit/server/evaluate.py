"""Scores each fitted mechanism on the held-out rows and applies the R² rule.

The rule, documented in the README:
- a node's R² is the held-out R² of its mechanism's prediction from its parents;
- roots, categorical nodes (scored by accuracy), constant held-out targets and splits with
  fewer than two test rows have no R², and say why; `mean_r2` averages the others;
- WARNING when rows < min_samples, or when no node has an R² to validate;
- otherwise SUCCESS when validation is off or mean_r2 >= threshold, else VALIDATION_FAILED.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from dowhy import gcm
from sklearn.metrics import mean_squared_error, r2_score

from scmfit.server.config import FitSettings
from scmfit.server.describe import family_of, predictor_of
from scmfit.server.job import MechanismFamily, NodeOutcome, NodeScore, R2Omission, ValidationSummary, Verdict


def score_node(scm: gcm.StructuralCausalModel, node: str, parents: Sequence[str], test: pd.DataFrame) -> NodeScore:
    mechanism = scm.causal_mechanism(node)
    family = family_of(mechanism)
    if not parents or family is MechanismFamily.EMPIRICAL_ROOT:
        return NodeScore(r2=None, omission=R2Omission.ROOT_NODE)
    features = test[list(parents)].to_numpy()
    actual = test[node].to_numpy()
    predictor = predictor_of(mechanism)
    if family is MechanismFamily.CLASSIFIER and predictor is not None:
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


def judge(nodes: Sequence[NodeOutcome], settings: FitSettings, num_rows: int) -> tuple[Verdict, str, ValidationSummary]:
    scored = [(node.name, node.score.r2) for node in nodes if node.score.r2 is not None]
    mean_r2 = float(np.mean([r2 for _, r2 in scored])) if scored else None
    failed = tuple(name for name, r2 in scored if r2 < settings.r2_threshold)
    passed = mean_r2 is not None and mean_r2 >= settings.r2_threshold
    validation = ValidationSummary(
        mean_r2=mean_r2,
        threshold=settings.r2_threshold,
        passed=passed,
        failed_nodes=failed,
        enforced=settings.validate_r2,
    )
    r2_text = f"mean held-out R² {mean_r2:.4f}" if mean_r2 is not None else "no node has a held-out R²"
    if num_rows < settings.min_samples:
        return (
            Verdict.WARNING,
            f"insufficient data: {num_rows} rows < min_samples {settings.min_samples}; "
            f"the fit ran but is not trustworthy ({r2_text})",
            validation,
        )
    if not settings.validate_r2:
        return Verdict.SUCCESS, f"R² validation disabled; {r2_text}", validation
    if mean_r2 is None:
        omitted = ", ".join(f"{node.name}: {node.score.omission.value}" for node in nodes)
        return (
            Verdict.WARNING,
            f"nothing to validate: no node has a held-out R² ({omitted})",
            validation,
        )
    if passed:
        return Verdict.SUCCESS, f"{r2_text} >= threshold {settings.r2_threshold}", validation
    return (
        Verdict.VALIDATION_FAILED,
        f"{r2_text} < threshold {settings.r2_threshold}; nodes below it: {', '.join(failed) or 'none'}",
        validation,
    )
