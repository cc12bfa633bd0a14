"""The bridge: a plain HTML page POSTs a job, then follows it over EventSource; the bridge calls gRPC.

EventSource only does GET, so a job is created by POST and streamed once by its single-use id.
When the browser goes away, Starlette cancels the stream and the bridge cancels the gRPC call,
which makes the server kill the worker that was fitting.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from scmfit.client._async_client import AsyncClient
from scmfit.client._cases import load_case
from scmfit.client._config import FitConfig
from scmfit.client._errors import InvalidRequestError, NotFoundError, ScmfitError, UnavailableError
from scmfit.client._request import fit_request
from scmfit.client._results import FitProgress, FitResult, Interval, SampleResult
from scmfit.client._traces import load_json, parse_csv, parse_graph
from scmfit.v1 import causal_model_service_pb2 as pb

JOB_TTL_SECONDS = 300
MAX_PENDING_JOBS = 64
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
MAX_PENDING_BYTES = 256 * 1024 * 1024
"""What the requests of jobs waiting for their stream may hold together: 64 jobs of 29 MiB CSVs held 1.7 GB."""
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
RETRY_AFTER_SECONDS = 5


class BridgeBusyError(ScmfitError):
    """The job table is full; the page should try again after RETRY_AFTER_SECONDS."""


def origin_guard(allowed_hosts: Sequence[str]) -> Any:
    """Pure ASGI middleware: state-changing requests must be JSON and, when they say where they come
    from, come from an allowed host. A cross-site form can send neither a JSON content type (that needs
    a CORS preflight, which this bridge never grants) nor a matching Origin."""
    allowed = set(allowed_hosts)

    def middleware(app: Any) -> Any:
        async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
                origin = headers.get("origin")
                problem = None
                if origin is not None and urlsplit(origin).hostname not in allowed:
                    problem = f"cross-origin request from {origin!r} refused"
                elif headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
                    problem = "send the request as application/json"
                if problem is not None:
                    response = JSONResponse({"message": problem, "code": "PERMISSION_DENIED", "violations": []}, 403)
                    await response(scope, receive, send)
                    return
            await app(scope, receive, send)

        return guarded

    return middleware


def security_headers(app: Any) -> Any:
    """Pure ASGI middleware: every response says nosniff and carries the page's Content-Security-Policy
    (no inline script or style, nothing from another origin)."""

    async def secured(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await app(scope, receive, with_headers)

    return secured


@dataclass
class Bridge:
    """What the routes share: the gRPC channel and the jobs waiting for their stream."""

    target: str
    fixtures: Path | None
    credentials: grpc.ChannelCredentials | None = None
    token: str | None = None
    jobs: dict[str, tuple[float, pb.FitModelRequest]] = field(default_factory=dict)
    max_pending_bytes: int = MAX_PENDING_BYTES
    _client: AsyncClient | None = None

    @property
    def client(self) -> AsyncClient:
        """The asyncio client, made in the server's event loop (grpc.aio channels belong to one loop)."""
        assert self._client is not None, "the app's lifespan has not started"
        return self._client

    def add_job(self, request: pb.FitModelRequest) -> str:
        now = time.monotonic()
        for job_id in [j for j, (created, _) in self.jobs.items() if now - created > JOB_TTL_SECONDS]:
            del self.jobs[job_id]
        if len(self.jobs) >= MAX_PENDING_JOBS:
            raise BridgeBusyError(f"{MAX_PENDING_JOBS} jobs are waiting to be streamed; try again shortly")
        held = sum(pending.ByteSize() for _, pending in self.jobs.values())
        if held + request.ByteSize() > self.max_pending_bytes:
            raise BridgeBusyError(
                f"jobs waiting to be streamed hold {held} bytes, and this one would pass the bridge's "
                f"{self.max_pending_bytes} bytes; try again shortly"
            )
        job_id = secrets.token_urlsafe(16)
        self.jobs[job_id] = (now, request)
        return job_id


