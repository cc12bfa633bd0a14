"""The web view in a real browser (Debian's chromium driven by Playwright), against a real server."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from tests.integration.test_lifecycle import wait_for
from tests.serverproc import ServerProcess

SCREENSHOTS = os.environ.get("SCMFIT_SCREENSHOTS")


def wait_until(page: Any, expression: str, timeout: float = 60.0) -> None:
    """Polls `expression` with page.evaluate. Playwright's wait_for_function polls by eval() inside the
    page, which the page's Content-Security-Policy (script-src 'self', no unsafe-eval) rightly blocks
    whenever the first check is false."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:g}s: {expression}")
        time.sleep(0.1)


def run_fit(page: Any, fixture: str, quality: str = "GOOD") -> None:
    page.select_option("#fixture", fixture)
    page.select_option("#quality", quality)
    page.click("#fit")


def test_complex_dag_streams_live_and_shows_the_result(page: Any, grpc_server: ServerProcess) -> None:
    run_fit(page, "complex_dag", "BETTER")
    page.wait_for_selector("#result-card:not([hidden])", timeout=120_000)
    wait_until(page, "window.scmfitEvents.some(e => e.type === 'result')")
    events = page.evaluate("window.scmfitEvents")
    result_time = next(e["t"] for e in events if e["type"] == "result")
    progress = [e for e in events if e["type"] == "progress" and e["node"]]
    for node in ("B", "C", "D"):  # the non-root nodes
        assert any(e["node"] == node and e["t"] < result_time for e in progress), node
    # Live, not buffered: the node events arrived over time, not in one burst with the result.
    arrival = sorted({round(e["t"]) for e in progress})
    assert len(arrival) >= 4
    assert result_time - progress[0]["t"] > 200  # BETTER takes seconds; a buffered stream would arrive at once
    rows = page.locator("#result tbody tr")
    assert rows.count() == 4
    for node in ("A", "B", "C", "D"):
        cells = page.locator(f'#result tbody tr[data-node="{node}"] td')
        assert cells.nth(0).inner_text() == node
        r2 = cells.nth(5).inner_text()
        if node == "A":
            assert "root_node" in r2
        else:
            assert r2.endswith("✓") and 0.7 < float(r2.split()[0]) <= 1.0
    assert "SUCCESS" in page.inner_text("#status")
    lists = page.locator("#result details.candidates")  # the models selection tried, per zoo node
    assert lists.count() >= 1
    for index in range(lists.count()):
        assert lists.nth(index).locator("li.chosen").count() == 1
    assert page.locator("#graph-view svg .edge").count() == 4
    assert page.locator("#graph-view svg .edge-label").count() == 4
    if SCREENSHOTS:  # `SCMFIT_SCREENSHOTS=docs` refreshes the pictures the README shows
        page.screenshot(path=str(Path(SCREENSHOTS) / "web-page.png"), full_page=True)


def fit_and_ask_what_if(page: Any) -> None:
    """linear_chain fitted through the page, then do(X = 2) asked; returns once the answer is shown."""
    run_fit(page, "linear_chain")
    page.wait_for_selector("#result-card:not([hidden])", timeout=120_000)
    page.select_option("#whatif-node", "X")
    page.fill("#whatif-value", "2")
    page.click("#whatif")
    page.wait_for_selector("#whatif-result:not([hidden])")


def test_what_if_shows_the_statistics_of_the_other_nodes(page: Any) -> None:
    fit_and_ask_what_if(page)
    z_mean = float(page.locator('#whatif-result tbody tr[data-node="Z"] td').nth(1).inner_text())
    assert abs(z_mean - 12.0) < 0.3


def test_a_bad_upload_shows_the_field_violation(page: Any, tmp_path: Path) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text('{"nodes": ["A", "B"], "edges": [["A", "B"], ["B", "A"]]}')
    traces = tmp_path / "traces.csv"
    traces.write_text("A,B\n1,2\n2,4\n3,6\n")
    page.select_option("#fixture", "")
    page.set_input_files("#graph", str(graph))
    page.set_input_files("#traces", str(traces))
    page.click("#fit")
    page.wait_for_selector("#error:not([hidden])")
    text = page.inner_text("#error")
    assert "graph.edges" in text and "cycle" in text


def test_a_server_side_violation_reaches_the_page(page: Any, tmp_path: Path) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text('{"nodes": ["A", "B"], "edges": [["A", "B"]]}')
    traces = tmp_path / "traces.csv"
    traces.write_text("A,B\n" + "".join(f"{i},{i % 2 == 0}\n" for i in range(3)))  # too few rows
    page.select_option("#fixture", "")
    page.set_input_files("#graph", str(graph))
    page.set_input_files("#traces", str(traces))
    page.click("#fit")
    page.wait_for_selector("#error:not([hidden])")
    assert "dataset.columns" in page.inner_text("#error")


