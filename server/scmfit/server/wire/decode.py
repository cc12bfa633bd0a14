"""Turns a FitModelRequest into a validated FitJob, collecting every field violation it finds.

Everything DoWhy would reject with a bare ValueError (or worse, accept silently) is caught here,
so that a bad request gets INVALID_ARGUMENT naming the field instead of a crash inside a worker.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import networkx as nx
import numpy as np

from scmfit.server.config import Limits
from scmfit.server.domain.errors import FieldViolation, InvalidRequestError, MissingDependencyError
from scmfit.server.domain.fit import ColumnType, FitJob, present_rows
from scmfit.server.domain.identity import model_id_for
from scmfit.server.domain.settings import FIT_RANGES, FitSettings, MissingValues, Quality
from scmfit.server.domain.split import MIN_TRAIN_ROWS, held_out_rows, split_indices
from scmfit.server.wire.enums import COLUMN_OF_FIELD, DTYPE, VALUES_FIELD, from_wire
from scmfit.v1 import causal_model_service_pb2 as pb

MAX_EXACT_INT = 2**53
"""The largest integer magnitude float64 holds exactly; every scikit-learn model computes in float64."""


def autogluon_available() -> bool:
    """QUALITY_BEST runs AutoGluon inside DoWhy; only servers that have it can offer it."""
    try:
        return importlib.util.find_spec("autogluon.tabular") is not None
    except ModuleNotFoundError:
        return False


def available_qualities() -> tuple[Quality, ...]:
    base = (Quality.GOOD, Quality.BETTER)
    return (*base, Quality.BEST) if autogluon_available() else base


def decode_fit_request(
    request: pb.FitModelRequest, limits: Limits, uploaded: Callable[[str], Sequence[Entry]] | None = None
) -> FitJob:
    """Validates the whole request and raises InvalidRequestError listing every problem found.

    `uploaded` looks up a `dataset_id` (raising DatasetNotFoundError) when the request names one.
    """
    violations: list[FieldViolation] = []
    settings = _decode_settings(request.config, violations)
    nodes, edges = decode_graph(request.graph, limits, violations)
    if request.dataset_id:
        if request.dataset.columns:
            violations.append(FieldViolation("dataset_id", "set dataset or dataset_id, not both"))
        if uploaded is None:
            violations.append(FieldViolation("dataset_id", "this server does not accept uploaded datasets"))
            raise InvalidRequestError(violations)
        prefix = "dataset_id"
        decoded = decode_dataset(uploaded(request.dataset_id), nodes, limits, violations, prefix)
    else:
        prefix = "dataset"
        decoded = decode_dataset(request.dataset, nodes, limits, violations)
    columns, kinds, index = decoded.columns, decoded.kinds, decoded.index
    missing: dict[str, np.ndarray] = {}
    if not violations:
        columns, missing = _apply_missing_policy(decoded, settings, prefix, violations)
    if not violations:
        _check_rows(columns, settings, violations)
    if not violations and missing:
        _check_node_rows(nodes, edges, columns, missing, settings, violations)
    if not violations:
        _check_classifier_targets(edges, columns, kinds, index, settings, violations, missing)
    if violations:
        raise InvalidRequestError(violations)
    if settings.quality is Quality.BEST and not autogluon_available():
        raise MissingDependencyError("autogluon.tabular", "QUALITY_BEST")
    ordered = {name: columns[name] for name in nodes}
    ordered_kinds = {name: kinds[name] for name in nodes}
    return FitJob(
        nodes=nodes,
        edges=edges,
        columns=ordered,
        kinds=ordered_kinds,
        column_index={name: index[name] for name in nodes},
        settings=settings,
        model_id=model_id_for(nodes, edges, ordered, ordered_kinds, settings, missing),
        missing={name: missing[name] for name in nodes if name in missing},
    )


def _apply_missing_policy(
    decoded: Decoded, settings: FitSettings, prefix: str, violations: list[FieldViolation]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The columns a fit uses, and the masks it keeps, under config.missing_values."""
    masks = decoded.missing
    if not masks:
        return decoded.columns, {}
    policy = settings.missing_values
    if policy is MissingValues.REFUSE:
        for name, mask in masks.items():
            first = int(np.argmax(mask))
            values_field = VALUES_FIELD[decoded.kinds[name]]
            violations.append(
                FieldViolation(
                    f"{prefix}.columns[{decoded.index[name]}].{values_field}.values[{first}]",
                    f"column {name!r} has {int(mask.sum())} missing cell(s) (missing_rows), the first at row "
                    f"{first}; set config.missing_values to MISSING_VALUES_PER_NODE (each node "
                    "fitted on the rows where it and its parents are present) or MISSING_VALUES_COMPLETE_ROWS "
                    "(only rows with no gap) to fit anyway (CLI: --missing-values PER_NODE)",
                )
            )
        return decoded.columns, {}
    if policy is MissingValues.COMPLETE_ROWS:
        keep = present_rows(list(masks), masks, len(next(iter(decoded.columns.values()))))
        if not keep.any():
            violations.append(
                FieldViolation(f"{prefix}.columns", "no row has every column present (MISSING_VALUES_COMPLETE_ROWS)")
            )
        return {name: values[keep] for name, values in decoded.columns.items()}, {}
    return decoded.columns, dict(masks)


