"""The Ray executor against a real two-node cluster: same results as local, progress, faults, cancels."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time

import grpc
import numpy as np
import pytest

from scmfit.client import Client, FitProgress, FitResult, FitStatus, ScmfitError, Stage
from tests.conftest import FIXTURE_NAMES, fixture_case, fresh_seed
from tests.integration.test_lifecycle import wait_for
from tests.raycluster import RayCluster, start_cluster
from tests.serverproc import ServerProcess, free_port, server_python

pytestmark = pytest.mark.server_internals


def random_dag(nodes: int, rows: int, seed: int) -> tuple[list[str], list[tuple[str, str]], dict[str, np.ndarray]]:
    """Each node draws up to 3 parents among earlier ones; linear and quadratic edges, with noise."""
    rng = np.random.default_rng(seed)
    names = [f"v{i:03d}" for i in range(nodes)]
    edges: list[tuple[str, str]] = []
    data: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        parents = sorted(rng.choice(i, size=min(i, int(rng.integers(0, 4))), replace=False)) if i else []
        value = rng.normal(size=rows)
        for parent in parents:
            edges.append((names[parent], name))
            column = data[names[parent]]
            value = value + (0.5 * column**2 if rng.random() < 0.3 else rng.uniform(0.5, 2) * column)
        data[name] = value / max(1.0, float(np.std(value)))
    return names, edges, data


def same_fit(a: FitResult, b: FitResult) -> None:
    assert a.model_id == b.model_id
    assert a.status is b.status
    assert [(n.name, n.r2, n.mechanism.model_type) for n in a.nodes] == [
        (n.name, n.r2, n.mechanism.model_type) for n in b.nodes
    ]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_each_fixture_fits_bit_for_bit_as_on_the_local_executor(
    name: str, ray_server: ServerProcess, local_server: ServerProcess
) -> None:
    case = fixture_case(name)
    seed = fresh_seed()
    with Client(ray_server.address, timeout=300) as on_ray, Client(local_server.address, timeout=300) as on_local:
        same_fit(on_ray.fit(case.request(seed=seed)), on_local.fit(case.request(seed=seed)))


def test_a_100_node_dag_fits_as_on_the_local_executor_with_progress_for_every_node(
    ray_server: ServerProcess, local_server: ServerProcess
) -> None:
    nodes, edges, data = random_dag(100, 400, seed=3)
    with Client(ray_server.address, timeout=600) as on_ray, Client(local_server.address, timeout=600) as on_local:
        events = list(on_ray.fit_events((nodes, edges), data, seed=11))
        local = on_local.fit((nodes, edges), data, seed=11)
    result = events[-1]
    assert isinstance(result, FitResult)
    same_fit(result, local)
    per_node = [(e.node, e.stage) for e in events[:-1] if isinstance(e, FitProgress) and e.node]
    stages = [Stage.ASSIGNING, Stage.FITTING, Stage.EVALUATING]
    for node in nodes:  # every line reached the client, each node's in order
        assert [stage for name, stage in per_node if name == node] == stages


def test_queries_run_on_the_server_and_answer_models_fitted_on_the_cluster(ray_server: ServerProcess) -> None:
    case = fixture_case("linear_chain")
    with Client(ray_server.address, timeout=120) as client:
        fitted = client.fit(case.graph, case.traces, seed=fresh_seed())
        answer = client.sample(fitted.model_id, {case.nodes[0]: 2.0}, num_samples=500, seed=1, include_samples=True)
    assert set(answer.samples) == set(case.nodes) and all(len(v) == 500 for v in answer.samples.values())
    assert np.all(answer.samples[case.nodes[0]] == 2.0)


def slow_case(rows: int = 3000) -> tuple[tuple[list[str], list[tuple[str, str]]], dict[str, np.ndarray]]:
    """Nonlinear nodes under BETTER: seconds per node, long enough to act on a running task."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=rows)
    data = {"x": x}
    names = ["x"]
    for i in range(6):
        parent = data[names[-1]]
        data[f"y{i}"] = np.sin(2 * parent) + 0.3 * rng.normal(size=rows)
        names.append(f"y{i}")
    edges = [(names[i], names[i + 1]) for i in range(len(names) - 1)]
    return (names, edges), data


