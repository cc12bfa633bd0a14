"""`scmfit fit|query|attribute --plot FILE` through the real server: PNG and SVG files whose text holds
every node name literally, a what-if's mean lines at the samples' means, and a refused suffix that
costs no RPC."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from scmfit.client import Client
from tests.conftest import fixture_path, fresh_seed
from tests.integration.test_cli import scmfit
from tests.serverproc import ServerProcess

pytest.importorskip("matplotlib")
SVG_TEXT = "{http://www.w3.org/2000/svg}text"
NAMES = ["$x^2$", "<b>y</b>", "z & w"]


def svg_texts(path: Path) -> list[str]:
    return ["".join(element.itertext()) for element in ElementTree.parse(path).getroot().iter(SVG_TEXT)]


@pytest.fixture(scope="module")
def hostile_model(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A chain whose names would be mathtext and markup if drawn as anything but text."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=600)
    y = 2 * x + rng.normal(size=600)
    z = 3 * y + rng.normal(size=600)
    folder = tmp_path_factory.mktemp("plots")
    graph = folder / "graph.json"
    graph.write_text(json.dumps({"nodes": NAMES, "edges": [NAMES[:2], NAMES[1:]]}))
    traces = folder / "traces.json"
    traces.write_text(json.dumps(dict(zip(NAMES, (x.tolist(), y.tolist(), z.tolist()), strict=True))))
    plot = folder / "fit.svg"
    done = scmfit(
        "fit", "--graph", str(graph), "--traces", str(traces), "--seed", str(fresh_seed()), "--plot", str(plot),
        "--json", "--address", server.address,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["modelId"]), plot


def test_a_fit_plot_names_every_node_literally(hostile_model: tuple[str, Path]) -> None:
    _, plot = hostile_model
    texts = svg_texts(plot)
    for name in NAMES:
        assert name in texts, (name, texts)
    assert "threshold" in texts


def test_a_what_if_plot_is_a_png_with_both_distributions(server: ServerProcess, tmp_path: Path) -> None:
    done = scmfit(
        "fit", "--case", str(fixture_path("linear_chain")), "--json", "--seed", str(fresh_seed()),
        "--address", server.address,
    )  # fmt: skip
    model_id = json.loads(done.stdout)["modelId"]
    plot = tmp_path / "what-if.png"
    queried = scmfit(
        "query", "--model", model_id, "--do", "X=2", "--nodes", "Z", "--plot", str(plot), "--address", server.address
    )
    assert queried.returncode == 0, queried.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    assert imread(plot).shape[0] > 100


def test_the_what_if_chart_draws_each_mean_where_the_samples_put_it(tmp_path: Path) -> None:
    from scmfit.client._plots import what_if_chart

    rng = np.random.default_rng(1)
    before, after = {"$m$": rng.normal(size=500)}, {"$m$": rng.normal(loc=3.0, size=500)}
    figure = what_if_chart(before, after, "do(X=1)", tmp_path / "m.svg")
    axes = figure.axes[0]
    means = {line.get_gid(): float(np.asarray(line.get_xdata())[0]) for line in axes.lines}
    assert means == {
        "mean-before": pytest.approx(np.mean(before["$m$"])),
        "mean-after": pytest.approx(np.mean(after["$m$"])),
    }
    assert "$m$" in svg_texts(tmp_path / "m.svg")


def test_an_attribution_plot_puts_the_root_cause_on_top(
    server: ServerProcess, hostile_model: tuple[str, Path], tmp_path: Path
) -> None:
    model_id, _ = hostile_model
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps({NAMES[0]: [0.3], NAMES[1]: [6.6], NAMES[2]: [19.9]}))  # y's noise is +6σ
    plot = tmp_path / "why.svg"
    done = scmfit(
        "attribute", "--model", model_id, "--target", NAMES[2], "--rows", str(rows), "--plot", str(plot),
        "--address", server.address,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    from scmfit.client._plots import attribution_chart

    with Client(server.address, timeout=120) as client:
        explained = client.attribute_anomalies(model_id, NAMES[2], json.loads(rows.read_text()))
    figure = attribution_chart(explained, NAMES[2], tmp_path / "again.svg")
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    positions = list(figure.axes[0].get_yticks())
    top = labels[positions.index(max(positions))]
    assert top.replace("\\$", "$") == NAMES[1] == explained[0].root_cause
    assert set(NAMES) <= set(svg_texts(plot))


def test_a_plot_file_of_another_kind_is_refused_before_any_call(tmp_path: Path) -> None:
    done = scmfit("query", "--model", "0" * 16, "--plot", str(tmp_path / "x.pdf"), "--address", "127.0.0.1:1")
    assert done.returncode == 2
    assert "must end in .png or .svg" in done.stderr
