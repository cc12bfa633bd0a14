"""Hostile node names through the real CLI, in a subprocess, on a pipe and on a terminal (a pty): every
name is shown literally, with control characters escaped, and never read as rich markup."""

from __future__ import annotations

import itertools
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.serverproc import ServerProcess

HOSTILE = [
    "[link=http://evil.example]x[/link]",
    "[/]",
    "arr[i]",
    "osc\x1b]8;;http://evil.example\x07click\x1b]8;;\x07",
    "red\x1b[31mtext",
    "line\nSUCCESS: forged",
]
OSC_LINK = re.compile(rb"\x1b\]8;")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(11)
    columns = {HOSTILE[0]: rng.normal(size=300)}
    for previous, name in itertools.pairwise(HOSTILE):
        columns[name] = 2.0 * columns[previous] + 0.1 * rng.normal(size=300)
    graph, traces = directory / "graph.json", directory / "traces.json"
    graph.write_text(json.dumps({"nodes": HOSTILE, "edges": [list(e) for e in itertools.pairwise(HOSTILE)]}))
    traces.write_text(json.dumps({name: values.tolist() for name, values in columns.items()}))
    return graph, traces


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "scmfit.client.cli", *args]


def on_pipe(*args: str) -> tuple[int, bytes]:
    done = subprocess.run(command(*args), capture_output=True, timeout=300, check=False)
    return done.returncode, done.stdout


def on_terminal(*args: str) -> tuple[int, bytes]:
    """The command with a pty as stdout and stderr, so the CLI takes its rich path."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "400", "LINES": "60", "TERM": "xterm-256color"}
    process = subprocess.Popen(command(*args), stdout=follower, stderr=follower, env=env)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=300), output


def plain_text(output: bytes) -> str:
    """What a reader sees: rich's own CSI sequences (colours, the progress bar's cursor moves) removed."""
    return re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", output).decode()


def assert_literal(output: bytes) -> None:
    assert not OSC_LINK.search(output), "a name became a live terminal link"
    assert b"\x07" not in output and b"\x1b]" not in output
    assert b"red\x1b[31mtext" not in output  # the name's own escape never reaches the terminal raw
    text = plain_text(output)
    assert "\x1b" not in text  # only rich's SGR styling was there
    assert not any(line.startswith("SUCCESS: forged") for line in text.splitlines())
    for name in ("[link=http://evil.example]x[/link]", "arr[i]", "[/]", "line\\nSUCCESS: forged"):
        assert name in text, name
    assert "osc\\x1b]8;;http://evil.example\\x07click" in text and "red\\x1b[31mtext" in text


@pytest.mark.parametrize("run", [on_pipe, on_terminal], ids=["pipe", "terminal"])
def test_hostile_names_are_shown_literally_in_fit_and_explain(
    server: ServerProcess, files: tuple[Path, Path], run: object
) -> None:
    graph, traces = files
    code, output = run("fit", "--graph", str(graph), "--traces", str(traces), "--explain", "--address", server.address)  # type: ignore[operator]
    assert code == 0, output.decode(errors="replace")
    assert_literal(output)
    assert b"SUCCESS" in output


def test_hostile_names_are_shown_literally_in_models_and_query(server: ServerProcess, files: tuple[Path, Path]) -> None:
    graph, traces = files
    code, output = on_pipe("fit", "--graph", str(graph), "--traces", str(traces), "--json", "--address", server.address)
    assert code == 0
    model_id = json.loads(output)["modelId"]
    code, listing = on_terminal("models", "--address", server.address)
    assert code == 0
    line = next(raw for raw in plain_text(listing).splitlines() if raw.startswith(model_id))
    assert "line\\nSUCCESS: forged" in line and "[link=http://evil.example]x[/link]" in line
    code, sampled = on_pipe("query", "--model", model_id, "--samples", "100", "--address", server.address)
    assert code == 0, sampled.decode(errors="replace")
    assert_literal(sampled)
