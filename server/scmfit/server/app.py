"""Builds the gRPC server (workers first, then the server) and runs it until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from scmfit.server.config import ServerConfig
from scmfit.server.executor import ProcessFitExecutor
from scmfit.server.registry import ModelRegistry
from scmfit.server.servicer import CausalModelServicer
from scmfit.v1 import causal_model_service_pb2 as pb
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc

_log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["CausalModelService"].full_name
_HEALTH_NAMES = ("", SERVICE_NAME)


@dataclass
class RunningServer:
    """A started server and what it owns; `stop` shuts it down in the documented order."""

    server: grpc.Server
    port: int
    executor: ProcessFitExecutor
    health: health.HealthServicer
    config: ServerConfig

    def set_serving(self, serving: bool) -> None:
        state = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in _HEALTH_NAMES:
            self.health.set(name, state)

    def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING first, so load balancers drain us; then in-flight calls get the grace period."""
        grace = self.config.grace_seconds if grace is None else grace
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        self.executor.close()


def create_server(config: ServerConfig) -> RunningServer:
    """Starts workers, then the server; health stays NOT_SERVING until every worker is warm."""
    executor = ProcessFitExecutor(config.workers, warm_up=config.warm_up)
    limits = config.limits
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.rpc_threads, thread_name_prefix="scmfit-rpc"),
        options=[
            ("grpc.max_receive_message_length", limits.max_request_bytes),
            ("grpc.max_send_message_length", limits.max_request_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    registry = ModelRegistry(config.registry_bytes, ttl_seconds=config.model_ttl_seconds, directory=config.model_dir)
    pb_grpc.add_CausalModelServiceServicer_to_server(
        CausalModelServicer(executor, registry, limits, config.workers), server
    )
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(config.address)
    if port == 0:
        executor.close()
        raise OSError(f"could not bind {config.address}")
    running = RunningServer(server=server, port=port, executor=executor, health=health_servicer, config=config)
    running.set_serving(False)
    server.start()
    threading.Thread(target=_mark_ready, args=(running,), name="scmfit-warm-up", daemon=True).start()
    return running


def _mark_ready(running: RunningServer) -> None:
    if running.executor.wait_ready():
        running.set_serving(True)
        _log.info("workers warm; serving")
    else:
        _log.error("workers failed to start; staying NOT_SERVING")


def serve(config: ServerConfig, port_file: Path | None = None) -> None:
    """Runs until SIGTERM or SIGINT, then shuts down gracefully and returns (exit code 0)."""
    running = create_server(config)
    host = config.address.rsplit(":", 1)[0]
    _log.info("listening on %s:%d with %d workers", host, running.port, config.workers)
    if port_file is not None:
        temporary = port_file.with_name(port_file.name + ".tmp")
        temporary.write_text(f"{running.port}\n")
        temporary.replace(port_file)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        _log.info("received %s; shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    running.stop()
    _log.info("stopped")
