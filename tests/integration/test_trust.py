"""No silent wrong answers: each input that once gave a plausible wrong number now gives the right
number or a precise error, through the real server and the real client."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import numpy as np
import pytest

from scmfit.client import Client, FitConfig, FitStatus, InvalidRequestError, NotFoundError, do
from scmfit.client._request import fit_request
from scmfit.v1 import causal_model_service_pb2 as pb
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc
from tests.conftest import fixture_case, fresh_seed
from tests.serverproc import REPO, ServerProcess

MAX_EXACT = 2**53


def linear_int_trace(offset: int, slope: int, intercept: int, rows: int = 400) -> dict[str, np.ndarray]:
    t = np.arange(offset, offset + rows, dtype=np.int64)
    return {"t": t, "u": slope * t + intercept}


@pytest.mark.parametrize(
    ("offset", "slope"),
    [
        (2**31 - 200, 2),  # crosses +2^31: DoWhy's int32 cast wrapped these
        (-(2**31) - 200, 2),  # crosses -2^31
        (10**12, 2),  # timestamps, sizes
        (-(10**12), 3),  # negative
        (-(10**15), 2),  # far from zero: the column means lose digits
        (MAX_EXACT - 1000, 1),  # near the magnitude limit
    ],
)
def test_large_integers_fit_score_and_intervene_exactly(client: Client, offset: int, slope: int) -> None:
    data = linear_int_trace(offset, slope, 7)
    result = client.fit((["t", "u"], [("t", "u")]), data, seed=fresh_seed())
    u = result.node("u")
    assert result.status is FitStatus.SUCCESS, result.message
    assert u.r2 is not None and u.r2 >= 0.999
    assert u.mechanism.coefficients["t"] == pytest.approx(slope, rel=1e-6)
    # The intercept is what a float64 fit can resolve at this magnitude: a few ulps of slope * offset.
    assert u.mechanism.intercept == pytest.approx(7, abs=max(1.0, abs(offset) * slope * 1e-15))
    value = int(offset + 123)
    answer = client.sample(result.model_id, [do("t", float(value))], nodes=["u"], num_samples=50)
    stats = answer.statistics["u"]
    assert stats.min == stats.max == pytest.approx(slope * value + 7, abs=2.0)


@pytest.mark.parametrize("value", [MAX_EXACT + 1, -(2**62), 2**63 - 1])
def test_integers_beyond_2_53_are_refused_with_the_row(client: Client, value: int) -> None:
    t = np.arange(200, dtype=np.int64)
    t[17] = value
    with pytest.raises(InvalidRequestError) as caught:
        client.fit((["t", "u"], [("t", "u")]), {"t": t, "u": 2 * (t % 1000)}, seed=fresh_seed())
    fields = {v.field for v in caught.value.violations}
    assert "dataset.columns[0].int64s.values[17]" in fields


def test_a_query_that_overflows_an_integer_node_is_out_of_range(client: Client) -> None:
    result = client.fit((["t", "u"], [("t", "u")]), linear_int_trace(10**12, 2, 7), seed=fresh_seed())
    with pytest.raises(InvalidRequestError) as caught:  # OUT_OF_RANGE, never a wrapped integer
        client.sample(result.model_id, [do("t", 1e30)], nodes=["u"], num_samples=10)
    assert caught.value.code is grpc.StatusCode.OUT_OF_RANGE
    assert "int64" in str(caught.value)


def test_huge_interventions_and_subnormal_data_are_refused_not_internal(client: Client) -> None:
    case = fixture_case("linear_chain")
    fitted = client.fit(case.graph, case.traces, seed=fresh_seed())
    for intervention in ({"X": 1e308}, [do("X", -1e300)]):
        with pytest.raises(InvalidRequestError) as caught:
            client.sample(fitted.model_id, intervention, num_samples=10)
        assert "max_abs_value" in str(caught.value)
    x = np.tile([0.0, 5e-324, 1e-323], 40)
    with pytest.raises(InvalidRequestError) as refused:
        client.fit((["x", "y"], [("x", "y")]), {"x": x, "y": np.arange(120.0)}, seed=fresh_seed())
    assert "subnormal" in str(refused.value)
    assert {v.field for v in refused.value.violations} == {"dataset.columns[0].doubles.values[1]"}


def test_a_unique_prefix_resolves_and_a_short_one_is_refused(client: Client) -> None:
    case = fixture_case("linear_chain")
    fitted = client.fit(case.graph, case.traces, seed=fresh_seed())
    prefix = fitted.model_id[:12]
    assert client.get_model(prefix)[0].model_id == fitted.model_id
    stats = client.sample(prefix, {"X": 2.0}, nodes=["Z"]).statistics["Z"]
    assert stats.mean == pytest.approx(12, abs=0.5)
    for bad in (fitted.model_id[:7], fitted.model_id + "\n", fitted.model_id.upper()):
        with pytest.raises(InvalidRequestError):
            client.get_model(bad)
    with pytest.raises(NotFoundError):
        client.get_model("0123456789ab")


def test_a_refused_request_streams_nothing(server: ServerProcess) -> None:
    # "b" has 5 rows overall (accepted) but fewer in the training split for this seed.
    labels = np.array(["a"] * 15 + ["b"] * 5)
    seed = next(
        s
        for s in range(100)
        if (labels[np.random.RandomState(s).permutation(20)[4:]] == "b").sum() < 5  # the split's training rows
    )
    request = fit_request((["X", "S"], [("X", "S")]), {"X": np.arange(20.0), "S": labels}, seed=seed)
    with grpc.insecure_channel(server.address) as channel:
        stream = pb_grpc.CausalModelServiceStub(channel).FitModel(request, timeout=30)
        received: list[pb.FitModelResponse] = []
        with pytest.raises(grpc.RpcError) as caught:
            received.extend(stream)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "training split" in str(caught.value.details())
    assert received == []  # no VALIDATING event: the check ran before admission


def test_config_ranges_match_the_proto_and_both_edges_are_enforced(client: Client) -> None:
    from scmfit.server.domain.settings import FIT_RANGES

    proto = (REPO / "proto/scmfit/v1/causal_model_service.proto").read_text()
    config = proto[proto.index("message FitConfig {") :]
    config = config[: config.index("}")]
    pattern = r"//[^\n]*?((?:0 or )?within [\[(][^\])]*[\])])[^\n]*\n\s*optional \w+ (\w+)"
    documented = {name: text for text, name in re.findall(pattern, config)}
    assert set(documented) == set(FIT_RANGES), documented
    for name, allowed in FIT_RANGES.items():
        assert documented[name] == allowed.describe(), name
    case = fixture_case("linear_chain")
    inside = {"r2_threshold": (0.0, 1.0), "test_fraction": (0.01, 0.5), "screening_r2": (0.01, 1.0)}
    outside = {
        "r2_threshold": (-0.01, 1.01),
        "test_fraction": (-0.01, 0.51),
        "screening_r2": (0.0, 1.01),
        "selection_rows": (1, 99),
    }
    for name, values in inside.items():
        for value in values:
            result = client.fit(case.graph, case.traces, FitConfig.of(seed=fresh_seed(), **{name: value}))
            assert result.status in (FitStatus.SUCCESS, FitStatus.VALIDATION_FAILED), (name, value)
    assert client.fit(case.graph, case.traces, seed=fresh_seed(), selection_rows=100).status is FitStatus.SUCCESS
    unscored = client.fit(case.graph, case.traces, seed=fresh_seed(), test_fraction=0.0)  # the closed edge
    assert unscored.status is FitStatus.WARNING and unscored.metadata.num_test == 0
    assert {node.r2_omission for node in unscored.nodes} == {"root_node", "not_held_out"}
    for name, values in outside.items():
        for value in values:
            with pytest.raises(InvalidRequestError) as caught:
                client.fit(case.graph, case.traces, FitConfig.of(seed=fresh_seed(), **{name: value}))
            assert {v.field for v in caught.value.violations} == {f"config.{name}"}, (name, value)


def test_fixture_files_have_no_unknown_keys() -> None:
    from scmfit.client._cases import load_case

    for path in sorted(Path(REPO / "fixtures").glob("*.json")):
        load_case(path)  # raises on any unknown key
