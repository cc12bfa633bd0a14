"""Prometheus metrics: outcomes, durations, in-flight and queued calls, worker spawns, registry size."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

FIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    """One registry per server, so tests can run several servers in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.fits = Counter(
            "scmfit_fits", "FitModel calls by outcome (fit status, reused, or gRPC code).", ["outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.queries = Counter(
            "scmfit_queries", "Query and registry calls by RPC and outcome.", ["rpc", "outcome"], registry=self.registry
        )
        self.fit_seconds = Histogram(
            "scmfit_fit_duration_seconds", "Wall time of fits that ran, by quality.", ["quality"],
            buckets=FIT_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge("scmfit_in_flight", "Fits and queries holding a worker slot.", registry=self.registry)
        self.queued = Gauge("scmfit_queue_depth", "Calls waiting for a worker slot.", registry=self.registry)
        self.worker_spawns = Counter(
            "scmfit_worker_spawns", "Worker processes started, counted by the workers themselves.",
            registry=self.registry,
        )  # fmt: skip
        self.worker_restarts = Counter(
            "scmfit_worker_restarts", "Workers started to replace one killed (cancel, deadline, stall) or lost.",
            registry=self.registry,
        )  # fmt: skip
        self.worker_stalls = Counter(
            "scmfit_worker_stalls", "Workers killed because their heartbeat stopped.", registry=self.registry
        )
        self.bootstrap_refits = Counter(
            "scmfit_bootstrap_refits", "Bootstrap replicas refitted for intervals (kept ones are not counted again).",
            registry=self.registry,
        )  # fmt: skip
        self.warm_workers = Gauge("scmfit_warm_workers", "Workers warm, alive and beating.", registry=self.registry)
        self.registry_models = Gauge("scmfit_registry_models", "Stored models.", registry=self.registry)
        self.registry_bytes = Gauge(
            "scmfit_registry_bytes", "Bytes of stored models in memory.", registry=self.registry
        )
        self.calls_in_progress = Gauge(
            "scmfit_calls_in_progress", "Calls counted against max_calls_per_peer (health and server info apart).",
            registry=self.registry,
        )  # fmt: skip
        self.request_read_timeouts = Counter(
            "scmfit_request_read_timeouts", "Calls cancelled because their request message did not arrive in time.",
            registry=self.registry,
        )  # fmt: skip
        self.peer_refusals = Counter(
            "scmfit_peer_refusals", "Calls refused because their peer held max_calls_per_peer already.",
            registry=self.registry,
        )  # fmt: skip
        self.unverified_files = Gauge(
            "scmfit_unverified_model_files", "Model files no key of ours verifies (never served; first to go).",
            registry=self.registry,
        )  # fmt: skip
        self.unverified_bytes = Gauge(
            "scmfit_unverified_model_bytes", "Bytes of those files, counted against --model-dir-bytes.",
            registry=self.registry,
        )  # fmt: skip
        self.store_reads = Counter(
            "scmfit_store_reads", "GETs of the shared model store, by what they read (model or index entry).",
            ["kind"], registry=self.registry,
        )  # fmt: skip
        self.tasks_sent = Counter(
            "scmfit_worker_tasks", "Tasks sent to workers, by pool (general, reserved) and kind (fit, query).",
            ["pool", "kind"], registry=self.registry,
        )  # fmt: skip

    def watch(
        self,
        active: Callable[[], int],
        queued: Callable[[], int],
        stats: Callable[[], tuple[int, int]],
        warm: Callable[[], int],
    ) -> None:
        """Gauges read live values at scrape time instead of being kept in step by hand."""
        self.warm_workers.set_function(warm)
        self.in_flight.set_function(active)
        self.queued.set_function(queued)
        self.registry_models.set_function(lambda: stats()[0])
        self.registry_bytes.set_function(lambda: stats()[1])

    def serve(self, port: int, address: str) -> int:
        server, _ = start_http_server(port, addr=address, registry=self.registry)
        return int(server.server_port)
