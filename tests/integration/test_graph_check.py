"""CheckGraph through the real server: a hidden dependency is reported with the edge that explains it,
the true graph is not falsified, the p-values are DoWhy's own, and the answer does not depend on how
many workers ran the tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scmfit.client import CheckProgress, Client, InvalidRequestError
from tests.serverproc import ServerProcess, start_server

NODES = ["A", "B", "C", "D", "E"]
CODE_GRAPH = (NODES, [("A", "B"), ("B", "C"), ("D", "C")])
"""The graph the code analysis derived; the traces also carry A -> C, which it missed."""
TRUE_GRAPH = (NODES, [("A", "B"), ("B", "C"), ("D", "C"), ("A", "C")])


def traces(rows: int = 400) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    a = rng.normal(size=rows)
    b = a + 0.5 * rng.normal(size=rows)
    d = rng.normal(size=rows)
    c = b + a + d + 0.5 * rng.normal(size=rows)
    return {"A": a, "B": b, "C": c, "D": d, "E": rng.normal(size=rows)}


def test_a_hidden_dependency_is_reported_with_the_missing_edge(client: Client) -> None:
    seen: list[CheckProgress] = []
    result = client.check_graph(CODE_GRAPH, traces(), on_progress=seen.append)
    assert result.can_evaluate
    assert [(v.node, v.other, v.given) for v in result.violations] == [("C", "A", ("B", "D"))]
    assert result.violations[0].p_value < 0.001
    assert result.suggested_edges == (("A", "C"),)
    assert seen[0].done == 0 and seen[-1].done == seen[-1].total > 0
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    truth = client.check_graph(TRUE_GRAPH, traces())
    assert truth.can_evaluate and not truth.falsified and truth.num_violations == 0
    assert truth.violations_p_value <= 0.05  # better than 95% of its permutations


def test_the_verdict_is_the_same_for_a_seed_whatever_the_worker_count(server: ServerProcess) -> None:
    one_worker = start_server(workers=1)
    try:
        with Client(one_worker.address, timeout=300) as alone, Client(server.address, timeout=300) as shared:
            assert alone.check_graph(CODE_GRAPH, traces(), seed=5) == shared.check_graph(CODE_GRAPH, traces(), seed=5)
    finally:
        assert one_worker.terminate() == 0, one_worker.log()


@pytest.mark.server_internals
def test_the_p_values_are_dowhy_s_own(client: Client) -> None:
    """DoWhy's validate_lmc on the same rows: the kernel test uses every row below 2000, so its p-values
    do not depend on the seed, and each violation's p-value is DoWhy's exactly (to float rounding)."""
    import networkx as nx
    import pandas as pd
    from dowhy.gcm.falsify import FalsifyConst, validate_lmc

    graph = nx.DiGraph(CODE_GRAPH[1])
    graph.add_nodes_from(NODES)
    theirs = validate_lmc(graph, pd.DataFrame(traces()), n_jobs=1)
    violated = {key: p for key, (p, bad) in theirs[FalsifyConst.P_VALUES].items() if bad}
    ours = client.check_graph(CODE_GRAPH, traces())
    assert {(v.node, v.other): v.p_value for v in ours.violations} == pytest.approx(violated, abs=1e-12)
    assert ours.num_tests == theirs[FalsifyConst.N_TESTS]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"edges": [("A", "B"), ("B", "A")]}, "graph"),
        ({"significance_level": 1.5}, "significance_level"),
        ({"independence_level": -0.1}, "independence_level"),
        ({"num_permutations": 5000}, "num_permutations"),
        ({"rows": 10}, "dataset.columns"),
    ],
)
def test_a_bad_check_is_refused_naming_the_field(client: Client, change: dict[str, Any], field: str) -> None:
    edges = change.pop("edges", CODE_GRAPH[1])
    data = traces(change.pop("rows", 400))
    with pytest.raises(InvalidRequestError) as caught:  # a cycle is refused by the client, the rest by the server
        client.check_graph((NODES, edges), data, **change)
    assert any(name.startswith(field) for name in caught.value.fields()), caught.value.fields()


def test_a_deadline_stops_a_long_check_and_the_server_goes_on(client: Client) -> None:
    from scmfit.client import CallTimeoutError

    rng = np.random.default_rng(3)
    names = [f"v{i}" for i in range(9)]
    data = {names[0]: rng.normal(size=1500)}
    for i in range(1, 9):
        data[names[i]] = data[names[i - 1]] + rng.normal(size=1500)
    chain = (names, [(names[i - 1], names[i]) for i in range(1, 9)])
    with pytest.raises(CallTimeoutError):
        client.check_graph(chain, data, num_permutations=300, timeout=2.0)
    assert client.check_graph(CODE_GRAPH, traces(), timeout=120).can_evaluate  # workers were replaced, not stuck


def test_the_async_client_streams_the_same_verdict(server: ServerProcess, client: Client) -> None:
    import asyncio

    from scmfit.client import AsyncClient

    async def run() -> tuple[Any, list[CheckProgress]]:
        seen: list[CheckProgress] = []
        async with AsyncClient(server.address, timeout=300) as asynchronous:
            return await asynchronous.check_graph(CODE_GRAPH, traces(), seed=9, on_progress=seen.append), seen

    result, seen = asyncio.run(run())
    assert result == client.check_graph(CODE_GRAPH, traces(), seed=9)
    assert seen and seen[-1].done == seen[-1].total
