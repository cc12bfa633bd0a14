"""The real `scmfit` command's effect, counterfactual and delete, through the real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
