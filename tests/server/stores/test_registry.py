"""The model registry: byte-bounded LRU, TTL, atomic files that survive restarts, corrupt files skipped."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from scmfit.server.domain.errors import InvalidRequestError, ModelNotFoundError
from scmfit.server.domain.fit import ColumnType
from scmfit.server.stores.registry import ModelRegistry, StoredModel
from scmfit.server.stores.signing import ModelKeys

KEYS = ModelKeys(b"k" * 32)


def model(index: int, size: int = 100) -> StoredModel:
    return StoredModel(
        model_id=f"{index:064x}",
        result=b"r" * 10,
        blob=bytes([index % 256]) * size,
        kinds={"X": ColumnType.DOUBLE, "Y": ColumnType.INT64},
        create_time=1000.0 + index,
    )


def test_put_get_and_unknown_id() -> None:
    registry = ModelRegistry(10_000)
    registry.put(model(1))
    assert registry.get(model(1).model_id).blob == model(1).blob
    with pytest.raises(ModelNotFoundError, match=model(2).model_id):
        registry.get(model(2).model_id)


def test_ids_are_validated_before_use() -> None:
    registry = ModelRegistry(10_000)
    for bad in ("", "../x", "A" * 64, "0" * 7, "0" * 65, "0" * 64 + "\n", "0" * 8 + "/"):
        with pytest.raises(InvalidRequestError):
            registry.get(bad)
    for unknown in ("0" * 63, "0" * 8):  # well-formed prefixes of no stored model
        with pytest.raises(ModelNotFoundError):
            registry.get(unknown)


def test_least_recently_used_models_are_evicted_by_bytes() -> None:
    registry = ModelRegistry(350)  # room for three 110-byte models
    for i in range(3):
        registry.put(model(i))
    registry.get(model(0).model_id)  # 0 is now the most recently used
    registry.put(model(3))
    with pytest.raises(ModelNotFoundError):
        registry.get(model(1).model_id)
    for i in (0, 2, 3):
        registry.get(model(i).model_id)
    assert registry.stats() == (3, 330)


def test_ttl_expires_unused_models() -> None:
    registry = ModelRegistry(10_000, ttl_seconds=0.2)
    registry.put(model(1))
    time.sleep(0.3)
    with pytest.raises(ModelNotFoundError):
        registry.get(model(1).model_id)


def test_models_survive_a_restart_and_eviction_falls_back_to_disk(tmp_path: Path) -> None:
    first = ModelRegistry(150, directory=tmp_path, keys=KEYS)
    first.put(model(1))
    first.put(model(2))  # evicts 1 from memory; it stays on disk
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{model(1).model_id}.scmfit",
        f"{model(2).model_id}.scmfit",
    ]
    assert first.get(model(1).model_id).blob == model(1).blob
    second = ModelRegistry(10_000, directory=tmp_path, keys=KEYS)
    loaded = second.get(model(2).model_id)
    assert (loaded.blob, loaded.result, dict(loaded.kinds)) == (
        model(2).blob,
        model(2).result,
        dict(model(2).kinds),
    )
    assert loaded.persisted
    second.delete(model(2).model_id)
    assert not (tmp_path / f"{model(2).model_id}.scmfit").exists()


def test_truncated_and_foreign_files_are_skipped_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = ModelRegistry(10_000, directory=tmp_path, keys=KEYS)
    registry.put(model(1))
    registry.put(model(2))
    path = tmp_path / f"{model(1).model_id}.scmfit"
    path.write_bytes(path.read_bytes()[:-40])  # a half-written file
    (tmp_path / "notes.scmfit").write_bytes(b"hello")
    renamed = tmp_path / f"{model(3).model_id}.scmfit"  # intact content under another id's name
    renamed.write_bytes((tmp_path / f"{model(2).model_id}.scmfit").read_bytes())
    with caplog.at_level(logging.WARNING):
        restarted = ModelRegistry(10_000, directory=tmp_path, keys=KEYS)
    assert restarted.get(model(2).model_id).blob == model(2).blob
    for missing in (model(1).model_id, model(3).model_id):
        with pytest.raises(ModelNotFoundError):
            restarted.get(missing)
    text = caplog.text
    assert "not signed with this server's key" in text and "notes.scmfit" in text and "does not match" in text


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    registry = ModelRegistry(10_000, directory=tmp_path, keys=KEYS)
    for i in range(5):
        registry.put(model(i))
    assert all(p.suffix == ".scmfit" and not p.name.startswith(".") for p in tmp_path.iterdir())


def test_pages_are_newest_first_and_stable() -> None:
    registry = ModelRegistry(100_000)
    for i in range(7):
        registry.put(model(i))
    page, token, total = registry.page(3, "")
    assert total == 7
    seen = [m.model_id for m in page]
    registry.put(model(100))  # a newer model must not shift the pages still to come
    while token:
        page, token, _ = registry.page(3, token)
        seen += [m.model_id for m in page]
    assert seen == [model(i).model_id for i in reversed(range(7))]
    with pytest.raises(InvalidRequestError) as caught:
        registry.page(3, "garbage")
    assert caught.value.violations[0].field == "page_token"


def test_an_ambiguous_prefix_lists_its_candidates_and_a_unique_one_resolves() -> None:
    registry = ModelRegistry(10_000)
    twins = [
        StoredModel(model_id=f"abcdef12{i:x}" + "0" * 55, result=b"r", blob=b"b", kinds={}, create_time=1.0)
        for i in (1, 2)
    ]
    for twin in twins:
        registry.put(twin)
    with pytest.raises(InvalidRequestError) as caught:
        registry.get("abcdef12")
    description = caught.value.violations[0].description
    assert "ambiguous" in description and twins[0].model_id in description and twins[1].model_id in description
    assert registry.get(twins[1].model_id[:9]).model_id == twins[1].model_id
    assert registry.delete(twins[0].model_id[:10]) == twins[0].model_id
    assert registry.get("abcdef12").model_id == twins[1].model_id  # unique again


def test_listing_is_a_pure_read_for_the_lru_and_the_ttl() -> None:
    registry = ModelRegistry(350)  # room for three 110-byte models
    for i in range(3):
        registry.put(model(i))
    registry.get(model(1).model_id)
    registry.get(model(2).model_id)  # model 0 is now the least recently used
    for _ in range(3):
        listed, _, _ = registry.page(0, "")
        assert {m.model_id for m in listed} == {model(i).model_id for i in range(3)}
    registry.put(model(3))  # listing did not refresh model 0, so it is the one evicted
    with pytest.raises(ModelNotFoundError):
        registry.get(model(0).model_id)
    expiring = ModelRegistry(10_000, ttl_seconds=0.3)
    expiring.put(model(5))
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        expiring.page(0, "")  # listing every few ms must not keep it alive
        time.sleep(0.02)
    with pytest.raises(ModelNotFoundError):
        expiring.get(model(5).model_id)


def test_a_crafted_file_or_token_never_crashes(tmp_path: Path) -> None:
    import base64
    import hashlib
    import struct

    meta = b"[1,2]"  # valid JSON, wrong shape: start-up must skip it, not exit
    body = b"SCMFIT-MODEL-1\n" + b"".join(struct.pack("<Q", len(part)) + part for part in (meta, b"r", b"b"))
    (tmp_path / f"{'1' * 64}.scmfit").write_bytes(body + hashlib.sha256(body).digest())
    registry = ModelRegistry(10_000, directory=tmp_path, keys=KEYS)
    assert registry.stats()[0] == 0
    deep = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    with pytest.raises(InvalidRequestError):
        registry.page(0, deep)
