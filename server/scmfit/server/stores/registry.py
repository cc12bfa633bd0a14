"""Fitted models as resources: an LRU, byte-bounded, optionally TTL'd store, backed by a directory or
by an object store shared with other replicas (stores/modelfiles.py).

The main process keeps only bytes here: each entry's FitResult message and the pickled model that
our own worker produced. Unpickling happens in workers, and only of bytes that came from a worker
or from a file signed with this server's key (checked by name pattern and HMAC before any use).
"""

from __future__ import annotations

import base64
import json
import logging
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from scmfit.server.domain.errors import FieldViolation, InvalidRequestError, ModelNotFoundError
from scmfit.server.domain.fit import ColumnType
from scmfit.server.domain.identity import MIN_PREFIX, MODEL_ID_PATTERN, MODEL_REF_PATTERN
from scmfit.server.stores.modelfiles import SUFFIX, DirectoryFiles, FileInfo, ModelFiles
from scmfit.server.stores.signing import TAG_BYTES, ModelKeys

_log = logging.getLogger(__name__)

_MAGIC = b"SCMFIT-MODEL-2\n"
_OLD_MAGIC = b"SCMFIT-MODEL-1\n"
"""Files of scmfit before signing: a bare SHA-256 that anyone could recompute; refused."""
_INDEX_MAGIC = b"SCMFIT-INDEX-1\n"
MAX_INDEX_BYTES = 16 * 1024 * 1024
"""An index entry holds a FitResult (about 1 kB a node), never a fitted model."""
_OVERHEAD_BYTES = 1024 * 1024
"""A model file's framing beyond its result and model; a file larger than the registry plus this is refused
before it is read (one planted 500 MiB object once cost 1 GB on every lookup)."""
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class StoredModel:
    """One registry entry."""

    model_id: str
    result: bytes
    """The serialized scmfit.v1.FitResult, exactly as the fit streamed it."""
    blob: bytes
    """The pickled fitted model, produced by one of our workers."""
    kinds: Mapping[str, ColumnType]
    """Each node's column type, in node order; queries are validated against it."""
    create_time: float
    last_use_time: float = field(default=0.0)
    persisted: bool = False

    @property
    def size_bytes(self) -> int:
        return len(self.result) + len(self.blob)

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self.kinds)


