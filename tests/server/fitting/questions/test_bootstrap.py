"""Bootstrap replicas in the worker: seeded by the model, refitted on n draws with replacement, and
refused precisely for models stored before their training rows were kept."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from scmfit.server.domain.errors import QueryNotSupportedError
from scmfit.server.domain.fit import ModelBundle
from scmfit.server.domain.query import RefitOutcome, RefitQuery
from scmfit.server.engine.worker import _warm_up_job, run_fit
from scmfit.server.fitting import answers
from scmfit.server.fitting.cache import build, with_replicas

MODEL_ID = "ab" * 32


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    loaded = pickle.loads(run_fit(_warm_up_job(), lambda _: None).model_blob)
    assert isinstance(loaded, ModelBundle)
    return loaded


def slope(replica_blob: bytes) -> float:
    mechanisms = pickle.loads(replica_blob)
    return float(mechanisms["y"].prediction_model.sklearn_model.coef_[0])


def test_replica_i_is_the_same_bytes_whoever_computes_it_and_replicas_differ(bundle: ModelBundle) -> None:
    model = build(bundle)
    whole = answers.answer(model, RefitQuery(MODEL_ID, 0, 4))
    tail = answers.answer(model, RefitQuery(MODEL_ID, 2, 4))
    assert isinstance(whole, RefitOutcome) and isinstance(tail, RefitOutcome)
    assert [slope(blob) for blob in whole.replicas[2:]] == [slope(blob) for blob in tail.replicas]
    slopes = [slope(blob) for blob in whole.replicas]
    assert len(set(slopes)) == 4 and all(abs(value - 2.0) < 0.1 for value in slopes)


def test_replicas_draw_with_replacement_so_their_spread_is_the_slopes_standard_error(bundle: ModelBundle) -> None:
    """y = 2x + 0.1 e on 200 rows: the spread of refitted slopes is the OLS standard error (a 75%
    subsample without replacement, DoWhy's default, would give about 0.58 of it)."""
    model = build(bundle)
    outcome = answers.answer(model, RefitQuery(MODEL_ID, 0, 300))
    assert isinstance(outcome, RefitOutcome)
    slopes = np.array([slope(blob) for blob in outcome.replicas])
    assert bundle.training is not None
    x, y = bundle.training.columns["x"], bundle.training.columns["y"]
    design = np.column_stack([np.ones(len(x)), x])
    residuals = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    standard_error = np.sqrt(residuals @ residuals / (len(x) - 2) / np.sum((x - x.mean()) ** 2))
    assert slopes.std(ddof=1) == pytest.approx(standard_error, rel=0.2)


def test_a_worker_unpickles_each_replica_once(bundle: ModelBundle) -> None:
    model = build(bundle)
    outcome = answers.answer(model, RefitQuery(MODEL_ID, 0, 3))
    assert isinstance(outcome, RefitOutcome)
    first = with_replicas(MODEL_ID, model, outcome.replicas[:2])
    second = with_replicas(MODEL_ID, model, outcome.replicas)
    assert len(first.replicas) == 2 and len(second.replicas) == 3
    assert second.replicas[0] is first.replicas[0]


def test_a_model_stored_without_training_rows_says_why_it_has_no_interval(bundle: ModelBundle) -> None:
    old = build(ModelBundle(bundle.nodes, bundle.edges, bundle.kinds, bundle.mechanisms))
    with pytest.raises(QueryNotSupportedError) as caught:
        answers.answer(old, RefitQuery(MODEL_ID, 0, 2))
    assert caught.value.subject == "confidence_level" and caught.value.kind == "NO_TRAINING_ROWS"
    assert "fit it again" in caught.value.reason
