"""Model files are signed: forged, foreign-key and pre-signing files are refused before any parsing;
keys rotate; the directory has a disk budget and stray temporary files are swept."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import struct
from pathlib import Path

import pytest

from scmfit.server.domain.errors import ModelNotFoundError
from scmfit.server.stores.registry import ModelRegistry
from scmfit.server.stores.signing import KEY_ENV, ModelKeys, load_keys
from tests.server.stores.test_registry import KEYS, model

OTHER = ModelKeys(b"o" * 32)


def path_of(directory: Path, index: int) -> Path:
    return directory / f"{model(index).model_id}.scmfit"


def forged(directory: Path, index: int, meta: object, magic: bytes, tag: bytes | None = None) -> None:
    """A file built by someone who can write to the directory but does not hold the key."""
    parts = (json.dumps(meta).encode(), b"r" * 10, b"\x80\x04cos\nsystem\n.")  # a pickle that would run code
    body = magic + b"".join(struct.pack("<Q", len(part)) + part for part in parts)
    path_of(directory, index).write_bytes(body + (tag if tag is not None else hashlib.sha256(body).digest()))


def test_forged_and_foreign_files_are_refused_and_start_up_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ModelRegistry(10_000, directory=tmp_path, keys=KEYS).put(model(1))
    ModelRegistry(10_000, directory=tmp_path, keys=OTHER).put(model(2))  # another server's key
    meta = {"model_id": model(3).model_id, "create_time": 1.0, "kinds": {}}
    forged(tmp_path, 3, meta, b"SCMFIT-MODEL-2\n")  # a SHA-256 anyone can compute
    forged(tmp_path, 4, meta, b"SCMFIT-MODEL-1\n")  # the pre-signing format
    forged(tmp_path, 5, [1, 2], b"SCMFIT-MODEL-2\n")  # crafted metadata
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        registry = ModelRegistry(10_000, directory=tmp_path, keys=KEYS)
    assert registry.get(model(1).model_id).blob == model(1).blob
    for index in (2, 3, 4, 5):
        with pytest.raises(ModelNotFoundError):
            registry.get(model(index).model_id)
    assert caplog.text.count("not signed with this server's key") == 3
    assert "unsigned file from an older scmfit" in caplog.text


def test_crafted_metadata_signed_with_the_key_is_skipped_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Even a file under the right key (a bug, a stolen key) cannot stop start-up."""
    for index, meta in enumerate(([1, 2], {"kinds": []}, "x" * 10, {"model_id": 5, "kinds": {}}), start=1):
        body = b"SCMFIT-MODEL-2\n" + b"".join(
            struct.pack("<Q", len(part)) + part for part in (json.dumps(meta).encode(), b"", b"")
        )
        path_of(tmp_path, index).write_bytes(body + KEYS.sign(body))
    with caplog.at_level(logging.WARNING):
        registry = ModelRegistry(10_000, directory=tmp_path, keys=KEYS)
    assert registry.stats() == (0, 0)
    assert caplog.text.count("skipping model file") == 4


def test_rotation_re_signs_files_of_the_previous_key(tmp_path: Path) -> None:
    ModelRegistry(10_000, directory=tmp_path, keys=OTHER).put(model(1))
    rotated = ModelKeys(KEYS.current, previous=(OTHER.current,))
    assert ModelRegistry(10_000, directory=tmp_path, keys=rotated).get(model(1).model_id).blob == model(1).blob
    after = ModelRegistry(10_000, directory=tmp_path, keys=KEYS)  # the old key is gone now
    assert after.get(model(1).model_id).blob == model(1).blob


def test_the_directory_keeps_to_its_disk_budget_oldest_first(tmp_path: Path) -> None:
    registry = ModelRegistry(10_000, directory=tmp_path, keys=KEYS)
    registry.put(model(1))
    size = path_of(tmp_path, 1).stat().st_size
    budgeted = ModelRegistry(10_000, directory=tmp_path, keys=KEYS, disk_bytes=2 * size)
    budgeted.put(model(2))
    budgeted.put(model(3))
    assert not path_of(tmp_path, 1).exists()
    assert path_of(tmp_path, 2).exists() and path_of(tmp_path, 3).exists()
    with pytest.raises(ModelNotFoundError):
        budgeted.get(model(1).model_id)
    assert ModelRegistry(10_000, directory=tmp_path, keys=KEYS, disk_bytes=size).stats()[0] == 1  # at start-up too
    assert path_of(tmp_path, 3).exists() and not path_of(tmp_path, 2).exists()


def test_stray_temporary_files_are_swept_at_start(tmp_path: Path) -> None:
    stray = tmp_path / f".{model(1).model_id}.scmfit.123.456.tmp"
    stray.write_bytes(b"half")
    ModelRegistry(10_000, directory=tmp_path, keys=KEYS)
    assert not stray.exists()


def test_keys_come_from_the_environment_a_file_or_a_generated_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    monkeypatch.delenv(KEY_ENV, raising=False)
    generated = load_keys(models, None)
    key_path = tmp_path / "models.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert load_keys(models, None) == generated  # the same key after a restart
    explicit = tmp_path / "explicit.key"
    explicit.write_text("e" * 40 + "\n")
    assert load_keys(models, explicit).current == b"e" * 40
    monkeypatch.setenv(KEY_ENV, "v" * 32)
    assert load_keys(models, explicit).current == b"v" * 32
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(ValueError, match="at least 32"):
        load_keys(models, explicit)
    monkeypatch.delenv(KEY_ENV)
    explicit.write_text("tiny")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        load_keys(models, explicit)
    assert os.path.exists(key_path)
