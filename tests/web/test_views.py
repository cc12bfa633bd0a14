"""The page's pictures in a real browser, against the real server and bridge: a 150-node graph laid out
by ELK with no overlapping boxes or overflowing labels, pan, zoom and search, a what-if's two
distributions against the API's statistics, attribution bars, the graph check's marks, and hostile
names drawn literally, all within the page's Content-Security-Policy."""

from __future__ import annotations

import csv
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scmfit.client import Client
from tests.serverproc import ServerProcess
from tests.web.test_browser import SCREENSHOTS, fit_and_ask_what_if, run_fit, wait_until

CSP_WATCH = (
    "window.cspViolations = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


@pytest.fixture
def watched(browser: Any, web: str) -> Iterator[Any]:
    """A page that records every Content-Security-Policy violation and every dialog."""
    context = browser.new_context(viewport={"width": 1300, "height": 1100})
    page = context.new_page()
    page.add_init_script(CSP_WATCH)
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(web)
    page.wait_for_selector("body[data-fixtures=loaded]")
    yield page
    assert page.evaluate("window.cspViolations") == []
    assert page.dialogs == []
    context.close()


def upload_fit(page: Any, tmp_path: Path, names: list[str], edges: list[tuple[str, str]], data: dict[str, Any]) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"nodes": names, "edges": [list(edge) for edge in edges]}))
    traces = tmp_path / "traces.csv"
    with traces.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerows(zip(*(np.round(data[name], 6).tolist() for name in names), strict=True))
    page.select_option("#fixture", "")
    page.set_input_files("#graph", str(graph))
    page.set_input_files("#traces", str(traces))
    page.click("#fit")
    page.wait_for_selector("#result-card:not([hidden])", timeout=600_000)
    wait_until(page, "document.body.dataset.graph === 'drawn'")


def big_dag(nodes: int = 150, rows: int = 200) -> tuple[list[str], list[tuple[str, str]], dict[str, np.ndarray]]:
    """A random linear DAG: each node takes up to 3 earlier nodes as parents; names of varied length. Its
    noise is small beside what parents pass on, so most non-root nodes pass the R² threshold."""
    rng = np.random.default_rng(150)
    names = [f"{'var_' * int(rng.integers(0, 4))}n{index:03d}" for index in range(nodes)]
    edges: list[tuple[str, str]] = []
    data: dict[str, np.ndarray] = {}
    for index, name in enumerate(names):
        parents = sorted(rng.choice(index, size=min(index, int(rng.integers(0, 4))), replace=False)) if index else []
        value = rng.normal(scale=0.3 if parents else 1.0, size=rows)
        for parent in parents:
            edges.append((names[parent], name))
            value = value + data[names[parent]] / np.std(data[names[parent]])
        data[name] = value
    return names, edges, data


BOXES = """() => [...document.querySelectorAll('#graph-view .node')].map(g => {
  const rect = g.querySelector('rect').getBBox(), text = g.querySelector('text').getBBox();
  const screen = g.querySelector('rect').getBoundingClientRect();
  return {node: g.dataset.node, rect: [rect.x, rect.y, rect.width, rect.height],
          text: [text.x, text.y, text.width, text.height], screen: [screen.x, screen.y, screen.width, screen.height],
          transform: g.getAttribute('transform'), label: g.querySelector('text').textContent};
})"""


def test_a_150_node_fit_is_laid_out_without_overlaps_and_with_every_label_inside_its_box(
    watched: Any, tmp_path: Path
) -> None:
    names, edges, data = big_dag()
    upload_fit(watched, tmp_path, names, edges, data)
    boxes = watched.evaluate(BOXES)
    assert sorted(box["node"] for box in boxes) == sorted(names)
    assert all(box["label"] == box["node"] for box in boxes)
    placed = []
    for box in boxes:
        x, y = (float(part) for part in box["transform"][len("translate(") : -1].split(","))
        _, _, width, height = box["rect"]
        placed.append((box["node"], x, y, width, height))
        tx, ty, tw, th = box["text"]
        assert tx >= 0 and tx + tw <= width and ty >= 0 and ty + th <= height, f"label overflows {box['node']}"
    for (a, ax, ay, aw, ah), (b, bx, by, bw, bh) in itertools.combinations(placed, 2):
        assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, f"{a} overlaps {b}"
    assert watched.locator("#graph-view .edge").count() == len(edges)
    if SCREENSHOTS:
        watched.locator("#graph-view").screenshot(path=str(Path(SCREENSHOTS) / "graph-150.png"))


def scene_transform(page: Any) -> tuple[float, float, float]:
    text = page.evaluate("document.querySelector('#graph-view .scene').getAttribute('transform')")
    translate, scale = text.split(" scale(")
    x, y = (float(part) for part in translate[len("translate(") : -1].split(","))
    return x, y, float(scale[:-1])


