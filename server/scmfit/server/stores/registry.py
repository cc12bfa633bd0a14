"""Fitted models as resources: an LRU, byte-bounded, optionally TTL'd store in memory, backed by a
private directory or by an object store shared with other replicas (stores/model_index.py says which,
stores/sealing.py how files are signed and checked).

The main process keeps only bytes here: each entry's FitResult message and the pickled model that
our own worker produced. Unpickling happens in workers, and only of bytes that came from a worker
or from a file signed with this server's key (checked by name pattern and HMAC before any use).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

from scmfit.server.domain.errors import FieldViolation, InvalidRequestError, ModelNotFoundError
from scmfit.server.domain.identity import MIN_PREFIX, MODEL_ID_PATTERN, MODEL_REF_PATTERN
from scmfit.server.stores.model_index import LocalIndex, MemoryOnly, ModelIndex, SharedIndex
from scmfit.server.stores.modelfiles import DirectoryFiles, FileInfo, ModelFiles
from scmfit.server.stores.models import ListedModel, StoredModel
from scmfit.server.stores.sealing import SealedFiles
from scmfit.server.stores.signing import ModelKeys

_log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

__all__ = ["ListedModel", "ModelRegistry", "StoredModel", "check_model_id", "check_model_ref"]


def check_model_id(model_id: str, field_name: str = "model_id") -> str:
    """Ids are validated before any lookup, so a client string never reaches the file system."""
    if not MODEL_ID_PATTERN.fullmatch(model_id):
        raise InvalidRequestError(
            [FieldViolation(field_name, f"not a model id (64 lowercase hex characters): {model_id[:80]!r}")]
        )
    return model_id


def check_model_ref(reference: str, field_name: str = "model_id") -> str:
    """A full id, or a prefix of at least MIN_PREFIX hex characters (as git takes commit ids)."""
    if not MODEL_REF_PATTERN.fullmatch(reference):
        raise InvalidRequestError(
            [
                FieldViolation(
                    field_name,
                    f"not a model id: expected {MIN_PREFIX} to 64 lowercase hex characters, got {reference[:80]!r}",
                )
            ]
        )
    return reference


class ModelRegistry:
    """Thread-safe; RPC threads read and write it concurrently."""

    def __init__(
        self,
        max_bytes: int,
        *,
        ttl_seconds: float | None = None,
        directory: Path | None = None,
        keys: ModelKeys | None = None,
        disk_bytes: int | None = None,
        files: ModelFiles | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self.disk_bytes = disk_bytes
        self._memory: OrderedDict[str, StoredModel] = OrderedDict()
        self._memory_bytes = 0
        self._listed: dict[str, ListedModel] = {}
        """Index entries of stored models this replica has seen (written, read, or listed from the store's
        index): a listing reads these, never a model."""
        self._lock = threading.RLock()
        files = files if files is not None else DirectoryFiles(directory) if directory is not None else None
        self._index: ModelIndex = MemoryOnly()
        if files is not None:
            if keys is None:
                raise ValueError("a model directory or store needs a signing key")
            sealed = SealedFiles(files, keys, max_bytes)
            if files.shared:
                self._index = SharedIndex(sealed, self._lock)
            else:
                local = LocalIndex(sealed, self._lock, disk_bytes, forget=lambda mid: self._listed.pop(mid, None))
                self._listed.update(local.scan())
                self._index = local

    # -- public API -------------------------------------------------------------------------

    def put(self, model: StoredModel) -> StoredModel:
        """Stores (or refreshes) a model; it is in its store, when there is one, before this returns."""
        model = replace(model, last_use_time=time.time(), persisted=self._index.persists)
        self._index.write(model)
        with self._lock:
            self._insert(model)
            if model.persisted:
                self._listed[model.model_id] = ListedModel.of(model)
        return model

    def resolve(self, reference: str, field_name: str = "model_id") -> str:
        """The full id for a full id or a unique prefix; an ambiguous prefix lists its candidates."""
        check_model_ref(reference, field_name)
        if len(reference) == 64:
            return reference
        with self._lock:
            self._expire(time.time())
            known = {model_id for model_id in self._memory if model_id.startswith(reference)}
        matches = sorted(known | self._index.ids(reference))
        if not matches:
            raise ModelNotFoundError(reference)
        if len(matches) > 1:
            shown = ", ".join(matches[:10]) + (f" and {len(matches) - 10} more" if len(matches) > 10 else "")
            raise InvalidRequestError(
                [
                    FieldViolation(
                        field_name,
                        f"the prefix {reference!r} is ambiguous: it matches {len(matches)} models ({shown}); "
                        "give more characters",
                    )
                ]
            )
        return matches[0]

    def get(self, reference: str) -> StoredModel:
        """A use of the model (fit, get, query): it refreshes the model's TTL and LRU position.

        Raises ModelNotFoundError naming the id when it is unknown, evicted or expired.
        """
        model_id = self.resolve(reference)
        now = time.time()
        if self._index.gone(model_id):
            with self._lock:  # another replica deleted it
                self._remove_from_memory(model_id)
            raise ModelNotFoundError(model_id)
        with self._lock:
            self._expire(now)
            model = self._memory.get(model_id)
            if model is not None:
                self._memory.move_to_end(model_id)
                model = replace(model, last_use_time=now)
                self._memory[model_id] = model
                return model
        loaded = self._index.load(model_id)
        if loaded is None:
            with self._lock:
                self._listed.pop(model_id, None)
            raise ModelNotFoundError(model_id)
        loaded = replace(loaded, last_use_time=now)
        with self._lock:
            self._insert(loaded)
            listed_before = model_id in self._listed
            self._listed[model_id] = ListedModel.of(loaded)
        self._index.loaded(loaded, listed_before)
        return loaded

    def listed(self, model_id: str, info: FileInfo | None = None) -> ListedModel | None:
        """A pure read for listing: no TTL refresh, no LRU move, and never a model's bytes. A shared
        store's models that this replica has not seen come from their index entries."""
        with self._lock:
            model = self._memory.get(model_id)
            if model is not None:
                return ListedModel.of(model)
            known = self._listed.get(model_id)
        if known is not None:
            return known
        entry = self._index.listing(model_id, info)
        if entry is not None:
            with self._lock:
                self._listed[model_id] = entry
        return entry

    def find(self, model_id: str) -> StoredModel | None:
        try:
            return self.get(model_id)
        except ModelNotFoundError:
            return None

    def delete(self, reference: str) -> str:
        """Returns the full id that was deleted."""
        model_id = self.resolve(reference)
        with self._lock:
            in_memory = self._remove_from_memory(model_id)
            self._listed.pop(model_id, None)
        if not self._index.delete(model_id, in_memory):
            raise ModelNotFoundError(model_id)
        return model_id

    def page(self, page_size: int, page_token: str) -> tuple[list[ListedModel], str, int]:
        """Newest first, keyed on (create time, id) so that inserts never shift a page already served."""
        size = DEFAULT_PAGE_SIZE if page_size == 0 else min(page_size, MAX_PAGE_SIZE)
        after = _decode_token(page_token) if page_token else None
        with self._lock:
            self._expire(time.time())
            in_memory = {mid: m.create_time for mid, m in self._memory.items()}
        keys, infos = self._index.page(in_memory)
        ordered = sorted(keys.items(), key=lambda item: (-item[1], item[0]))
        if after is not None:
            ordered = [item for item in ordered if (-item[1], item[0]) > (-after[1], after[0])]
        chosen = ordered[:size]
        models = [m for m in (self.listed(mid, infos.get(mid)) for mid, _ in chosen) if m is not None]
        token = _encode_token(chosen[-1]) if len(ordered) > size else ""
        return models, token, len(keys)

    def stats(self) -> tuple[int, int]:
        """Models held here (memory and private directory; a shared store is not counted here) and bytes."""
        with self._lock:
            return len(set(self._memory) | self._index.held()), self._memory_bytes

    def unverified(self) -> tuple[int, int]:
        """Files in the model directory that no key of ours verifies, and their bytes."""
        return self._index.unverified()

    # -- memory -----------------------------------------------------------------------------

    def _insert(self, model: StoredModel) -> None:
        self._remove_from_memory(model.model_id)
        self._memory[model.model_id] = model
        self._memory_bytes += model.size_bytes
        while self._memory_bytes > self.max_bytes and len(self._memory) > 1:
            evicted_id, evicted = self._memory.popitem(last=False)
            self._memory_bytes -= evicted.size_bytes
            _log.info(
                "evicted model %s (%d bytes) from memory%s",
                evicted_id[:12],
                evicted.size_bytes,
                "; it stays in its store" if evicted.persisted else "",
            )

    def _remove_from_memory(self, model_id: str) -> bool:
        old = self._memory.pop(model_id, None)
        if old is not None:
            self._memory_bytes -= old.size_bytes
        return old is not None

    def _expire(self, now: float) -> None:
        if self.ttl_seconds is None:
            return
        expired = [mid for mid, m in self._memory.items() if now - m.last_use_time > self.ttl_seconds]
        expired += self._index.expire(now, self.ttl_seconds, set(self._memory), set(expired))
        for model_id in expired:
            self._remove_from_memory(model_id)
            self._listed.pop(model_id, None)
            _log.info("model %s expired (ttl %ss)", model_id[:12], self.ttl_seconds)


def _encode_token(key: tuple[str, float]) -> str:
    return base64.urlsafe_b64encode(json.dumps([key[0], key[1]]).encode()).decode()


def _decode_token(token: str) -> tuple[str, float]:
    try:
        model_id, create_time = json.loads(base64.urlsafe_b64decode(token.encode()))
        check_model_id(str(model_id))
        return str(model_id), float(create_time)
    except (ValueError, TypeError, RecursionError, InvalidRequestError):
        raise InvalidRequestError(
            [FieldViolation("page_token", "not a token from a previous ListModels page")]
        ) from None
