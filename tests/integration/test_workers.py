"""Worker lifecycle against a real server: stalled workers, readiness, and a server killed outright."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

from scmfit.client import Client, FitStatus, UnavailableError
from tests.conftest import fixture_case, fresh_seed
from tests.integration.test_lifecycle import wait_for
from tests.serverproc import start_server

pytestmark = pytest.mark.server_internals  # see pyproject.toml


def workers_of(server: psutil.Process) -> list[psutil.Process]:
    """The worker processes: the children that run our worker code (not the resource tracker)."""
    return [child for child in server.children() if "resource_tracker" not in " ".join(child.cmdline())]


def test_a_stopped_worker_is_detected_killed_and_replaced_and_readiness_follows() -> None:
    # No query worker: the test follows the one worker there is.
    server = start_server("--worker-stall-seconds", "3", "--metrics-port", "0", "--query-workers", "0", workers=1)
    try:
        main = psutil.Process(server.process.pid)
        (worker,) = workers_of(main)
        states: list[str] = []
        done = threading.Event()

        def watch_health() -> None:
            with Client(server.address, timeout=2) as client:
                while not done.is_set():
                    states.append(client.health())
                    time.sleep(0.1)

        watcher = threading.Thread(target=watch_health)
        watcher.start()
        os.kill(worker.pid, signal.SIGSTOP)
        assert wait_for(lambda: server.metric("scmfit_worker_stalls_total") == 1, timeout=30), server.log()
        assert wait_for(lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE, timeout=10)
        assert wait_for(lambda: server.metric("scmfit_warm_workers") == 1, timeout=60)
        assert wait_for(lambda: states and states[-1] == "SERVING", timeout=10)
        done.set()
        watcher.join(10)
        assert "NOT_SERVING" in states  # while no worker was warm, readiness said so
        assert states[0] == "SERVING" and states[-1] == "SERVING"
        assert server.metric("scmfit_worker_restarts_total") == 1
        assert "sent no heartbeat" in server.log()
        case = fixture_case("linear_chain")
        with Client(server.address, timeout=120) as client:
            assert client.fit(case.graph, case.traces, seed=fresh_seed()).status is FitStatus.SUCCESS
    finally:
        assert server.terminate() == 0, server.log()


def test_a_killed_server_leaves_no_process_behind() -> None:
    server = start_server(workers=2)
    main = psutil.Process(server.process.pid)
    children = main.children(recursive=True)
    assert len(workers_of(main)) == 3  # two fit workers and the query worker
    assert not any("Manager" in " ".join(child.cmdline()) for child in children)  # no manager process
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)

    def all_gone() -> bool:
        return not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)

    assert wait_for(all_gone, timeout=15), [(c.pid, c.cmdline()) for c in children if c.is_running()]


def test_an_idle_worker_killed_from_outside_is_replaced_and_the_server_keeps_fitting() -> None:
    """pebble declares its pool broken when a worker dies with no task; the supervisor replaces it."""
    server = start_server("--metrics-port", "0", "--query-workers", "0", workers=1)
    try:
        (worker,) = workers_of(psutil.Process(server.process.pid))
        os.kill(worker.pid, signal.SIGKILL)  # what the OOM killer does
        assert wait_for(lambda: server.metric("scmfit_worker_restarts_total") == 1, timeout=30), server.log()
        case = fixture_case("complex_dag")
        with Client(server.address, timeout=120) as client:
            assert client.fit(case.graph, case.traces, seed=fresh_seed()).status is FitStatus.SUCCESS
            # Readiness is polled every 0.5 s: a fit can finish on the new worker before the poll sees it warm.
            assert wait_for(lambda: client.health() == "SERVING", timeout=10)
    finally:
        assert server.terminate() == 0, server.log()


def test_fits_waiting_on_a_server_that_is_killed_fail_unavailable_instead_of_hanging() -> None:
    """gRPC's own retries left such calls hanging past their deadline (grpcio 1.85); see _channel.py."""
    server = start_server("--max-concurrent", "1", workers=1)
    case = fixture_case("nonlinear")
    running = threading.Event()
    outcomes: list[str] = []

    def fit(seed: int) -> None:
        with Client(server.address, timeout=120) as client:
            try:
                client.fit(case.graph, case.traces, quality="BETTER", seed=seed, on_progress=lambda _: running.set())
                outcomes.append("finished")
            except UnavailableError:
                outcomes.append("unavailable")

    first = threading.Thread(target=fit, args=(fresh_seed(),), daemon=True)
    first.start()
    assert running.wait(60)
    queued = [threading.Thread(target=fit, args=(fresh_seed(),), daemon=True) for _ in range(2)]
    for thread in queued:
        thread.start()
    time.sleep(0.5)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    for thread in [first, *queued]:
        thread.join(30)  # far inside the calls' 120 s deadline
    assert not any(thread.is_alive() for thread in [first, *queued]), "a call hung on the killed server"
    assert sorted(outcomes) in (["unavailable"] * 3, ["finished", "unavailable", "unavailable"])


def test_queries_waiting_on_a_server_that_is_killed_fail_unavailable_instead_of_hanging() -> None:
    """The unary methods keep gRPC's retry policy; unlike FitModel's stream, they fail in seconds."""
    server = start_server(workers=1)
    case = fixture_case("complex_dag")
    with Client(server.address, timeout=120) as client:
        model_id = client.fit(case.graph, case.traces, seed=fresh_seed()).model_id
    outcomes: list[str] = []

    def sample() -> None:
        with Client(server.address, timeout=120) as client:
            try:
                client.sample(model_id, num_samples=1_000_000)
                outcomes.append("finished")
            except UnavailableError:
                outcomes.append("unavailable")

    queries = [threading.Thread(target=sample, daemon=True) for _ in range(8)]  # one query worker: they queue
    for thread in queries:
        thread.start()
    time.sleep(0.4)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    for thread in queries:
        thread.join(30)  # far inside the calls' 120 s deadline
    assert not any(thread.is_alive() for thread in queries), "a query hung on the killed server"
    assert len(outcomes) == 8 and "unavailable" in outcomes
