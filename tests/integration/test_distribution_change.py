"""AttributeDistributionChange through the real server: only Y's mechanism changed between the versions,
so Y is flagged and leads the attribution, X and Z are not flagged, and both fits come back stored."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scmfit.client import Client, FitProgress, InvalidRequestError

GRAPH = (["X", "Y", "Z"], [("X", "Y"), ("Y", "Z")])


def version(seed: int, y_shift: float, rows: int = 800) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    y = 2 * x + y_shift + rng.normal(size=rows)
    z = 3 * y + rng.normal(size=rows)
    return {"X": x, "Y": y, "Z": z}


def test_only_the_changed_mechanism_is_flagged_and_it_leads(client: Client) -> None:
    steps: list[tuple[str, FitProgress | None]] = []
    change = client.attribute_distribution_change(
        GRAPH, version(1, 0.0), version(2, 2.0), "Z", on_progress=lambda phase, fit: steps.append((phase, fit))
    )
    assert change.changed == ("Y",)
    # Z's mean moves by 3 x 2 = 6 at a variance of 9 x 5 + 1 = 46: KL = 36 / (2 x 46) = 0.39 nats, all of it Y's.
    assert change.nodes[0].node == "Y" and change.nodes[0].contribution == pytest.approx(36 / 92, abs=0.1)
    by_node = {node.node: node for node in change.nodes}
    assert by_node["Y"].p_value < 0.01 and by_node["X"].p_value > 0.05 and by_node["Z"].p_value > 0.05
    # Unchanged nodes get one mechanism for both versions; their share is 0 up to the sampling noise of
    # DoWhy's KL estimates on 2000 draws (measured: 0.016 here), far below Y's 0.39.
    assert abs(by_node["X"].contribution) < 0.05 and abs(by_node["Z"].contribution) < 0.05
    assert sum(node.contribution for node in change.nodes) == pytest.approx(change.total)
    old_intercept, new_intercept = by_node["Y"].old_mechanism.intercept, by_node["Y"].new_mechanism.intercept
    assert old_intercept is not None and new_intercept is not None
    assert new_intercept - old_intercept == pytest.approx(2.0, abs=0.3)
    assert by_node["X"].old_mechanism == by_node["X"].new_mechanism
    phases = [phase for phase, _ in steps]
    assert phases.index("fitting_old") < phases.index("fitting_new") < phases.index("attributing")
    assert change.old_fit.model_id != change.new_fit.model_id
    assert client.get_model(change.new_fit.model_id)[0].model_id == change.new_fit.model_id  # stored
    again = client.attribute_distribution_change(GRAPH, version(1, 0.0), version(2, 2.0), "Z")
    assert again.old_fit.reused and again.new_fit.reused and again.nodes == change.nodes  # seeded: the same


@pytest.mark.parametrize(
    ("target", "new", "field"),
    [
        ("X", version(2, 0.0), "target"),
        ("W", version(2, 0.0), "target"),
        ("Z", {**version(2, 0.0), "Y": np.where(version(2, 0.0)["Y"] > 0, "hi", "lo")}, "new_dataset.columns"),
        ("Z", {"X": [0.0] * 5, "Y": [0.0] * 5, "Z": [0.0] * 5}, "new_dataset"),
    ],
)
def test_a_bad_question_is_refused_naming_the_field(
    client: Client, target: str, new: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.attribute_distribution_change(GRAPH, version(1, 0.0), new, target)
    assert any(name.startswith(field) for name in caught.value.fields()), caught.value.fields()


@pytest.mark.server_internals
def test_the_attribution_is_dowhy_s_own_for_the_seed(client: Client) -> None:
    """DoWhy's distribution_change on the old version's model fitted in this process, seeded alike and
    on one process, gives exactly the server's contributions and decisions."""
    import functools
    import pickle

    import pandas as pd
    from dowhy import gcm
    from dowhy.gcm.independence_test import kernel_based
    from dowhy.gcm.shapley import ShapleyConfig

    from scmfit.client import fit_request
    from scmfit.server.config import Limits
    from scmfit.server.engine.worker import run_fit
    from scmfit.server.fitting.cache import build
    from scmfit.server.wire.decode import decode_fit_request

    old, new = version(1, 0.0), version(2, 2.0)
    ours = client.attribute_distribution_change(GRAPH, old, new, "Z", seed=21)
    job = decode_fit_request(fit_request(*GRAPH, old), Limits())
    scm = build(pickle.loads(run_fit(job, lambda _: None).model_blob)).scm
    test = functools.partial(kernel_based, bootstrap_n_jobs=1)
    gcm.util.general.set_random_seed(21)
    contributions, changed, _, _ = gcm.distribution_change(
        scm, pd.DataFrame(old), pd.DataFrame(new), "Z", independence_test=test, conditional_independence_test=test,
        return_additional_info=True, shapley_config=ShapleyConfig(n_jobs=1),
    )  # fmt: skip
    assert {node.node: node.contribution for node in ours.nodes} == {n: float(v) for n, v in contributions.items()}
    assert {node.node: node.changed for node in ours.nodes} == {n: bool(v) for n, v in changed.items()}


def test_contribution_intervals_hold_the_closed_form_and_single_out_the_change(client: Client) -> None:
    """Both versions resampled 30 times, Y refitted per version and X and Z on both: Y's 90% interval
    holds the closed-form KL share 36/92 and lies above the unchanged nodes' intervals, which hold 0.
    Asking for intervals leaves the estimate as it was; the stream counts the resamples."""
    counts: list[tuple[int, int]] = []
    change = client.attribute_distribution_change(
        GRAPH, version(1, 0.0), version(2, 2.0), "Z", confidence_level=0.9, num_bootstrap=30,
        on_bootstrap=lambda step: counts.append((step.done, step.total)),
    )  # fmt: skip
    plain = client.attribute_distribution_change(GRAPH, version(1, 0.0), version(2, 2.0), "Z")
    assert [(n.node, n.contribution) for n in change.nodes] == [(n.node, n.contribution) for n in plain.nodes]
    assert all(n.interval is None for n in plain.nodes)
    by_node = {node.node: node.interval for node in change.nodes}
    y, x, z = by_node["Y"], by_node["X"], by_node["Z"]
    assert y is not None and x is not None and z is not None
    assert 36 / 92 in y and (y.confidence_level, y.num_bootstrap) == (0.9, 30)
    assert y.lower > max(x.upper, z.upper)
    assert 0.0 in x and 0.0 in z
    assert counts[0] == (0, 30) and counts[-1] == (30, 30)
    assert [done for done, _ in counts] == sorted(done for done, _ in counts)
