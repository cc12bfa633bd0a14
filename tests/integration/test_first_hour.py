"""What a new user meets in the first hour, through the real commands in subprocesses: one line and exit 2
where a traceback used to be, every default in --help, and a flag for every fit setting."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from scmfit.v1 import causal_model_service_pb2 as pb
from tests.conftest import fixture_path, fresh_seed
from tests.integration.test_cli import scmfit
from tests.serverproc import REPO, ServerProcess, server_python

CLIENT_ONLY_PYTHON = REPO / ".venv-client313/bin/python"
"""setup.sh's client-only environment: the client and CLI, none of the server's dependencies."""


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.server_internals
def test_a_busy_port_is_one_line_naming_the_flag_and_exit_two(busy_port: int) -> None:
    done = subprocess.run(
        [server_python(), "-m", "scmfit.client.cli", "serve", "--address", f"127.0.0.1:{busy_port}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith("error: cannot listen on 127.0.0.1:") and "--address" in line
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.skipif(not CLIENT_ONLY_PYTHON.exists(), reason="setup.sh makes the client-only environment")
def test_serve_from_a_client_only_install_is_one_line_naming_the_extra() -> None:
    done = subprocess.run(
        [str(CLIENT_ONLY_PYTHON), "-m", "scmfit.client.cli", "serve"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "server extra" in one_line(done.stderr) and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "command", ["fit", "query", "effect", "counterfactual", "delete", "health", "models", "web", "serve"]
)
def test_help_shows_every_default(command: str) -> None:
    if command == "serve" and importlib.util.find_spec("pebble") is None:
        pytest.skip("a client-only install has no server flags; it says so in one line (tested above)")
    done = scmfit(command, "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "(default: 127.0.0.1:" in text  # the address, in every command that has one
    if command == "query":
        assert "(default: 1000)" in text
    if command == "serve":
        for shown in ("(default: 2000000)", "(default: INFO)", "(default: 10.0)", "(default: 16)"):
            assert shown in text, shown


def test_every_fit_setting_has_a_flag_documented_by_the_proto() -> None:
    text = " ".join(scmfit("fit", "--help").stdout.split())
    for field in pb.FitConfig.DESCRIPTOR.fields:
        assert f"--{field.name.replace('_', '-')}" in text, field.name
    assert "within [0, 0.5]; default 0.2" in text  # test_fraction, in the proto's words


def test_the_derived_flags_reach_the_server(server: ServerProcess) -> None:
    seed = fresh_seed()
    done = scmfit(
        "fit", "--case", str(fixture_path("linear_chain")), "--address", server.address, "--json",
        "--seed", str(seed), "--test-fraction", "0.25", "--min-samples", "50", "--no-linear-screening",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    metadata = json.loads(done.stdout)["metadata"]
    assert (int(metadata["seed"]), metadata["testFraction"]) == (seed, 0.25)
    assert metadata.get("linearScreening", False) is False


def test_a_wrong_value_for_a_derived_flag_is_an_argparse_error() -> None:
    done = scmfit("fit", "--case", str(fixture_path("linear_chain")), "--seed", "many")
    assert done.returncode == 2 and "--seed" in done.stderr


def test_readme_ranges_and_defaults_match_the_server() -> None:
    """The README's FitConfig table states each range as FIT_RANGES does and each default as FitSettings
    does (the proto's comments are checked the same way in test_trust and test_shapes)."""
    pytest.importorskip("dowhy")  # FIT_RANGES and FitSettings are the server's
    from scmfit.server.domain.settings import FIT_RANGES, FitSettings

    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("| field |") :]
    table = table[: table.index("\n\n")]
    for name, allowed in FIT_RANGES.items():
        row = next((line for line in table.splitlines() if line.startswith(f"| `{name}`")), None)
        assert row is not None, f"{name} has no row in the README's FitConfig table"
        assert allowed.describe().removeprefix("0 or ").removeprefix("within ") in row, (name, row)
    defaults = FitSettings()
    for field in pb.FitConfig.DESCRIPTOR.fields:
        row = next((line for line in table.splitlines() if line.startswith(f"| `{field.name}`")), None)
        assert row is not None, f"{field.name} has no row in the README's FitConfig table"
        stated = row.split("|")[2].strip()
        value = getattr(defaults, field.name)
        expected = str(value).lower() if isinstance(value, bool) else getattr(value, "name", str(value))
        assert expected in stated, (field.name, stated)


