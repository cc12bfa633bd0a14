"""Builds the gRPC server (workers first, then the server) and runs it until SIGTERM or SIGINT."""

from __future__ import annotations

import faulthandler
import logging
import signal
import socket
import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from scmfit.server.config import ServerConfig, StartupError
from scmfit.server.engine.admission import Admission
from scmfit.server.engine.executor import ManagedExecutor, ProcessFitExecutor
from scmfit.server.engine.executors import EXECUTORS, build_executor
from scmfit.server.metrics import Metrics
from scmfit.server.stores.datasets import DatasetStore
from scmfit.server.stores.modelfiles import DirectoryFiles, ModelFiles, S3Files
from scmfit.server.stores.registry import ModelRegistry
from scmfit.server.stores.signing import load_keys
from scmfit.server.wire.callguard import CallGuard
from scmfit.server.wire.encode import AdmissionLimits, WorkerShares
from scmfit.server.wire.interceptors import RequestIdInterceptor, TokenAuthInterceptor
from scmfit.server.wire.servicer import CausalModelServicer, service_handler
from scmfit.v1 import causal_model_service_pb2 as pb

_log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["CausalModelService"].full_name
_HEALTH_NAMES = ("", SERVICE_NAME)
ALWAYS_ANSWER = frozenset({f"/{SERVICE_NAME}/GetServerInfo", "/grpc.health.v1.Health/Check"})
"""Methods served on threads of their own, so that they answer whatever the other calls are doing."""


