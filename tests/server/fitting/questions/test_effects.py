"""The effect family in the worker: the closed form on linear paths is what paired sampling gives."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from scmfit.server.domain.fit import ColumnType, FitJob, ModelBundle
from scmfit.server.domain.query import EffectQuery
from scmfit.server.domain.settings import FitSettings
from scmfit.server.engine.worker import run_fit
from scmfit.server.fitting.cache import FittedModel, build
from scmfit.server.fitting.questions.effects import linear_effects, paired


def fitted(nonlinear: bool = False) -> FittedModel:
    rng = np.random.default_rng(3)
    t = rng.normal(size=500)
    m = 2.0 * t + rng.normal(size=500)
    y = 1.5 * t + 0.5 * (np.sin(3 * m) * 4 if nonlinear else m) + 0.3 * rng.normal(size=500)
    columns = {"T": t, "M": m, "Y": y}
    job = FitJob(
        nodes=("T", "M", "Y"),
        edges=(("T", "M"), ("M", "Y"), ("T", "Y")),
        columns=columns,
        kinds=dict.fromkeys(columns, ColumnType.DOUBLE),
        column_index={"T": 0, "M": 1, "Y": 2},
        settings=FitSettings(),
        model_id="cd" * 32,
    )
    bundle = pickle.loads(run_fit(job, lambda _: None).model_blob)
    assert isinstance(bundle, ModelBundle)
    return build(bundle)


def question(alternative: float, reference: float) -> EffectQuery:
    return EffectQuery("cd" * 32, "T", "Y", alternative, reference, 5000, 1, alternative, reference, "", 0.0, 100, True)


@pytest.mark.parametrize(("alternative", "reference"), [(1.0, 0.0), (3.0, -1.0), (1e6, -2.5e5), (0.5, 0.5)])
def test_the_closed_form_is_what_paired_sampling_gives_on_a_linear_model(alternative: float, reference: float) -> None:
    model = fitted()
    exact = linear_effects(model.scm, question(alternative, reference), None)
    assert exact is not None
    sampled = paired(model.scm, question(alternative, reference), None, 7, 2000)
    assert exact == pytest.approx(sampled, rel=1e-9, abs=1e-9 * max(1.0, abs(alternative - reference)))
    assert exact[0] + exact[1] == pytest.approx(exact[2], rel=1e-12, abs=1e-12)


def test_a_nonlinear_mechanism_on_the_path_is_sampled_not_put_in_closed_form() -> None:
    model = fitted(nonlinear=True)
    mechanism = model.scm.causal_mechanism("Y")
    if type(mechanism.prediction_model.sklearn_model).__module__.startswith("sklearn.linear_model"):
        pytest.skip("selection chose a linear model for the sine; nothing to check")
    assert linear_effects(model.scm, question(1.0, 0.0), None) is None


def test_a_categorical_target_has_no_closed_form() -> None:
    model = fitted()
    assert linear_effects(model.scm, question(1.0, 0.0), lambda values: np.asarray(values) > 0) is None