def test_pan_zoom_and_search(watched: Any) -> None:
    run_fit(watched, "complex_dag")
    watched.wait_for_selector("#result-card:not([hidden])", timeout=120_000)
    wait_until(watched, "document.body.dataset.graph === 'drawn'")
    watched.locator("#graph-view").scroll_into_view_if_needed()
    view = watched.locator("#graph-view svg").bounding_box()
    centre = (view["x"] + view["width"] / 2, view["y"] + view["height"] / 2)
    _, _, k0 = scene_transform(watched)
    watched.mouse.move(*centre)
    watched.mouse.wheel(0, -300)
    deadline = time.monotonic() + 10
    while scene_transform(watched)[2] == k0 and time.monotonic() < deadline:
        time.sleep(0.05)
    _, _, k1 = scene_transform(watched)
    assert k1 > k0  # zoomed in
    x1, y1, _ = scene_transform(watched)
    watched.mouse.move(centre[0] - 200, centre[1] - 150)
    watched.mouse.down()
    watched.mouse.move(centre[0] - 100, centre[1] - 100, steps=5)
    watched.mouse.up()
    x2, y2, k2 = scene_transform(watched)
    assert (x2 - x1, y2 - y1) == pytest.approx((100, 50), abs=2) and k2 == k1  # panned by the drag
    watched.fill("#graph-search", "c")
    assert watched.locator("#graph-view .node.match").count() == 1
    assert watched.inner_text("#graph-matches") == "1 match"
    watched.press("#graph-search", "Enter")
    box = watched.locator('#graph-view .node[data-node="C"] rect').bounding_box()
    assert box["x"] + box["width"] / 2 == pytest.approx(centre[0], abs=3)
    assert box["y"] + box["height"] / 2 == pytest.approx(centre[1], abs=3)
    watched.click('#graph-view .node[data-node="B"]', force=True)
    assert "mechanism:" in watched.inner_text("#node-details") and "B" in watched.inner_text("#node-details h4")


def test_a_what_if_draws_two_distributions_whose_means_are_the_api_s(watched: Any, web: str) -> None:
    fit_and_ask_what_if(watched)  # linear_chain, do(X = 2); Z is drawn
    wait_until(watched, "!!window.scmfitVendor.Chart.getChart('whatif-chart')")
    drawn = watched.evaluate(
        "(() => { const c = window.scmfitVendor.Chart.getChart('whatif-chart');"
        " return c.data.datasets.map(d => ({label: d.label, data: d.data})); })()"
    )
    before, after, before_mean, after_mean = drawn
    assert before["label"].startswith("Z, observed") and after["label"] == "Z under do(X = 2)"
    width = after["data"][1]["x"] - after["data"][0]["x"]
    for curve, mean_line in ((before, before_mean), (after, after_mean)):
        xs = np.array([point["x"] for point in curve["data"]])
        ys = np.array([point["y"] for point in curve["data"]])
        assert float(np.sum(ys) * width) == pytest.approx(1.0, abs=1e-6)  # a density
        assert float(np.sum(xs * ys) * width) == pytest.approx(mean_line["data"][0]["x"], abs=width / 2)
    table_mean = float(watched.locator('#whatif-result tbody tr[data-node="Z"] td').nth(1).inner_text())
    assert after_mean["data"][0]["x"] == pytest.approx(table_mean, rel=1e-3)  # the API's statistics
    assert after_mean["data"][0]["x"] - before_mean["data"][0]["x"] > 5  # do(X = 2) moves Z up
    if SCREENSHOTS:
        watched.locator("#whatif-chart-box").screenshot(path=str(Path(SCREENSHOTS) / "what-if.png"))


