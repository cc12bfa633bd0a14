"""Models fitted before a restart with --model-dir answer queries after it; damaged files are skipped."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
import struct
from pathlib import Path

import pytest

from scmfit.client import Client, NotFoundError
from tests.conftest import fixture_case
from tests.serverproc import start_server

pytestmark = pytest.mark.server_internals  # see pyproject.toml


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


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_model_file_is_refused_before_it_can_run_code(tmp_path: Path) -> None:
    """The review's attack: a file with a valid SHA-256 whose pickle runs a command when loaded."""
    model_dir = tmp_path / "models"
    marker = tmp_path / "pwned"
    case = fixture_case("linear_chain")
    first = start_server("--model-dir", str(model_dir), workers=1)
    try:
        with Client(first.address, timeout=120) as client:
            genuine = client.fit(case.graph, case.traces)
    finally:
        assert first.terminate() == 0, first.log()
    planted_id = "ab" * 32
    genuine_file = (model_dir / f"{genuine.model_id}.scmfit").read_bytes()
    magic = genuine_file[: genuine_file.index(b"\n") + 1]
    meta = json.dumps({"model_id": planted_id, "create_time": 1.0, "kinds": {"X": "double"}}).encode()
    parts = (meta, b"", pickle.dumps(_RunsCode(marker)))
    body = magic + b"".join(struct.pack("<Q", len(part)) + part for part in parts)
    (model_dir / f"{planted_id}.scmfit").write_bytes(body + hashlib.sha256(body).digest())
    second = start_server("--model-dir", str(model_dir), workers=1)
    try:
        with Client(second.address, timeout=120) as client:
            with pytest.raises(NotFoundError):
                client.sample(planted_id, {"X": 1.0})
            assert client.get_model(genuine.model_id)[1].persisted  # the genuine file still loads
    finally:
        assert second.terminate() == 0, second.log()
    assert not marker.exists()
    assert f"skipping model file {planted_id}.scmfit" in second.log()
    assert "not signed with this server's key" in second.log()
    assert stat.S_IMODE((tmp_path / "models.key").stat().st_mode) == 0o600
