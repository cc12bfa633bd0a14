"""Models fitted before a restart with --model-dir answer queries after it; damaged files are skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from scmfit.client import Client, NotFoundError
from tests.conftest import fixture_case
from tests.serverproc import start_server


def test_models_survive_a_restart_and_a_truncated_file_is_skipped(tmp_path: Path) -> None:
    model_dir = tmp_path / "models"
    chain, multi = fixture_case("linear_chain"), fixture_case("multi_parent")
    first = start_server("--model-dir", str(model_dir), workers=1)
    try:
        with Client(first.address, timeout=120) as client:
            kept = client.fit(chain.graph, chain.traces)
            damaged = client.fit(multi.graph, multi.traces)
            before = client.sample(kept.model_id, {"X": 2.0}, seed=11, include_samples=True)
    finally:
        assert first.terminate() == 0, first.log()

    damaged_file = model_dir / f"{damaged.model_id}.scmfit"
    damaged_file.write_bytes(damaged_file.read_bytes()[:200])

    second = start_server("--model-dir", str(model_dir), workers=1)
    try:
        with Client(second.address, timeout=120) as client:
            result, summary = client.get_model(kept.model_id)
            assert result.raw == kept.raw and summary.persisted
            after = client.sample(kept.model_id, {"X": 2.0}, seed=11, include_samples=True)
            assert after.statistics["Z"].mean == pytest.approx(before.statistics["Z"].mean)
            assert (after.samples["Z"] == before.samples["Z"]).all()
            refit = client.fit(chain.graph, chain.traces)
            assert refit.reused and refit.model_id == kept.model_id
            with pytest.raises(NotFoundError):
                client.get_model(damaged.model_id)
            assert client.health() == "SERVING"
    finally:
        assert second.terminate() == 0, second.log()
    assert f"skipping model file {damaged.model_id}.scmfit" in second.log()