@dataclass
class RunningServer:
    """A started server and what it owns; `stop` shuts it down in the documented order."""

    server: grpc.Server
    port: int
    executor: ManagedExecutor
    health: health.HealthServicer
    config: ServerConfig
    metrics_port: int | None = None
    guard: CallGuard | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    def set_serving(self, serving: bool) -> None:
        state = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in _HEALTH_NAMES:
            self.health.set(name, state)

    def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING first, so load balancers drain us; then in-flight calls get the grace period."""
        grace = self.config.grace_seconds if grace is None else grace
        self.stopping.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        if self.guard is not None:
            self.guard.priority_pool.shutdown(wait=False)
        self.executor.close()


def create_server(config: ServerConfig) -> RunningServer:
    """Starts workers, then the server; health stays NOT_SERVING until every worker is warm."""
    check_address(config.address)  # before any worker or cluster driver starts, so a busy port costs nothing
    metrics = Metrics()

    kind = EXECUTORS[config.executor]
    local_query_workers = config.query_workers if kind.fits_locally else 0

    def spawned(count: int) -> None:
        metrics.worker_spawns.inc()
        if count > config.workers + local_query_workers:  # beyond the first generation: a replacement
            metrics.worker_restarts.inc()

    local = ProcessFitExecutor(
        config.workers,
        # With Ray, fits run on the cluster: the local workers answer only queries, and need no split.
        query_workers=local_query_workers,
        fit_share=config.effective_fit_share if kind.fits_locally else 0.0,
        warm_up=config.warm_up,
        shapley_jobs=config.shapley_jobs,
        stall_seconds=config.worker_stall_seconds,
        on_spawn=spawned,
        on_stall=metrics.worker_stalls.inc,
        on_send=lambda pool, urgent: metrics.tasks_sent.labels(pool, "query" if urgent else "fit").inc(),
    )
    executor = build_executor(config, local)
    limits = config.limits
    guard = CallGuard(
        read_seconds=config.request_read_seconds,
        max_calls_per_peer=config.max_calls_per_peer,
        always_answer=ALWAYS_ANSWER,
        priority_threads=config.priority_threads,
        on_read_timeout=metrics.request_read_timeouts.inc,
        on_refusal=metrics.peer_refusals.inc,
    )
    metrics.calls_in_progress.set_function(guard.calls.total)
    # The guard is outermost: it sees the handlers the others built, and runs before any of them.
    interceptors: list[grpc.ServerInterceptor] = [guard, RequestIdInterceptor()]
    security = config.security
    if security.auth_token_file is not None:
        token = security.auth_token_file.read_text().strip()
        if not token:
            raise ValueError(f"{security.auth_token_file} is empty")
        interceptors.append(TokenAuthInterceptor(token, open_health=security.auth_open_health))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.rpc_threads, thread_name_prefix="scmfit-rpc"),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", limits.max_request_bytes),
            ("grpc.max_send_message_length", limits.max_request_bytes),
            ("grpc.so_reuseport", 0),
            *connection_options(config),
        ],
    )
    try:
        registry = _registry(config, metrics)
    except BaseException:
        executor.close()
        raise
    admission = Admission(config.max_concurrent or executor.capacity, config.max_queue)
    query_admission = (
        admission
        if config.max_concurrent_queries == 0
        else Admission(
            config.max_concurrent_queries or 2 * config.workers,
            config.max_query_queue,
            what="queries",
            limit_names="max_concurrent_queries and max_query_queue",
        )
    )
    metrics.watch(lambda: admission.active, lambda: admission.queued, registry.stats, executor.warm_workers)
    metrics.unverified_files.set_function(lambda: registry.unverified()[0])
    metrics.unverified_bytes.set_function(lambda: registry.unverified()[1])
    datasets = DatasetStore(config.dataset_bytes, config.dataset_ttl_seconds)
    servicer = CausalModelServicer(
        executor,
        registry,
        datasets,
        admission,
        query_admission,
        metrics,
        limits,
        WorkerShares(
            workers=executor.capacity,
            query_workers=local.query_workers,
            fit_share=local.fit_share,
            fit_workers=local.fit_workers,
        ),
        config.default_fit_deadline_seconds,
        AdmissionLimits(
            registry_bytes=0,
            max_concurrent=0,
            max_queue=0,
            default_fit_deadline=config.default_fit_deadline_seconds,
            max_calls_per_peer=config.max_calls_per_peer,
            max_streams_per_connection=config.max_streams_per_connection,
            request_read_seconds=config.request_read_seconds,
            connection_idle_seconds=config.connection_idle_seconds,
            connection_max_age_seconds=config.connection_max_age_seconds,
        ),
    )
    server.add_generic_rpc_handlers((service_handler(servicer),))
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        port = _bind(server, config)
    except RuntimeError as error:  # grpcio's "Failed to bind": a port taken since check_address looked
        executor.close()
        raise AddressInUseError(_in_use(config.address, str(error))) from None
    if port == 0:
        executor.close()
        raise AddressInUseError(_in_use(config.address, "gRPC could not bind it"))
    metrics_port = (
        metrics.serve(config.metrics_port, config.metrics_address) if config.metrics_port is not None else None
    )
    running = RunningServer(
        server=server,
        port=port,
        executor=executor,
        health=health_servicer,
        config=config,
        metrics_port=metrics_port,
        guard=guard,
    )
    running.set_serving(False)
    server.start()
    threading.Thread(target=_mark_ready, args=(running,), name="scmfit-warm-up", daemon=True).start()
    return running


def connection_options(config: ServerConfig) -> list[tuple[str, int]]:
    """gRPC core's per-connection bounds: streams at once, idle time and age (then a grace for calls in flight)."""

    def milliseconds(seconds: float) -> int:
        return max(1, round(seconds * 1000))

    return [
        ("grpc.max_concurrent_streams", config.max_streams_per_connection),
        ("grpc.max_connection_idle_ms", milliseconds(config.connection_idle_seconds)),
        ("grpc.max_connection_age_ms", milliseconds(config.connection_max_age_seconds)),
        ("grpc.max_connection_age_grace_ms", milliseconds(config.default_fit_deadline_seconds + config.grace_seconds)),
    ]


def _registry(config: ServerConfig, metrics: Metrics) -> ModelRegistry:
    files: ModelFiles | None = None
    if config.model_store is not None:
        files = S3Files(
            config.model_store,
            call_seconds=config.store_call_seconds,
            on_read=lambda kind: metrics.store_reads.labels(kind).inc(),
        )
    elif config.model_dir is not None:
        files = DirectoryFiles(config.model_dir)
    keys = (
        load_keys(config.model_dir, config.model_key_file, config.previous_model_key_files)
        if files is not None
        else None
    )
    return ModelRegistry(
        config.registry_bytes,
        ttl_seconds=config.model_ttl_seconds,
        keys=keys,
        disk_bytes=config.model_dir_bytes,
        files=files,
    )


