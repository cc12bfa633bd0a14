"""Fit once, ask many what-ifs: the registry RPCs and the causal queries through the real server."""

from __future__ import annotations

import numpy as np
import pytest

from scmfit.client import (
    Client,
    FailedPreconditionError,
    FitResult,
    InvalidRequestError,
    NotFoundError,
    do,
    scale,
    shift,
)
from tests.conftest import fixture_case, fresh_seed

UNKNOWN_ID = "f" * 64


@pytest.fixture(scope="module")
def chain(server: object) -> FitResult:
    from tests.serverproc import ServerProcess

    assert isinstance(server, ServerProcess)
    case = fixture_case("linear_chain")
    with Client(server.address, timeout=120) as client:
        fitted = client.fit(case.graph, case.traces, seed=fresh_seed())
    assert not fitted.reused  # a real fit, so GetModel must return exactly this message
    return fitted


def test_do_x_moves_z_to_the_causal_prediction(client: Client, chain: FitResult) -> None:
    # Y = 2X, Z = 3Y, so do(X = 2) gives E[Z] = 12.
    result = client.sample(chain.model_id, {"X": 2.0}, num_samples=2000)
    assert result.statistics["Z"].mean == pytest.approx(12.0, abs=0.3)
    assert result.statistics["X"].mean == pytest.approx(2.0)
    assert result.statistics["X"].std == pytest.approx(0.0)
    assert result.num_samples == 2000


def test_do_y_leaves_the_upstream_x_unchanged(client: Client, chain: FitResult) -> None:
    observational = client.sample(chain.model_id, num_samples=4000, seed=1, include_samples=True)
    intervened = client.sample(chain.model_id, [do("Y", 1.0)], num_samples=4000, seed=1, include_samples=True)
    assert intervened.statistics["Y"].mean == pytest.approx(1.0)
    assert intervened.statistics["Z"].mean == pytest.approx(3.0, abs=0.1)
    # X is upstream of the intervention: the same seed draws exactly the same X.
    np.testing.assert_array_equal(observational.samples["X"], intervened.samples["X"])
    x = observational.statistics["X"]
    assert x.mean == pytest.approx(0.0, abs=0.1) and x.std == pytest.approx(1.0, abs=0.1)


def test_soft_interventions_shift_and_scale(client: Client, chain: FitResult) -> None:
    base = client.sample(chain.model_id, num_samples=4000, seed=3)
    shifted = client.sample(chain.model_id, [shift("X", 1.0)], num_samples=4000, seed=3)
    scaled = client.sample(chain.model_id, [scale("Y", 2.0)], num_samples=4000, seed=3)
    assert shifted.statistics["Z"].mean - base.statistics["Z"].mean == pytest.approx(6.0, abs=0.05)
    assert scaled.statistics["Z"].std == pytest.approx(2 * base.statistics["Z"].std, rel=0.05)


def test_statistics_are_those_of_the_returned_samples(client: Client, chain: FitResult) -> None:
    result = client.sample(chain.model_id, nodes=["Z"], num_samples=500, include_samples=True, seed=9)
    assert set(result.statistics) == {"Z"} and set(result.samples) == {"Z"}
    z = result.samples["Z"]
    stats = result.statistics["Z"]
    assert stats.mean == pytest.approx(z.mean())
    assert stats.std == pytest.approx(z.std(ddof=1))
    assert (stats.q05, stats.q50, stats.q95) == pytest.approx(tuple(np.quantile(z, [0.05, 0.5, 0.95])))
    assert (stats.min, stats.max) == (z.min(), z.max())


def test_same_seed_same_samples(client: Client, chain: FitResult) -> None:
    one = client.sample(chain.model_id, {"X": 1.0}, seed=5, include_samples=True, num_samples=100)
    two = client.sample(chain.model_id, {"X": 1.0}, seed=5, include_samples=True, num_samples=100)
    np.testing.assert_array_equal(one.samples["Z"], two.samples["Z"])


def test_average_causal_effect(client: Client, chain: FitResult) -> None:
    effect = client.effect(chain.model_id, treatment="X", target="Z", alternative=1.0, reference=0.0)
    assert effect == pytest.approx(6.0, abs=0.1)


def test_counterfactual_keeps_each_rows_noise(client: Client, chain: FitResult) -> None:
    observed = {"X": np.array([0.0, 1.0]), "Y": np.array([0.1, 2.0]), "Z": np.array([0.3, 6.1])}
    rows = client.counterfactual(chain.model_id, observed, {"X": 1.0})
    np.testing.assert_allclose(rows["X"], [1.0, 1.0])
    # Each row keeps its own noise: Y_cf = Y + 2 * (X_cf - X).
    coefficient = chain.node("Y").mechanism.coefficients["X"]
    np.testing.assert_allclose(rows["Y"], observed["Y"] + coefficient * (1.0 - observed["X"]), atol=1e-9)


