"""`scmfit serve`: the server's command line, from the `scmfit` entry point or `python -m scmfit.server`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from scmfit.client._terminal import HelpFormatter
from scmfit.server.config import DEFAULT_ADDRESS, Limits, Security, ServerConfig, StartupError
from scmfit.server.engine.executors import EXECUTORS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ServerConfig()
    limits = Limits()
    parser.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        type=listen_address,
        help="host:port to listen on; port 0 picks a free one",
    )
    parser.add_argument("--workers", type=int, default=defaults.workers, help="worker processes that fit models")
    parser.add_argument(
        "--shapley-jobs",
        type=int,
        default=defaults.shapley_jobs,
        help="processes one Shapley estimate uses (default: the usable cores, at most 4); answers do not depend on it",
    )
    parser.add_argument(
        "--executor",
        choices=list(EXECUTORS),
        default=defaults.executor,
        help="where fits run: " + "; ".join(f"{kind.name}: {kind.help}" for kind in EXECUTORS.values()),
    )
    parser.add_argument("--ray-address", help="HOST:PORT of the Ray head (as `ray start --head` prints it)")
    parser.add_argument(
        "--grace", type=float, default=defaults.grace_seconds, help="seconds in-flight calls get on SIGTERM"
    )
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        default=limits.max_request_bytes,
        help="largest message received or sent; bigger requests are refused by gRPC",
    )
    parser.add_argument("--max-rows", type=int, default=limits.max_rows, help="most rows a dataset may have")
    parser.add_argument("--max-nodes", type=int, default=limits.max_nodes, help="most nodes a graph may have")
    parser.add_argument("--max-edges", type=int, default=limits.max_edges, help="most edges a graph may have")
    parser.add_argument("--max-parents", type=int, default=limits.max_parents, help="most parents of one node")
    parser.add_argument("--max-samples", type=int, default=limits.max_samples, help="most samples per query")
    parser.add_argument(
        "--max-sample-cells", type=int, default=limits.max_sample_cells, help="most samples x asked nodes per query"
    )
    parser.add_argument(
        "--max-bootstrap", type=int, default=limits.max_bootstrap, help="most bootstrap refits one interval may ask"
    )
    parser.add_argument(
        "--max-replica-bytes",
        type=int,
        default=limits.max_replica_bytes,
        help="memory kept bootstrap refits may take, over every model (least recently used go first)",
    )
    parser.add_argument("--model-dir", type=Path, help="persist fitted models here so they survive restarts")
    parser.add_argument(
        "--model-store",
        help="s3://bucket/prefix: keep models in an object store that replicas share (endpoint: AWS_ENDPOINT_URL)",
    )
    parser.add_argument(
        "--store-timeout",
        type=float,
        default=defaults.store_call_seconds,
        help="seconds one call to --model-store may take (less when the RPC's deadline is sooner)",
    )
    parser.add_argument(
        "--model-key-file", type=Path, help="key that signs model files (or SCMFIT_MODEL_KEY; default <model-dir>.key)"
    )
    parser.add_argument(
        "--previous-model-key-file",
        type=Path,
        action="append",
        default=[],
        help="an old key during rotation: files it signed are re-signed with the current key (repeatable)",
    )
    parser.add_argument(
        "--model-dir-bytes",
        type=int,
        default=defaults.model_dir_bytes,
        help="disk budget of --model-dir; the oldest model files go first (0: unbounded)",
    )
    parser.add_argument(
        "--registry-bytes", type=int, default=defaults.registry_bytes, help="memory bound for fitted models"
    )
    parser.add_argument("--model-ttl", type=float, default=None, help="drop models unused for this many seconds")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--no-warm-up", action="store_true", help="skip the warm-up fit in each worker")
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the least severe log records written",
    )
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="one line of text, or one JSON object, per record",
    )
    parser.add_argument("--max-columns", type=int, default=limits.max_columns, help="most columns a dataset may have")
    parser.add_argument(
        "--max-upload-cells",
        type=int,
        default=limits.max_upload_cells,
        help="most rows x columns an upload may declare",
    )
    parser.add_argument(
        "--max-upload-bytes", type=int, default=limits.max_upload_bytes, help="most bytes one upload may send"
    )
    parser.add_argument("--max-uploads", type=int, default=limits.max_uploads, help="uploads in progress at once")
    parser.add_argument(
        "--upload-idle-seconds",
        type=float,
        default=limits.upload_idle_seconds,
        help="end an upload that sends nothing for this long",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        help="fits at once (unset: one per worker); queries have their own lane, --max-concurrent-queries",
    )
    parser.add_argument("--max-queue", type=int, default=defaults.max_queue, help="calls that may wait for a slot")
    parser.add_argument(
        "--max-concurrent-queries",
        type=int,
        default=None,
        help="queries at once, in their own lane (default: 2 per worker; 0: share the fits' lane)",
    )
    parser.add_argument(
        "--max-query-queue", type=int, default=defaults.max_query_queue, help="queries that may wait for a slot"
    )
    parser.add_argument(
        "--default-fit-deadline",
        type=float,
        default=defaults.default_fit_deadline_seconds,
        help="seconds, for fits whose client set no deadline",
    )
    parser.add_argument(
        "--query-workers",
        type=int,
        default=defaults.query_workers,
        help="worker processes reserved for queries, beside --workers (0: queries share the fit workers)",
    )
    parser.add_argument(
        "--fit-share",
        type=float,
        default=defaults.fit_share,
        help="share of --workers that fits keep while their tasks wait, whatever the query load (0 to 1; "
        "default: all of them with --query-workers, else half)",
    )
    parser.add_argument(
        "--request-read-timeout",
        type=float,
        default=defaults.request_read_seconds,
        help="seconds a call may take to send its request message before it is cancelled",
    )
    parser.add_argument(
        "--max-calls-per-peer",
        type=int,
        default=defaults.max_calls_per_peer,
        help="calls one client host may have in progress at once (health and server info are counted apart)",
    )
    parser.add_argument(
        "--max-streams-per-connection",
        type=int,
        default=defaults.max_streams_per_connection,
        help="HTTP/2 streams one connection may have open at once",
    )
    parser.add_argument(
        "--connection-idle-timeout",
        type=float,
        default=defaults.connection_idle_seconds,
        help="seconds after which a connection with no calls is closed",
    )
    parser.add_argument(
        "--connection-max-age",
        type=float,
        default=defaults.connection_max_age_seconds,
        help="seconds after which a connection is recycled (calls in flight get the fit deadline to finish)",
    )
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate chain; with --tls-key turns on TLS")
    parser.add_argument("--tls-key", type=Path, help="PEM private key")
    parser.add_argument("--client-ca", type=Path, help="PEM CA: require client certificates it signed (mTLS)")
    parser.add_argument("--auth-token-file", type=Path, help="require `authorization: Bearer <token>` on calls")
    parser.add_argument(
        "--auth-protect-health", action="store_true", help="also require the token for health and reflection"
    )
    parser.add_argument(
        "--worker-stall-seconds",
        type=float,
        default=defaults.worker_stall_seconds,
        help="kill and replace a worker whose heartbeat stops this long (SIGSTOP, wedged)",
    )
    parser.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics (0 picks a port)")
    parser.add_argument("--metrics-address", default="127.0.0.1", help="where the metrics endpoint listens")
    _defaults_from_environment(parser)


def listen_address(text: str) -> str:
    """host:port with a port gRPC can bind; gRPC itself would wrap 99999 around to another port."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port from 0 to 65535, got {text!r}")
    return text


