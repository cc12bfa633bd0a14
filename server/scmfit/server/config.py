"""Frozen configuration of the server: its address, workers, stores and request limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ADDRESS = "127.0.0.1:50051"


class StartupError(Exception):
    """The server cannot start as configured (an unreachable cluster or store); the message says why."""


@dataclass(frozen=True)
class Limits:
    """Bounds on one request, enforced before any work is queued."""

    max_request_bytes: int = 64 * 1024 * 1024
    """The gRPC receive limit; larger messages are refused by gRPC itself with RESOURCE_EXHAUSTED."""
    max_rows: int = 2_000_000
    """The most rows a dataset may have."""
    max_nodes: int = 1_000
    """The most nodes a graph may have."""
    max_edges: int = 20_000
    """The most edges a graph may have."""
    max_parents: int = 100
    """The most parents one node may have: each node's task carries its parents' columns."""
    max_samples: int = 1_000_000
    """The most samples one query may draw."""
    max_columns: int = 1_000
    """The most columns a dataset may have."""
    max_sample_cells: int = 20_000_000
    """The most values one query keeps: samples x asked nodes (160 MB of doubles); sampling itself runs in
    bounded batches, so the model's other nodes do not count."""
    max_upload_cells: int = 64_000_000
    """The most rows x columns an upload's header may declare."""
    max_upload_bytes: int = 1024 * 1024 * 1024
    """The most bytes one upload may send, counted as messages arrive."""
    max_uploads: int = 4
    """Uploads in progress at once; more are refused with RESOURCE_EXHAUSTED and a retry delay."""
    upload_idle_seconds: float = 30.0
    """An upload that sends nothing for this long is ended with DEADLINE_EXCEEDED."""
    max_abs_value: float = 1e30
    """Larger magnitudes are refused: scikit-learn's tree models cast features to float32 (max 3.4e38)."""
    max_bootstrap: int = 1000
    """The most bootstrap refits one interval may ask for."""
    max_replica_bytes: int = 512 * 1024 * 1024
    """The memory kept bootstrap refits may take, over every model; the least recently used go first."""


MAX_DEFAULT_SHAPLEY_JOBS = 4
"""The default stops here: a query worker's Shapley jobs stay resident, and on a 64-core host 64 of them
would hold 17 GiB; --shapley-jobs sets more."""


