"""Effects through the real server: intervals, typed and categorical interventions, and the natural
direct and indirect effects, checked against closed forms on linear SCMs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from scmfit.client import (
    CallTimeoutError,
    Client,
    FitResult,
    InvalidRequestError,
    do,
)
from tests.conftest import fresh_seed
from tests.integration.test_lifecycle import wait_for
from tests.serverproc import ServerProcess, start_server

ROWS = 1000
C, A_TM, B_MY = 1.5, 2.0, 0.5
"""T -> Y directly with C, and through M: T -> M with A_TM, M -> Y with B_MY."""


def mediated(seed: int = 0, rows: int = ROWS) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    t = rng.normal(size=rows)
    m = A_TM * t + rng.normal(size=rows)
    y = C * t + B_MY * m + rng.normal(size=rows)
    mode = np.where(rng.random(rows) < 0.5, "fast", "slow").astype(object)
    z = 3.0 * (mode == "slow") + 0.5 * t + rng.normal(size=rows)
    flag = z + rng.normal(size=rows) > 1.5
    count = rng.poisson(3, size=rows).astype(np.int64)
    w = 2.0 * count + rng.normal(size=rows)
    return {"T": t, "M": m, "Y": y, "mode": mode, "Z": z, "flag": flag, "count": count, "W": w}


GRAPH = (
    ["T", "M", "Y", "mode", "Z", "flag", "count", "W"],
    [("T", "M"), ("M", "Y"), ("T", "Y"), ("mode", "Z"), ("T", "Z"), ("Z", "flag"), ("count", "W")],
)


@pytest.fixture(scope="module")
def metered() -> Iterator[ServerProcess]:
    process = start_server("--metrics-port", "0", workers=2)
    yield process
    assert process.terminate() == 0, process.log()


@pytest.fixture
def client(metered: ServerProcess) -> Iterator[Client]:
    with Client(metered.address, timeout=300) as opened:
        yield opened


@pytest.fixture(scope="module")
def model(metered: ServerProcess) -> FitResult:
    with Client(metered.address, timeout=300) as client:
        return client.fit(GRAPH, mediated(), seed=fresh_seed(), refit_on_all_rows=True)


def coefficient(result: FitResult, node: str, parent: str) -> float:
    return next(n for n in result.nodes if n.name == node).mechanism.coefficients[parent]


def test_the_decomposition_meets_its_closed_forms_on_the_fitted_linear_model(
    metered: ServerProcess, model: FitResult
) -> None:
    """With shared noise, NDE = c(a - b) and NIE = a_TM b_MY (a - b) hold exactly for the fitted coefficients."""
    a, b = 3.0, -1.0
    with Client(metered.address, timeout=300) as client:
        estimate = client.estimate_effect(
            model.model_id, treatment="T", target="Y", alternative=a, reference=b, decompose=True, confidence_level=0.95
        )
    parts = estimate.decomposition
    assert parts is not None and parts.mediators == ("M",)
    c, a_tm, b_my = coefficient(model, "Y", "T"), coefficient(model, "M", "T"), coefficient(model, "Y", "M")
    assert parts.natural_direct_effect == pytest.approx(c * (a - b), rel=1e-9)
    assert parts.natural_indirect_effect == pytest.approx(a_tm * b_my * (a - b), rel=1e-9)
    assert parts.natural_direct_effect + parts.natural_indirect_effect == pytest.approx(parts.total_effect, rel=1e-12)
    assert estimate.effect == parts.total_effect  # with an interval, the paired estimate, which the parts sum to
    alone = client_effect(metered, model, a, b)
    assert alone == pytest.approx(parts.total_effect, rel=0.02)  # DoWhy's own draw: Monte Carlo apart
    assert estimate.interval is not None and parts.natural_direct_effect_interval is not None
    assert (C + A_TM * B_MY) * (a - b) in estimate.interval
    assert C * (a - b) in parts.natural_direct_effect_interval
    assert parts.natural_indirect_effect_interval is not None
    assert A_TM * B_MY * (a - b) in parts.natural_indirect_effect_interval


def client_effect(process: ServerProcess, model: FitResult, a: float, b: float) -> float:
    with Client(process.address, timeout=300) as client:
        return client.effect(model.model_id, treatment="T", target="Y", alternative=a, reference=b)


def test_a_linear_gaussian_interval_is_as_wide_as_the_ols_standard_error_says() -> None:
    """X -> Y, y = 2x + e: the 95% interval of do(X=1) - do(X=0) is the slope's, 2 * 1.96 * SE wide."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=ROWS)
    y = 2.0 * x + rng.normal(size=ROWS)
    design = np.column_stack([np.ones(ROWS), x])
    residuals = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    standard_error = np.sqrt(residuals @ residuals / (ROWS - 2) / np.sum((x - x.mean()) ** 2))
    process = start_server(workers=2)
    try:
        with Client(process.address, timeout=300) as client:
            fitted = client.fit((["X", "Y"], [("X", "Y")]), {"X": x, "Y": y}, refit_on_all_rows=True)
            estimate = client.estimate_effect(
                fitted.model_id,
                treatment="X",
                target="Y",
                alternative=1.0,
                reference=0.0,
                confidence_level=0.95,
                num_bootstrap=400,
            )
    finally:
        assert process.terminate() == 0, process.log()
    assert estimate.interval is not None and estimate.interval.num_bootstrap == 400
    expected = 2 * 1.959964 * standard_error
    assert estimate.interval.width == pytest.approx(expected, rel=0.25)


