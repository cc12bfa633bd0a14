"""Model files are authenticated with a server-side key before anything in them is unpickled.

A SHA-256 alone proves only that a file is intact: anyone who can write to the model directory (or,
later, to a shared object store) could forge one that runs code when a worker unpickles it. An
HMAC-SHA256 under a key the writer does not know cannot be forged.

Rotation: start the server with the new key as the current key and the old one as a previous key.
Files signed with a previous key are verified with it and re-signed with the current key at start-up;
once the log says none are left, drop the previous key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from scmfit.server.config import StartupError

_log = logging.getLogger(__name__)

MIN_KEY_BYTES = 32
KEY_ENV = "SCMFIT_MODEL_KEY"
"""The current key itself (at least 32 characters), for deployments that keep secrets in variables."""
TAG_BYTES = hashlib.sha256().digest_size


@dataclass(frozen=True)
class ModelKeys:
    current: bytes
    previous: tuple[bytes, ...] = ()

    def sign(self, body: bytes) -> bytes:
        return hmac.new(self.current, body, hashlib.sha256).digest()

    def verify(self, body: bytes, tag: bytes) -> bool | None:
        """True: signed with the current key; False: with a previous key (re-sign it); None: forged."""
        if hmac.compare_digest(self.sign(body), tag):
            return True
        for key in self.previous:
            if hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), tag):
                return False
        return None


def _key_from_file(path: Path) -> bytes:
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{path}: a model key needs at least {MIN_KEY_BYTES} bytes, found {len(key)}")
    return key


def load_keys(model_dir: Path | None, key_file: Path | None, previous_files: tuple[Path, ...] = ()) -> ModelKeys:
    """The key from SCMFIT_MODEL_KEY, else from `key_file`, else from `<model_dir>.key`, made on first use.

    The generated file sits beside the directory, not in it, with mode 0600, so that write access
    to the directory alone is not enough to forge a model.
    """
    previous = tuple(_key_from_file(path) for path in previous_files)
    from_env = os.environ.get(KEY_ENV, "").strip().encode()
    if from_env:
        if len(from_env) < MIN_KEY_BYTES:
            raise ValueError(f"{KEY_ENV} needs at least {MIN_KEY_BYTES} characters")
        return ModelKeys(from_env, previous)
    if key_file is not None:
        return ModelKeys(_key_from_file(key_file), previous)
    if model_dir is None:  # a shared store: every replica must hold the same key, so none is made up here
        raise StartupError(
            f"a shared model store needs the key all replicas sign with: set {KEY_ENV} or --model-key-file"
        )
    default = model_dir.with_name(model_dir.name + ".key")
    if not default.exists():
        signed = sorted(model_dir.glob("*.scmfit")) if model_dir.is_dir() else []
        if signed:
            # A new key would make every stored model unreadable: each would answer NOT_FOUND while its
            # file stayed on disk for ever. Refusing is the only answer that loses nothing.
            raise StartupError(
                f"{model_dir} holds {len(signed)} signed model file(s), but their key {default} is missing. "
                f"Restore it (or give it with --model-key-file or {KEY_ENV}); to move to a new key, pass the "
                "old one with --previous-model-key-file. If the key is lost for good, those files can never be "
                f"read again: move them out of {model_dir} and start again."
            )
        default.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(default, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        _log.warning(
            "generated a model signing key at %s; keep it with the models, or pass --model-key-file / %s",
            default,
            KEY_ENV,
        )
    return ModelKeys(_key_from_file(default), previous)
