"""Half-open calls and stream floods against a real server on loopback: what they cost now.

    .venv/bin/python bench/hostile_calls.py

Prints:
- health, GetServerInfo and an ordinary call's latency while 40 calls that never send their request
  message are held (the review saw every RPC thread pinned and health time out);
- the server's RSS before, during and after 2,000 such calls attempted on one connection, and on 40
  connections (the review saw 70 -> 688 MiB for 30,000 on one, kept after the connection closed).
Figures, not pass/fail: these machines are shared and noisy.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scmfit.v1 import causal_model_service_pb2 as pb  # noqa: E402
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc  # noqa: E402
from tests.integration.test_hostile_load import half_open  # noqa: E402
from tests.serverproc import ServerProcess, start_server  # noqa: E402


def rss_mb(server: ServerProcess) -> float:
    return psutil.Process(server.process.pid).memory_info().rss / 2**20


def timed(call: object) -> str:
    started = time.monotonic()
    try:
        call()  # type: ignore[operator]
        outcome = "ok"
    except grpc.RpcError as error:
        outcome = error.code().name
    return f"{(time.monotonic() - started) * 1000:.1f} ms ({outcome})"


def held_calls(server: ServerProcess) -> None:
    release = threading.Event()
    channels = [grpc.insecure_channel(server.address, options=[("bench.connection", i)]) for i in range(10)]
    calls = [half_open(channels[i % 10], release) for i in range(40)]
    time.sleep(1.0)
    with grpc.insecure_channel(server.address) as fresh:
        health = health_pb2_grpc.HealthStub(fresh)
        service = pb_grpc.CausalModelServiceStub(fresh)
        print("40 half-open calls held:")
        print("  Health/Check:   ", timed(lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=5)))
        print("  GetServerInfo:  ", timed(lambda: service.GetServerInfo(pb.GetServerInfoRequest(), timeout=5)))
        print("  ListModels:     ", timed(lambda: service.ListModels(pb.ListModelsRequest(), timeout=5)))
        started = time.monotonic()
        for call in calls:
            with contextlib.suppress(grpc.RpcError):
                call.result(timeout=60)
        print(f"  all 40 ended {time.monotonic() - started:.1f} s later (admitted ones at the read bound)")
        print("  ListModels now: ", timed(lambda: service.ListModels(pb.ListModelsRequest(), timeout=5)))
    release.set()
    for channel in channels:
        channel.close()


def flood(server: ServerProcess, connections: int, per_connection: int) -> None:
    before = rss_mb(server)
    release = threading.Event()
    channels = [grpc.insecure_channel(server.address, options=[("bench.flood", i)]) for i in range(connections)]
    calls = [half_open(channel, release) for channel in channels for _ in range(per_connection)]
    time.sleep(5.0)
    during = rss_mb(server)
    release.set()
    for call in calls:
        call.cancel()
    for channel in channels:
        channel.close()
    time.sleep(10.0)
    after = rss_mb(server)
    print(
        f"{len(calls)} half-open calls on {connections} connection(s): RSS {before:.0f} MiB before, "
        f"{during:.0f} during, {after:.0f} 10 s after the connections closed"
    )


def main() -> None:
    server = start_server("--request-read-timeout", "5", "--no-warm-up", workers=1)
    try:
        held_calls(server)
        # grpcio's client spends a thread per streaming request, so the floods stop at a few thousand calls.
        flood(server, 1, 2_000)
        flood(server, 40, 50)
    finally:
        server.terminate()
    print("the same floods with the stream and peer limits lifted (the layout before, for comparison):")
    unbounded = ("--max-streams-per-connection", "100000", "--max-calls-per-peer", "100000")
    server = start_server("--request-read-timeout", "3600", "--no-warm-up", *unbounded, workers=1)
    try:
        flood(server, 1, 2_000)
        flood(server, 40, 50)
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