def test_counterfactual_through_a_classifier_is_a_failed_precondition(client: Client) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=300)
    fitted = client.fit((["X", "S"], [("X", "S")]), {"X": x, "S": np.where(x > 0, "hi", "lo")})
    with pytest.raises(FailedPreconditionError, match="'S'"):
        client.counterfactual(fitted.model_id, {"X": [0.5], "S": ["hi"]}, {"X": -1.0})
    shares = client.sample(fitted.model_id, {"X": 3.0}, num_samples=500).statistics["S"].categories
    assert shares["hi"] > 0.9


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"interventions": {"Q": 1.0}}, "interventions[0].node"),
        ({"interventions": {"X": float("nan")}}, "interventions[0].hard.typed_value.double_value"),
        ({"interventions": [shift("X", float("inf"))]}, "interventions[0].shift.by"),
        ({"interventions": [do("X", 1.0), scale("X", 2.0)]}, "interventions[1].node"),
        ({"nodes": ["X", "nope"]}, "nodes[1]"),
        ({"num_samples": 10**8}, "num_samples"),
        ({"seed": 2**40}, "seed"),
    ],
)
def test_bad_queries_name_the_field(client: Client, chain: FitResult, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.sample(chain.model_id, **kwargs)  # type: ignore[arg-type]
    assert field in caught.value.fields()


def test_a_client_before_typed_values_is_read_and_refused_by_the_double_field(server: object, chain: FitResult) -> None:
    """Old clients set only HardIntervention.value; the server reads it, and names it when it is wrong."""
    import grpc

    from scmfit.v1 import causal_model_service_pb2 as pb
    from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc
    from tests.serverproc import ServerProcess

    assert isinstance(server, ServerProcess)
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.CausalModelServiceStub(channel)

        def ask(value: float) -> pb.SampleModelResponse:
            hard = pb.Intervention(node="X", hard=pb.HardIntervention(value=value))
            request = pb.SampleModelRequest(model_id=chain.model_id, interventions=[hard], num_samples=2000)
            response: pb.SampleModelResponse = stub.SampleModel(request, timeout=60)
            return response

        z = next(s for s in ask(2.0).statistics if s.node == "Z")
        assert z.mean == pytest.approx(client_free_mean(chain, 2.0), abs=0.3)
        with pytest.raises(grpc.RpcError) as caught:
            ask(float("nan"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "interventions[0].hard.value" in str(caught.value.details())


def client_free_mean(chain: FitResult, x: float) -> float:
    """E[Z | do(X = x)] on the fitted chain X -> Y -> Z, from its coefficients."""
    nodes = {node.name: node.mechanism for node in chain.nodes}
    y_mechanism, z_mechanism = nodes["Y"], nodes["Z"]
    assert y_mechanism is not None and z_mechanism is not None
    assert y_mechanism.intercept is not None and z_mechanism.intercept is not None
    y = y_mechanism.intercept + y_mechanism.coefficients["X"] * x
    return float(z_mechanism.intercept + z_mechanism.coefficients["Y"] * y)


def test_categorical_node_refuses_a_numeric_shift(client: Client) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=200)
    fitted = client.fit((["S", "X"], [("S", "X")]), {"S": np.where(x > 0, "a", "b"), "X": x})
    with pytest.raises(InvalidRequestError) as caught:
        client.sample(fitted.model_id, [shift("S", 1.0)])
    assert caught.value.fields() == ["interventions[0].shift"]


def test_unknown_and_malformed_ids(client: Client) -> None:
    with pytest.raises(NotFoundError, match=UNKNOWN_ID):
        client.sample(UNKNOWN_ID)
    with pytest.raises(NotFoundError, match=UNKNOWN_ID):
        client.get_model(UNKNOWN_ID)
    with pytest.raises(InvalidRequestError) as caught:
        client.get_model("../../etc/passwd")
    assert caught.value.fields() == ["model_id"]


def test_get_model_returns_the_streamed_result(client: Client, chain: FitResult) -> None:
    result, summary = client.get_model(chain.model_id)
    assert result.raw == chain.raw
    again = client.fit(
        fixture_case("linear_chain").graph, fixture_case("linear_chain").traces, seed=chain.metadata.seed
    )
    assert again.reused and again.model_id == chain.model_id
    assert summary.model_id == chain.model_id
    assert summary.nodes == ("X", "Y", "Z")
    assert summary.num_rows == 1000 and summary.size_bytes > 0


def test_list_pages_and_delete(client: Client) -> None:
    rng = np.random.default_rng(6)
    ids = []
    for i in range(3):
        x = rng.normal(size=60)
        ids.append(client.fit((["X", "Y"], [("X", "Y")]), {"X": x, "Y": x * (i + 2)}, min_samples=10).model_id)
    listed = [m.model_id for m in client.list_models(page_size=2)]
    assert len(listed) == len(set(listed))
    assert set(ids) <= set(listed)
    assert listed.index(ids[2]) < listed.index(ids[1]) < listed.index(ids[0])  # newest first
    client.delete_model(ids[1])
    assert ids[1] not in {m.model_id for m in client.list_models()}
    with pytest.raises(NotFoundError):
        client.delete_model(ids[1])
    with pytest.raises(NotFoundError):
        client.sample(ids[1])