def error_body(error: ScmfitError) -> dict[str, Any]:
    """What the page shows: a readable message and, for bad input, each field and its problem."""
    message = "server unavailable" if isinstance(error, UnavailableError) else error.message
    violations = [{"field": v.field, "description": v.description} for v in getattr(error, "violations", ())]
    return {"message": message, "code": error.code.name if error.code else None, "violations": violations}


def progress_body(progress: FitProgress) -> dict[str, Any]:
    return {
        "stage": progress.stage.value,
        "node": progress.node,
        "done": progress.done,
        "total": progress.total,
        "elapsed": progress.elapsed_seconds,
    }


def json_scalar(value: object, where: str) -> float | int | bool | str:
    """A JSON value as an intervention value in its own type; anything else is the caller's mistake."""
    if isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"{where}: give a number, true/false or a category, not {type(value).__name__}")


def interventions_of(body: Mapping[str, Any]) -> dict[str, float | int | bool | str]:
    """A body's `interventions`, {node: value}, each value in its own JSON type."""
    return {str(k): json_scalar(v, f"interventions.{k}") for k, v in dict(body.get("interventions", {})).items()}


def interval_body(interval: Interval | None) -> dict[str, float] | None:
    if interval is None:
        return None
    return {"lower": interval.lower, "upper": interval.upper, "confidence_level": interval.confidence_level}


@dataclass(frozen=True)
class Inputs:
    """A graph and its traces, as a fixture or an upload gives them."""

    nodes: list[str]
    edges: list[tuple[str, str]]
    traces: Mapping[str, Any]
    config: FitConfig | None


def bars(values: Mapping[str, float]) -> list[dict[str, Any]]:
    """An attribution as the page charts it: one bar per node, largest first (the server's order)."""
    return [{"node": node, "value": value} for node, value in values.items()]


HISTOGRAM_BINS = 60


def histogram_body(node: str, before: SampleResult, after: SampleResult) -> dict[str, Any]:
    """Both sides binned on the same edges; a categorical node gives its shares instead."""
    old, new = before.statistics[node], after.statistics[node]
    body: dict[str, Any] = {"node": node, "before_mean": old.mean, "after_mean": new.mean}
    if old.categories or new.categories:
        names = sorted(set(old.categories) | set(new.categories))
        return body | {
            "categories": names,
            "before": [old.categories.get(name, 0.0) for name in names],
            "after": [new.categories.get(name, 0.0) for name in names],
        }
    left, right = np.asarray(before.samples[node], dtype=float), np.asarray(after.samples[node], dtype=float)
    edges = np.histogram_bin_edges(np.concatenate([left, right]), bins=HISTOGRAM_BINS)
    density = {
        side: np.histogram(values, bins=edges, density=True)[0].tolist()
        for side, values in (("before", left), ("after", right))
    }
    return body | {"edges": edges.tolist(), **density}


def result_body(result: FitResult) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "message": result.message,
        "model_id": result.model_id,
        "mean_r2": result.mean_r2,
        "threshold": result.validation.threshold,
        "failed_nodes": list(result.validation.failed_nodes),
        "seconds": result.metadata.total_seconds,
        "nodes": [
            {
                "name": node.name,
                "parents": list(node.parents),
                "column_type": node.column_type,
                "categories": list(node.categories),
                "kind": node.mechanism.kind.value,
                "model_type": node.mechanism.model_type,
                "coefficients": dict(node.mechanism.coefficients),
                "intercept": node.mechanism.intercept,
                "r2": node.r2,
                "r2_omission": node.r2_omission,
                "accuracy": node.accuracy,
                "selection_metric": node.selection_metric,
                "selection_note": node.selection_note,
                "candidates": [
                    {"model_type": c.model_type, "folds": c.folds, "mean_loss": c.mean_loss, "outcome": c.outcome}
                    for c in node.candidates
                ],
            }
            for node in result.nodes
        ],
    }


def sse(event: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, allow_nan=False, default=str)}\n\n".encode()


