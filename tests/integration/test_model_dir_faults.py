"""The model directory's failures, through the real server: a lost key refuses to start instead of hiding
every model, files nobody can verify are counted and go first, and a full disk is a clear, passing error."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scmfit.client import Client, ResourceExhaustedError
from tests.conftest import fixture_case, fresh_seed
from tests.serverproc import server_python, start_server

pytestmark = pytest.mark.server_internals  # reads files and metrics of the server


def serve_once(*args: str) -> subprocess.CompletedProcess[str]:
    """`scmfit serve` expected to exit at start-up (the command's own exit code and message)."""
    return subprocess.run(
        [server_python(), "-m", "scmfit.server", "--address", "127.0.0.1:0", "--workers", "1", "--no-warm-up", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_lost_key_refuses_to_start_naming_the_key_and_the_way_out(tmp_path: Path) -> None:
    model_dir = tmp_path / "models"
    server = start_server("--model-dir", str(model_dir), "--no-warm-up", workers=1)
    try:
        case = fixture_case("linear_chain")
        with Client(server.address, timeout=120) as client:
            model_id = client.fit(case.graph, case.traces, seed=fresh_seed()).model_id
    finally:
        assert server.terminate() == 0, server.log()
    key = tmp_path / "models.key"
    assert key.exists() and (model_dir / f"{model_id}.scmfit").exists()
    key.unlink()
    refused = serve_once("--model-dir", str(model_dir))
    assert refused.returncode != 0
    message = refused.stderr
    assert f"{model_dir} holds 1 signed model file(s), but their key {key} is missing" in message
    assert "--model-key-file" in message and "--previous-model-key-file" in message
    assert not key.exists()  # no new key was made up behind the operator's back
    assert "Traceback" not in message


def test_files_no_key_verifies_are_counted_and_deleted_first_under_the_budget(tmp_path: Path) -> None:
    model_dir = tmp_path / "models"
    first = start_server("--model-dir", str(model_dir), "--no-warm-up", workers=1)
    try:
        with Client(first.address, timeout=120) as client:
            kept = client.fit(fixture_case("linear_chain").request(seed=fresh_seed())).model_id
    finally:
        assert first.terminate() == 0, first.log()
    size = (model_dir / f"{kept}.scmfit").stat().st_size
    forged = model_dir / f"{'ab' * 32}.scmfit"
    forged.write_bytes(b"SCMFIT-MODEL-2\n" + os.urandom(4 * size))
    os.utime(forged, (1, 1))  # older than the real model, but it still goes first
    second = start_server(
        "--model-dir", str(model_dir), "--metrics-port", "0", "--model-dir-bytes", str(6 * size), "--no-warm-up",
        workers=1,
    )  # fmt: skip
    try:
        assert second.metric("scmfit_unverified_model_files") == 1
        assert second.metric("scmfit_unverified_model_bytes") == forged.stat().st_size
        with Client(second.address, timeout=120) as client:
            # A second model passes the budget (1 + 4 + 1 sizes, plus margin): the forged file goes, not `kept`.
            client.fit(fixture_case("multi_parent").request(seed=fresh_seed()))
            client.fit(fixture_case("complex_dag").request(seed=fresh_seed()))
            assert client.get_model(kept)[0].model_id == kept
        assert not forged.exists()
        assert second.metric("scmfit_unverified_model_files") == 0
    finally:
        assert second.terminate() == 0, second.log()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of its own, so the test can fill it; needs root (CI runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_resource_exhausted_leaves_nothing_and_later_fits_work(small_disk: Path) -> None:
    model_dir = small_disk / "models"
    server = start_server("--model-dir", str(model_dir), "--model-key-file", str(key_file(small_disk)), workers=1)
    try:
        filler = small_disk / "filler"
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        filler.write_bytes(b"\0" * (free - 4096))  # room for a page, not for a model
        case = fixture_case("complex_dag")
        with Client(server.address, timeout=120) as client:
            with pytest.raises(ResourceExhaustedError) as full:
                client.fit(case.graph, case.traces, seed=fresh_seed())
            assert f"the model directory {model_dir} is full" in full.value.message
            assert [path.name for path in model_dir.iterdir()] == []  # no temporary file left behind
            assert client.health() == "SERVING"
            filler.unlink()
            result = client.fit(case.graph, case.traces, seed=fresh_seed())
            assert (model_dir / f"{result.model_id}.scmfit").exists()
    finally:
        assert server.terminate() == 0, server.log()


def key_file(directory: Path) -> Path:
    key = directory.parent / "model.key"
    key.write_text("k" * 64)
    return key
