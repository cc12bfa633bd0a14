"""Fitted models inside a worker: rebuilt from a ModelBundle once, then cached for later queries.

A worker keeps the models it has been sent, so repeated queries neither resend nor unpickle them.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
from dowhy import gcm
from dowhy.gcm.causal_models import PARENTS_DURING_FIT
from dowhy.graph import get_ordered_predecessors

from scmfit.server.domain.errors import ModelNotLoadedError
from scmfit.server.domain.fit import ColumnType, ModelBundle

CACHE_SIZE = 32
"""Loaded models per worker; a 100,000-row model is a few MB, so this stays well bounded."""

_cache: OrderedDict[str, FittedModel] = OrderedDict()

MOVED: dict[tuple[str, str], tuple[str, str]] = {
    ("scmfit.server.job", "ColumnKind"): ("scmfit.server.domain.fit", "ColumnType"),
    ("scmfit.server.job", "ModelBundle"): ("scmfit.server.domain.fit", "ModelBundle"),
    ("scmfit.server.numerics", "AnchoredLinearRegressor"): ("scmfit.server.fitting.models", "AnchoredLinearRegressor"),
    ("scmfit.server.numerics", "Int64DiscreteAdditiveNoiseModel"): (
        "scmfit.server.fitting.models",
        "Int64DiscreteAdditiveNoiseModel",
    ),
}
"""Classes that model files written before the layer packages name by their old paths; those files
stay loadable (the registry keeps models on disk across upgrades)."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        module, name = MOVED.get((module, name), (module, name))
        return super().find_class(module, name)


def _loads(data: bytes) -> object:
    """`pickle.loads` that knows the moved classes. Only bytes our own workers produced reach here
    (from the registry's memory, or its signed files)."""
    return _Unpickler(io.BytesIO(data)).load()


@dataclass(frozen=True)
class FittedModel:
    """The DoWhy model with what queries need to type their output."""

    scm: gcm.InvertibleStructuralCausalModel
    kinds: Mapping[str, ColumnType]


def build(bundle: ModelBundle) -> FittedModel:
    """Reassembles the SCM from mechanisms that may have been fitted on different workers."""
    graph = nx.DiGraph()
    graph.add_nodes_from(bundle.nodes)
    graph.add_edges_from(bundle.edges)
    scm = gcm.InvertibleStructuralCausalModel(graph)
    for node in bundle.nodes:
        scm.set_causal_mechanism(node, _loads(bundle.mechanisms[node]))
        scm.graph.nodes[node][PARENTS_DURING_FIT] = get_ordered_predecessors(scm.graph, node)
    return FittedModel(scm=scm, kinds=dict(bundle.kinds))


def load(model_id: str, blob: bytes | None) -> FittedModel:
    """The cached model, or the one in `blob`; without either the caller must resend with the blob."""
    model = _cache.get(model_id)
    if model is not None:
        _cache.move_to_end(model_id)
        return model
    if blob is None:
        raise ModelNotLoadedError(model_id)
    bundle = _loads(blob)
    if not isinstance(bundle, ModelBundle):
        raise TypeError("the model bytes did not hold a ModelBundle")
    model = build(bundle)
    _cache[model_id] = model
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return model
