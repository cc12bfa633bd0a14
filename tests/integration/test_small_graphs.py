"""The documented rules below what DoWhy can fit: single nodes, all-root graphs and tiny datasets."""

from __future__ import annotations

import numpy as np

from scmfit.client import Client, fit_request
from scmfit.v1 import causal_model_service_pb2 as pb


def test_single_node_graph_fits_its_root_and_warns_that_nothing_was_validated(client: Client) -> None:
    rng = np.random.default_rng(1)
    result = client.fit_proto(fit_request(["X"], [], {"X": rng.normal(size=200)}))
    assert result.status == pb.FIT_STATUS_WARNING
    assert "nothing to validate" in result.message
    assert not result.validation.HasField("mean_r2")
    assert result.nodes[0].mechanism.kind == pb.MECHANISM_KIND_EMPIRICAL_ROOT


def test_smallest_fittable_dataset_fits_and_warns(client: Client) -> None:
    x = np.arange(7, dtype=float)
    # 7 rows leave 5 training rows, the minimum for DoWhy's 5-fold model selection.
    result = client.fit_proto(fit_request(["X", "Y"], [("X", "Y")], {"X": x, "Y": 3 * x + 1}))
    assert result.status == pb.FIT_STATUS_WARNING
    assert (result.metadata.num_train, result.metadata.num_test) == (5, 2)
    assert "insufficient data" in result.message


def test_categorical_and_boolean_nodes_get_classifiers_scored_by_accuracy(client: Client) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    label = np.where(x > 0, "high", "low")
    flag = x > 0.5
    y = 2 * x + rng.normal(scale=0.1, size=400)
    request = fit_request(
        ["X", "label", "flag", "Y"],
        [("X", "label"), ("X", "flag"), ("label", "Y"), ("X", "Y")],
        {"X": x, "label": label, "flag": flag, "Y": y},
    )
    result = client.fit_proto(request)
    nodes = {node.name: node for node in result.nodes}
    for name in ("label", "flag"):
        assert nodes[name].mechanism.kind == pb.MECHANISM_KIND_CLASSIFIER
        assert nodes[name].r2_omission == pb.R2_OMISSION_CATEGORICAL_TARGET
        assert nodes[name].accuracy > 0.9
    # Y's parents are sorted by name as DoWhy orders them; the string parent is one-hot encoded.
    assert list(nodes["Y"].parents) == ["X", "label"]
    if nodes["Y"].mechanism.model_type == "LinearRegression":
        features = {c.feature for c in nodes["Y"].mechanism.coefficients}
        assert features == {"X", "label=high", "label=low"}
    assert result.status == pb.FIT_STATUS_SUCCESS
