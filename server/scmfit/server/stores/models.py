"""A stored model as the registry keeps it, and what a listing shows of one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scmfit.server.domain.fit import ColumnType


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