def _check_node_rows(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    columns: Mapping[str, np.ndarray],
    missing: Mapping[str, np.ndarray],
    settings: FitSettings,
    violations: list[FieldViolation],
) -> None:
    """Under MISSING_VALUES_PER_NODE, each node needs enough training rows where it and its parents are all
    present; the split is the fit's, so this is decided here, before admission."""
    num_rows = len(next(iter(columns.values())))
    train, _ = split_indices(num_rows, settings.test_fraction, settings.seed)
    needed = MIN_TRAIN_ROWS[settings.quality]
    for i, node in enumerate(nodes):
        parents = sorted(source for source, target in edges if target == node)
        usable = int(present_rows((*parents, node), missing, num_rows)[train].sum())
        least = needed if parents else 1
        if usable < least:
            violations.append(
                FieldViolation(
                    f"graph.nodes[{i}]",
                    f"node {node!r} has {usable} training row(s) where it and its parents are all present; "
                    f"fitting it needs at least {least}",
                )
            )


def _decode_settings(config: pb.FitConfig, violations: list[FieldViolation]) -> FitSettings:
    defaults = FitSettings()
    values: dict[str, Any] = {}
    enums = [field.name for field in dataclasses.fields(FitSettings) if isinstance(getattr(defaults, field.name), Enum)]
    for name in enums:  # enums: unset (0) is the default, unknown values are named
        wire = getattr(config, name)
        default = getattr(defaults, name)
        values[name] = default if wire == 0 else from_wire(type(default), wire)
        if values[name] is None:
            violations.append(FieldViolation(f"config.{name}", f"unknown {name} value {wire}"))
            values[name] = default
    for name in (field.name for field in dataclasses.fields(FitSettings) if field.name not in values):
        value = getattr(config, name) if config.HasField(name) else getattr(defaults, name)  # type: ignore[arg-type]
        allowed = FIT_RANGES.get(name)
        if allowed is not None and not allowed.contains(value):
            violations.append(FieldViolation(f"config.{name}", f"must be {allowed.describe()}, got {value}"))
        values[name] = value
    return FitSettings(**values)


