"""Where sealed model files live beyond memory: a local directory, or an S3 bucket shared by replicas.

Both hold opaque, already signed bytes under names made from validated model ids only; the registry
seals and checks them (stores/registry.py). A shared store is written by other replicas too, so the
registry asks it on every lookup instead of trusting what it saw at start-up.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import errno
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from scmfit.server.config import StartupError
from scmfit.server.domain.errors import ModelStoreFullError, ModelStoreUnavailableError
from scmfit.server.domain.identity import MODEL_ID_PATTERN

_log = logging.getLogger(__name__)

SUFFIX = ".scmfit"
_TEMPORARY = ".tmp"


class FileInfo(NamedTuple):
    create_time: float
    size: int


class ModelFiles(Protocol):
    shared: bool
    """Other replicas write here too: lookups must ask, a listing taken earlier goes stale."""

    def describe(self) -> str: ...

    def write(self, model_id: str, data: bytes) -> None:
        """Atomic: a reader sees the whole object or none, even if this process dies mid-write."""
        ...

    def read(self, model_id: str, max_bytes: int) -> bytes | None:
        """None when there is no such object, it is larger than `max_bytes` (checked before reading), or
        it failed its checksum (each logged)."""
        ...

    def write_index(self, model_id: str, data: bytes) -> None:
        """A model's small, signed index entry (its result without the fitted model), for listings."""
        ...

    def read_index(self, model_id: str, max_bytes: int) -> bytes | None:
        """The index entry, or None; a listing reads these, never models."""
        ...

    def exists(self, model_id: str) -> bool: ...

    def delete(self, model_id: str) -> bool:
        """True when something was deleted."""
        ...

    def list(self, prefix: str = "") -> dict[str, FileInfo]:
        """Model ids starting with `prefix`, with when they were written and their size."""
        ...


def _name(model_id: str) -> str:
    if not MODEL_ID_PATTERN.fullmatch(model_id):  # never reached by a client string: ids are checked first
        raise ValueError(f"not a model id: {model_id[:80]!r}")
    return f"{model_id}{SUFFIX}"


class DirectoryFiles:
    """One file per model, written to a temporary name and renamed, so a crash leaves no torn file."""

    shared = False

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        swept = 0
        for path in directory.glob(f".*{_TEMPORARY}"):  # left by a crash between write and rename
            path.unlink(missing_ok=True)
            swept += 1
        if swept:
            _log.info("removed %d unfinished temporary file(s) from %s", swept, directory)

    def describe(self) -> str:
        return str(self.directory)

    def write(self, model_id: str, data: bytes) -> None:
        path = self.directory / _name(model_id)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}{_TEMPORARY}")
        try:
            with temporary.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(path)
        except OSError as error:
            temporary.unlink(missing_ok=True)  # a torn temporary file would keep the disk full for every later fit
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ModelStoreFullError(
                    f"the model directory {self.directory} is full ({os.strerror(error.errno)}): the model "
                    f"({len(data)} bytes) was not stored; free space there, or lower --model-dir-bytes"
                ) from None
            raise

    def read(self, model_id: str, max_bytes: int) -> bytes | None:
        path = self.directory / _name(model_id)
        try:
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > max_bytes:
                    _log.warning("skipping %s: %d bytes, over the %d a model may have", path, size, max_bytes)
                    return None
                return handle.read()
        except FileNotFoundError:
            return None

    def write_index(self, model_id: str, data: bytes) -> None:
        """A private directory is indexed in memory at start-up and by our own writes: no index files."""

    def read_index(self, model_id: str, max_bytes: int) -> bytes | None:
        return None

    def exists(self, model_id: str) -> bool:
        return (self.directory / _name(model_id)).exists()

    def delete(self, model_id: str) -> bool:
        path = self.directory / _name(model_id)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def list(self, prefix: str = "") -> dict[str, FileInfo]:
        found = {}
        for path in sorted(self.directory.glob(f"{prefix}*{SUFFIX}")):
            model_id = path.name.removesuffix(SUFFIX)
            if not MODEL_ID_PATTERN.fullmatch(model_id):
                _log.warning("skipping %s: not a model file name", path.name)
                continue
            stat = path.stat()
            found[model_id] = FileInfo(stat.st_mtime, stat.st_size)
        return found


CHECKSUM_KEY = "scmfit-sha256"
"""The object's manifest: the SHA-256 of its bytes, written with it as object metadata."""
INDEX_FOLDER = "index/"
"""Under the prefix: one small signed entry per model, so that a listing never downloads a model."""

call_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("call_deadline", default=None)
"""The calling RPC's deadline (time.monotonic()); every store call of that RPC ends by then."""
DEFAULT_STORE_SECONDS = 10.0
"""The longest one store call may take when the caller's deadline is later (or unset)."""


