"""Building requests: lossless typed columns and local validation before any RPC."""

from __future__ import annotations

import numpy as np
import pytest

from scmfit.client import InvalidRequestError, column, fit_request
from scmfit.client._request import find_cycle
from scmfit.v1 import causal_model_service_pb2 as pb


def test_numpy_dtypes_map_to_typed_columns_without_loss() -> None:
    assert column("i", np.array([2**62, -1], dtype=np.int64)).int64s.values == [2**62, -1]
    assert column("u", np.array([1, 2], dtype=np.uint8)).WhichOneof("values") == "int64s"
    assert column("b", np.array([True, False])).bools.values == [True, False]
    assert column("f", np.array([0.1, 1e308])).doubles.values == [0.1, 1e308]
    assert column("s", np.array(["a", "é"])).strings.values == ["a", "é"]
    assert column("o", ["x", "y"]).WhichOneof("values") == "strings"
    assert column("l", [1, 2, 3]).WhichOneof("values") == "int64s"


def test_unsupported_dtype_is_rejected_locally() -> None:
    with pytest.raises(InvalidRequestError):
        column("c", np.array([1 + 2j]))


def test_fit_request_sets_only_the_given_config_fields() -> None:
    request = fit_request(["X", "Y"], [("X", "Y")], {"X": [1.0], "Y": [2.0]}, quality="better", seed=0)
    assert request.config.quality == pb.QUALITY_BETTER
    assert request.config.HasField("seed") and request.config.seed == 0
    assert not request.config.HasField("r2_threshold")
    assert [(e.source, e.target) for e in request.graph.edges] == [("X", "Y")]


def test_local_validation_fails_fast_with_the_same_error_type() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        fit_request(["X", "Y"], [("X", "Y"), ("Y", "X")], {"X": [1.0], "Y": [2.0]})
    assert caught.value.fields() == ["graph.edges"]
    with pytest.raises(InvalidRequestError) as caught:
        fit_request(["X", "Y"], [("X", "Y")], {"X": [1.0], "W": [2.0]})
    assert set(caught.value.fields()) == {"graph.nodes[1]", "data['W']"}
    with pytest.raises(InvalidRequestError):
        fit_request(["X"], [], {"X": [1.0]}, quality="PERFECT")


def test_find_cycle() -> None:
    assert find_cycle(["A", "B", "C"], [("A", "B"), ("B", "C")]) == []
    assert find_cycle(["A", "B", "C"], [("A", "B"), ("B", "C"), ("C", "B")]) == ["B", "C", "B"]
    assert find_cycle(["A"], [("A", "A")]) == ["A", "A"]
