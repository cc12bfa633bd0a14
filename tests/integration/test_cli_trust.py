"""The real `scmfit` command on inputs that once gave a plausible wrong answer or an unhelpful error."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import fixture_path, fresh_seed
from tests.integration.test_cli import scmfit
from tests.serverproc import ServerProcess, server_python


def write_chain(tmp_path: Path, x_cells: list[str], y_cells: list[str]) -> tuple[Path, Path]:
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"nodes": ["x", "y"], "edges": [["x", "y"]]}))
    traces = tmp_path / "traces.csv"
    traces.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(x_cells, y_cells, strict=True)))
    return graph, traces


def numbers(rows: int) -> list[str]:
    return [str(i) for i in range(rows)]


@pytest.mark.parametrize(
    ("column", "cell", "line"), [("x", "", 42), ("y", "NA", 7), ("x", "nan", 100), ("y", "oops", 3)]
)
def test_a_gap_in_a_numeric_csv_column_is_an_error_naming_file_column_line_and_text(
    server: ServerProcess, tmp_path: Path, column: str, cell: str, line: int
) -> None:
    x, y = numbers(200), [str(2 * i + 1) for i in range(200)]
    (x if column == "x" else y)[line - 2] = cell  # line 1 is the header
    graph, traces = write_chain(tmp_path, x, y)
    done = scmfit("fit", "--graph", str(graph), "--traces", str(traces), "--address", server.address)
    assert done.returncode == 2, done.stdout
    assert str(traces) in done.stderr
    assert f"column {column!r}, line {line}: {cell!r}" in done.stderr
    assert "--string-columns" in done.stderr


def test_string_columns_are_chosen_explicitly(server: ServerProcess, tmp_path: Path) -> None:
    labels = ["low", "high"] * 100
    graph, traces = write_chain(tmp_path, numbers(200), labels)
    done = scmfit("fit", "--graph", str(graph), "--traces", str(traces), "--address", server.address, "--json")
    assert done.returncode in (0, 1), done.stderr  # a column of words is text without being named
    mixed = ["1", "2", "three", "4"] * 50
    graph, traces = write_chain(tmp_path, numbers(200), mixed)
    refused = scmfit("fit", "--graph", str(graph), "--traces", str(traces), "--address", server.address)
    assert refused.returncode == 2 and "'three' is not a number" in refused.stderr
    accepted = scmfit(
        "fit", "--graph", str(graph), "--traces", str(traces), "--address", server.address, "--string-columns", "y"
    )
    assert accepted.returncode in (0, 1), accepted.stderr
    assert "classifier" in accepted.stdout


def test_json_traces_with_null_or_mixed_values_are_refused(tmp_path: Path) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"nodes": ["x", "y"], "edges": [["x", "y"]]}))
    for values, problem in (([1, None, 3], "missing"), ([1, "two", 3], "mixes types")):
        traces = tmp_path / "traces.json"
        traces.write_text(json.dumps({"x": [1, 2, 3], "y": values}))
        done = scmfit("fit", "--graph", str(graph), "--traces", str(traces), "--address", "127.0.0.1:1")
        assert done.returncode == 2
        assert "column 'y', value 1 (row 2)" in done.stderr and problem in done.stderr
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([{"x": 1, "y": 2}, {"x": 2, "y": None}]))
    done = scmfit("fit", "--graph", str(graph), "--traces", str(rows), "--address", "127.0.0.1:1")
    assert done.returncode == 2 and "column 'y', value 1 (row 2): null is a missing value" in done.stderr


def test_misspelled_keys_are_errors_that_list_the_accepted_keys(tmp_path: Path) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"nodes": ["x", "y"], "edgse": [["x", "y"]]}))
    traces = tmp_path / "traces.csv"
    traces.write_text("x,y\n1,2\n")
    done = scmfit("fit", "--graph", str(graph), "--traces", str(traces), "--address", "127.0.0.1:1")
    assert done.returncode == 2
    assert "unknown key 'edgse'" in done.stderr and "accepted keys: nodes, edges" in done.stderr
    case = json.loads(fixture_path("linear_chain").read_text())
    for where, broken in (("the case file", {**case, "confg": {}}), ("config", {**case, "config": {"treshold": 1}})):
        path = tmp_path / "case.json"
        path.write_text(json.dumps(broken))
        done = scmfit("fit", "--case", str(path), "--address", "127.0.0.1:1")
        assert done.returncode == 2, where
        assert f"in {where}" in done.stderr and "accepted keys" in done.stderr


def test_the_printed_id_prefix_is_accepted_by_query(server: ServerProcess, tmp_path: Path) -> None:
    case = json.loads(fixture_path("linear_chain").read_text())
    case["config"] = {**case.get("config", {}), "seed": fresh_seed()}
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    fitted = scmfit("fit", "--case", str(path), "--address", server.address)
    assert fitted.returncode == 0, fitted.stderr
    prefix = fitted.stdout.split("model ")[-1].strip()
    assert len(prefix) == 12
    queried = scmfit("query", "--model", prefix, "--do", "X=2", "--nodes", "Z", "--address", server.address)
    assert queried.returncode == 0, queried.stderr
    assert float(queried.stdout.splitlines()[-1].split()[1]) == pytest.approx(12, abs=0.5)
    again = scmfit("fit", "--case", str(path), "--address", server.address)
    assert "reused the stored model" in again.stdout


def test_usage_errors_exit_two_and_each_error_is_printed_once(server: ServerProcess) -> None:
    done = scmfit("fit", "--graph", str(fixture_path("linear_chain")), "--address", server.address)
    assert done.returncode == 2 and "--traces" in done.stderr
    zero = scmfit("query", "--model", "0" * 64, "--samples", "0", "--address", server.address)
    assert zero.returncode == 2 and "--samples" in zero.stderr and "at least 1" in zero.stderr
    # A hard value takes its node's type (a string node takes "abc"); a shift is a number, checked before any call.
    word = scmfit("query", "--model", "0" * 64, "--shift", "X=abc", "--address", server.address)
    assert word.returncode == 2 and "--shift X=abc: abc is not a number" in word.stderr
    syntax = scmfit("query", "--model", "0" * 64, "--do", "X", "--address", server.address)
    assert syntax.returncode == 2 and "--do expects NODE=VALUE" in syntax.stderr
    bad = scmfit("fit", "--case", str(fixture_path("linear_chain")), "--threshold", "5", "--address", server.address)
    assert bad.returncode == 2
    assert bad.stderr.count("must be within [0, 1]") == 1, bad.stderr  # once, not as message and then violation


def test_connection_refused_suggests_serve_and_version_prints() -> None:
    done = scmfit("health", "--address", "127.0.0.1:1", "--timeout", "2")
    assert done.returncode == 2
    assert "scmfit serve" in done.stderr and "--address" in done.stderr
    version = scmfit("--version")
    assert version.returncode == 0 and version.stdout.startswith("scmfit ")


def test_serve_refuses_a_port_out_of_range() -> None:
    done = subprocess.run(
        [server_python(), "-m", "scmfit.server", "--address", "127.0.0.1:99999", "--no-warm-up", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "port from 0 to 65535" in done.stderr


def test_dataframe_object_columns_with_gaps_are_refused_locally() -> None:
    pd = pytest.importorskip("pandas")
    from scmfit.client import InvalidRequestError
    from scmfit.client._request import fit_request

    frame = pd.DataFrame({"x": np.arange(5.0), "y": [1, 2, None, 4, 5]})
    frame["y"] = frame["y"].astype(object)
    with pytest.raises(InvalidRequestError) as caught:
        fit_request((["x", "y"], [("x", "y")]), frame)
    assert caught.value.violations[0].field == "data['y'][2]"
    mixed = pd.DataFrame({"x": np.arange(3.0), "y": pd.Series([1, "b", 3], dtype=object)})
    with pytest.raises(InvalidRequestError, match="mixes int and str"):
        fit_request((["x", "y"], [("x", "y")]), mixed)
    labels = pd.DataFrame({"x": np.arange(3.0), "y": pd.Series(["a", "b", "a"], dtype=object)})
    assert fit_request((["x", "y"], [("x", "y")]), labels).dataset.columns[1].WhichOneof("values") == "strings"