def decode_graph(
    graph: pb.Graph, limits: Limits, violations: list[FieldViolation]
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    nodes = tuple(graph.nodes)
    found = len(violations)
    if not nodes:
        violations.append(FieldViolation("graph.nodes", "the graph has no nodes; at least one is needed"))
    if len(nodes) > limits.max_nodes:
        violations.append(
            FieldViolation("graph.nodes", f"{len(nodes)} nodes exceed the server limit max_nodes={limits.max_nodes}")
        )
    first_index: dict[str, int] = {}
    for i, name in enumerate(nodes):
        if not name:
            violations.append(FieldViolation(f"graph.nodes[{i}]", "node names must not be empty"))
        elif name in first_index:
            violations.append(
                FieldViolation(
                    f"graph.nodes[{i}]",
                    f"duplicate node {name!r}, already listed at graph.nodes[{first_index[name]}]",
                )
            )
        else:
            first_index[name] = i
    if len(graph.edges) > limits.max_edges:
        violations.append(
            FieldViolation(
                "graph.edges", f"{len(graph.edges)} edges exceed the server limit max_edges={limits.max_edges}"
            )
        )
        return nodes, ()
    edges: list[tuple[str, str]] = []
    seen_edges: dict[tuple[str, str], int] = {}
    for k, edge in enumerate(graph.edges):
        pair = (edge.source, edge.target)
        for end, name in (("source", edge.source), ("target", edge.target)):
            if name not in first_index:
                violations.append(FieldViolation(f"graph.edges[{k}].{end}", f"unknown node {name!r}"))
        if edge.source == edge.target:
            violations.append(FieldViolation(f"graph.edges[{k}]", f"self-loop on node {edge.source!r}"))
        elif pair in seen_edges:
            violations.append(FieldViolation(f"graph.edges[{k}]", f"duplicate of graph.edges[{seen_edges[pair]}]"))
        seen_edges.setdefault(pair, k)
        edges.append(pair)
    parents = collections.Counter(target for _, target in seen_edges)
    for node, count in parents.items():
        if count > limits.max_parents:
            violations.append(
                FieldViolation(
                    "graph.edges",
                    f"node {node!r} has {count} parents, over the server limit max_parents={limits.max_parents}",
                )
            )
    if len(violations) == found:
        _check_acyclic(nodes, edges, violations)
    return nodes, tuple(edges)


def _check_acyclic(nodes: Sequence[str], edges: Sequence[tuple[str, str]], violations: list[FieldViolation]) -> None:
    digraph = nx.DiGraph()
    digraph.add_nodes_from(nodes)
    digraph.add_edges_from(edges)
    try:
        cycle = nx.find_cycle(digraph)
    except nx.NetworkXNoCycle:
        return
    path = [source for source, _ in cycle] + [cycle[0][0]]
    violations.append(
        FieldViolation("graph.edges", "the graph must be acyclic; cycle: " + " -> ".join(repr(n) for n in path))
    )


Entry = tuple[str, "ColumnType | None", "np.ndarray | None", "np.ndarray"]
"""A column as it arrived: name, type, values, and the rows marked missing (ascending row numbers)."""

NO_ROWS = np.zeros(0, dtype=np.uint64)

PLACEHOLDER = {ColumnType.DOUBLE: np.nan, ColumnType.INT64: 0, ColumnType.BOOL: False, ColumnType.STRING: ""}
"""What a missing cell holds once decoded, whatever the client sent there: never read as a value."""


def proto_entries(dataset: pb.Dataset) -> list[Entry]:
    entries: list[Entry] = []
    for column in dataset.columns:
        which = column.WhichOneof("values")
        missing = np.asarray(column.missing_rows, dtype=np.uint64)
        if which is None:
            entries.append((column.name, None, None, missing))
        else:
            kind = COLUMN_OF_FIELD[which]
            values: np.ndarray = np.asarray(getattr(column, which).values, dtype=DTYPE[kind])
            entries.append((column.name, kind, values, missing))
    return entries


def _missing_mask(
    name: str, values: np.ndarray, missing: np.ndarray, where: str, violations: list[FieldViolation]
) -> np.ndarray | None:
    """The rows marked missing as a mask, after checking they are ascending, distinct and in range."""
    if not len(missing):
        return None
    if (np.diff(missing.astype(np.int64)) <= 0).any():
        violations.append(
            FieldViolation(f"{where}.missing_rows", f"column {name!r}: rows must be ascending and distinct")
        )
        return None
    if int(missing[-1]) >= len(values):
        violations.append(
            FieldViolation(
                f"{where}.missing_rows",
                f"column {name!r} marks row {int(missing[-1])} missing, but has {len(values)} rows",
            )
        )
        return None
    mask = np.zeros(len(values), dtype=bool)
    mask[missing.astype(np.int64)] = True
    return mask


@dataclass(frozen=True)
class Decoded:
    """Typed columns matched one to one with the nodes, and which of their cells are missing."""

    columns: dict[str, np.ndarray]
    kinds: dict[str, ColumnType]
    index: dict[str, int]
    """Where each column sat in the request, for naming fields."""
    missing: dict[str, np.ndarray]
    """A boolean mask per column that has missing cells (those cells hold PLACEHOLDER)."""


def decode_dataset(
    dataset: pb.Dataset | Sequence[Entry],
    nodes: Sequence[str],
    limits: Limits,
    violations: list[FieldViolation],
    prefix: str = "dataset",
) -> Decoded:
    """Typed columns matched one to one with `nodes`, all of one length, finite where present.

    The columns come inline (a Dataset message) or as entries of an uploaded dataset; the checks are the same.
    Missing cells are only recognised here; what a fit does with them is decided by the caller.
    """
    entries = proto_entries(dataset) if isinstance(dataset, pb.Dataset) else list(dataset)
    columns: dict[str, np.ndarray] = {}
    kinds: dict[str, ColumnType] = {}
    index: dict[str, int] = {}
    masks: dict[str, np.ndarray] = {}
    node_set = set(nodes)
    if not entries:
        violations.append(FieldViolation(f"{prefix}.columns", "the dataset has no columns"))
    if len(entries) > limits.max_columns:
        violations.append(
            FieldViolation(
                f"{prefix}.columns",
                f"{len(entries)} columns exceed the server limit max_columns={limits.max_columns}",
            )
        )
        return Decoded({}, {}, {}, {})
    for i, (name, kind, given, missing) in enumerate(entries):
        where = f"{prefix}.columns[{i}]"
        if not name:
            violations.append(FieldViolation(f"{where}.name", "column names must not be empty"))
            continue
        if name in index:
            violations.append(
                FieldViolation(
                    f"{where}.name", f"duplicate column {name!r}, already at {prefix}.columns[{index[name]}]"
                )
            )
            continue
        if name not in node_set:
            violations.append(FieldViolation(f"{where}.name", f"column {name!r} matches no graph node"))
        if kind is None or given is None:
            violations.append(FieldViolation(f"{where}.values", f"column {name!r} has no values set"))
            continue
        values = given
        if len(values) > limits.max_rows:
            violations.append(
                FieldViolation(where, f"{len(values)} rows exceed the server limit max_rows={limits.max_rows}")
            )
        mask = _missing_mask(name, values, missing, where, violations)
        if mask is not None:
            values = values.copy()
            values[mask] = PLACEHOLDER[kind]
            masks[name] = mask
        present = values if mask is None else values[~mask]
        if kind is ColumnType.DOUBLE:
            problem = _double_problem(name, values, limits, mask)
            if problem is not None:
                row, description = problem
                violations.append(FieldViolation(f"{where}.doubles.values[{row}]", description))
        elif kind is ColumnType.INT64:
            beyond = np.flatnonzero((present > MAX_EXACT_INT) | (present < -MAX_EXACT_INT))
            if beyond.size:
                row = _row(beyond[0], mask)
                violations.append(
                    FieldViolation(
                        f"{where}.int64s.values[{row}]",
                        f"column {name!r} has {int(values[row])} at row {row}, beyond ±2^53 = {MAX_EXACT_INT}: "
                        "scikit-learn's models compute in float64, which cannot hold such integers exactly; send "
                        "identifiers and hashes as strings, or measurements as doubles",
                    )
                )
        elif kind is ColumnType.STRING:
            with_nul = np.flatnonzero(np.fromiter(("\x00" in value for value in present), bool, len(present)))
            if with_nul.size:
                row = _row(with_nul[0], mask)
                violations.append(
                    FieldViolation(
                        f"{where}.strings.values[{row}]",
                        f"column {name!r} has a NUL character in the label at row {row}; numpy's string arrays "
                        "drop trailing NULs, so such labels would silently merge with others",
                    )
                )
        index[name] = i
        columns[name] = values
        kinds[name] = kind
    for i, name in enumerate(nodes):
        if name and name not in index:
            field = f"graph.nodes[{i}]" if prefix == "dataset" else f"{prefix}.columns"
            violations.append(FieldViolation(field, f"node {name!r} has no column in {prefix}.columns"))
    lengths = {name: len(values) for name, values in columns.items()}
    if lengths:
        first = next(iter(lengths))
        for name, length in lengths.items():
            if length != lengths[first]:
                violations.append(
                    FieldViolation(
                        f"{prefix}.columns[{index[name]}]",
                        f"column {name!r} has {length} rows but {first!r} ({prefix}.columns[{index[first]}]) "
                        f"has {lengths[first]}",
                    )
                )
    return Decoded(columns, kinds, index, masks)


def _row(position: int | np.integer, mask: np.ndarray | None) -> int:
    """The row number of the `position`-th present cell."""
    if mask is None:
        return int(position)
    return int(np.flatnonzero(~mask)[int(position)])


def _double_problem(name: str, values: np.ndarray, limits: Limits, mask: np.ndarray | None) -> tuple[int, str] | None:
    """The first present value that no model here can compute with faithfully, and why (a NaN sent
    without a missing_rows mark is refused here: it is a value, not a gap)."""
    present = np.ones(len(values), dtype=bool) if mask is None else ~mask
    bad = np.flatnonzero(~np.isfinite(values) & present)
    if bad.size:
        row = int(bad[0])
        return row, (
            f"column {name!r} has a non-finite value ({values[row]}) at row {row}; "
            f"{bad.size} non-finite value(s) in all"
        )
    huge = np.flatnonzero((np.abs(values) > limits.max_abs_value) & present)
    if huge.size:
        row = int(huge[0])
        return row, (
            f"column {name!r} has {values[row]:g} at row {row}, beyond the server limit "
            f"max_abs_value={limits.max_abs_value:g} (tree models compute in float32)"
        )
    tiny = np.flatnonzero((values != 0) & (np.abs(values) < np.finfo(np.float64).tiny) & present)
    if tiny.size:
        row = int(tiny[0])
        return row, (
            f"column {name!r} has the subnormal value {values[row]:g} at row {row}; scikit-learn's scaling "
            "divides by such values and overflows, so rescale the column (or send 0)"
        )
    return None


def _check_rows(columns: Mapping[str, np.ndarray], settings: FitSettings, violations: list[FieldViolation]) -> None:
    num_rows = len(next(iter(columns.values())))
    if num_rows == 0:
        violations.append(FieldViolation("dataset.columns", "the dataset has no rows"))
        return
    num_train = num_rows - held_out_rows(num_rows, settings.test_fraction)
    needed = MIN_TRAIN_ROWS[settings.quality]
    if num_train < needed:
        violations.append(
            FieldViolation(
                "dataset.columns",
                f"{num_rows} rows leave {num_train} training rows after holding out "
                f"config.test_fraction={settings.test_fraction}; DoWhy's model selection at quality "
                f"{settings.quality.value} needs at least {needed}",
            )
        )


def _check_classifier_targets(
    edges: Sequence[tuple[str, str]],
    columns: Mapping[str, np.ndarray],
    kinds: Mapping[str, ColumnType],
    index: Mapping[str, int],
    settings: FitSettings,
    violations: list[FieldViolation],
    missing: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Every classifier target needs its classes in the dataset and then in the training split; the split
    depends only on the request, so a starved classifier is refused here, before admission. With missing
    cells, only the rows where the target and its parents are present count (those it is fitted on)."""
    targets = {target for _, target in edges}
    categorical = [name for name in sorted(targets, key=index.__getitem__) if kinds[name].categorical]
    if not categorical:
        return
    num_rows = len(columns[categorical[0]])
    usable = {
        name: present_rows((*(s for s, t in edges if t == name), name), missing or {}, num_rows) for name in categorical
    }
    found = [
        classifier_target_violation(name, index[name], columns[name][usable[name]], "the dataset")
        for name in categorical
    ]
    if not any(found):
        train_rows, _ = split_indices(num_rows, settings.test_fraction, settings.seed)
        found = [
            classifier_target_violation(
                name, index[name], columns[name][train_rows[usable[name][train_rows]]], "the training split"
            )
            for name in categorical
        ]
    violations.extend(problem for problem in found if problem is not None)


MIN_CLASS_ROWS = 5
"""DoWhy selects classifiers with 5-fold stratified cross-validation; a rarer class breaks its log loss."""


def classifier_target_violation(name: str, index: int, values: np.ndarray, where: str) -> FieldViolation | None:
    """Applied to the whole dataset and to the training split."""
    classes, counts = np.unique(values, return_counts=True)
    field = f"dataset.columns[{index}]"
    intro = f"node {name!r} has parents and categorical values, so DoWhy fits a classifier for it"
    if len(classes) < 2:
        only = repr(_plain(classes[0])) if len(classes) else "none"
        return FieldViolation(field, f"{intro}, but {where} has a single class ({only}); a classifier needs two")
    rarest = int(np.argmin(counts))
    if counts[rarest] < MIN_CLASS_ROWS:
        label = _plain(classes[rarest])
        return FieldViolation(
            field,
            f"{intro}, but class {str(label)[:80]!r} has {counts[rarest]} row(s) in {where}; DoWhy's 5-fold "
            f"stratified model selection needs at least {MIN_CLASS_ROWS} rows of every class",
        )
    return None


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value
