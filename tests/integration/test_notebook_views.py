"""Results in a notebook, through the real server: to_pandas() gives tidy frames that hold the same
numbers as the results, and _repr_html_ gives escaped tables (and a small fit's graph as SVG)."""

from __future__ import annotations

import itertools
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from scmfit.client import Client, FitResult
from tests.conftest import fixture_case, fresh_seed

HOSTILE = ["<b>x</b>", 'y"&amp;', "z</svg><script>alert(1)</script>"]


@pytest.fixture(scope="module")
def chain(server: object) -> tuple[FitResult, dict[str, np.ndarray]]:
    from tests.serverproc import ServerProcess

    assert isinstance(server, ServerProcess)
    rng = np.random.default_rng(2)
    data = {HOSTILE[0]: rng.normal(size=800)}
    for parent, child in itertools.pairwise(HOSTILE):
        data[child] = 2 * data[parent] + rng.normal(size=800)
    with Client(server.address, timeout=300) as client:
        return client.fit((HOSTILE, list(itertools.pairwise(HOSTILE))), data, seed=fresh_seed()), data


def test_a_fit_frames_one_row_per_node_edge_and_candidate(client: Client) -> None:
    case = fixture_case("complex_dag")
    result = client.fit((case.nodes, case.edges), case.traces, case.config)
    nodes = result.to_pandas()
    assert list(nodes["node"]) == [node.name for node in result.nodes]
    assert nodes.set_index("node")["r2"].to_dict() == pytest.approx(
        {node.name: np.nan if node.r2 is None else node.r2 for node in result.nodes}, nan_ok=True
    )
    edges = result.to_pandas("edges")
    assert sorted(zip(edges["source"], edges["target"], strict=True)) == sorted(case.edges)
    for source, target, coefficient in zip(edges["source"], edges["target"], edges["coefficient"], strict=True):
        assert coefficient == result.node(str(target)).mechanism.coefficients.get(str(source))
    candidates = result.to_pandas("candidates")
    assert len(candidates) == sum(len(node.candidates) for node in result.nodes) > 0
    assert set(candidates.groupby("node")["outcome"].apply(lambda o: (o == "chosen").sum())) == {1}
    with pytest.raises(ValueError, match="table must be one of nodes, edges, candidates"):
        result.to_pandas("mechanisms")


def test_fit_html_escapes_every_name_and_draws_the_graph(chain: tuple[FitResult, dict[str, np.ndarray]]) -> None:
    result, _ = chain
    page = result._repr_html_()
    for name in HOSTILE:
        assert name not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "&lt;script&gt;" in page
    svg = page[page.index("<svg") : page.index("</svg>") + len("</svg>")]
    drawn = ElementTree.fromstring(svg)  # well-formed: no name broke out of its <text>
    ns = "{http://www.w3.org/2000/svg}"
    assert sorted(text.text or "" for text in drawn.iter(f"{ns}text")) == sorted(HOSTILE)
    assert len(list(drawn.iter(f"{ns}line"))) == 2


def test_query_and_diagnostic_results_frame_and_render(
    client: Client, chain: tuple[FitResult, dict[str, np.ndarray]]
) -> None:
    result, data = chain
    x, y, z = HOSTILE
    sampled = client.sample(result.model_id, {x: 1.0}, num_samples=2000, confidence_level=0.9, num_bootstrap=10)
    frame = sampled.to_pandas().set_index("node")
    assert frame.loc[z, "mean"] == sampled.statistics[z].mean
    interval = sampled.statistics[z].mean_interval
    assert interval is not None and (frame.loc[z, "lower"], frame.loc[z, "upper"]) == (interval.lower, interval.upper)
    assert "&lt;b&gt;x&lt;/b&gt;" in sampled._repr_html_()

    effect = client.estimate_effect(
        result.model_id, treatment=x, target=z, alternative=1.0, reference=0.0, confidence_level=0.9, decompose=True
    )
    rows = effect.to_pandas().set_index("quantity")
    assert list(rows.index) == ["effect", "natural direct effect", "natural indirect effect"]
    assert rows.loc["effect", "estimate"] == effect.effect == pytest.approx(4.0, abs=0.3)
    assert effect.interval is not None and rows.loc["effect", "lower"] == effect.interval.lower

    anomalous = {name: values[:2].copy() for name, values in data.items()}
    anomalous[y] += 6.0
    anomalous[z] += 12.0
    explained = client.attribute_anomalies(result.model_id, z, anomalous)
    tidy = pd.concat([row.to_pandas() for row in explained], ignore_index=True)
    assert len(tidy) == 2 * 3 and list(tidy["row"].unique()) == [0, 1]
    first = tidy[tidy["row"] == 0]
    assert list(first["node"]) == list(explained[0].contributions)  # largest first
    assert first["contribution"].sum() == pytest.approx(sum(explained[0].contributions.values()))
    assert "&lt;script&gt;" in explained[0]._repr_html_()

    shares = client.intrinsic_influence(result.model_id, z, num_samples=3000)
    assert list(shares.to_pandas()["node"]) == list(shares)
    strengths = client.arrow_strength(result.model_id, z)
    edge_frame = strengths.to_pandas()
    assert list(edge_frame.columns[:3]) == ["source", "target", "value"]
    assert (edge_frame.iloc[0]["source"], edge_frame.iloc[0]["target"]) == next(iter(strengths))
    assert "z&lt;/svg&gt;&lt;script&gt;" in strengths._repr_html_() and z not in strengths._repr_html_()

    verdict = client.check_graph(([x, y, z], [(x, y)]), data)  # the graph lacks y -> z
    violations = verdict.to_pandas()
    assert len(violations) == len(verdict.violations) > 0
    assert "missing edges?" in verdict._repr_html_() and "&lt;/svg&gt;" in verdict._repr_html_()