def test_a_second_interval_on_the_same_model_refits_nothing(metered: ServerProcess, model: FitResult) -> None:
    with Client(metered.address, timeout=300) as client:
        client.estimate_effect(
            model.model_id, treatment="T", target="Y", alternative=1, reference=0, confidence_level=0.9
        )
        refits = metered.metric("scmfit_bootstrap_refits_total")
        assert refits >= 100
        again = client.estimate_effect(
            model.model_id, treatment="mode", target="Z", alternative="slow", reference="fast", confidence_level=0.95
        )
        sampled = client.sample(model.model_id, {"T": 1.0}, num_samples=500, confidence_level=0.95, nodes=["Y"])
        assert metered.metric("scmfit_bootstrap_refits_total") == refits
        more = client.estimate_effect(
            model.model_id,
            treatment="T",
            target="Y",
            alternative=1,
            reference=0,
            confidence_level=0.9,
            num_bootstrap=150,
        )
        assert metered.metric("scmfit_bootstrap_refits_total") == refits + 50  # only the 50 it lacked
    assert again.interval is not None and 3.0 in again.interval
    assert sampled.statistics["Y"].mean_interval is not None
    assert (C + A_TM * B_MY) in sampled.statistics["Y"].mean_interval
    assert more.interval is not None and more.interval.num_bootstrap == 150


def test_categorical_bool_and_int_interventions_set_the_node_exactly(metered: ServerProcess, model: FitResult) -> None:
    assert next(n for n in model.nodes if n.name == "mode").categories == ("fast", "slow")
    with Client(metered.address, timeout=300) as client:
        result = client.sample(
            model.model_id,
            [do("mode", "slow"), do("flag", True), do("count", 7)],
            num_samples=300,
            include_samples=True,
        )
        shifted = client.estimate_effect(
            model.model_id, treatment="count", target="W", alternative=7, reference=2, confidence_level=0.95
        )
        share = client.estimate_effect(
            model.model_id, treatment="mode", target="flag", alternative="slow", reference="fast", seed=3
        )
        share_false = client.estimate_effect(
            model.model_id,
            treatment="mode",
            target="flag",
            alternative="slow",
            reference="fast",
            target_category="false",
            seed=3,
        )
        slow = client.sample(model.model_id, {"mode": "slow"}, num_samples=10000, seed=3, nodes=["flag"])
        fast = client.sample(model.model_id, {"mode": "fast"}, num_samples=10000, seed=3, nodes=["flag"])
    assert set(result.samples["mode"].tolist()) == {"slow"}
    assert result.samples["flag"].dtype == np.bool_ and result.samples["flag"].all()
    assert result.samples["count"].dtype == np.int64 and set(result.samples["count"].tolist()) == {7}
    assert shifted.interval is not None and 10.0 in shifted.interval  # 2.0 per count, 5 counts
    assert share.effect == pytest.approx(-share_false.effect)
    expected = slow.statistics["flag"].mean - fast.statistics["flag"].mean
    assert share.effect == pytest.approx(expected, abs=0.03)  # P(flag) moves as sampling says
    assert share.effect > 0.3