def create_app(
    target: str,
    *,
    fixtures: Path | None = None,
    credentials: grpc.ChannelCredentials | None = None,
    token: str | None = None,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
    max_pending_bytes: int = MAX_PENDING_BYTES,
) -> Starlette:
    """`allowed_hosts` guards against DNS rebinding (the Host header) and cross-site requests (Origin)."""
    bridge = Bridge(
        target=target, fixtures=fixtures, credentials=credentials, token=token, max_pending_bytes=max_pending_bytes
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncClient(target, credentials=credentials, token=token) as client:
            bridge._client = client
            yield

    async def index(request: Request) -> Response:
        page = resources.files("scmfit.web").joinpath("static/index.html").read_text()
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    async def list_fixtures(request: Request) -> Response:
        cases = []
        if bridge.fixtures is not None and bridge.fixtures.is_dir():
            for path in sorted(bridge.fixtures.glob("*.json")):
                case = load_case(path)
                cases.append(
                    {"name": case.name, "description": case.description, "expected": case.expected.get("status")}
                )
        return JSONResponse(cases)

    def inputs(body: Mapping[str, Any]) -> Inputs:
        """The graph and traces a body names: a fixture from the listing, or an uploaded graph and CSV.
        Runs in a worker thread: parsing a large CSV must not stall every other connection."""
        fixture = str(body.get("fixture") or "")
        if fixture:
            if bridge.fixtures is None or fixture not in {p.stem for p in bridge.fixtures.glob("*.json")}:
                raise InvalidRequestError(f"unknown fixture {fixture!r}")
            case = load_case(bridge.fixtures / f"{fixture}.json")  # a name from the listing, never a path
            return Inputs(list(case.nodes), list(case.edges), case.traces, case.config)
        graph_text, traces_text = body.get("graph"), body.get("traces")
        if not isinstance(graph_text, str) or not isinstance(traces_text, str):
            raise InvalidRequestError("choose a fixture, or upload a graph (JSON) and traces (CSV)")
        nodes, edges = parse_graph(graph_text, "graph")
        return Inputs(nodes, edges, parse_csv(traces_text, "traces"), None)

    def build_request(body: Mapping[str, Any]) -> pb.FitModelRequest:
        threshold = body.get("threshold")
        settings: dict[str, Any] = {
            "quality": str(body.get("quality") or "") or None,
            "r2_threshold": None if threshold in (None, "") else float(threshold),
        }
        given = inputs(body)
        return fit_request(given.nodes, given.edges, given.traces, given.config, **settings)

    async def create_job(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        try:
            request_message = await run_in_threadpool(build_request, body)
            job_id = bridge.add_job(request_message)
        except BridgeBusyError as error:
            return JSONResponse(
                {"message": error.message, "code": "RESOURCE_EXHAUSTED", "violations": []},
                status_code=429,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        except (TypeError, ValueError) as error:
            return JSONResponse({"message": str(error), "code": "INVALID_ARGUMENT", "violations": []}, status_code=400)
        except ScmfitError as error:
            return JSONResponse(error_body(error), status_code=400)
        return JSONResponse({"job_id": job_id}, status_code=201)

    async def stream_job(request: Request) -> Response:
        entry = bridge.jobs.pop(request.path_params["job_id"], None)
        if entry is None:
            return JSONResponse({"message": "unknown or already streamed job"}, status_code=404)
        _, request_message = entry

        async def events() -> AsyncIterator[bytes]:
            stream = bridge.client.fit_events(request_message)
            try:
                async for event in stream:
                    if isinstance(event, FitResult):
                        yield sse("result", result_body(event))
                    else:
                        yield sse("progress", progress_body(event))
                yield sse("end", {})
            except ScmfitError as error:
                yield sse("fail", error_body(error))
            finally:
                await stream.aclose()  # the browser left, or the stream ended: the server stops the fit's worker

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    async def sample(request: Request) -> Response:
        async def answer(body: dict[str, Any]) -> dict[str, Any]:
            level = float(body.get("confidence_level", 0.0))
            result = await bridge.client.sample(
                request.path_params["model_id"],
                interventions_of(body),
                num_samples=int(body.get("num_samples", 2000)),
                confidence_level=level,
                timeout=300 if level else 60,  # the first interval on a model refits it
            )
            return {
                "num_samples": result.num_samples,
                "seconds": result.seconds,
                "statistics": {
                    name: stats.as_dict()
                    | {"categories": dict(stats.categories), "mean_interval": interval_body(stats.mean_interval)}
                    for name, stats in result.statistics.items()
                },
            }

        return await answered(request, answer)

    async def sample_histogram(request: Request) -> Response:
        """A what-if's picture: the node's distribution before and after the intervention, binned alike,
        with the statistics the API gives for both (the page draws the means from them)."""

        async def answer(body: dict[str, Any]) -> dict[str, Any]:
            node = str(body.get("node", ""))
            interventions = interventions_of(body)
            options: dict[str, Any] = {"nodes": [node], "num_samples": int(body.get("num_samples", 2000))}
            model_id = request.path_params["model_id"]
            before = await bridge.client.sample(model_id, None, include_samples=True, timeout=60, **options)
            after = await bridge.client.sample(model_id, interventions, include_samples=True, timeout=60, **options)
            return histogram_body(node, before, after)

        return await answered(request, answer)

    async def effect(request: Request) -> Response:
        async def answer(body: dict[str, Any]) -> dict[str, Any]:
            level = float(body.get("confidence_level", 0.0))
            estimate = await bridge.client.estimate_effect(
                request.path_params["model_id"],
                treatment=str(body.get("treatment", "")),
                target=str(body.get("target", "")),
                alternative=json_scalar(body.get("alternative"), "alternative"),
                reference=json_scalar(body.get("reference"), "reference"),
                confidence_level=level,
                timeout=300 if level else 60,
            )
            return {"effect": estimate.effect, "interval": interval_body(estimate.interval)}

        return await answered(request, answer)

    async def attribute(request: Request) -> Response:
        async def answer(body: dict[str, Any]) -> dict[str, Any]:
            rows = parse_csv(str(body.get("rows", "")), "rows")
            explained = await bridge.client.attribute_anomalies(
                request.path_params["model_id"], str(body.get("target", "")), rows, timeout=300
            )
            return {
                "rows": [
                    {"row": row.row, "target_score": row.target_score, "contributions": bars(row.contributions)}
                    for row in explained
                ]
            }

        return await answered(request, answer)

    async def influence(request: Request) -> Response:
        async def answer(body: dict[str, Any]) -> dict[str, Any]:
            model_id, target = request.path_params["model_id"], str(body.get("target", ""))
            shares = await bridge.client.intrinsic_influence(model_id, target, num_samples=20_000, timeout=300)
            strengths = await bridge.client.arrow_strength(model_id, target, timeout=60)
            return {
                "intrinsic": bars(shares),
                "strengths": [{"source": a, "target": b, "strength": v} for (a, b), v in strengths.items()],
            }

        return await answered(request, answer)

    async def check(request: Request) -> Response:
        async def answer(body: dict[str, Any]) -> dict[str, Any]:
            given = await run_in_threadpool(inputs, body)
            verdict = await bridge.client.check_graph((given.nodes, given.edges), given.traces, timeout=600)
            return {
                "falsified": verdict.falsified,
                "informative": verdict.informative,
                "num_tests": verdict.num_tests,
                "violations": [
                    {"node": v.node, "other": v.other, "given": list(v.given), "p_value": v.p_value}
                    for v in verdict.violations
                ],
                "suggested_edges": [list(edge) for edge in verdict.suggested_edges],
            }

        return await answered(request, answer)

    async def change(request: Request) -> Response:
        async def answer(body: dict[str, Any]) -> dict[str, Any]:
            given = await run_in_threadpool(inputs, body)
            new = await run_in_threadpool(parse_csv, str(body.get("new", "")), "new")
            found = await bridge.client.attribute_distribution_change(
                (given.nodes, given.edges), given.traces, new, str(body.get("target", "")), given.config, timeout=600
            )
            return {
                "total": found.total,
                "changed": list(found.changed),
                "contributions": [
                    {"node": n.node, "value": n.contribution, "p_value": n.p_value, "changed": n.changed}
                    for n in found.nodes
                ],
            }

        return await answered(request, answer)

    async def health(request: Request) -> Response:
        try:
            status = await bridge.client.health("", timeout=5)  # the whole server's health
        except ScmfitError as error:
            return JSONResponse(error_body(error), status_code=503)
        return JSONResponse({"status": status})

    static = resources.files("scmfit.web").joinpath("static")
    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/fixtures", list_fixtures),
            Route("/api/jobs", create_job, methods=["POST"]),
            Route("/api/jobs/{job_id}/events", stream_job),
            Route("/api/models/{model_id}/sample", sample, methods=["POST"]),
            Route("/api/models/{model_id}/histogram", sample_histogram, methods=["POST"]),
            Route("/api/models/{model_id}/effect", effect, methods=["POST"]),
            Route("/api/models/{model_id}/attribute", attribute, methods=["POST"]),
            Route("/api/models/{model_id}/influence", influence, methods=["POST"]),
            Route("/api/check", check, methods=["POST"]),
            Route("/api/change", change, methods=["POST"]),
            Route("/api/health", health),
            Mount("/static", StaticFiles(directory=str(static)), name="static"),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(security_headers),
            Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
            Middleware(origin_guard(allowed_hosts)),
        ],
    )


async def answered(request: Request, answer: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> Response:
    """A question's JSON answer, or the 400/404 that says what was wrong, by field where the server named it."""
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    try:
        return JSONResponse(await answer(body))
    except (TypeError, ValueError) as error:
        return JSONResponse({"message": str(error), "violations": []}, status_code=400)
    except ScmfitError as failure:
        return JSONResponse(error_body(failure), status_code=404 if isinstance(failure, NotFoundError) else 400)


async def json_body(request: Request) -> dict[str, Any] | Response:
    """The request's JSON object, or the 400 or 413 that says what is wrong with it."""
    too_large = JSONResponse({"message": f"the body is over {MAX_UPLOAD_BYTES} bytes", "violations": []}, 413)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        return too_large
    # Read as it arrives and stop at the limit: a chunked body declares no length.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            return too_large
        chunks.append(chunk)
    try:
        body = load_json(b"".join(chunks), "the body")
    except InvalidRequestError as error:
        return JSONResponse({"message": error.message, "code": "INVALID_ARGUMENT", "violations": []}, 400)
    if not isinstance(body, dict):
        return JSONResponse({"message": "the body must be a JSON object", "violations": []}, 400)
    return body


def run(
    address: str,
    target: str | None,
    *,
    embedded: bool,
    fixtures: Path | None,
    credentials: grpc.ChannelCredentials | None = None,
    token: str | None = None,
    allowed_hosts: Sequence[str] = (),
    max_pending_bytes: int = MAX_PENDING_BYTES,
) -> None:
    """`scmfit web`: serves the page; with `embedded`, also runs the gRPC server in this process."""
    import uvicorn

    running = None
    if embedded:
        from scmfit.server.app import create_server
        from scmfit.server.config import ServerConfig

        running = create_server(ServerConfig(address="127.0.0.1:0"))
        target = f"127.0.0.1:{running.port}"
    if target is None:
        raise SystemExit("scmfit web: give --grpc-target HOST:PORT or --embedded")
    host, _, port = address.rpartition(":")
    host = host or "127.0.0.1"
    hosts = (*LOOPBACK_HOSTS, *allowed_hosts, *((host,) if host not in ("0.0.0.0", "::") else ()))
    app = create_app(
        target,
        fixtures=fixtures,
        credentials=credentials,
        token=token,
        allowed_hosts=hosts,
        max_pending_bytes=max_pending_bytes,
    )
    try:
        uvicorn.run(app, host=host, port=int(port), log_level="info")
    finally:
        if running is not None:
            running.stop(grace=5)
