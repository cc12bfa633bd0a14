"""AttributeAnomalies through the real server: a planted root cause is found, the contributions add up
to the target's score, the answer is DoWhy's own for the seed, and bad questions are refused by field."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scmfit.client import Client, FailedPreconditionError, FitResult, InvalidRequestError, fit_request
from tests.conftest import fresh_seed

GRAPH = (["X", "Y", "Z"], [("X", "Y"), ("Y", "Z")])


def chain(rows: int = 2000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(21)
    x = rng.normal(size=rows)
    y = 2 * x + rng.normal(size=rows)
    z = 3 * y + rng.normal(size=rows)
    return {"X": x, "Y": y, "Z": z}


def anomalous_rows() -> dict[str, np.ndarray]:
    """Row 0: Y's noise is +6σ (X normal), so Z is far out through Y. Row 1: Z's own noise is +6σ."""
    x = np.array([0.3, -0.2])
    y = 2 * x + np.array([6.0, 0.1])
    z = 3 * y + np.array([0.2, 6.0])
    return {"X": x, "Y": y, "Z": z}


@pytest.fixture(scope="module")
def fitted(server: Any) -> tuple[FitResult, int]:
    seed = fresh_seed()
    with Client(server.address, timeout=120) as client:
        return client.fit(GRAPH, chain(), seed=seed), seed


def test_the_planted_root_cause_leads_and_the_contributions_add_up(
    client: Client, fitted: tuple[FitResult, int]
) -> None:
    rows = client.attribute_anomalies(fitted[0].model_id, "Z", anomalous_rows())
    assert [row.row for row in rows] == [0, 1]
    assert rows[0].root_cause == "Y" and rows[1].root_cause == "Z"
    for row in rows:
        assert list(row.contributions) == sorted(row.contributions, key=lambda node: -row.contributions[node])
        # Shapley efficiency: the contributions add up to the target's IT score, which the server computes
        # on its own from the distribution samples; the two estimates of P(g(X) >= g(x)) use different
        # permutations of the same samples, so they agree to sampling noise (0.3 nats at 3000 samples).
        assert sum(row.contributions.values()) == pytest.approx(row.target_score, abs=0.3)
        assert list(row.node_scores) == ["X", "Y", "Z"]
    # Row 0 puts Z about 3σ out in Z's own marginal; row 1's 6σ noise of Z is only about 1σ of that marginal.
    assert rows[0].target_score > 4 > rows[1].target_score
    assert rows[0].node_scores["Y"] > rows[0].node_scores["X"]  # Y itself is out of place given X
    assert rows[1].node_scores["Z"] > rows[1].node_scores["Y"]


@pytest.mark.server_internals
def test_the_answer_is_dowhy_s_own_for_the_seed(client: Client, fitted: tuple[FitResult, int]) -> None:
    """The same request fitted in this process gives the server's model; DoWhy's attribute_anomalies on it,
    seeded alike, gives exactly the server's contributions."""
    import pandas as pd
    from dowhy import gcm
    from dowhy.gcm.shapley import ShapleyConfig

    from scmfit.server.config import Limits
    from scmfit.server.domain.fit import ModelBundle
    from scmfit.server.engine.worker import run_fit
    from scmfit.server.fitting.cache import build
    from scmfit.server.wire.decode import decode_fit_request

    result, seed = fitted
    job = decode_fit_request(fit_request(*GRAPH, chain(), seed=seed), Limits())
    bundle = __import__("pickle").loads(run_fit(job, lambda _: None).model_blob)
    assert isinstance(bundle, ModelBundle)
    gcm.util.general.set_random_seed(11)
    theirs = gcm.attribute_anomalies(
        build(bundle).scm, "Z", pd.DataFrame(anomalous_rows()), shapley_config=ShapleyConfig(n_jobs=1)
    )
    ours = client.attribute_anomalies(result.model_id, "Z", anomalous_rows(), seed=11)
    for row in ours:
        assert row.contributions == {node: float(values[row.row]) for node, values in theirs.items()}
    assert client.attribute_anomalies(result.model_id, "Z", anomalous_rows(), seed=11) == ours


@pytest.mark.parametrize(
    ("target", "rows", "field", "says"),
    [
        ("X", anomalous_rows(), "target", "is a root of the model"),
        ("W", anomalous_rows(), "target", "unknown node 'W'"),
        ("Z", {"X": [0.0], "Y": [0.0]}, "anomalous.columns", "'Z'"),
        ("Z", {"X": [0.0], "Y": [0.0], "Z": ["high"]}, "anomalous.columns[2]", "string"),
    ],
)
def test_a_bad_question_is_refused_naming_the_field(
    client: Client, fitted: tuple[FitResult, int], target: str, rows: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.attribute_anomalies(fitted[0].model_id, target, rows)
    found = {violation.field: violation.description for violation in caught.value.violations}
    assert any(name.startswith(field) and says in text for name, text in found.items()), found


def test_a_classifier_upstream_is_refused_as_a_precondition(client: Client) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=400)
    flag = x + rng.normal(scale=0.5, size=400) > 0
    z = 2 * flag + rng.normal(size=400)
    result = client.fit((["X", "F", "Z"], [("X", "F"), ("F", "Z")]), {"X": x, "F": flag, "Z": z})
    with pytest.raises(FailedPreconditionError, match="'F'"):
        client.attribute_anomalies(result.model_id, "Z", {"X": [0.0], "F": [True], "Z": [9.0]})


def test_contribution_intervals_single_out_the_root_cause(client: Client, fitted: tuple[FitResult, int]) -> None:
    """Row 0's planted cause Y stays the leader across bootstrap refits: its interval lies above every
    other node's. Asking for intervals leaves the estimates as they were."""
    model_id = fitted[0].model_id
    plain = client.attribute_anomalies(model_id, "Z", anomalous_rows(), seed=4)
    rows = client.attribute_anomalies(model_id, "Z", anomalous_rows(), seed=4, confidence_level=0.9, num_bootstrap=20)
    assert [row.contributions for row in rows] == [row.contributions for row in plain]
    assert all(row.intervals == {} for row in plain)
    first = rows[0]
    assert set(first.intervals) == {"X", "Y", "Z"}
    for node, part in first.contributions.items():
        assert part in first.intervals[node]
        assert first.intervals[node].confidence_level == 0.9 and first.intervals[node].num_bootstrap == 20
    assert first.intervals["Y"].lower > max(first.intervals[node].upper for node in ("X", "Z"))