@dataclass(frozen=True)
class ListedModel:
    """What a listing shows of a model: everything but the fitted model itself, which it never reads."""

    model_id: str
    result: bytes
    kinds: Mapping[str, ColumnType]
    create_time: float
    size_bytes: int
    last_use_time: float = 0.0
    persisted: bool = False

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self.kinds)

    @classmethod
    def of(cls, model: StoredModel) -> ListedModel:
        return cls(
            model.model_id,
            model.result,
            model.kinds,
            model.create_time,
            model.size_bytes,
            model.last_use_time,
            model.persisted,
        )


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
        self._on_disk: dict[str, FileInfo] = {}  # persisted models (of a private directory)
        self._listed: dict[str, ListedModel] = {}
        """Index entries of stored models this replica has seen (written, read, or listed from the store's
        index): a listing reads these, never a model."""
        self._not_indexed: set[tuple[str, float, int]] = set()
        """Store objects (id, time, size) whose index entry is missing or forged: not asked for again."""
        self._unverified: dict[str, FileInfo] = {}
        """Files of the directory that failed their signature or format: never served, but on disk, so
        they count against the disk budget (and go first) and are reported."""
        self._lock = threading.Lock()
        self._files = files if files is not None else DirectoryFiles(directory) if directory is not None else None
        self._shared = self._files is not None and self._files.shared
        if self._files is not None:
            if keys is None:
                raise ValueError("a model directory or store needs a signing key")
            self._keys = keys
            if not self._shared:
                self._scan_directory()

    # -- public API -------------------------------------------------------------------------

    def put(self, model: StoredModel) -> StoredModel:
        """Stores (or refreshes) a model; it is on disk, when a directory is set, before this returns."""
        now = time.time()
        model = replace(model, last_use_time=now)
        if self._files is not None:
            size = self._write_file(model)
            model = replace(model, persisted=True)
            if self._shared:
                self._files.write_index(model.model_id, self._index_entry(model))
        with self._lock:
            self._insert(model)
            if model.persisted:
                self._listed[model.model_id] = ListedModel.of(model)
            if model.persisted and not self._shared:
                self._on_disk[model.model_id] = FileInfo(model.create_time, size)
        if model.persisted and not self._shared:
            self._enforce_disk_budget(keep=model.model_id)
        return model

    def resolve(self, reference: str, field_name: str = "model_id") -> str:
        """The full id for a full id or a unique prefix; an ambiguous prefix lists its candidates."""
        check_model_ref(reference, field_name)
        if len(reference) == 64:
            return reference
        with self._lock:
            self._expire(time.time())
            known = set(self._memory) | set(self._on_disk)
        if self._files is not None and self._shared:
            known = {mid for mid in known if mid.startswith(reference)} | set(self._files.list(reference))
        matches = sorted(model_id for model_id in known if model_id.startswith(reference))
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
        if self._files is not None and self._shared and not self._files.exists(model_id):
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
            on_disk = model_id in self._on_disk or self._shared
        if not on_disk:
            raise ModelNotFoundError(model_id)
        loaded = self._read_file(model_id)
        if loaded is None:
            with self._lock:
                self._on_disk.pop(model_id, None)
                self._listed.pop(model_id, None)
            raise ModelNotFoundError(model_id)
        loaded = replace(loaded, last_use_time=now)
        with self._lock:
            self._insert(loaded)
            healed = self._shared and model_id not in self._listed
            self._listed[model_id] = ListedModel.of(loaded)
        if healed and self._files is not None:
            # Written by a replica before index entries existed: from now on it is listed without a read.
            self._files.write_index(model_id, self._index_entry(loaded))
        return loaded

    def listed(self, model_id: str, info: FileInfo | None = None) -> ListedModel | None:
        """A pure read for listing: no TTL refresh, no LRU move, and never a model's bytes. A shared
        store's models that this replica has not seen come from their index entries."""
        with self._lock:
            model = self._memory.get(model_id)
            if model is not None:
                return ListedModel.of(model)
            known = self._listed.get(model_id)
            if known is not None or not self._shared or info is None:
                return known
            if (model_id, info.create_time, info.size) in self._not_indexed:
                return None
        entry = self._read_index(model_id)
        with self._lock:
            if entry is None:
                self._not_indexed.add((model_id, info.create_time, info.size))
            else:
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
            on_disk = self._on_disk.pop(model_id, None) is not None
            self._listed.pop(model_id, None)
        if self._files is not None and self._shared:
            on_disk = self._files.delete(model_id)
            in_memory = False  # a copy another replica already deleted is not a model
        elif on_disk:
            assert self._files is not None
            self._files.delete(model_id)
        if not (in_memory or on_disk):
            raise ModelNotFoundError(model_id)
        return model_id

    def page(self, page_size: int, page_token: str) -> tuple[list[ListedModel], str, int]:
        """Newest first, keyed on (create time, id) so that inserts never shift a page already served."""
        size = DEFAULT_PAGE_SIZE if page_size == 0 else min(page_size, MAX_PAGE_SIZE)
        after = _decode_token(page_token) if page_token else None
        with self._lock:
            self._expire(time.time())
            keys = {mid: m.create_time for mid, m in self._memory.items()}
            keys.update({mid: f.create_time for mid, f in self._on_disk.items() if mid not in keys})
        infos: dict[str, FileInfo] = {}
        if self._files is not None and self._shared:  # the store is the truth: what others wrote or deleted
            infos = self._files.list()
            keys = {mid: keys.get(mid, f.create_time) for mid, f in infos.items()}
        ordered = sorted(keys.items(), key=lambda item: (-item[1], item[0]))
        if after is not None:
            ordered = [item for item in ordered if (-item[1], item[0]) > (-after[1], after[0])]
        chosen = ordered[:size]
        models = [m for m in (self.listed(mid, infos.get(mid)) for mid, _ in chosen) if m is not None]
        token = _encode_token(chosen[-1]) if len(ordered) > size else ""
        return models, token, len(keys)

    def stats(self) -> tuple[int, int]:
        """Models held here (memory and private directory; a shared store is not listed for this) and bytes."""
        with self._lock:
            return len(set(self._memory) | set(self._on_disk)), self._memory_bytes

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
                "; it stays on disk" if evicted_id in self._on_disk else "",
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
        if self._files is not None and not self._shared:  # a shared store's objects expire by bucket lifecycle
            expired += [
                mid
                for mid, f in self._on_disk.items()
                if mid not in self._memory and now - f.create_time > self.ttl_seconds
            ]
        for model_id in expired:
            self._remove_from_memory(model_id)
            self._listed.pop(model_id, None)
            if self._on_disk.pop(model_id, None) is not None and self._files is not None:
                self._files.delete(model_id)
            _log.info("model %s expired (ttl %ss)", model_id[:12], self.ttl_seconds)

    # -- files ------------------------------------------------------------------------------

    def _enforce_disk_budget(self, keep: str) -> None:
        """Deletes the oldest model files until the directory fits its byte budget (the newest stays)."""
        if self.disk_bytes is None:
            return
        with self._lock:
            total = sum(f.size for f in self._on_disk.values()) + sum(f.size for f in self._unverified.values())
            # Files no key of ours verifies cannot be served: they go before any model that can.
            oldest = sorted((f.create_time, mid) for mid, f in self._unverified.items())
            oldest += sorted((f.create_time, mid) for mid, f in self._on_disk.items() if mid != keep)
            doomed = []
            for _, model_id in oldest:
                if total <= self.disk_bytes:
                    break
                info = self._unverified.pop(model_id, None) or self._on_disk.pop(model_id)
                self._listed.pop(model_id, None)
                total -= info.size
                doomed.append(model_id)
        for model_id in doomed:
            assert self._files is not None
            self._files.delete(model_id)
            _log.info(
                "deleted model file %s: the model directory is over its %d-byte budget", model_id[:12], self.disk_bytes
            )

    def unverified(self) -> tuple[int, int]:
        """Files in the model directory that no key of ours verifies, and their bytes."""
        with self._lock:
            return len(self._unverified), sum(f.size for f in self._unverified.values())

    def _write_file(self, model: StoredModel) -> int:
        sealed = self._seal(_MAGIC, _meta(model), model.result, model.blob)
        assert self._files is not None
        self._files.write(model.model_id, sealed)
        return len(sealed)

    def _index_entry(self, model: StoredModel) -> bytes:
        return self._seal(_INDEX_MAGIC, _meta(model, size_bytes=model.size_bytes), model.result)

    def _seal(self, magic: bytes, *parts: bytes) -> bytes:
        """`magic`, each part length-prefixed, then the HMAC over all of it (read back by `_parts`)."""
        body = magic + b"".join(struct.pack("<Q", len(part)) + part for part in parts)
        return body + self._keys.sign(body)

    def _read_index(self, model_id: str) -> ListedModel | None:
        """A store object's index entry, verified like a model file; None (logged once) without one."""
        assert self._files is not None
        try:
            data = self._files.read_index(model_id, MAX_INDEX_BYTES)
            if data is None:
                _log.info(
                    "model object %s has no index entry; it is listed once a GetModel or query reads it", model_id
                )
                return None
            body, tag = data[:-TAG_BYTES], data[-TAG_BYTES:]
            if not body.startswith(_INDEX_MAGIC) or self._keys.verify(body, tag) is None:
                raise ValueError("bad header or signature")
            meta, result = _parts(body, len(_INDEX_MAGIC), 2)
            fields = json.loads(meta)
            if fields["model_id"] != model_id:
                raise ValueError("the entry names another model")
            return ListedModel(
                model_id=model_id,
                result=result,
                kinds={name: ColumnType(kind) for name, kind in fields["kinds"].items()},
                create_time=float(fields["create_time"]),
                size_bytes=int(fields["size_bytes"]),
                persisted=True,
            )
        except (ValueError, KeyError, TypeError, AttributeError, struct.error, RecursionError) as error:
            _log.warning("skipping the index entry of model object %s: %s", model_id, error)
            return None

    def _read_file(self, model_id: str) -> StoredModel | None:
        """Returns None, with a log line, for anything that is not an intact file signed with our key.

        The signature is checked first, over the whole file, so nothing of a forged file is parsed.
        """
        assert self._files is not None
        name = f"{model_id}{SUFFIX} in {self._files.describe()}"
        try:
            data = self._files.read(model_id, self.max_bytes + _OVERHEAD_BYTES)
            if data is None:
                return None
            body, tag = data[:-TAG_BYTES], data[-TAG_BYTES:]
            if body.startswith(_OLD_MAGIC):
                raise ValueError("an unsigned file from an older scmfit (refit the model to store it signed)")
            verified = self._keys.verify(body, tag)
            if not body.startswith(_MAGIC) or verified is None:
                raise ValueError("bad header or signature (truncated, corrupt, or not signed with this server's key)")
            if verified is False:
                self._files.write(model_id, body + self._keys.sign(body))
                _log.info("re-signed model file %s with the current key", name)
            parts = _parts(body, len(_MAGIC), 3)
            meta = json.loads(parts[0])
            if not isinstance(meta, dict) or not isinstance(meta.get("kinds"), dict):
                raise ValueError("the metadata is not an object with kinds")
            if meta["model_id"] != model_id:
                raise ValueError("the file name does not match the model id inside")
            return StoredModel(
                model_id=meta["model_id"],
                result=parts[1],
                blob=parts[2],
                kinds={name: ColumnType(kind) for name, kind in meta["kinds"].items()},
                create_time=float(meta["create_time"]),
                persisted=True,
            )
        except (OSError, ValueError, KeyError, TypeError, struct.error, RecursionError) as error:
            _log.warning("skipping model file %s: %s", name, error)
            return None

    def _scan_directory(self) -> None:
        """A private directory is this server's alone: indexed once, then kept in step by our writes."""
        assert self._files is not None
        for model_id, info in self._files.list().items():
            model = self._read_file(model_id)
            if model is not None:
                self._on_disk[model.model_id] = FileInfo(model.create_time, info.size)
                self._listed[model.model_id] = ListedModel.of(model)
            else:
                self._unverified[model_id] = info
        if self._unverified:
            _log.warning(
                "%d model file(s) in %s failed their signature or format (%d bytes): they are never served, "
                "count against the disk budget and are deleted first when it is passed",
                len(self._unverified),
                self._files.describe(),
                sum(f.size for f in self._unverified.values()),
            )
        _log.info("found %d stored model(s) in %s", len(self._on_disk), self._files.describe())
        if self._on_disk:
            self._enforce_disk_budget(keep=max(self._on_disk, key=lambda mid: self._on_disk[mid].create_time))


def _meta(model: StoredModel, **extra: object) -> bytes:
    """The JSON head of a model file or index entry: what a reader needs before the result."""
    fields = {
        "model_id": model.model_id,
        "create_time": model.create_time,
        "kinds": {n: k.value for n, k in model.kinds.items()},
        **extra,
    }
    return json.dumps(fields).encode()


def _parts(body: bytes, offset: int, count: int) -> list[bytes]:
    """`count` length-prefixed parts of a signed body."""
    parts = []
    for _ in range(count):
        (length,) = struct.unpack_from("<Q", body, offset)
        offset += 8
        if offset + length > len(body):
            raise ValueError("a part runs past the end")
        parts.append(body[offset : offset + length])
        offset += length
    return parts


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
