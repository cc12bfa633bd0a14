"""Shapley estimates spread over processes under a worker (`--shapley-jobs`): the answer for a seed is
the same on 1 and on 3 jobs, through the real server, and a call that expires takes its jobs down."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import numpy as np
import psutil
import pytest

from scmfit.client import Client, DeadlineExceededError
from tests.serverproc import ServerProcess, start_server

NODES = [f"N{index}" for index in range(7)]
"""A 7-node chain: its end has 7 players, past DoWhy's limit for exact Shapley values, so
it samples permutations."""
GRAPH = (NODES, list(itertools.pairwise(NODES)))


def chain(rows: int = 1500) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    columns = {NODES[0]: rng.normal(size=rows)}
    for parent, node in itertools.pairwise(NODES):
        columns[node] = 0.8 * columns[parent] + rng.normal(size=rows)
    return columns


def anomalous(rows: int = 3) -> dict[str, np.ndarray]:
    """The chain's first rows with N3's noise 12 higher, carried down the chain: N3 is the root cause."""
    normal = chain()
    data = {node: values[:rows].copy() for node, values in normal.items()}
    data["N3"] += 12.0
    for parent, node in itertools.pairwise(NODES[3:]):
        data[node] = 0.8 * data[parent] + (normal[node][:rows] - 0.8 * normal[parent][:rows])
    return data


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    one = start_server("--shapley-jobs", "1", "--query-workers", "0", workers=1)
    three = start_server("--shapley-jobs", "3", "--query-workers", "0", workers=1)
    yield one, three
    assert one.terminate() == 0, one.log()
    assert three.terminate() == 0, three.log()


def test_shutdown_takes_the_idle_shapley_jobs_down() -> None:
    """Idle loky processes never notice that their worker died: the worker's stop, and the server's,
    must take them down, or they outlive the server."""
    server = start_server("--shapley-jobs", "2", "--query-workers", "0", workers=1)
    try:
        with Client(server.address, timeout=300) as client:
            model = client.fit(GRAPH, chain(), seed=3).model_id
            client.attribute_anomalies(model, "N6", anomalous(), num_samples=500, seed=1)
        jobs = loky_processes(server)
        assert len(jobs) >= 2
    finally:
        assert server.terminate() == 0, server.log()
    deadline = time.monotonic() + 10
    while any(job.is_running() for job in jobs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [job.pid for job in jobs if job.is_running()] == []


def answers(server: ServerProcess) -> tuple[object, object]:
    with Client(server.address, timeout=300) as client:
        model = client.fit(GRAPH, chain(), seed=3).model_id
        rows = client.attribute_anomalies(model, "N6", anomalous(), num_samples=1000, seed=8)
        influence = client.intrinsic_influence(model, "N6", num_samples=2000, seed=8)
    return rows, influence


def test_the_answer_for_a_seed_is_the_same_on_one_and_on_three_jobs(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    one, three = servers
    rows, influence = answers(one)
    assert answers(three) == (rows, influence)
    assert [row.root_cause for row in rows] == ["N3"] * 3  # type: ignore[attr-defined]


def loky_processes(server: ServerProcess) -> list[psutil.Process]:
    found = []
    for process in psutil.Process(server.process.pid).children(recursive=True):
        try:
            if "loky" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_an_expired_attribution_takes_its_shapley_jobs_down(servers: tuple[ServerProcess, ServerProcess]) -> None:
    _, three = servers
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.1):
            seen.append(len(loky_processes(three)))

    with Client(three.address, timeout=300) as client:
        model = client.fit(GRAPH, chain(), seed=3).model_id
        for process in loky_processes(three):  # idle jobs of the first test: this one counts its own
            process.kill()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        with pytest.raises(DeadlineExceededError):
            client.attribute_anomalies(model, "N6", anomalous(40), num_samples=3000, timeout=8)
        stop.set()
        watcher.join()
        assert max(seen) >= 3, "the attribution should have run on three loky processes"
        deadline = time.monotonic() + 15
        while loky_processes(three) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert loky_processes(three) == [], "the expired call's Shapley jobs outlived it"
        # The server replaced the worker and goes on answering.
        assert client.intrinsic_influence(model, "N2", num_samples=500, seed=1)


def test_a_worker_killed_outright_takes_its_shapley_jobs_with_it() -> None:
    """SIGKILL runs no handler in the worker: the kernel kills its jobs (PR_SET_PDEATHSIG), and the
    server replaces the worker, whose own jobs then answer."""
    server = start_server("--shapley-jobs", "2", "--query-workers", "0", workers=1)
    try:
        jobs = loky_processes(server)  # started at warm-up
        assert len(jobs) >= 2
        worker = psutil.Process(jobs[0].ppid())
        worker.kill()
        deadline = time.monotonic() + 10
        while any(job.is_running() and job.status() != psutil.STATUS_ZOMBIE for job in jobs):
            assert time.monotonic() < deadline, [job.pid for job in jobs if job.is_running()]
            time.sleep(0.1)
        old = {job.pid for job in jobs}
        deadline = time.monotonic() + 60  # the replacement worker starts its own jobs when it is warm
        while len({job.pid for job in loky_processes(server)} - old) < 2:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        with Client(server.address, timeout=300) as client:
            while client.health("", timeout=10) != "SERVING":
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.2)
            model = client.fit(GRAPH, chain(), seed=3).model_id
            rows = client.attribute_anomalies(model, "N6", anomalous(), num_samples=500, seed=1)
        assert [row.root_cause for row in rows] == ["N3"] * 3
    finally:
        assert server.terminate() == 0, server.log()
