"""The real `scmfit` command's effect, counterfactual and delete, through the real server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from scmfit.client import Client
from tests.conftest import fixture_path, fresh_seed
from tests.integration.test_cli import scmfit
from tests.serverproc import ServerProcess


@pytest.fixture
def model_id(server: ServerProcess) -> str:
    """linear_chain: Y = 2X, Z = 3Y (small noise), fitted with a seed of its own."""
    done = scmfit(
        "fit", "--case", str(fixture_path("linear_chain")), "--address", server.address, "--json",
        "--seed", str(fresh_seed()),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["modelId"])


def test_effect_is_the_chain_s_product_of_coefficients(server: ServerProcess, model_id: str) -> None:
    done = scmfit(
        "effect", "--model", model_id[:12], "--treatment", "X", "--target", "Z", "--alternative", "1",
        "--reference", "0", "--address", server.address, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["effect"] == pytest.approx(6.0, abs=0.1)  # 2 × 3 on linear_chain
    text = scmfit(
        "effect", "--model", model_id, "--treatment", "X", "--target", "Z", "--alternative", "2",
        "--reference", "0", "--address", server.address,
    )  # fmt: skip
    assert text.stdout.startswith("E[Z | do(X = 2)] - E[Z | do(X = 0)] = 1")  # about 12


def test_counterfactual_rows_follow_the_chain(server: ServerProcess, model_id: str, tmp_path: Path) -> None:
    observed = tmp_path / "observed.json"
    observed.write_text(json.dumps({"X": [0.0, 1.0], "Y": [0.1, 2.0], "Z": [0.2, 6.1]}))
    done = scmfit(
        "counterfactual", "--model", model_id, "--observed", str(observed), "--do", "X=2",
        "--address", server.address, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert rows["X"] == [2.0, 2.0]
    # The noise of each row is kept: Y moves by 2 × (2 - x), and Z by 3 × that.
    assert rows["Y"] == pytest.approx([0.1 + 4.0, 2.0 + 2.0], abs=0.1)
    assert rows["Z"] == pytest.approx([0.2 + 12.0, 6.1 + 6.0], abs=0.3)
    missing = scmfit("counterfactual", "--model", model_id, "--observed", str(observed), "--address", server.address)
    assert missing.returncode == 2 and "--do" in missing.stderr


def test_delete_removes_the_model_and_a_second_delete_is_not_found(server: ServerProcess, model_id: str) -> None:
    done = scmfit("delete", "--model", model_id, "--address", server.address)
    assert done.returncode == 0 and model_id in done.stdout
    again = scmfit("delete", "--model", model_id, "--address", server.address)
    assert again.returncode == 2 and "NotFoundError" in again.stderr and model_id in again.stderr


def test_effect_takes_values_of_the_treatment_s_type_and_prints_its_interval_and_parts(
    server: ServerProcess, tmp_path: Path
) -> None:
    rng = np.random.default_rng(8)
    rows = 600
    mode = np.where(rng.random(rows) < 0.5, "fast", "slow")
    t = rng.normal(size=rows)
    m = 2.0 * t + rng.normal(size=rows)
    y = 1.0 * t + 0.5 * m + 3.0 * (mode == "slow") + rng.normal(size=rows)
    with Client(server.address, timeout=300) as client:
        fitted = client.fit(
            (["mode", "T", "M", "Y"], [("T", "M"), ("M", "Y"), ("T", "Y"), ("mode", "Y")]),
            {"mode": mode.astype(object), "T": t, "M": m, "Y": y},
            seed=fresh_seed(),
        )
    done = scmfit(
        "effect", "--model", fitted.model_id, "--treatment", "mode", "--target", "Y", "--alternative", "slow",
        "--reference", "fast", "--ci", "0.9", "--address", server.address,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = re.fullmatch(
        r"E\[Y \| do\(mode = slow\)\] - E\[Y \| do\(mode = fast\)\] = (\S+)  \[(\S+), (\S+)\] 90%, "
        r"100 bootstrap refits\n",
        done.stdout,
    )
    assert shown is not None, done.stdout
    effect, lower, upper = map(float, shown.groups())
    assert lower < effect < upper and effect == pytest.approx(3.0, abs=0.3)
    parts = scmfit(
        "effect", "--model", fitted.model_id, "--treatment", "T", "--target", "Y", "--alternative", "1",
        "--reference", "0", "--decompose", "--json", "--address", server.address,
    )  # fmt: skip
    assert parts.returncode == 0, parts.stderr
    decomposition = json.loads(parts.stdout)["decomposition"]
    assert decomposition["naturalDirectEffect"] == pytest.approx(1.0, abs=0.15)
    assert decomposition["naturalIndirectEffect"] == pytest.approx(1.0, abs=0.15)
    assert decomposition["mediators"] == ["M"]
    wrong = scmfit(
        "effect", "--model", fitted.model_id, "--treatment", "mode", "--target", "Y", "--alternative", "medium",
        "--reference", "fast", "--address", server.address,
    )  # fmt: skip
    assert wrong.returncode == 2
    assert "--alternative (treatment mode): medium is not a category of this node; it has fast, slow" in wrong.stderr
    sampled = scmfit(
        "query", "--model", fitted.model_id, "--do", "mode=slow", "--nodes", "Y", "--ci", "0.95",
        "--address", server.address,
    )  # fmt: skip
    assert sampled.returncode == 0, sampled.stderr
    assert "hard(mode=slow)" in sampled.stdout and "Y: mean 95% interval [" in sampled.stdout


def test_attribute_and_influence_print_sorted_tables_and_json(server: ServerProcess, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=1500)
    y = 2 * x + rng.normal(size=1500)
    z = 3 * y + rng.normal(size=1500)
    with Client(server.address, timeout=300) as client:
        model_id = client.fit((["X", "Y", "Z"], [("X", "Y"), ("Y", "Z")]), {"X": x, "Y": y, "Z": z}).model_id
    rows = tmp_path / "rows.csv"
    rows.write_text("X,Y,Z\n0.3,6.6,19.9\n")  # Y's noise is +6σ
    done = scmfit("attribute", "--model", model_id, "--target", "Z", "--rows", str(rows), "--address", server.address)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("row 0: Z anomaly score") and lines[0].endswith("root cause Y")
    assert lines[2].split()[0] == "Y"
    as_json = scmfit(
        "attribute", "--model", model_id, "--target", "Z", "--rows", str(rows), "--json", "--address", server.address
    )
    explained = json.loads(as_json.stdout)
    assert next(iter(explained[0]["contributions"])) == "Y"
    assert sum(explained[0]["contributions"].values()) == pytest.approx(explained[0]["target_score"], abs=0.3)
    influence = scmfit("influence", "--model", model_id, "--target", "Z", "--json", "--address", server.address)
    assert influence.returncode == 0, influence.stderr
    answer = json.loads(influence.stdout)
    assert list(answer["intrinsic"]) == ["X", "Y", "Z"]  # Var(Z) = 36 Var(X) + 9 + 1
    assert answer["arrow_strength"][0]["source"] == "Y"
    table = scmfit("influence", "--model", model_id, "--target", "Z", "--address", server.address)
    assert "Intrinsic causal influence on Var(Z)" in table.stdout and "Y -> Z" in table.stdout
    with_ci = scmfit(
        "influence", "--model", model_id, "--target", "Z", "--samples", "3000", "--ci", "0.9", "--bootstrap", "10",
        "--address", server.address,
    )  # fmt: skip
    assert with_ci.returncode == 0, with_ci.stderr
    edge = next(line for line in with_ci.stdout.splitlines() if "Y -> Z" in line)
    assert edge.rstrip().endswith("90%, 10 bootstrap refits") and "[" in edge
    attributed = scmfit(
        "attribute", "--model", model_id, "--target", "Z", "--rows", str(rows), "--ci", "0.9", "--bootstrap", "10",
        "--json", "--address", server.address,
    )  # fmt: skip
    interval = json.loads(attributed.stdout)[0]["intervals"]["Y"]
    assert interval["num_bootstrap"] == 10 and interval["lower"] < interval["upper"]


def test_check_graph_names_the_violation_and_the_missing_edge(server: ServerProcess, tmp_path: Path) -> None:
    from tests.integration.test_graph_check import CODE_GRAPH, traces

    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"nodes": CODE_GRAPH[0], "edges": [list(edge) for edge in CODE_GRAPH[1]]}))
    rows = tmp_path / "traces.csv"
    data = traces()
    rows.write_text(
        ",".join(data) + "\n" + "".join(",".join(repr(float(data[n][i])) for n in data) + "\n" for i in range(400))
    )
    done = scmfit("check-graph", "--graph", str(graph), "--traces", str(rows), "--address", server.address)
    assert done.returncode == 0, done.stderr
    assert "violates 1 of 13 independences" in done.stdout
    assert "C depends on A given B, D" in done.stdout and "missing edge? A -> C" in done.stdout
    as_json = scmfit("check-graph", "--graph", str(graph), "--traces", str(rows), "--json", "--address", server.address)
    assert json.loads(as_json.stdout)["suggested_edges"] == [["A", "C"]]
    usage = scmfit("check-graph", "--graph", str(graph), "--address", server.address)
    assert usage.returncode == 2 and "--traces" in usage.stderr


def test_change_names_the_changed_mechanism_first(server: ServerProcess, tmp_path: Path) -> None:
    from tests.integration.test_distribution_change import GRAPH, version

    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"nodes": GRAPH[0], "edges": [list(edge) for edge in GRAPH[1]]}))
    files = {}
    for name, data in (("old", version(1, 0.0)), ("new", version(2, 2.0))):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps({column: values.tolist() for column, values in data.items()}))
    args = ("change", "--graph", str(graph), "--old", str(files["old"]), "--new", str(files["new"]), "--target", "Z")
    done = scmfit(*args, "--address", server.address)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "mechanisms that changed: Y" in lines[0]
    assert lines[2].split()[0] == "Y" and lines[2].split()[-1] == "yes"
    as_json = json.loads(scmfit(*args, "--json", "--address", server.address).stdout)
    assert as_json["nodes"][0]["node"] == "Y" and as_json["nodes"][0]["changed"] is True