class AddressInUseError(StartupError):
    """The address to listen on is taken or not this machine's; the message names --address."""


def _in_use(address: str, why: str) -> str:
    return f"cannot listen on {address} ({why}); stop what uses it, or choose another with --address"


def check_address(address: str) -> None:
    """Binds the address once with a plain socket, as gRPC will: a port in use is refused here, in one
    sentence, instead of by grpcio's RuntimeError after the workers (or a Ray driver) have started."""
    host, _, port = address.rpartition(":")
    if not port.isdigit() or int(port) == 0:
        return  # port 0 is always free; a malformed address is the CLI's to refuse
    try:
        infos = socket.getaddrinfo(
            host.strip("[]") or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        raise AddressInUseError(_in_use(address, f"the host does not resolve: {error.strerror}")) from None
    for family, kind, protocol, _, where in infos:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does: TIME_WAIT is no conflict
            try:
                probe.bind(where)
            except OSError as error:
                raise AddressInUseError(_in_use(address, error.strerror or str(error))) from None


def _bind(server: grpc.Server, config: ServerConfig) -> int:
    security = config.security
    if security.tls_cert is None and security.tls_key is None:
        if security.client_ca is not None:
            raise ValueError("--client-ca needs --tls-cert and --tls-key")
        return int(server.add_insecure_port(config.address))
    if security.tls_cert is None or security.tls_key is None:
        raise ValueError("TLS needs both --tls-cert and --tls-key")
    credentials = grpc.ssl_server_credentials(
        [(security.tls_key.read_bytes(), security.tls_cert.read_bytes())],
        root_certificates=security.client_ca.read_bytes() if security.client_ca else None,
        require_client_auth=security.client_ca is not None,
    )
    return int(server.add_secure_port(config.address, credentials))


READINESS_SECONDS = 0.5
SHUTDOWN_SLACK_SECONDS = 60.0
"""Beyond the grace period, how long the workers and the cluster driver get to stop."""


def _mark_ready(running: RunningServer) -> None:
    """SERVING once every worker is warm; from then on, NOT_SERVING whenever no warm worker is left
    (all killed and warming up again, or stalled), so a balancer sends calls elsewhere meanwhile."""
    if not running.executor.wait_ready():
        _log.error("workers failed to start; staying NOT_SERVING")
        return
    serving = True
    running.set_serving(True)
    _log.info("workers warm; serving")
    while not running.stopping.wait(READINESS_SECONDS):
        ready = running.executor.warm_workers() > 0
        if ready != serving and not running.stopping.is_set():
            serving = ready
            running.set_serving(ready)
            _log.warning(
                "readiness: %s", "SERVING (a worker is warm again)" if ready else "NOT_SERVING (no warm worker)"
            )


def serve(config: ServerConfig, port_file: Path | None = None) -> None:
    """Runs until SIGTERM or SIGINT, then shuts down gracefully and returns (exit code 0)."""
    running = create_server(config)
    host = config.address.rsplit(":", 1)[0]
    _log.info(
        "listening on %s:%d with %d workers%s%s%s",
        host,
        running.port,
        config.workers,
        f" for queries, fits on the Ray cluster at {config.ray_address}" if config.executor == "ray" else "",
        " (TLS)" if config.security.tls_cert else "",
        f"; metrics on {config.metrics_address}:{running.metrics_port}" if running.metrics_port is not None else "",
    )
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
    # The last resort if a shutdown step waits without end: every thread's stack in the log, then exit 1,
    # so that a supervisor sees a failed stop instead of a process that ignores SIGTERM.
    faulthandler.dump_traceback_later(config.grace_seconds + SHUTDOWN_SLACK_SECONDS, exit=True)
    running.stop()
    faulthandler.cancel_dump_traceback_later()
    _log.info("stopped")