def test_effect_attribution_influence_and_the_graph_check_are_drawn(
    watched: Any, grpc_server: ServerProcess, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=600)
    y = 2 * x + rng.normal(size=600)
    z = 3 * y + rng.normal(size=600)
    w = x + rng.normal(size=600)  # W depends on X, but the graph below says it is a root
    upload_fit(watched, tmp_path, ["X", "Y", "Z", "W"], [("X", "Y"), ("Y", "Z")], {"X": x, "Y": y, "Z": z, "W": w})
    watched.select_option("#effect-treatment", "X")
    watched.select_option("#effect-target", "Z")
    watched.click("#effect")
    watched.wait_for_selector("#effect-text:not([hidden])", timeout=300_000)
    points = watched.evaluate(
        "window.scmfitVendor.Chart.getChart('effect-chart').data.datasets.map(d => d.data.map(p => p.x))"
    )
    lower, upper = points[0]
    assert lower < points[1][0] < upper and lower < 6.0 < upper  # E[Z | do(X=1)] - E[Z | do(X=0)] = 6
    watched.select_option("#attribute-target", "Z")
    watched.fill("#attribute-rows", "X,Y,Z,W\n0.3,6.6,19.9,0.2\n")  # Y's noise is +6σ
    watched.click("#attribute")
    watched.wait_for_selector("#attribute-text:not([hidden])", timeout=300_000)
    bars = watched.evaluate(
        "(() => { const c = window.scmfitVendor.Chart.getChart('attribute-chart');"
        " return {labels: c.data.labels, values: c.data.datasets[0].data}; })()"
    )
    assert bars["labels"][0] == "Y" and bars["values"] == sorted(bars["values"], reverse=True)
    if SCREENSHOTS:
        watched.locator("#attribute-chart-box").screenshot(path=str(Path(SCREENSHOTS) / "attribution.png"))
    watched.select_option("#influence-target", "Z")
    watched.click("#influence")
    wait_until(watched, "!!window.scmfitVendor.Chart.getChart('influence-chart')", timeout=300)
    shares = watched.evaluate("window.scmfitVendor.Chart.getChart('influence-chart').data.labels")
    assert shares == ["X", "Y", "Z"]  # Var(Z) = 36 Var(X) + 9 + 1
    assert watched.locator("#graph-view .edge-label.strength").count() == 1  # Y -> Z, now its strength
    watched.click("#check")
    watched.wait_for_selector("#check-text:not([hidden])", timeout=600_000)
    assert "W" in watched.inner_text("#check-result") and "X" in watched.inner_text("#check-result")
    marks = watched.evaluate(
        "[...document.querySelectorAll('#graph-view .violation, #graph-view .suggested')]"
        ".map(m => [m.getAttribute('class'), m.dataset.node || m.dataset.target, m.dataset.other || m.dataset.source])"
    )
    assert ["violation", "W", "X"] in marks or ["violation", "X", "W"] in marks
    assert any(kind == "suggested" and {a, b} == {"W", "X"} for kind, a, b in marks)
    with Client(grpc_server.address, timeout=600) as client:  # the page shows what the API says
        verdict = client.check_graph((["X", "Y", "Z", "W"], [("X", "Y"), ("Y", "Z")]), {"X": x, "Y": y, "Z": z, "W": w})
    assert len(watched.locator("#check-result tbody tr").all()) == len(verdict.violations)


HOSTILE = ["<img src=x onerror=alert(1)>", "a\"b'c&amp;<b>bold</b>", "x</text><script>alert(2)</script>", "ünï ✓ 名前"]


def test_hostile_node_names_render_literally_in_the_graph_and_the_charts(watched: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    root = rng.normal(size=300)
    data = {HOSTILE[0]: root}
    for parent, child in itertools.pairwise(HOSTILE):
        data[child] = 1.5 * data[parent] + rng.normal(size=300)
    upload_fit(watched, tmp_path, HOSTILE, list(itertools.pairwise(HOSTILE)), data)
    labels = watched.locator("#graph-view .node text").all_text_contents()
    assert sorted(labels) == sorted(HOSTILE)
    assert watched.locator("#graph-view img, #graph-view script, #graph-view b").count() == 0
    watched.fill("#graph-search", "<img")
    assert watched.locator("#graph-view .node.match").count() == 1
    watched.select_option("#influence-target", HOSTILE[-1])
    watched.click("#influence")
    wait_until(watched, "!!window.scmfitVendor.Chart.getChart('influence-chart')", timeout=300)
    assert sorted(watched.evaluate("window.scmfitVendor.Chart.getChart('influence-chart').data.labels")) == sorted(
        HOSTILE
    )


def test_a_new_version_s_change_is_attributed_in_sorted_bars(watched: Any, tmp_path: Path) -> None:
    """Only Y's mechanism moves (+2) in the new version: the page names Y changed and draws it first."""

    def version(seed: int, shift: float) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=800)
        y = 2 * x + shift + rng.normal(size=800)
        return {"X": x, "Y": y, "Z": 0.5 * y + rng.normal(size=800)}

    upload_fit(watched, tmp_path, ["X", "Y", "Z"], [("X", "Y"), ("Y", "Z")], version(1, 0.0))
    new = tmp_path / "new.csv"
    data = version(2, 2.0)
    new.write_text("X,Y,Z\n" + "".join(f"{data['X'][i]},{data['Y'][i]},{data['Z'][i]}\n" for i in range(800)))
    watched.set_input_files("#change-new", str(new))
    watched.select_option("#change-target", "Z")
    watched.click("#change")
    watched.wait_for_selector("#change-text:not([hidden])", timeout=600_000)
    assert "changed mechanisms: Y;" in watched.inner_text("#change-text")
    bars = watched.evaluate(
        "(() => { const c = window.scmfitVendor.Chart.getChart('change-chart');"
        " return {labels: c.data.labels, values: c.data.datasets[0].data}; })()"
    )
    assert bars["labels"][0] == "Y" and bars["values"] == sorted(bars["values"], reverse=True)
