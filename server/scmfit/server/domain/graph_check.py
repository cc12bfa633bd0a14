"""Checking a graph against traces, as DoWhy's `falsify_graph` does, split so that the tests can run anywhere.

DoWhy tests the local Markov conditions (LMC) of the graph and of random node permutations of it, one
process at a time, and compares the fractions violated. Here the plan is made first: the permuted graphs
(seeded as DoWhy seeds them), and every distinct (conditional) independence test they imply, each with a
seed of its own, so that the p-values do not depend on which worker ran which test or in what order. The
verdict is then assembled from the p-values exactly as `falsify_graph` assembles its summary.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from scmfit.server.domain.fit import ColumnType

IndependenceKey = tuple[frozenset[str], frozenset[str]]
"""A test as DoWhy's p-value memory keys it: {X, Y} (symmetric) and the conditioning set Z."""


def key_of(x: str, y: str, given: Sequence[str]) -> IndependenceKey:
    return frozenset((x, y)), frozenset(given)


@dataclass(frozen=True)
class CheckGraphJob:
    """A CheckGraph request that passed validation."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    columns: Mapping[str, np.ndarray]
    kinds: Mapping[str, ColumnType]
    significance_level: float
    independence_level: float
    num_permutations: int
    seed: int


@dataclass(frozen=True)
class IndependenceTest:
    """X independent of Y given Z, with the seed the test draws with."""

    x: str
    y: str
    given: tuple[str, ...]
    seed: int

    @property
    def key(self) -> IndependenceKey:
        return key_of(self.x, self.y, self.given)


@dataclass(frozen=True)
class IndependenceBatch:
    """What one worker task needs: the columns the tests read, and the tests."""

    columns: Mapping[str, np.ndarray]
    tests: tuple[IndependenceTest, ...]


def graph_of(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    return graph


def parental_triples(graph: nx.DiGraph) -> list[tuple[str, str, tuple[str, ...]]]:
    """(X, Y, parents of X) for every non-descendant Y of X that is not a parent: the graph's LMCs,
    unconditional ones of roots included, as DoWhy's `_get_parental_triples` lists them."""
    triples = []
    for node in graph.nodes:
        parents = tuple(sorted(graph.predecessors(node)))
        excluded = nx.descendants(graph, node) | {node} | set(parents)
        for other in sorted(set(graph.nodes) - excluded):
            triples.append((node, other, parents))
    return triples


def permutations(graph: nx.DiGraph, count: int, seed: int) -> list[nx.DiGraph]:
    """The graph's structure with its node labels permuted: every permutation when there are no more than
    `count` (DoWhy's rule), otherwise `count` random ones drawn with numpy's legacy generator, seeded."""
    nodes = list(graph.nodes)
    if count >= math.factorial(len(nodes)):
        orders = [list(order) for order in itertools.permutations(nodes)]
    else:
        state = np.random.RandomState(seed)
        orders = [[str(node) for node in state.permutation(nodes)] for _ in range(count)]
    return [nx.relabel_nodes(graph, dict(zip(nodes, order, strict=True)), copy=True) for order in orders]


def seed_of_test(seed: int, key: IndependenceKey) -> int:
    """A test's seed from the check's seed and the test itself, never from scheduling."""
    text = f"{seed}|{sorted(key[0])}|{sorted(key[1])}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class Plan:
    graph: nx.DiGraph
    permuted: list[nx.DiGraph]
    tests: list[IndependenceTest]
    """Every distinct test of the graph and its permutations, in a fixed order."""


def plan(job: CheckGraphJob) -> Plan:
    graph = graph_of(job.nodes, job.edges)
    permuted = permutations(graph, job.num_permutations, job.seed)
    tests: dict[IndependenceKey, IndependenceTest] = {}
    for candidate in (graph, *permuted):
        for x, y, given in parental_triples(candidate):
            key = key_of(x, y, given)
            if key not in tests:
                tests[key] = IndependenceTest(x, y, tuple(sorted(given)), seed_of_test(job.seed, key))
    return Plan(graph, permuted, list(tests.values()))


