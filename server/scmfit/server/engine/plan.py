"""Plans a fit as independent node tasks and assembles their results; no DoWhy, so it runs anywhere.

Given the data, each node's mechanism depends only on its own and its parents' columns, so nodes
can be selected, fitted and scored in any order and on any worker. The split, the per-node seeds
and the status are decided here, once, so the outcome does not depend on scheduling.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np

from scmfit.server.domain.fit import (
    ColumnType,
    FitJob,
    FitOutcome,
    ModelBundle,
    NodeFit,
    NodeTask,
    Progress,
    Rows,
    Stage,
    TrainingRows,
)
from scmfit.server.domain.identity import library_version
from scmfit.server.domain.settings import FitSettings
from scmfit.server.domain.split import held_out_rows, split_indices
from scmfit.server.domain.validation import judge

SEED_STRIDE = 7919


def fit_order(job: FitJob) -> list[str]:
    """Topological, ties broken by request order: parents' tasks start (and report) first."""
    graph = nx.DiGraph()
    graph.add_nodes_from(job.nodes)
    graph.add_edges_from(job.edges)
    position = {name: i for i, name in enumerate(job.nodes)}
    return list(nx.lexicographical_topological_sort(graph, key=position.__getitem__))


def plan_fit(job: FitJob) -> list[NodeTask]:
    """One task per node, in fit order; the request was fully checked by decode, so this cannot fail."""
    return [build() for _, build in lazy_plan(job)]


@dataclass(frozen=True)
class NodeSpec:
    """A node task without its data: what an engine that ships the columns once (Ray) sends per node."""

    node: str
    parents: tuple[str, ...]
    kinds: Mapping[str, ColumnType]
    settings: FitSettings
    seed: int


def node_specs(job: FitJob) -> list[NodeSpec]:
    """In fit order; the seed follows the node's position, so results do not depend on scheduling."""
    return [
        NodeSpec(
            node=node,
            parents=job.parents(node),
            kinds={name: job.kinds[name] for name in (*job.parents(node), node)},
            settings=job.settings,
            seed=(job.settings.seed + SEED_STRIDE * (index + 1)) % 2**32,
        )
        for index, node in enumerate(fit_order(job))
    ]


def split_rows(job: FitJob) -> Rows:
    train, held_out = split_indices(job.num_rows, job.settings.test_fraction, job.settings.seed)
    return Rows(train=train, held_out=held_out, missing=dict(job.missing))


def node_task(spec: NodeSpec, columns: Mapping[str, np.ndarray], rows: Rows) -> NodeTask:
    """The node's own and its parents' columns, split; runs wherever the columns are."""
    names = (*spec.parents, spec.node)
    train, held_out = rows.of(names)
    return NodeTask(
        node=spec.node,
        parents=spec.parents,
        kinds=spec.kinds,
        train={name: columns[name][train] for name in names},
        test={name: columns[name][held_out] for name in names},
        settings=spec.settings,
        seed=spec.seed,
    )


def lazy_plan(job: FitJob) -> list[tuple[str, Callable[[], NodeTask]]]:
    """Each node with a builder of its task, so that only dispatched tasks hold their copies of the
    columns: a dense graph would otherwise copy every parent column once per child, all at once."""
    rows = split_rows(job)
    return [(spec.node, functools.partial(node_task, spec, job.columns, rows)) for spec in node_specs(job)]


def assemble(job: FitJob, fits: Mapping[str, NodeFit]) -> FitOutcome:
    nodes = tuple(fits[name].outcome for name in job.nodes)
    status, message, validation = judge(nodes, job.settings, job.num_rows)
    seconds = dict.fromkeys((Stage.ASSIGNING, Stage.FITTING, Stage.EVALUATING), 0.0)
    for fit in fits.values():
        for stage, spent in fit.seconds.items():
            seconds[stage] += spent
    bundle = ModelBundle(
        nodes=job.nodes,
        edges=job.edges,
        kinds=dict(job.kinds),
        mechanisms={name: fits[name].mechanism for name in job.nodes},
        training=TrainingRows(
            columns=dict(job.columns),
            rows=split_rows(job),
            refitted=frozenset(name for name in job.nodes if fits[name].refitted),
        ),
    )
    num_test = held_out_rows(job.num_rows, job.settings.test_fraction)
    return FitOutcome(
        status=status,
        message=message,
        nodes=nodes,
        validation=validation,
        num_train=job.num_rows - num_test,
        num_test=num_test,
        stage_seconds=seconds,
        dowhy_version=library_version("dowhy"),
        sklearn_version=library_version("scikit-learn"),
        model_blob=pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL),
        selection_rows=max((fit.selection_rows for fit in fits.values()), default=0),
        refitted=job.settings.refit_on_all_rows and num_test > 0,
        escalated_nodes=tuple(node.name for node in nodes if len(node.quality_steps) > 1),
    )


_ORDER = (Stage.ASSIGNING, Stage.FITTING, Stage.EVALUATING)


class ProgressTracker:
    """Turns "node entered stage" reports, from any number of workers, into FitProgress counts."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._position: dict[str, int] = {}
        self._finished: set[str] = set()

    def enter(self, stage: Stage, node: str) -> Progress:
        """`done` counts the nodes that had completed `stage` when `node` entered it."""
        index = _ORDER.index(stage)
        self._position[node] = index
        done = sum(1 for name, at in self._position.items() if name != node and (at > index or name in self._finished))
        return Progress(stage=stage, node=node, done=done, total=self.total)

    def finish(self, node: str) -> None:
        self._finished.add(node)
