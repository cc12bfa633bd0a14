"""The `scmfit` command against a real server: fit from files, exit codes, JSON output, health and info."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import fixture_case, fixture_path
from tests.serverproc import ServerProcess


def scmfit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scmfit.client.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_fit_case_prints_a_table_and_exits_zero_on_success(server: ServerProcess) -> None:
    done = scmfit("fit", "--case", str(fixture_path("linear_chain")), "--address", server.address)
    assert done.returncode == 0, done.stderr
    for text in ("Y", "LinearRegression", "X=1.99", "SUCCESS", "model"):
        assert text in done.stdout


def test_validation_failure_exits_one_and_marks_the_node(server: ServerProcess) -> None:
    done = scmfit("fit", "--case", str(fixture_path("noisy_data")), "--address", server.address)
    assert done.returncode == 1
    assert "VALIDATION_FAILED" in done.stdout and "✗" in done.stdout


def test_graph_and_csv_traces_with_json_output(server: ServerProcess, tmp_path: Path) -> None:
    case = fixture_case("code_execution")
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"nodes": case.nodes, "edges": [list(e) for e in case.edges]}))
    traces = tmp_path / "traces.csv"
    with traces.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(case.nodes)
        writer.writerows(zip(*(case.traces[n].tolist() for n in case.nodes), strict=True))
    done = scmfit("fit", "--graph", str(graph), "--traces", str(traces), "--json", "--address", server.address)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FIT_STATUS_SUCCESS"
    output = next(node for node in result["nodes"] if node["name"] == "output")
    # CSV integers stay integers, so the node gets a discrete additive-noise model.
    assert output["mechanism"]["kind"] == "MECHANISM_KIND_DISCRETE_ADDITIVE_NOISE"


def test_bad_input_exits_two_with_the_field(server: ServerProcess, tmp_path: Path) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"nodes": ["A", "B"], "edges": [["A", "B"], ["B", "A"]]}))
    traces = tmp_path / "traces.json"
    traces.write_text(json.dumps({"A": [1, 2, 3], "B": [2, 4, 6]}))
    done = scmfit("fit", "--graph", str(graph), "--traces", str(traces), "--address", server.address)
    assert done.returncode == 2
    assert "graph.edges" in done.stderr and "cycle" in done.stderr


def test_health_and_info(server: ServerProcess) -> None:
    health = scmfit("health", "--address", server.address)
    assert (health.returncode, health.stdout.strip()) == (0, "SERVING")
    info = scmfit("info", "--address", server.address)
    assert json.loads(info.stdout)["dowhyVersion"] == "0.14"


def test_unreachable_server_exits_two() -> None:
    done = scmfit("health", "--address", "127.0.0.1:1", "--timeout", "2")
    assert done.returncode == 2
    assert "no scmfit server answered at 127.0.0.1:1" in done.stderr


def test_query_and_models_commands(server: ServerProcess) -> None:
    from scmfit.client import Client

    case = fixture_case("linear_chain")
    with Client(server.address, timeout=120) as client:
        model_id = client.fit(case.graph, case.traces).model_id
    done = scmfit(
        "query", "--model", model_id, "--do", "X=2", "--shift", "Y=+0", "--nodes", "Z", "--json",
        "--address", server.address,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (stats,) = json.loads(done.stdout)["statistics"]
    assert stats["node"] == "Z" and abs(stats["mean"] - 12.0) < 0.3
    table = scmfit("query", "--model", model_id, "--do", "X=2", "--address", server.address)
    assert "hard(X=2)" in table.stdout and table.stdout.count("\n") >= 5
    listed = scmfit("models", "--address", server.address)
    assert model_id in listed.stdout
    bad = scmfit("query", "--model", model_id, "--do", "Q=1", "--address", server.address)
    assert bad.returncode == 2 and "interventions[0].node" in bad.stderr


def test_a_repeated_csv_column_exits_two_naming_it(server: ServerProcess, tmp_path: Path) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"nodes": ["a", "b"], "edges": [["a", "b"]]}))
    traces = tmp_path / "traces.csv"
    traces.write_text("a,b,b\n" + "".join(f"{i},{2 * i},{3 * i}\n" for i in range(50)))
    done = scmfit("fit", "--graph", str(graph), "--traces", str(traces), "--address", server.address)
    assert done.returncode == 2
    assert "column 'b' appears twice" in done.stderr and "columns 2 and 3" in done.stderr
