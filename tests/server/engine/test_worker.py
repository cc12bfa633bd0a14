"""The worker-side fit, run in-process on a fixture: order of progress and determinism."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from dowhy import gcm

from scmfit.client import fit_request
from scmfit.server.config import Limits
from scmfit.server.domain.errors import InvalidRequestError
from scmfit.server.domain.fit import FitStatus, Progress, Stage
from scmfit.server.domain.split import split_indices
from scmfit.server.engine.worker import run_fit
from scmfit.server.wire.decode import decode_fit_request
from tests.conftest import fixture_case

gcm.config.set_default_n_jobs(1)
gcm.config.disable_progress_bars()


def test_progress_is_per_node_in_topological_order_and_results_in_request_order() -> None:
    job = decode_fit_request(fixture_case("complex_dag").request(), Limits())
    events: list[Progress] = []
    outcome = run_fit(job, events.append)
    assert [(e.stage, e.node) for e in events[:3]] == [
        (Stage.ASSIGNING, "A"),
        (Stage.FITTING, "A"),
        (Stage.EVALUATING, "A"),
    ]
    assert [e.node for e in events[::3]] == ["A", "B", "C", "D"]
    assert [n.name for n in outcome.nodes] == ["A", "B", "C", "D"]
    assert outcome.status is FitStatus.SUCCESS
    assert set(outcome.stage_seconds) == {Stage.ASSIGNING, Stage.FITTING, Stage.EVALUATING}


def test_same_seed_same_result() -> None:
    job = decode_fit_request(fixture_case("nonlinear").request(), Limits())
    first = run_fit(job, lambda _: None)
    second = run_fit(job, lambda _: None)
    assert first.nodes == second.nodes


def test_a_split_that_leaves_a_class_too_rare_in_training_is_rejected_at_decode() -> None:
    # "b" has exactly 5 of 20 rows, enough overall; find a seed that holds one of them out.
    data: dict[str, list[Any]] = {"X": [float(i) for i in range(20)], "S": ["a"] * 15 + ["b"] * 5}
    labels = np.array(data["S"])
    for seed in range(100):
        train_rows, _ = split_indices(20, 0.2, seed)
        if (labels[train_rows] == "b").sum() < 5:
            break
    else:
        pytest.fail("no seed in 0..99 held out a 'b' row")
    # Validation at the door: decode refuses it, so it never reaches admission or a worker.
    with pytest.raises(InvalidRequestError) as caught:
        decode_fit_request(fit_request(["X", "S"], [("X", "S")], data, seed=seed), Limits())
    violation = caught.value.violations[0]
    assert violation.field == "dataset.columns[1]"
    assert "class 'b' has" in violation.description and "the training split" in violation.description