class S3Files:
    """Models in an S3-compatible bucket, one object per model under `prefix/`.

    A PUT is atomic (readers see the whole object or none), so no temporary names are needed; the
    same id always holds the same model, so two replicas writing it at once is harmless. Each object
    carries its SHA-256 as metadata, checked on every read; the registry also checks its signature.
    Credentials come from the standard AWS environment, the endpoint from AWS_ENDPOINT_URL.
    """

    shared = True

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        call_seconds: float = DEFAULT_STORE_SECONDS,
        on_read: Callable[[str], None] | None = None,
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as error:
            raise StartupError(
                f"--model-store needs boto3, the s3 extra: pip install '.[server,s3]' in a clone, "
                f"or '<wheel>[server,s3]' ({error})"
            ) from None
        bucket, prefix = parse_url(url)
        self.bucket = bucket
        self.prefix = prefix
        self._url = url
        self.call_seconds = call_seconds
        self._on_read = on_read
        # Store calls run here, so that the RPC thread waits only until its deadline: botocore has no
        # per-call deadline, and its own timeouts (which end the pool's thread) are per attempt.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="scmfit-store")
        self._client: Any = boto3.client(
            "s3",
            config=Config(
                connect_timeout=timeout,
                read_timeout=max(timeout, call_seconds),
                retries={"max_attempts": 2, "mode": "standard"},
                max_pool_connections=16,
            ),
        )
        from botocore import exceptions

        self._errors = exceptions
        try:
            self._client.head_bucket(Bucket=bucket)
        except (exceptions.BotoCoreError, exceptions.ClientError) as error:
            raise StartupError(
                f"cannot use the model store {url}: {error} (endpoint "
                f"{os.environ.get('AWS_ENDPOINT_URL', 'from the AWS configuration')})"
            ) from None

    def describe(self) -> str:
        return self._url

    def _key(self, model_id: str) -> str:
        return f"{self.prefix}{_name(model_id)}"

    def _bounded(self, what: str, work: Any) -> Any:
        """`work()` on the store's pool, waited for until the caller's deadline or `call_seconds`."""
        deadline = call_deadline.get()
        limit = self.call_seconds
        if deadline is not None:
            limit = min(limit, deadline - time.monotonic())
        if limit <= 0:
            raise ModelStoreUnavailableError(f"the call's deadline passed before the model store could {what}")
        future = self._pool.submit(contextvars.copy_context().run, work)
        try:
            return future.result(timeout=limit)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ModelStoreUnavailableError(
                f"the model store {self._url} did not answer within {limit:.3g}s ({what})"
            ) from None

    def _call(self, what: str, operation: Any, **arguments: Any) -> Any:
        return self._bounded(what, lambda: self._unbounded_call(what, operation, **arguments))

    def _unbounded_call(self, what: str, operation: Any, **arguments: Any) -> Any:
        try:
            return operation(Bucket=self.bucket, **arguments)
        except self._errors.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise ModelStoreUnavailableError(f"the model store refused to {what}: {error}") from None
        except self._errors.BotoCoreError as error:
            raise ModelStoreUnavailableError(f"the model store {self._url} is unreachable ({what}): {error}") from None

    def write(self, model_id: str, data: bytes) -> None:
        self._put(self._key(model_id), data, "write a model")

    def read(self, model_id: str, max_bytes: int) -> bytes | None:
        return self._read(self._key(model_id), max_bytes, "read a model", "model")

    def write_index(self, model_id: str, data: bytes) -> None:
        self._put(self._index_key(model_id), data, "write a model's index entry")

    def _put(self, key: str, data: bytes, what: str) -> None:
        """One object, with its SHA-256 manifest as metadata (checked by `_read`)."""
        metadata = {CHECKSUM_KEY: hashlib.sha256(data).hexdigest()}
        self._call(what, self._client.put_object, Key=key, Body=data, Metadata=metadata)

    def read_index(self, model_id: str, max_bytes: int) -> bytes | None:
        return self._read(self._index_key(model_id), max_bytes, "read a model's index entry", "index")

    def _index_key(self, model_id: str) -> str:
        return f"{self.prefix}{INDEX_FOLDER}{_name(model_id)}"

    def _read(self, key: str, max_bytes: int, what: str, kind: str) -> bytes | None:
        if self._on_read is not None:
            self._on_read(kind)

        def work() -> bytes | None:
            response = self._unbounded_call(what, self._client.get_object, Key=key)
            if response is None:
                return None
            size = int(response.get("ContentLength", 0))
            if size > max_bytes:  # known from the headers: the body is never read
                response["Body"].close()
                _log.warning("skipping object %s: %d bytes, over the %d it may have", key, size, max_bytes)
                return None
            try:
                data: bytes = response["Body"].read(max_bytes + 1)
            except (self._errors.BotoCoreError, OSError) as error:
                raise ModelStoreUnavailableError(f"the model store {self._url} broke off a read: {error}") from None
            expected = response.get("Metadata", {}).get(CHECKSUM_KEY)
            if len(data) > max_bytes or expected != hashlib.sha256(data).hexdigest():
                _log.warning(
                    "skipping object %s: %s; it is not loaded",
                    key,
                    "it has no checksum in its manifest" if expected is None else "its bytes do not match its checksum",
                )
                return None
            return data

        result: bytes | None = self._bounded(what, work)
        return result

    def exists(self, model_id: str) -> bool:
        return self._call("look up a model", self._client.head_object, Key=self._key(model_id)) is not None

    def delete(self, model_id: str) -> bool:
        existed = self.exists(model_id)
        self._call("delete a model", self._client.delete_object, Key=self._key(model_id))
        self._call("delete a model's index entry", self._client.delete_object, Key=self._index_key(model_id))
        return existed

    def list(self, prefix: str = "") -> dict[str, FileInfo]:
        found: dict[str, FileInfo] = {}
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = self._call("list models", self._client.list_objects_v2, Prefix=f"{self.prefix}{prefix}", **extra)
            for item in (page or {}).get("Contents", []):
                name = str(item["Key"])[len(self.prefix) :]
                if not name.endswith(SUFFIX):
                    continue
                model_id = name.removesuffix(SUFFIX)
                if MODEL_ID_PATTERN.fullmatch(model_id):
                    found[model_id] = FileInfo(item["LastModified"].timestamp(), int(item["Size"]))
            if not page or not page.get("IsTruncated"):
                return found
            token = page["NextContinuationToken"]


def parse_url(url: str) -> tuple[str, str]:
    """s3://bucket/prefix -> ("bucket", "prefix/")."""
    scheme, _, rest = url.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme != "s3" or not bucket:
        raise StartupError(f"--model-store must look like s3://bucket/prefix, got {url!r}")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""
