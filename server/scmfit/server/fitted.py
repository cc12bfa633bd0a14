"""Fitted models inside a worker: rebuilt from a ModelBundle once, then cached for later queries.

A worker keeps the models it has been sent, so repeated queries neither resend nor unpickle them.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
from dowhy import gcm
from dowhy.gcm.causal_models import PARENTS_DURING_FIT
from dowhy.graph import get_ordered_predecessors

from scmfit.server.errors import ModelNotLoadedError
from scmfit.server.job import ColumnKind, ModelBundle

CACHE_SIZE = 32
"""Loaded models per worker; a 100,000-row model is a few MB, so this stays well bounded."""

_cache: OrderedDict[str, FittedModel] = OrderedDict()


@dataclass(frozen=True)
class FittedModel:
    """The DoWhy model with what queries need to type their output."""

    scm: gcm.InvertibleStructuralCausalModel
    kinds: Mapping[str, ColumnKind]


def build(bundle: ModelBundle) -> FittedModel:
    """Reassembles the SCM from mechanisms that may have been fitted on different workers."""
    graph = nx.DiGraph()
    graph.add_nodes_from(bundle.nodes)
    graph.add_edges_from(bundle.edges)
    scm = gcm.InvertibleStructuralCausalModel(graph)
    for node in bundle.nodes:
        # Only bytes our own workers produced reach here (from the registry or our checksummed files).
        scm.set_causal_mechanism(node, pickle.loads(bundle.mechanisms[node]))
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
    bundle = pickle.loads(blob)
    if not isinstance(bundle, ModelBundle):
        raise TypeError("the model bytes did not hold a ModelBundle")
    model = build(bundle)
    _cache[model_id] = model
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return model
