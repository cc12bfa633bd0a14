"""The graph check's plan and verdict, without workers: DoWhy's rules on known p-values."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from scmfit.server.domain.fit import ColumnType
from scmfit.server.domain.graph_check import (
    CheckGraphJob,
    IndependenceKey,
    batches,
    graph_of,
    key_of,
    parental_triples,
    permutations,
    plan,
    seed_of_test,
    verdict,
)

NODES = ("A", "B", "C", "D")
EDGES = (("A", "B"), ("B", "C"), ("D", "C"))


def job(permutation_count: int = 20, seed: int = 1) -> CheckGraphJob:
    columns = {name: np.arange(30, dtype=float) for name in NODES}
    return CheckGraphJob(
        NODES, EDGES, columns, dict.fromkeys(NODES, ColumnType.DOUBLE), 0.05, 0.05, permutation_count, seed
    )


def test_the_triples_are_the_local_markov_conditions() -> None:
    triples = set(parental_triples(graph_of(NODES, EDGES)))
    assert triples == {
        ("A", "D", ()),
        ("D", "A", ()),
        ("D", "B", ()),
        ("B", "D", ("A",)),
        ("C", "A", ("B", "D")),
    }


def test_every_permutation_when_there_are_few_and_seeded_ones_otherwise() -> None:
    graph = graph_of(NODES, EDGES)
    every = permutations(graph, 100, seed=3)
    assert len(every) == math.factorial(4)
    assert len({tuple(sorted(g.edges)) for g in every}) == 24  # each relabelling once
    some = permutations(graph, 5, seed=3)
    assert [sorted(g.edges) for g in some] == [sorted(g.edges) for g in permutations(graph, 5, seed=3)]
    assert all(nx.is_isomorphic(g, graph) for g in some)
    assert all(isinstance(node, str) for g in some for node in g.nodes)


def test_tests_are_distinct_and_symmetric_with_seeds_from_the_test_alone() -> None:
    found = plan(job())
    keys = [test.key for test in found.tests]
    assert len(keys) == len(set(keys))
    key: IndependenceKey = (frozenset({"C", "A"}), frozenset({"B", "D"}))
    assert seed_of_test(1, key) == seed_of_test(1, (frozenset({"A", "C"}), frozenset({"D", "B"})))
    assert seed_of_test(1, key) != seed_of_test(2, key)
    parts = batches(job(), found.tests, 3)
    assert sum(len(part.tests) for part in parts) == len(found.tests)
    for part in parts:
        assert set(part.columns) == {name for test in part.tests for name in (test.x, test.y, *test.given)}


def p_values_where(violated: set[IndependenceKey], found: object) -> dict[IndependenceKey, float]:
    assert hasattr(found, "tests")
    return {test.key: (0.001 if test.key in violated else 0.5) for test in found.tests}


def test_a_violation_is_reported_with_the_edge_it_points_to() -> None:
    found = plan(job())
    hidden: IndependenceKey = (frozenset({"C", "A"}), frozenset({"B", "D"}))
    result = verdict(job(), found, p_values_where({hidden}, found))
    assert result.num_tests == 5 and result.num_violations == 1
    assert [(v.node, v.other, v.given) for v in result.violations] == [("C", "A", ("B", "D"))]
    assert [(e.source, e.target) for e in result.suggested_edges] == [("A", "C")]


def test_a_graph_is_falsified_only_when_permutations_do_as_well_and_it_is_informative() -> None:
    """DoWhy's rule: falsified when the LMC p-value > level > the equivalence p-value."""
    found = plan(job(permutation_count=100))
    in_class = sum(1 for g in found.permuted if _same_mec(g)) / 24
    every_test_fails = verdict(job(100), found, {t.key: 0.0 for t in found.tests})
    assert every_test_fails.violations_p_value == 1.0  # every permutation violates as large a share
    assert every_test_fails.equivalence_p_value == pytest.approx(in_class)
    assert every_test_fails.falsified == (in_class < 0.05) and every_test_fails.informative == (in_class <= 0.05)
    implied = {key_of(x, y, z) for x, y, z in parental_triples(found.graph)}
    only_the_graph_holds = {t.key: (0.9 if t.key in implied else 0.0) for t in found.tests}
    right = verdict(job(100), found, only_the_graph_holds)
    assert right.num_violations == 0 and not right.falsified
    assert right.violations_p_value == pytest.approx(in_class)  # only its own class does as well


def _same_mec(candidate: nx.DiGraph) -> bool:
    reference = graph_of(NODES, EDGES)
    return all(nx.is_d_separator(reference, {x}, {y}, set(z)) for x, y, z in parental_triples(candidate))