def test_a_killed_ray_worker_costs_a_retry_of_its_node_alone(
    cluster: RayCluster, ray_server: ServerProcess, local_server: ServerProcess
) -> None:
    graph, data = slow_case()
    seed = fresh_seed()
    killed: list[int] = []

    def kill_one_running_task() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            running = cluster.task_processes()
            if running:
                running[0].kill()
                killed.append(running[0].pid)
                return
            time.sleep(0.05)

    with Client(ray_server.address, timeout=600) as client:
        events = []
        for event in client.fit_events(graph, data, quality="BETTER", seed=seed):
            events.append(event)
            # Early in a non-root node's selection, when every running task has seconds of work left. (At a
            # FITTING event, the task that sent it may have only a short final fit left: with racing's cheaper
            # choices, one finished before the kill landed, and nothing was retried.)
            if isinstance(event, FitProgress) and event.stage is Stage.ASSIGNING and event.node != "x" and not killed:
                time.sleep(0.3)  # past the root's instant task
                kill_one_running_task()
    assert killed, "no running node task was found to kill"
    result = events[-1]
    assert isinstance(result, FitResult) and result.status is not None
    assigning = [e.node for e in events if isinstance(e, FitProgress) and e.stage is Stage.ASSIGNING]
    # Every node entered assignment once, and exactly one (the killed one) a second time.
    assert len(assigning) == len(graph[0]) + 1
    with Client(local_server.address, timeout=600) as client:
        same_fit(result, client.fit(graph, data, quality="BETTER", seed=seed))


def test_a_cancelled_fit_stops_its_tasks_on_the_cluster_and_the_cluster_keeps_fitting(
    cluster: RayCluster, ray_server: ServerProcess
) -> None:
    graph, data = slow_case()
    with Client(ray_server.address, timeout=600) as client:
        call = client.fit_events(graph, data, quality="BETTER", seed=fresh_seed())
        for event in call:
            if isinstance(event, FitProgress) and event.stage is Stage.FITTING:
                break
        assert cluster.task_processes(), "a node task should be running"
        call.close()  # the client goes away: gRPC cancels the call
        assert wait_for(lambda: not cluster.task_processes(), timeout=30), "the cancelled tasks kept running"
        case = fixture_case("complex_dag")
        assert client.fit(case.graph, case.traces, seed=fresh_seed()).status is FitStatus.SUCCESS


def test_an_expired_deadline_stops_the_fit_on_the_cluster(cluster: RayCluster, ray_server: ServerProcess) -> None:
    graph, data = slow_case()
    with Client(ray_server.address) as client, pytest.raises(ScmfitError) as raised:
        client.fit(graph, data, quality="BETTER", seed=fresh_seed(), timeout=4)
    assert raised.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert wait_for(lambda: not cluster.task_processes(), timeout=30), "the expired fit's tasks kept running"