def test_cancel_stops_the_server_side_fit(page: Any, grpc_server: ServerProcess, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    names = [f"n{i:02d}" for i in range(12)]
    data = {names[0]: rng.normal(size=3000)}
    for parent, child in itertools.pairwise(names):
        data[child] = np.sin(data[parent]) + rng.normal(scale=0.3, size=3000)
    graph = tmp_path / "chain.json"
    graph.write_text(json.dumps({"nodes": names, "edges": [list(pair) for pair in itertools.pairwise(names)]}))
    traces = tmp_path / "chain.csv"
    rows = (",".join(f"{data[n][i]:.6f}" for n in names) for i in range(3000))
    traces.write_text(",".join(names) + "\n" + "\n".join(rows) + "\n")
    restarts = grpc_server.metric("scmfit_worker_restarts_total")
    page.select_option("#fixture", "")
    page.set_input_files("#graph", str(graph))
    page.set_input_files("#traces", str(traces))
    page.select_option("#quality", "BETTER")
    page.click("#fit")
    page.wait_for_selector('#stages tr[data-node="n01"]', timeout=60_000)
    assert grpc_server.metric("scmfit_in_flight") == 1
    page.click("#cancel")
    assert "cancelled" in page.inner_text("#error")
    assert wait_for(lambda: grpc_server.metric("scmfit_in_flight") == 0, timeout=30)
    # Each worker running one of the fit's tasks is replaced once; queued tasks never reach a worker.
    assert wait_for(lambda: grpc_server.metric("scmfit_worker_restarts_total") > restarts, timeout=30)
    assert wait_for(
        lambda: grpc_server.metric("scmfit_warm_workers") == 3, timeout=60
    )  # two fit workers, one query worker
    replaced = grpc_server.metric("scmfit_worker_restarts_total") - restarts
    time.sleep(3)
    assert grpc_server.metric("scmfit_worker_restarts_total") - restarts == replaced <= 2


def test_a_down_grpc_server_reads_as_server_unavailable(browser: Any, dead_web: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(dead_web)
    wait_until(page, "document.querySelectorAll('#fixture option').length > 1")
    run_fit(page, "linear_chain")
    page.wait_for_selector("#error:not([hidden])", timeout=60_000)
    assert "server unavailable" in page.inner_text("#error")
    context.close()


def test_the_page_runs_within_its_content_security_policy(browser: Any, web: str) -> None:
    """No inline script or style, nothing from elsewhere: a fit and a what-if raise no CSP violation."""
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    try:
        page = context.new_page()
        page.add_init_script(
            "window.cspViolations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        response = page.goto(web)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector("body[data-fixtures=loaded]")
        fit_and_ask_what_if(page)
        assert page.evaluate("window.cspViolations") == []
    finally:
        context.close()


def test_a_categorical_what_if_offers_the_node_s_categories_and_shows_the_interval(page: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    mode = np.where(rng.random(400) < 0.5, "fast", "slow")
    y = 1.0 + 4.0 * (mode == "slow") + rng.normal(size=400)
    graph = tmp_path / "graph.json"
    graph.write_text('{"nodes": ["mode", "Y"], "edges": [["mode", "Y"]]}')
    traces = tmp_path / "traces.csv"
    traces.write_text("mode,Y\n" + "".join(f"{m},{v}\n" for m, v in zip(mode, y, strict=True)))
    page.select_option("#fixture", "")
    page.set_input_files("#graph", str(graph))
    page.set_input_files("#traces", str(traces))
    page.click("#fit")
    page.wait_for_selector("#result-card:not([hidden])", timeout=120_000)
    page.select_option("#whatif-node", "mode")
    assert page.is_hidden("#whatif-value") and page.is_visible("#whatif-category")
    assert page.locator("#whatif-category option").all_inner_texts() == ["fast", "slow"]
    page.select_option("#whatif-category", "slow")
    page.check("#whatif-interval")
    page.click("#whatif")
    page.wait_for_selector("#whatif-result:not([hidden])")
    cells = page.locator('#whatif-result tbody tr[data-node="Y"] td').all_inner_texts()
    assert abs(float(cells[1]) - 5.0) < 0.3
    lower, upper = (float(part) for part in cells[6].strip("[]").split(","))
    assert lower < float(cells[1]) < upper and upper - lower < 0.6
    assert page.locator('#whatif-result tbody tr[data-node="mode"] td').nth(1).inner_text() == "slow: 1.000"