def usable_cpus() -> int:
    """The cores this process may run on (its affinity), which a container can set below os.cpu_count()."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ServerConfig:
    """How the server runs."""

    address: str = DEFAULT_ADDRESS
    """Where to listen; port 0 asks the OS for a free port."""
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    """Worker processes that fit models; each holds a warm DoWhy import. With the Ray executor they
    answer queries only, and fits run on the cluster."""
    executor: str = "local"
    """Where fits' node tasks run: "local" (the worker processes) or "ray" (a Ray cluster)."""
    ray_address: str | None = None
    """HOST:PORT of the Ray head's GCS, for the Ray executor."""
    rpc_threads: int = 32
    """Threads serving RPCs; they only decode, wait and stream, never fit."""
    grace_seconds: float = 10.0
    """How long in-flight calls may finish after SIGTERM before they are cancelled."""
    limits: Limits = field(default_factory=Limits)
    """Request bounds."""
    shapley_jobs: int = field(default_factory=lambda: min(MAX_DEFAULT_SHAPLEY_JOBS, usable_cpus()))
    """Processes one Shapley estimate (anomaly, influence and distribution-change attribution) spreads
    over, under its worker: the answer for a seed is the same for any number (DoWhy seeds each subset).
    Each holds about 270 MiB, and the query workers start theirs at warm-up."""
    warm_up: bool = True
    """Whether workers run a tiny fit at start-up so that the first real fit pays no warm-up."""
    registry_bytes: int = 512 * 1024 * 1024
    """The most bytes of fitted models kept in memory; least recently used models go first."""
    model_ttl_seconds: float | None = None
    """Models unused for this long are dropped; None keeps them until evicted or deleted."""
    model_dir: Path | None = None
    """Where models persist across restarts; None keeps them in memory only."""
    model_store: str | None = None
    """s3://bucket/prefix: keep models in an S3-compatible store that replicas share (instead of model_dir)."""
    store_call_seconds: float = 10.0
    """The longest one call to the shared model store may take (less when the RPC's deadline is sooner)."""
    model_key_file: Path | None = None
    """The key that signs model files; SCMFIT_MODEL_KEY wins, and without either `<model_dir>.key` is made."""
    previous_model_key_files: tuple[Path, ...] = ()
    """Keys of a rotation: files they signed are re-signed with the current key at start-up."""
    model_dir_bytes: int | None = 10 * 1024 * 1024 * 1024
    """The disk budget of model_dir; the oldest files go first. None: unbounded."""
    dataset_bytes: int = 1024 * 1024 * 1024
    """The most bytes of uploaded datasets kept; least recently used go first."""
    dataset_ttl_seconds: float = 3600.0
    """Uploaded datasets unused for this long are dropped."""
    max_concurrent: int | None = None
    """Fits and queries running at once; None means one per worker."""
    max_queue: int = 16
    """Calls that may wait for a slot; beyond it calls get RESOURCE_EXHAUSTED with a retry delay."""
    max_concurrent_queries: int | None = None
    """Queries running at once, in a lane of their own so that a query never waits behind fits (on the
    workers, `query_workers` and `fit_share` decide). None means two per worker; 0 puts queries back in
    the fits' lane, without priority (the layout before the lanes, for comparison)."""
    max_query_queue: int = 64
    """Queries that may wait for a query slot."""
    query_workers: int = 1
    """Worker processes reserved for queries, beside `workers`: a query never waits for a fit's node task.
    Each costs one warm DoWhy process (docs/reliability.md gives its memory). 0: queries use `workers` only."""
    fit_share: float | None = None
    """The share of `workers` that fits keep while their tasks wait (at least one): queries may take only
    the rest, so no query flood can starve a fit. None: all of them when query workers are reserved (queries
    then have their own), else half. 0 gives queries strict priority. Chosen by bench/fairness.py."""

    @property
    def effective_fit_share(self) -> float:
        if self.fit_share is not None:
            return self.fit_share
        return 1.0 if self.query_workers > 0 else 0.5

    request_read_seconds: float = 20.0
    """How long a call may take to send its request message; then it is cancelled and its thread freed."""
    max_calls_per_peer: int = 16
    """Calls one peer host may have in progress at once; beyond it, RESOURCE_EXHAUSTED with a retry delay.
    Health checks and GetServerInfo have a pool of their own and are counted apart."""
    max_streams_per_connection: int = 32
    """HTTP/2 streams one connection may open at once (advertised in SETTINGS_MAX_CONCURRENT_STREAMS)."""
    priority_threads: int = 8
    """Threads that serve only health checks and GetServerInfo, so they answer whatever the others do."""
    connection_idle_seconds: float = 300.0
    """A connection with no call for this long is closed (GOAWAY); clients reconnect when they next call."""
    connection_max_age_seconds: float = 3600.0
    """Connections are recycled after this long; calls in flight then get the default fit deadline to end."""
    worker_stall_seconds: float = 30.0
    """A worker whose heartbeat stops this long (SIGSTOP, a wedged process) is killed and replaced."""
    default_fit_deadline_seconds: float = 600.0
    """Applies to fits whose client set no deadline."""
    security: Security = field(default_factory=lambda: Security())  # noqa: PLW0108 - defined below
    """TLS and token authentication."""
    metrics_port: int | None = None
    """Serve Prometheus metrics on this port (0 picks one); None disables them."""
    metrics_address: str = "127.0.0.1"
    """Where the metrics endpoint listens."""


@dataclass(frozen=True)
class Security:
    """Transport security and authentication; all off by default for loopback development."""

    tls_cert: Path | None = None
    """PEM certificate chain of the server; with tls_key it turns TLS on."""
    tls_key: Path | None = None
    """PEM private key of the server."""
    client_ca: Path | None = None
    """PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS)."""
    auth_token_file: Path | None = None
    """A file holding the bearer token every call must carry (`authorization: Bearer ...`)."""
    auth_open_health: bool = True
    """Whether health checks and reflection stay reachable without the token."""
