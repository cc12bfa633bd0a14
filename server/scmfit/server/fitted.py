"""A fitted model as it travels between our processes, and the per-worker cache of loaded models.

Queries run in workers; a worker keeps the models it has fitted or been sent, so that repeated
queries neither resend nor unpickle them.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from dowhy import gcm

from scmfit.server.errors import ModelNotLoadedError
from scmfit.server.job import ColumnKind

CACHE_SIZE = 32
"""Loaded models per worker; a 100,000-row model is a few MB, so this stays well bounded."""

_cache: OrderedDict[str, FittedModel] = OrderedDict()


@dataclass(frozen=True)
class FittedModel:
    """The DoWhy model with what queries need to type their output."""

    scm: gcm.InvertibleStructuralCausalModel
    kinds: Mapping[str, ColumnKind]

    def dumps(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)


def remember(model_id: str, model: FittedModel) -> None:
    _cache[model_id] = model
    _cache.move_to_end(model_id)
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


def load(model_id: str, blob: bytes | None) -> FittedModel:
    """The cached model, or the one in `blob`; without either the caller must resend with the blob."""
    model = _cache.get(model_id)
    if model is not None:
        _cache.move_to_end(model_id)
        return model
    if blob is None:
        raise ModelNotLoadedError(model_id)
    # Only bytes produced by our own workers or read from our own checksummed files reach here.
    model = pickle.loads(blob)
    if not isinstance(model, FittedModel):
        raise TypeError("the model bytes did not hold a FittedModel")
    remember(model_id, model)
    return model


def cached_ids() -> list[str]:
    return list(_cache)
