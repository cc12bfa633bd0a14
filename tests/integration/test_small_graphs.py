"""The documented rules below what DoWhy can fit, and the column types, through the typed client."""

from __future__ import annotations

import numpy as np

from scmfit.client import Client, FitStatus, MechanismKind


def test_single_node_graph_fits_its_root_and_warns_that_nothing_was_validated(client: Client) -> None:
    rng = np.random.default_rng(1)
    result = client.fit((["X"], []), {"X": rng.normal(size=200)})
    assert result.status is FitStatus.WARNING
    assert "nothing to validate" in result.message
    assert result.mean_r2 is None
    assert result.nodes[0].mechanism.kind is MechanismKind.EMPIRICAL_ROOT


def test_smallest_fittable_dataset_fits_and_warns(client: Client) -> None:
    x = np.arange(7, dtype=float)
    # 7 rows leave 5 training rows, the minimum for DoWhy's 5-fold model selection.
    result = client.fit((["X", "Y"], [("X", "Y")]), {"X": x, "Y": 3 * x + 1})
    assert result.status is FitStatus.WARNING
    assert (result.metadata.num_train, result.metadata.num_test) == (5, 2)
    assert "insufficient data" in result.message


def test_categorical_and_boolean_nodes_get_classifiers_scored_by_accuracy(client: Client) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    data = {
        "X": x,
        "label": np.where(x > 0, "high", "low"),
        "flag": x > 0.5,
        "Y": 2 * x + rng.normal(scale=0.1, size=400),
    }
    graph = {
        "nodes": ["X", "label", "flag", "Y"],
        "edges": [["X", "label"], ["X", "flag"], ["label", "Y"], ["X", "Y"]],
    }
    result = client.fit(graph, data)
    for name in ("label", "flag"):
        node = result.node(name)
        assert node.mechanism.kind is MechanismKind.CLASSIFIER
        assert node.r2_omission == "categorical_target"
        assert node.accuracy is not None and node.accuracy > 0.9
    # Y's parents are sorted by name as DoWhy orders them; the string parent is one-hot encoded.
    y = result.node("Y")
    assert y.parents == ("X", "label")
    if y.mechanism.is_linear:
        assert set(y.mechanism.coefficients) == {"X", "label=high", "label=low"}
    assert result.status is FitStatus.SUCCESS