def _defaults_from_environment(parser: argparse.ArgumentParser) -> None:
    """Every flag can also be set as SCMFIT_<FLAG> (for containers); a flag on the command line wins."""
    overrides: dict[str, Any] = {}
    for action in parser._actions:  # argparse has no public iterator over its arguments
        value = os.environ.get(f"SCMFIT_{action.dest.upper()}")
        if not value or action.dest == "help":
            continue
        if action.nargs == 0:  # store_true flags
            overrides[action.dest] = value.strip().lower() in {"1", "true", "yes", "on"}
        else:
            convert: Callable[[str], Any] = action.type if callable(action.type) else str
            overrides[action.dest] = convert(value)
    parser.set_defaults(**overrides)


def run(args: argparse.Namespace) -> int:
    try:
        from scmfit.server.app import AddressInUseError, serve
    except ImportError as error:  # a client-only install: one sentence, not a traceback
        return _usage_error(
            f"`scmfit serve` needs the server extra, which this install lacks: pip install '.[server]' in a "
            f"clone, or '<wheel>[server]' (README, Installing) ({error})"
        )
    from scmfit.server.logs import configure as configure_logs

    configure_logs(args.log_level, args.log_format)
    if args.workers < 1:
        raise SystemExit("--workers must be at least 1")
    if args.model_store and args.model_dir:
        raise SystemExit("--model-store and --model-dir exclude each other")
    if args.executor == "ray" and not args.ray_address:
        raise SystemExit("--executor ray needs --ray-address HOST:PORT (the head's GCS address)")
    if args.executor == "local" and args.ray_address:
        raise SystemExit("--ray-address is for --executor ray")
    if not args.worker_stall_seconds > 2:
        raise SystemExit("--worker-stall-seconds must be above 2 (workers beat every second)")
    if not args.store_timeout > 0:
        raise SystemExit("--store-timeout must be above 0 seconds")
    if args.shapley_jobs < 1:
        raise SystemExit("--shapley-jobs must be at least 1")
    if args.query_workers < 0:
        raise SystemExit("--query-workers must be 0 or more")
    if args.fit_share is not None and not 0 <= args.fit_share <= 1:
        raise SystemExit("--fit-share must be within [0, 1]")
    for flag in ("request_read_timeout", "connection_idle_timeout", "connection_max_age"):
        if not getattr(args, flag) > 0:
            raise SystemExit(f"--{flag.replace('_', '-')} must be above 0 seconds")
    if args.max_calls_per_peer < 1 or args.max_streams_per_connection < 1:
        raise SystemExit("--max-calls-per-peer and --max-streams-per-connection must be at least 1")
    config = ServerConfig(
        address=args.address,
        workers=args.workers,
        shapley_jobs=args.shapley_jobs,
        executor=args.executor,
        ray_address=args.ray_address,
        grace_seconds=args.grace,
        # Every limit that has a flag of the same name; a new limit needs only its flag.
        limits=Limits(**{f.name: getattr(args, f.name) for f in fields(Limits) if hasattr(args, f.name)}),
        max_concurrent=args.max_concurrent,
        max_queue=args.max_queue,
        max_concurrent_queries=args.max_concurrent_queries,
        max_query_queue=args.max_query_queue,
        query_workers=args.query_workers,
        fit_share=args.fit_share,
        request_read_seconds=args.request_read_timeout,
        max_calls_per_peer=args.max_calls_per_peer,
        max_streams_per_connection=args.max_streams_per_connection,
        connection_idle_seconds=args.connection_idle_timeout,
        connection_max_age_seconds=args.connection_max_age,
        default_fit_deadline_seconds=args.default_fit_deadline,
        security=Security(
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            client_ca=args.client_ca,
            auth_token_file=args.auth_token_file,
            auth_open_health=not args.auth_protect_health,
        ),
        metrics_port=args.metrics_port,
        metrics_address=args.metrics_address,
        registry_bytes=args.registry_bytes,
        model_ttl_seconds=args.model_ttl,
        model_dir=args.model_dir,
        model_store=args.model_store,
        store_call_seconds=args.store_timeout,
        model_key_file=args.model_key_file,
        previous_model_key_files=tuple(args.previous_model_key_file),
        model_dir_bytes=args.model_dir_bytes or None,
        warm_up=not args.no_warm_up,
        worker_stall_seconds=args.worker_stall_seconds,
    )
    try:
        serve(config, port_file=args.port_file)
    except AddressInUseError as error:
        return _usage_error(str(error))
    except StartupError as error:
        raise SystemExit(f"scmfit serve: {error}") from None
    return 0


def _usage_error(message: str) -> int:
    """What the operator must change, in one line on stderr; exit code 2, as for any usage error."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scmfit serve", description="Run the scmfit gRPC server.", formatter_class=HelpFormatter
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
