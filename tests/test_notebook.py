"""examples/notebook.ipynb runs top to bottom with nbclient against a real server, and its results render
as HTML tables (their _repr_html_), not dataclass reprs."""

from __future__ import annotations

import os

import pytest

from tests.serverproc import REPO, ServerProcess

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")


def test_the_example_notebook_runs_against_a_real_server(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(REPO / "examples" / "notebook.ipynb", as_version=4)
    monkeypatch.setenv("SCMFIT_ADDRESS", server.address)  # the kernel inherits this process's environment
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO / "client"), os.environ.get("PYTHONPATH", "")]))
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    ).execute()
    shown = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "execute_result"
    ]
    assert len(shown) == 6
    assert all("text/html" in output["data"] for output in shown)
    fit_html = shown[0]["data"]["text/html"]
    assert "<svg" in fit_html and "latency" in fit_html
    committed = nbformat.read(REPO / "examples" / "notebook.ipynb", as_version=4)
    assert all(not cell.outputs for cell in committed.cells if cell.cell_type == "code")  # committed clean
