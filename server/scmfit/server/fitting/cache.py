"""Fitted models inside a worker: rebuilt from a ModelBundle once, then cached for later queries.

A worker keeps the models it has been sent, so repeated queries neither resend nor unpickle them.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
from dowhy import gcm
from dowhy.gcm.causal_models import PARENTS_DURING_FIT
from dowhy.graph import get_ordered_predecessors

from scmfit.server.domain.errors import ModelNotLoadedError
from scmfit.server.domain.fit import ColumnType, ModelBundle, TrainingRows

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
    training: TrainingRows | None = None
    replicas: tuple[gcm.InvertibleStructuralCausalModel, ...] = ()
    """Bootstrap refits, when the query asks for an interval: the first `num_bootstrap` of the model's."""


def build(bundle: ModelBundle) -> FittedModel:
    """Reassembles the SCM from mechanisms that may have been fitted on different workers."""
    graph = nx.DiGraph()
    graph.add_nodes_from(bundle.nodes)
    graph.add_edges_from(bundle.edges)
    scm = gcm.InvertibleStructuralCausalModel(graph)
    for node in bundle.nodes:
        scm.set_causal_mechanism(node, _loads(bundle.mechanisms[node]))
        scm.graph.nodes[node][PARENTS_DURING_FIT] = get_ordered_predecessors(scm.graph, node)
    return FittedModel(scm=scm, kinds=dict(bundle.kinds), training=bundle.training)


def with_mechanisms(model: FittedModel, mechanisms: Mapping[str, object]) -> gcm.InvertibleStructuralCausalModel:
    """The model's graph with other fitted mechanisms: a bootstrap replica."""
    scm = gcm.InvertibleStructuralCausalModel(model.scm.graph.copy())
    for node, mechanism in mechanisms.items():
        scm.set_causal_mechanism(node, mechanism)
        scm.graph.nodes[node][PARENTS_DURING_FIT] = get_ordered_predecessors(scm.graph, node)
    return scm


_replicas: OrderedDict[str, list[gcm.InvertibleStructuralCausalModel]] = OrderedDict()


def with_replicas(model_id: str, model: FittedModel, blobs: Sequence[bytes]) -> FittedModel:
    """The model with its first len(blobs) replicas, unpickled once per worker (replica i is the same
    bytes for every query: its seed is the model's)."""
    built = _replicas.setdefault(model_id, [])
    _replicas.move_to_end(model_id)
    for blob in blobs[len(built) :]:
        mechanisms = _loads(blob)
        if not isinstance(mechanisms, dict):
            raise TypeError("replica bytes did not hold mechanisms")
        built.append(with_mechanisms(model, mechanisms))
    while len(_replicas) > CACHE_SIZE:
        _replicas.popitem(last=False)
    return dataclasses.replace(model, replicas=tuple(built[: len(blobs)]))


def bundle_of(blob: bytes) -> ModelBundle:
    bundle = _loads(blob)
    if not isinstance(bundle, ModelBundle):
        raise TypeError("the model bytes did not hold a ModelBundle")
    return bundle


def load(model_id: str, blob: bytes | None) -> FittedModel:
    """The cached model, or the one in `blob`; without either the caller must resend with the blob."""
    model = _cache.get(model_id)
    if model is not None:
        _cache.move_to_end(model_id)
        return model
    if blob is None:
        raise ModelNotLoadedError(model_id)
    model = build(bundle_of(blob))
    _cache[model_id] = model
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return model
