"""Health, info, reflection, cancellation, deadlines and SIGTERM, against real server processes."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator

import grpc
import numpy as np
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from scmfit.client import (
    CancelledError,
    Client,
    DeadlineExceededError,
    FitProgress,
    FitResult,
    FitStatus,
    ScmfitError,
    Stage,
    fit_request,
)
from scmfit.v1 import causal_model_service_pb2 as pb
from tests.conftest import fixture_case, fresh_seed
from tests.serverproc import ServerProcess, start_server


def slow_request(nodes: int = 12, rows: int = 3000) -> pb.FitModelRequest:
    """A chain fitted at BETTER with exhaustive selection: every node cross-validates every candidate on
    every fold, so it runs for a while, whatever racing's rules decide. (Under racing, a test holding it
    past a 3 s deadline once saw no worker killed; the cause was not found.)"""
    rng = np.random.default_rng(0)
    names = [f"n{i:02d}" for i in range(nodes)]
    data = {names[0]: rng.normal(size=rows)}
    for parent, child in itertools.pairwise(names):
        data[child] = np.sin(data[parent]) + rng.normal(scale=0.3, size=rows)
    return fit_request(names, list(itertools.pairwise(names)), data, quality="BETTER", selection="exhaustive")


def descendants(server: ServerProcess) -> set[int]:
    return {child.pid for child in psutil.Process(server.process.pid).children(recursive=True)}


def workers_idle(server: ServerProcess, seconds: float = 1.0) -> bool:
    """No child of the server used more than 5% of a core over `seconds`."""
    children = psutil.Process(server.process.pid).children(recursive=True)
    before = {child.pid: sum(child.cpu_times()[:2]) for child in children}
    time.sleep(seconds)
    try:
        return all(sum(child.cpu_times()[:2]) - before[child.pid] < 0.05 * seconds for child in children)
    except psutil.NoSuchProcess:
        return False


def wait_for(predicate: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def own_server() -> Iterator[ServerProcess]:
    """A server of this module's own, because these tests kill its workers."""
    process = start_server(workers=1)
    yield process
    assert process.terminate() == 0, process.log()


def test_health_answers_for_the_server_and_the_service(client: Client) -> None:
    assert client.health("") == "SERVING"
    assert client.health("scmfit.v1.CausalModelService") == "SERVING"


def test_server_info_reports_versions_limits_and_qualities(client: Client) -> None:
    info = client.server_info()
    assert info.scmfit_version == "0.1.0"
    assert info.dowhy_version == "0.14"
    assert info.sklearn_version.count(".") >= 1
    assert info.python_version.startswith("3.11.")
    assert info.max_request_bytes > 4 * 1024 * 1024
    assert info.max_rows > 0 and info.max_nodes > 0
    assert {"GOOD", "BETTER"} <= set(info.qualities)
    assert info.workers == 2
    assert info.raw.limits.max_nodes == info.max_nodes


def test_reflection_lists_the_services(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {"scmfit.v1.CausalModelService", "grpc.health.v1.Health"} <= services
        file = database.FindFileContainingSymbol("scmfit.v1.CausalModelService")
        assert file.package == "scmfit.v1"


def test_cancelled_fit_kills_its_worker_and_the_next_fit_succeeds(own_server: ServerProcess) -> None:
    before = descendants(own_server)
    with Client(own_server.address, timeout=300) as client:
        events = client.fit_events(slow_request())
        for event in events:
            if isinstance(event, FitProgress) and event.stage is Stage.FITTING and event.node == "n01":
                break
        events.close()  # leaving the stream cancels the call
        assert wait_for(lambda: not before <= descendants(own_server)), "the busy worker was not stopped"
        result = client.fit(fixture_case("linear_chain").request(seed=fresh_seed()))
        assert result.status is FitStatus.SUCCESS
        assert not result.reused


def test_expired_deadline_stops_the_fit_and_the_server_recovers(own_server: ServerProcess) -> None:
    with Client(own_server.address) as client:
        client.fit(fixture_case("linear_chain").request(seed=fresh_seed()), timeout=120)  # warm again
        before = descendants(own_server)
        with pytest.raises(DeadlineExceededError):
            # Long enough for a node to reach a worker even on a loaded machine (with 3 s, under the full
            # parallel suite, the deadline once passed while the fit still queued, and nothing was killed).
            client.fit(slow_request(), timeout=6.0)
        # Its worker is killed; or, when the deadline lands on a task still in pebble's pipe, pebble
        # forgets that task and the worker finishes it, then idles (see assert_one_respawn).
        stopped = wait_for(lambda: not before <= descendants(own_server) or workers_idle(own_server), timeout=60)
        assert stopped, "the expired fit kept running"
        result = client.fit(fixture_case("multi_parent").request(seed=fresh_seed()), timeout=120)
        assert result.status is FitStatus.SUCCESS
        assert not result.reused


def test_sigterm_drains_then_exits_zero_and_leaves_no_process_behind() -> None:
    server = start_server("--grace", "1", workers=1)
    children = [psutil.Process(pid) for pid in descendants(server)]
    assert children, "the server should own worker processes"
    outcome: list[BaseException | FitResult] = []
    statuses: list[int] = []
    with Client(server.address, timeout=120) as client, grpc.insecure_channel(server.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        first = next(watch)
        assert first.status == health_pb2.HealthCheckResponse.SERVING

        def watch_health() -> None:
            with contextlib.suppress(grpc.RpcError):
                statuses.extend(update.status for update in watch)

        def run_fit() -> None:
            try:
                outcome.append(client.fit(slow_request()))
            except ScmfitError as error:
                outcome.append(error)

        watcher = threading.Thread(target=watch_health)
        fitter = threading.Thread(target=run_fit)
        watcher.start()
        fitter.start()
        time.sleep(2.0)  # the fit is under way; it needs far longer than the 1 s grace
        assert server.terminate(timeout=60) == 0, server.log()
        fitter.join(timeout=30)
        watcher.join(timeout=30)
    assert health_pb2.HealthCheckResponse.NOT_SERVING in statuses
    assert len(outcome) == 1
    assert isinstance(outcome[0], ScmfitError) and outcome[0].code in {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
    }, outcome
    assert wait_for(lambda: not any(child.is_running() and child.status() != "zombie" for child in children))


def test_client_side_cancel_error_type(own_server: ServerProcess) -> None:
    """A cancelled future surfaces as the client's CancelledError, not a raw grpc error."""
    with Client(own_server.address, timeout=300) as client:
        stub_call = client._stub.FitModel(fixture_case("linear_chain").request())
        stub_call.cancel()
        with pytest.raises(grpc.RpcError) as caught:
            list(stub_call)
        from scmfit.client._errors import from_rpc_error

        assert isinstance(from_rpc_error(caught.value), CancelledError)