def batches(job: CheckGraphJob, tests: Sequence[IndependenceTest], count: int) -> list[IndependenceBatch]:
    """`count` batches of about equal size, each carrying only the columns its tests read."""
    chunks = [list(tests[i::count]) for i in range(count) if tests[i::count]]
    found = []
    for chunk in chunks:
        names = sorted({name for test in chunk for name in (test.x, test.y, *test.given)})
        found.append(IndependenceBatch({name: job.columns[name] for name in names}, tuple(chunk)))
    return found


@dataclass(frozen=True)
class Violation:
    node: str
    other: str
    given: tuple[str, ...]
    p_value: float


@dataclass(frozen=True)
class Edge:
    source: str
    target: str


@dataclass(frozen=True)
class GraphCheck:
    """Field for field the wire's GraphCheck."""

    can_evaluate: bool
    falsified: bool
    informative: bool
    violations_p_value: float
    equivalence_p_value: float
    num_violations: int
    num_tests: int
    num_permutations: int
    violations: tuple[Violation, ...]
    suggested_edges: tuple[Edge, ...]


def _violated_fraction(graph: nx.DiGraph, p_values: Mapping[IndependenceKey, float], level: float) -> tuple[int, int]:
    violated = tested = 0
    for x, y, given in parental_triples(graph):
        p = p_values.get(key_of(x, y, given))
        if p is None:
            continue
        tested += 1
        violated += p <= level
    return violated, tested


def _tpa_violations(candidate: nx.DiGraph, reference: nx.DiGraph) -> int:
    """How many of `candidate`'s parental d-separations fail in `reference` (DoWhy's validate_tpa)."""
    return sum(not nx.is_d_separator(reference, {x}, {y}, set(given)) for x, y, given in parental_triples(candidate))


def verdict(job: CheckGraphJob, found: Plan, p_values: Mapping[IndependenceKey, float]) -> GraphCheck:
    """`falsify_graph`'s summary and EvaluationResult, from the p-values; plus the edges that the
    violations point to, which DoWhy does not suggest (its suggestions only remove edges)."""
    given_violations, given_tests = _violated_fraction(found.graph, p_values, job.independence_level)
    given_fraction = given_violations / max(1, given_tests)
    fractions = []
    for candidate in found.permuted:
        violated, tested = _violated_fraction(candidate, p_values, job.independence_level)
        fractions.append(violated / max(1, tested))
    total = max(1, len(found.permuted))
    lmc_p = sum(1 for fraction in fractions if fraction <= given_fraction) / total
    tpa_p = sum(1 for candidate in found.permuted if _tpa_violations(candidate, found.graph) <= 0) / total
    can_evaluate = given_tests > 0 and bool(found.permuted)
    falsified = can_evaluate and lmc_p > job.significance_level > tpa_p
    informative = can_evaluate and not job.significance_level < tpa_p
    violations = sorted(
        (
            Violation(x, y, given, p_values[key_of(x, y, given)])
            for x, y, given in parental_triples(found.graph)
            if p_values.get(key_of(x, y, given), 1.0) <= job.independence_level
        ),
        key=lambda violation: (violation.p_value, violation.node, violation.other),
    )
    suggested: dict[tuple[str, str], None] = {}
    for violation in violations:
        suggested.setdefault((violation.other, violation.node), None)  # other is a non-descendant: acyclic
    return GraphCheck(
        can_evaluate=can_evaluate,
        falsified=falsified,
        informative=informative,
        violations_p_value=lmc_p,
        equivalence_p_value=tpa_p,
        num_violations=given_violations,
        num_tests=given_tests,
        num_permutations=len(found.permuted),
        violations=tuple(violations),
        suggested_edges=tuple(Edge(source, target) for source, target in suggested),
    )
