"""Model files and index entries as this server writes them: length-prefixed parts under a magic header,
signed with HMAC, and checked (signature first, over the whole file) before anything in them is parsed."""

from __future__ import annotations

import json
import logging
import struct

from scmfit.server.domain.fit import ColumnType
from scmfit.server.stores.modelfiles import SUFFIX, ModelFiles
from scmfit.server.stores.models import ListedModel, StoredModel
from scmfit.server.stores.signing import TAG_BYTES, ModelKeys

_log = logging.getLogger(__name__)

_MAGIC = b"SCMFIT-MODEL-2\n"
_OLD_MAGIC = b"SCMFIT-MODEL-1\n"
"""Files of scmfit before signing: a bare SHA-256 that anyone could recompute; refused."""
_INDEX_MAGIC = b"SCMFIT-INDEX-1\n"
MAX_INDEX_BYTES = 16 * 1024 * 1024
"""An index entry holds a FitResult (about 1 kB a node), never a fitted model."""
OVERHEAD_BYTES = 1024 * 1024
"""A model file's framing beyond its result and model; a file larger than the registry plus this is refused
before it is read (one planted 500 MiB object once cost 1 GB on every lookup)."""


class SealedFiles:
    """Writes and reads signed model files and index entries in one `ModelFiles`."""

    def __init__(self, files: ModelFiles, keys: ModelKeys, max_model_bytes: int) -> None:
        self.files = files
        self._keys = keys
        self._max_model_bytes = max_model_bytes

    def write_model(self, model: StoredModel) -> int:
        """Writes the model's file; returns its size in bytes."""
        sealed = self._seal(_MAGIC, _meta(model), model.result, model.blob)
        self.files.write(model.model_id, sealed)
        return len(sealed)

    def write_index(self, model: StoredModel) -> None:
        self.files.write_index(
            model.model_id, self._seal(_INDEX_MAGIC, _meta(model, size_bytes=model.size_bytes), model.result)
        )

    def _seal(self, magic: bytes, *parts: bytes) -> bytes:
        """`magic`, each part length-prefixed, then the HMAC over all of it (read back by `_parts`)."""
        body = magic + b"".join(struct.pack("<Q", len(part)) + part for part in parts)
        return body + self._keys.sign(body)

    def read_index(self, model_id: str) -> ListedModel | None:
        """A store object's index entry, verified like a model file; None (logged once) without one."""
        try:
            data = self.files.read_index(model_id, MAX_INDEX_BYTES)
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

    def read_model(self, model_id: str) -> StoredModel | None:
        """Returns None, with a log line, for anything that is not an intact file signed with our key.

        The signature is checked first, over the whole file, so nothing of a forged file is parsed.
        """
        name = f"{model_id}{SUFFIX} in {self.files.describe()}"
        try:
            data = self.files.read(model_id, self._max_model_bytes + OVERHEAD_BYTES)
            if data is None:
                return None
            body, tag = data[:-TAG_BYTES], data[-TAG_BYTES:]
            if body.startswith(_OLD_MAGIC):
                raise ValueError("an unsigned file from an older scmfit (refit the model to store it signed)")
            verified = self._keys.verify(body, tag)
            if not body.startswith(_MAGIC) or verified is None:
                raise ValueError("bad header or signature (truncated, corrupt, or not signed with this server's key)")
            if verified is False:
                self.files.write(model_id, body + self._keys.sign(body))
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
