"""Hostile and heavy load against the real server: half-open calls, one connection's streams, idle
connections, and a query flood beside a fit. Each case failed before the call guard and the lanes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scmfit.client import Client, FitProgress, FitStatus, fit_request
from scmfit.v1 import causal_model_service_pb2 as pb
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc
from tests.conftest import fixture_case, fresh_seed
from tests.integration.test_lifecycle import wait_for
from tests.serverproc import ServerProcess, start_server

pytestmark = pytest.mark.server_internals  # reads the server's metrics

TOKEN = "hostile-load-test-token"
READ_SECONDS = 4.0
PEER_CALLS = 8
STREAMS = 4
AUTH = (("authorization", f"Bearer {TOKEN}"),)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    token_file = Path(tmp_path_factory.mktemp("token")) / "token"
    token_file.write_text(TOKEN)
    process = start_server(
        "--request-read-timeout", str(READ_SECONDS), "--max-calls-per-peer", str(PEER_CALLS),
        "--max-streams-per-connection", str(STREAMS), "--connection-idle-timeout", "1",
        "--auth-token-file", str(token_file), "--metrics-port", "0", "--no-warm-up",
        workers=1, client_kwargs={"token": TOKEN},
    )  # fmt: skip
    yield process
    assert process.terminate() == 0, process.log()


def connection(address: str, number: int) -> grpc.Channel:
    """A channel on a connection of its own: gRPC shares a connection between channels with equal options."""
    return grpc.insecure_channel(address, options=[("scmfit.test.connection", number)])


def half_open(channel: grpc.Channel, release: threading.Event) -> grpc.Future[bytes]:
    """A SampleModel call that sends its headers and then nothing, until `release` (the attack)."""

    def never() -> Iterator[bytes]:
        release.wait()
        return
        yield b""  # pragma: no cover

    method = channel.stream_unary(
        "/scmfit.v1.CausalModelService/SampleModel",
        request_serializer=lambda raw: raw,
        response_deserializer=lambda raw: raw,
    )
    future: grpc.Future[bytes] = method.future(never())
    return future


def test_half_open_calls_cannot_hold_the_server_and_health_always_answers(guarded: ServerProcess) -> None:
    """40 unauthenticated calls that never send their message: the peer holds at most max_calls_per_peer
    of them, each for at most the read timeout; health and server info answer all the while."""
    release = threading.Event()
    timeouts = guarded.metric("scmfit_request_read_timeouts_total")
    refusals = guarded.metric("scmfit_peer_refusals_total")
    channels = [connection(guarded.address, number) for number in range(10)]
    try:
        attack = [half_open(channels[i % 10], release) for i in range(40)]
        assert wait_for(lambda: guarded.metric("scmfit_calls_in_progress") == PEER_CALLS, timeout=10)
        with grpc.insecure_channel(guarded.address) as fresh:
            health = health_pb2_grpc.HealthStub(fresh).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            info = pb_grpc.CausalModelServiceStub(fresh).GetServerInfo(
                pb.GetServerInfoRequest(), timeout=5, metadata=AUTH
            )
            assert info.limits.max_calls_per_peer == PEER_CALLS
            assert info.limits.request_read_timeout.ToTimedelta().total_seconds() == READ_SECONDS
            # Ordinary calls from the attacking host are refused at once, with a retry delay, not queued.
            with pytest.raises(grpc.RpcError) as refused:
                pb_grpc.CausalModelServiceStub(fresh).ListModels(pb.ListModelsRequest(), timeout=5, metadata=AUTH)
            assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "max_calls_per_peer" in str(refused.value.details())
        codes = []
        for call in attack:
            with pytest.raises(grpc.RpcError) as ended:
                call.result(timeout=READ_SECONDS + 30)
            codes.append(ended.value.code())
        # The admitted ones were cancelled when their read bound passed; the rest were refused at once.
        assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 40 - PEER_CALLS - 2
        assert wait_for(lambda: guarded.metric("scmfit_request_read_timeouts_total") - timeouts >= PEER_CALLS)
        assert guarded.metric("scmfit_peer_refusals_total") - refusals >= 40 - PEER_CALLS - 2
        # The attacker is still connected, but holds nothing: ordinary calls work again.
        assert wait_for(lambda: guarded.metric("scmfit_calls_in_progress") == 0, timeout=10)
        with Client(guarded.address, token=TOKEN, timeout=10) as client:
            assert client.list_models() is not None
    finally:
        release.set()
        for channel in channels:
            channel.close()


def test_one_connection_has_at_most_its_advertised_streams(guarded: ServerProcess) -> None:
    """SETTINGS_MAX_CONCURRENT_STREAMS: 20 calls on one connection reach the server STREAMS at a time."""
    release = threading.Event()
    channel = connection(guarded.address, 100)
    try:
        attack = [half_open(channel, release) for _ in range(20)]
        assert wait_for(lambda: guarded.metric("scmfit_calls_in_progress") == STREAMS, timeout=10)
        seen = [guarded.metric("scmfit_calls_in_progress") for _ in range(20)]
        assert max(seen) == STREAMS  # the other 16 wait in the client, costing the server nothing
        release.set()
        for call in attack:
            with pytest.raises(grpc.RpcError):
                call.result(timeout=60)
    finally:
        release.set()
        channel.close()


def test_an_idle_connection_is_closed_and_the_next_call_reconnects(guarded: ServerProcess) -> None:
    states: list[grpc.ChannelConnectivity] = []
    channel = connection(guarded.address, 200)
    try:
        channel.subscribe(states.append)
        stub = pb_grpc.CausalModelServiceStub(channel)
        metadata = AUTH
        stub.GetServerInfo(pb.GetServerInfoRequest(), timeout=10, metadata=metadata)
        assert wait_for(lambda: grpc.ChannelConnectivity.READY in states, timeout=10), states  # callbacks lag
        ready_at = states.index(grpc.ChannelConnectivity.READY) + 1
        # --connection-idle-timeout 1: the server sends GOAWAY, and the channel goes back to IDLE.
        assert wait_for(lambda: grpc.ChannelConnectivity.IDLE in states[ready_at:], timeout=15), states
        assert stub.GetServerInfo(pb.GetServerInfoRequest(), timeout=10, metadata=metadata).workers == 1
    finally:
        channel.close()


@pytest.fixture(scope="module")
def shared() -> Iterator[ServerProcess]:
    """Two fit workers, one query worker, and the default fit share (fits keep both while they wait)."""
    process = start_server("--metrics-port", "0", workers=2)
    yield process
    assert process.terminate() == 0, process.log()


def test_a_query_flood_does_not_starve_a_fit_and_queries_keep_their_workers(shared: ServerProcess) -> None:
    """Three threads send SampleModel back to back while a 20-node fit runs: before the lanes were shared
    by design, such a flood held a fit at 0 node events until its deadline."""
    case = fixture_case("linear_chain")
    with Client(shared.address, timeout=60) as client:
        model_id = client.fit(case.graph, case.traces, seed=fresh_seed()).model_id
    before = {
        (pool, kind): shared.metric("scmfit_worker_tasks_total", pool=pool, kind=kind)
        for pool in ("general", "reserved")
        for kind in ("fit", "query")
    }
    stop = threading.Event()
    answered: list[int] = [0, 0, 0]
    failures: list[BaseException] = []

    def flood(index: int) -> None:
        with Client(shared.address, timeout=60) as client:
            while not stop.is_set():
                try:
                    client.sample(model_id, {"X": 1.0}, num_samples=200, seed=index)
                    answered[index] += 1
                except Exception as error:
                    failures.append(error)
                    return

    threads = [threading.Thread(target=flood, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    try:
        assert wait_for(lambda: sum(answered) >= 10, timeout=60)
        names = [f"n{i:02d}" for i in range(20)]
        edges = [(names[i - 1], names[i]) for i in range(1, 20)]
        rng = np.random.default_rng(5)
        data: dict[str, Any] = {names[0]: rng.normal(size=400)}
        for i in range(1, 20):
            data[names[i]] = 0.9 * data[names[i - 1]] + 0.2 * rng.normal(size=400)
        fitted_nodes: list[str] = []
        during = sum(answered)
        with Client(shared.address, timeout=120) as client:  # a starved fit ends in DEADLINE_EXCEEDED here
            result = None
            for event in client.fit_events(fit_request(names, edges, data, seed=fresh_seed())):
                if isinstance(event, FitProgress):
                    fitted_nodes.append(event.node)
                else:
                    result = event
        assert result is not None and result.status is FitStatus.SUCCESS
        assert set(names) <= set(fitted_nodes)
        assert sum(answered) > during  # queries went on while the fit ran
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert failures == []
    after = {key: shared.metric("scmfit_worker_tasks_total", pool=key[0], kind=key[1]) for key in before}
    assert after[("reserved", "query")] > before[("reserved", "query")]
    assert after[("general", "fit")] - before[("general", "fit")] >= 20  # every node ran on a fit worker
    assert after[("reserved", "fit")] == before[("reserved", "fit")] == 0  # reserved workers never fit


def test_server_info_reports_the_worker_shares(shared: ServerProcess) -> None:
    with Client(shared.address, timeout=10) as client:
        raw = client.server_info().raw
    # The defaults bench/fairness.py chose: with a query worker reserved, fits keep every fit worker.
    assert (raw.workers, raw.query_workers, raw.fit_share, raw.fit_workers) == (2, 1, 1.0, 2)
    assert raw.limits.max_streams_per_connection == 32 and raw.limits.max_calls_per_peer == 16