def test_explain_says_classifiers_are_searched_exhaustively_on_log_loss(server: ServerProcess, tmp_path: Path) -> None:
    """The server chooses classifiers with DoWhy's exhaustive search; --explain must not call it racing."""
    rows = 300
    (tmp_path / "graph.json").write_text(json.dumps({"nodes": ["x", "mode"], "edges": [["x", "mode"]]}))
    labels = ["slow" if i % 3 == 0 else "fast" for i in range(rows)]
    (tmp_path / "traces.csv").write_text(
        "x,mode\n" + "".join(f"{i % 3 + (i % 7) * 0.01},{label}\n" for i, label in enumerate(labels))
    )
    done = scmfit(
        "fit", "--graph", str(tmp_path / "graph.json"), "--traces", str(tmp_path / "traces.csv"),
        "--address", server.address, "--explain", "--seed", str(fresh_seed()),
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    assert "mode: DoWhy's exhaustive search, every candidate scored on every fold" in done.stdout
    assert "loss: log loss on each held-out fold, averaged (nats" in done.stdout
    assert "racing" not in done.stdout.split("model selection:")[1]


def test_a_categorical_parent_reads_as_contrasts_against_its_reference(server: ServerProcess, tmp_path: Path) -> None:
    """y = 1 + 2x + effect(mode): the table shows each category against the first (fast), which are the
    identified numbers (+3 and +8), and the intercept at the reference (1 - 3 = -2)."""
    rng = np.random.default_rng(3)
    effect = {"fast": -3.0, "normal": 0.0, "slow": 5.0}
    modes = rng.choice(sorted(effect), size=400)
    x = rng.normal(size=400)
    y = [effect[m] + 2 * v + 1 + rng.normal(scale=0.05) for m, v in zip(modes, x, strict=True)]
    (tmp_path / "graph.json").write_text(
        json.dumps({"nodes": ["mode", "x", "y"], "edges": [["mode", "y"], ["x", "y"]]})
    )
    (tmp_path / "traces.csv").write_text(
        "mode,x,y\n" + "".join(f"{m},{a},{b}\n" for m, a, b in zip(modes, x, y, strict=True))
    )
    done = scmfit(
        "fit", "--graph", str(tmp_path / "graph.json"), "--traces", str(tmp_path / "traces.csv"),
        "--address", server.address, "--seed", str(fresh_seed()),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("y "))
    found = {m.group(1): float(m.group(2)) for m in re.finditer(r"mode\[(\w+) vs fast\]=(-?[\d.]+)", row)}
    assert found == pytest.approx({"normal": 3.0, "slow": 8.0}, abs=0.05)
    intercept = re.search(r"\((-?[\d.e+-]+)\)$", row)
    assert intercept is not None and float(intercept.group(1)) == pytest.approx(-2.0, abs=0.05)
    assert "mode=fast" not in row  # no unidentified raw one-hot weights in the table


def test_liftsys_check_runs_its_pythons_apart_from_the_current_directory(tmp_path: Path) -> None:
    """A `scmfit/` folder where the script is run joins the namespace package unless Python runs with -P;
    every Python the script starts from this checkout's environment does."""
    script = (REPO / "scripts/liftsys_check.sh").read_text()
    invocations = re.findall(r'"\$here/\.venv/bin/python"[^\n]*', script)
    assert len(invocations) >= 2 and all(line.split()[1] == "-P" for line in invocations), invocations
    (tmp_path / "scmfit/client").mkdir(parents=True)
    (tmp_path / "scmfit/client/__init__.py").write_text("raise SystemExit('shadowed')\n")
    probe = ["-c", "import scmfit.client"]
    assert subprocess.run([server_python(), *probe], cwd=tmp_path, capture_output=True, check=False).returncode != 0
    assert (
        subprocess.run([server_python(), "-P", *probe], cwd=tmp_path, capture_output=True, check=False).returncode == 0
    )
