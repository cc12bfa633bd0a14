"""Content-addressed model ids: the same graph, data, config and library versions give the same id."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import struct
from collections.abc import Mapping, Sequence
from enum import Enum
from importlib import metadata

import numpy as np

from scmfit.server.domain.fit import ColumnType
from scmfit.server.domain.settings import FitSettings

MODEL_ID_PATTERN = re.compile(r"[0-9a-f]{64}")
"""A model id is a lowercase SHA-256 hex digest, so it is always safe to use in a file name (use fullmatch)."""
MIN_PREFIX = 8
"""The shortest id prefix that resolves, as with git's abbreviated commit ids."""
MODEL_REF_PATTERN = re.compile(rf"[0-9a-f]{{{MIN_PREFIX},64}}")
"""What callers may send where an id is taken: the full id or a prefix of it (use fullmatch)."""


def scmfit_version() -> str:
    return metadata.version("scmfit")


def library_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _field(digest: hashlib._Hash, value: bytes) -> None:
    """Length-prefixes every field so that no two different inputs share a byte stream."""
    digest.update(struct.pack("<Q", len(value)))
    digest.update(value)


def hash_column(
    digest: hashlib._Hash, name: str, kind: ColumnType, values: np.ndarray, missing: np.ndarray | None = None
) -> None:
    """One typed column, and which of its cells are missing, into a digest; shared by model ids and
    uploaded-dataset ids. A column without missing cells hashes as it always did."""
    if missing is not None and missing.any():
        _field(digest, b"missing\x00" + np.packbits(missing).tobytes() + struct.pack("<Q", len(missing)))
    _field(digest, f"{name}\x00{kind.value}".encode())
    if kind is ColumnType.STRING:
        for value in values:
            _field(digest, str(value).encode())
    else:
        _field(digest, np.ascontiguousarray(values).tobytes())


def model_id_for(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    columns: Mapping[str, np.ndarray],
    kinds: Mapping[str, ColumnType],
    settings: FitSettings,
    missing: Mapping[str, np.ndarray] | None = None,
) -> str:
    digest = hashlib.sha256()
    _field(digest, b"scmfit-model-v2")
    for version in (scmfit_version(), library_version("dowhy"), library_version("scikit-learn")):
        _field(digest, version.encode())
    _field(digest, "\x00".join(nodes).encode())
    for source, target in sorted(edges):
        _field(digest, f"{source}\x00{target}".encode())
    for name in nodes:
        hash_column(digest, name, kinds[name], columns[name], (missing or {}).get(name))
    # Every settings field, by construction: a field added to FitSettings changes the id without an edit here.
    for setting in dataclasses.fields(settings):
        value = getattr(settings, setting.name)
        _field(digest, f"{setting.name}={value.value if isinstance(value, Enum) else value!r}".encode())
    return digest.hexdigest()
