"""Planning a fit as node tasks: the split, the per-node inputs and seeds, and progress counting."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from scmfit.client import fit_request
from scmfit.server.config import Limits
from scmfit.server.domain.errors import InvalidRequestError
from scmfit.server.domain.fit import ColumnType, Stage
from scmfit.server.domain.split import split_indices
from scmfit.server.engine.plan import ProgressTracker, plan_fit
from scmfit.server.wire.decode import NO_ROWS, Entry, decode_fit_request
from tests.conftest import fixture_case


def test_split_matches_scikit_learn() -> None:
    rows = np.arange(103)
    for seed, fraction in ((42, 0.2), (7, 0.33), (0, 0.5)):
        train, test = split_indices(len(rows), fraction, seed)
        expected_train, expected_test = train_test_split(rows, test_size=fraction, random_state=seed)
        np.testing.assert_array_equal(train, expected_train)
        np.testing.assert_array_equal(test, expected_test)


def test_each_task_carries_only_its_own_and_its_parents_columns() -> None:
    job = decode_fit_request(fixture_case("complex_dag").request(), Limits())
    tasks = {task.node: task for task in plan_fit(job)}
    assert [task.node for task in plan_fit(job)] == ["A", "B", "C", "D"]
    assert set(tasks["D"].train) == {"B", "C", "D"} and tasks["D"].parents == ("B", "C")
    assert set(tasks["A"].train) == {"A"} and tasks["A"].parents == ()
    assert len(tasks["B"].train["B"]) == 800 and len(tasks["B"].test["B"]) == 200
    seeds = [task.seed for task in tasks.values()]
    assert len(set(seeds)) == 4
    assert seeds == [task.seed for task in plan_fit(job)]  # deterministic


def test_progress_counts_nodes_that_completed_the_stage() -> None:
    tracker = ProgressTracker(3)
    assert tracker.enter(Stage.ASSIGNING, "X").done == 0
    assert tracker.enter(Stage.ASSIGNING, "Y").done == 0  # X is still assigning, in parallel
    assert tracker.enter(Stage.FITTING, "X").done == 0
    third = tracker.enter(Stage.ASSIGNING, "Z")
    assert (third.done, third.total) == (1, 3)  # X has moved past assigning
    tracker.finish("X")
    assert tracker.enter(Stage.FITTING, "Y").done == 1


def test_uploaded_entries_are_validated_like_inline_columns() -> None:
    request = fit_request(["X", "Y"], [("X", "Y")], {"X": [1.0] * 3, "Y": [1.0] * 3})
    request.ClearField("dataset")
    request.dataset_id = "ds-abc"
    looked_up: list[str] = []

    def lookup(dataset_id: str) -> list[Entry]:
        looked_up.append(dataset_id)
        return [
            ("X", ColumnType.DOUBLE, np.array([1.0, np.nan, 2.0]), NO_ROWS),
            ("Y", ColumnType.DOUBLE, np.ones(3), NO_ROWS),
        ]

    with pytest.raises(InvalidRequestError) as caught:
        decode_fit_request(request, Limits(), lookup)
    assert looked_up == ["ds-abc"]
    assert "dataset_id.columns[0].doubles.values[1]" in {v.field for v in caught.value.violations}


def test_inline_data_and_a_dataset_id_together_are_refused() -> None:
    request = fit_request(["X"], [], {"X": [1.0] * 10})
    request.dataset_id = "ds-abc"
    with pytest.raises(InvalidRequestError) as caught:
        decode_fit_request(request, Limits(), lambda _: [])
    assert "dataset_id" in {v.field for v in caught.value.violations}