def test_an_unreachable_cluster_at_start_up_is_a_clear_error() -> None:
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    finished = subprocess.run(
        [
            server_python(),
            "-m",
            "scmfit.server",
            "--address",
            "127.0.0.1:0",
            "--executor",
            "ray",
            "--ray-address",
            address,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 1
    assert f"cannot reach the Ray cluster at {address}" in finished.stderr
    assert time.monotonic() - started < 60  # not Ray's own reconnect loop


def test_a_stopped_head_that_still_accepts_connections_turns_health_not_serving_until_it_resumes(
    cluster: RayCluster, ray_server: ServerProcess
) -> None:
    """gcs_server and raylet SIGSTOPped: their ports still accept TCP, yet no task can run. The liveness
    probe (a zero-CPU task with a deadline) sees it; the TCP check alone kept health SERVING."""
    import psutil

    head = psutil.Process(cluster.head.pid).children(recursive=True)
    stopped = [p for p in head if p.name() in {"gcs_server", "raylet"}]
    assert {p.name() for p in stopped} == {"gcs_server", "raylet"}, [p.name() for p in head]
    for process in stopped:
        process.send_signal(signal.SIGSTOP)
    try:
        with Client(ray_server.address, timeout=10) as client:
            assert wait_for(lambda: client.health() == "NOT_SERVING", timeout=60), ray_server.log()[-2000:]
            with pytest.raises(ScmfitError) as refused:
                client.fit(fixture_case("linear_chain").request(seed=fresh_seed()), timeout=30)
            assert refused.value.code is grpc.StatusCode.UNAVAILABLE
            assert "liveness probe" in str(refused.value)
    finally:
        for process in stopped:
            process.send_signal(signal.SIGCONT)
    with Client(ray_server.address, timeout=300) as client:
        assert wait_for(lambda: client.health() == "SERVING", timeout=120), ray_server.log()[-2000:]
        case = fixture_case("complex_dag")
        assert client.fit(case.graph, case.traces, seed=fresh_seed()).status is FitStatus.SUCCESS


def test_a_lost_cluster_fails_the_fit_in_flight_turns_health_not_serving_and_is_rejoined_when_back(
    cluster: RayCluster, ray_server: ServerProcess
) -> None:
    """Last in this file: it stops the session's cluster, and leaves a new one on the same port."""
    graph, data = slow_case()
    outcome: list[BaseException | FitResult] = []

    def fit() -> None:
        with Client(ray_server.address, timeout=600) as client:
            try:
                outcome.append(client.fit(graph, data, quality="BETTER", seed=fresh_seed()))
            except ScmfitError as error:
                outcome.append(error)

    thread = threading.Thread(target=fit)
    thread.start()
    assert wait_for(lambda: bool(cluster.task_processes()), timeout=60)
    os.killpg(cluster.head.pid, signal.SIGKILL)  # the head machine dies: GCS, raylet, all at once
    cluster.head.wait(timeout=60)
    cluster.stop()  # then the worker node
    thread.join(120)
    assert not thread.is_alive(), "the fit hung after the cluster was lost"
    (error,) = outcome
    assert isinstance(error, ScmfitError) and error.code is grpc.StatusCode.UNAVAILABLE, error
    assert "lost the Ray cluster" in str(error)
    with Client(ray_server.address, timeout=10) as client:
        assert wait_for(lambda: client.health() == "NOT_SERVING", timeout=10)
        assert ray_server.process.poll() is None  # still up, saying it cannot serve
        with pytest.raises(ScmfitError) as refused:
            client.fit(graph, data, seed=fresh_seed())
        assert refused.value.code is grpc.StatusCode.UNAVAILABLE
    back = start_cluster(port=int(cluster.address.rsplit(":", 1)[1]))  # the cluster comes back
    cluster.processes, cluster.directory = back.processes, back.directory  # the session stops this one
    with Client(ray_server.address, timeout=300) as client:
        assert wait_for(lambda: client.health() == "SERVING", timeout=120), ray_server.log()
        case = fixture_case("complex_dag")
        assert client.fit(case.graph, case.traces, seed=fresh_seed()).status is FitStatus.SUCCESS
    assert "reconnected to the Ray cluster" in ray_server.log()


def test_a_busy_port_with_the_ray_executor_is_one_line_before_any_driver_starts(cluster: RayCluster) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        finished = subprocess.run(
            [server_python(), "-m", "scmfit.client.cli", "serve", "--address", f"127.0.0.1:{port}",
             "--executor", "ray", "--ray-address", cluster.address],
            check=False, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert finished.returncode == 2
    lines = [line for line in finished.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--address" in lines[0], finished.stderr
    assert "Traceback" not in finished.stderr and "SIGTERM" not in finished.stderr