def test_a_seed_fixes_every_number_and_another_seed_moves_them(metered: ServerProcess, model: FitResult) -> None:
    """On the linear path the interval is exact for the refits, so no seed moves it; through a classifier
    (mode -> Z -> flag) every refit samples, and the seed moves the numbers."""
    linear: dict[str, Any] = {"treatment": "T", "target": "Y", "alternative": 1.0, "reference": 0.0}
    sampled: dict[str, Any] = {"treatment": "mode", "target": "flag", "alternative": "slow", "reference": "fast"}
    with Client(metered.address, timeout=300) as client:
        one = client.estimate_effect(model.model_id, **linear, confidence_level=0.95, decompose=True, seed=5)
        two = client.estimate_effect(model.model_id, **linear, confidence_level=0.95, decompose=True, seed=5)
        exact = client.estimate_effect(model.model_id, **linear, confidence_level=0.95, decompose=True, seed=6)
        first = client.estimate_effect(model.model_id, **sampled, confidence_level=0.9, seed=5)
        again = client.estimate_effect(model.model_id, **sampled, confidence_level=0.9, seed=5)
        moved = client.estimate_effect(model.model_id, **sampled, confidence_level=0.9, seed=6)
        alone = [client.effect(model.model_id, **linear, seed=seed) for seed in (5, 5, 6)]
    assert one.raw == two.raw and exact.raw == one.raw
    assert first.raw == again.raw and moved.effect != first.effect and moved.interval != first.interval
    assert alone[0] == alone[1] != alone[2]  # DoWhy's own estimate samples, seeded


@pytest.mark.parametrize(
    ("ask", "field", "words"),
    [
        ({"treatment": "mode", "alternative": "medium"}, "alternative.string_value", "'fast', 'slow'"),
        ({"treatment": "mode", "alternative": 1.0}, "alternative.double_value", "string_value"),
        ({"treatment": "flag", "target": "Y", "alternative": 2}, "alternative.int64_value", "bool_value"),
        ({"treatment": "count", "target": "W", "alternative": 2.5}, "alternative.double_value", "not a whole number"),
        ({"target": "mode", "target_category": ""}, "target_category", "'fast', 'slow'"),
        ({"target": "mode", "target_category": "medium"}, "target_category", "not a category"),
        ({"target": "flag", "target_category": "maybe"}, "target_category", "'true', 'false'"),
        ({"target_category": "x"}, "target_category", "leave this empty"),
        ({"confidence_level": 1.5}, "confidence_level", "(0, 1)"),
        ({"confidence_level": 0.9, "num_bootstrap": 5000}, "num_bootstrap", "max_bootstrap"),
        ({"treatment": "W", "target": "Y", "decompose": True}, "decompose", "no directed path"),
    ],
)
def test_a_bad_effect_question_is_refused_naming_its_field(
    client: Client, model: FitResult, ask: dict[str, Any], field: str, words: str
) -> None:
    question: dict[str, Any] = {"treatment": "T", "target": "Y", "alternative": 1.0, "reference": 0.0}
    if ask.get("treatment") == "mode":
        question.update(target="Z", reference="fast")
    if ask.get("treatment") == "flag":
        question["reference"] = False
    if ask.get("treatment") == "count":
        question["reference"] = 1
    if ask.get("target") in ("mode", "flag"):
        question.update(treatment="T")
    question.update(ask)
    with pytest.raises(InvalidRequestError) as caught:
        client.estimate_effect(model.model_id, **question)
    fields = {violation.field: violation.description for violation in caught.value.violations}
    assert field in fields, fields
    assert words in fields[field]


def test_a_typed_intervention_of_the_wrong_type_is_refused_naming_its_field(client: Client, model: FitResult) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.sample(model.model_id, [do("T", 1.0), do("flag", "yes")])
    fields = {violation.field: violation.description for violation in caught.value.violations}
    assert "interventions[1].hard.typed_value.string_value" in fields
    assert "bool_value" in fields["interventions[1].hard.typed_value.string_value"]


def test_the_client_refuses_a_value_it_cannot_type_by_name() -> None:
    with pytest.raises(TypeError, match=r"do\(T\).*list"):
        do("T", [1.0])  # type: ignore[arg-type]


def test_a_long_bootstrap_is_stopped_by_its_deadline_and_nothing_is_kept(metered: ServerProcess) -> None:
    data = mediated(seed=2, rows=20_000)
    with Client(metered.address, timeout=300) as client:
        big = client.fit(GRAPH, data, seed=fresh_seed())
        restarts = metered.metric("scmfit_worker_restarts_total")
        refits = metered.metric("scmfit_bootstrap_refits_total")
        with pytest.raises(CallTimeoutError):
            client.estimate_effect(
                big.model_id,
                treatment="T",
                target="Y",
                alternative=1.0,
                reference=0.0,
                confidence_level=0.95,
                num_bootstrap=1000,
                timeout=2.0,
            )
        assert metered.metric("scmfit_bootstrap_refits_total") == refits
        # the refits' workers were killed, not left running; the server answers at once afterwards
        assert wait_for(lambda: metered.metric("scmfit_worker_restarts_total") > restarts, timeout=60)
        assert client.effect(big.model_id, treatment="T", target="Y", alternative=1.0, reference=0.0) > 0
