"""CausalModelService: orchestrates decode, registry, executor and encode; it computes nothing itself."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any, NoReturn, TypeVar

import grpc
import numpy as np
from google.protobuf.message import Message

from scmfit.server.config import Limits
from scmfit.server.domain import graph_check
from scmfit.server.domain.distribution_change import ChangeOutcome, ChangeReplicas, ChangeTask
from scmfit.server.domain.errors import DeadlineError, FieldViolation, InvalidRequestError, ScmfitServerError
from scmfit.server.domain.fit import FitJob, Progress, Stage
from scmfit.server.domain.query import (
    QUERY_KINDS,
    ModelFacts,
    Query,
    QueryKind,
    QueryOutcome,
    RefitOutcome,
    RefitQuery,
    bootstrap_interval,
)
from scmfit.server.engine import worker
from scmfit.server.engine.admission import Admission
from scmfit.server.engine.executor import CallRun, FitExecutor
from scmfit.server.metrics import Metrics
from scmfit.server.stores.datasets import DatasetStore
from scmfit.server.stores.modelfiles import call_deadline
from scmfit.server.stores.registry import ModelRegistry, StoredModel
from scmfit.server.stores.replicas import ReplicaStore
from scmfit.server.wire import encode
from scmfit.server.wire import grpc_errors as status
from scmfit.server.wire.decode import NO_ROWS, Entry, available_qualities, decode_fit_request
from scmfit.server.wire.decode_change import ChangeRequest, decode_change
from scmfit.server.wire.decode_graph_check import decode_check_graph
from scmfit.server.wire.decode_query import decode_query
from scmfit.server.wire.decode_upload import UploadLimits, assemble_upload
from scmfit.v1 import causal_model_service_pb2 as pb

_log = logging.getLogger(__name__)

Response = TypeVar("Response")
Item = TypeVar("Item")

NO_DEADLINE_SECONDS = 1e12
"""gRPC reports a call without a deadline as ~2**63 ns remaining."""


def _unary(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Every failure of a unary handler goes through status.abort, the one mapping to gRPC codes."""

    @functools.wraps(handler)
    def wrapper(self: CausalModelServicer, request: Any, context: grpc.ServicerContext) -> Response:
        try:
            _bound_store_calls(context)
            response = handler(self, request, context)
        except Exception as error:
            self._metrics.queries.labels(handler.__name__, status.code_name(error)).inc()
            status.abort(context, error)
        self._metrics.queries.labels(handler.__name__, "ok").inc()
        return response

    return wrapper


def _bound_store_calls(context: grpc.ServicerContext) -> None:
    """Model store calls made for this RPC end by its deadline (the contextvar is this call's own)."""
    remaining = context.time_remaining()
    if remaining is not None and remaining < NO_DEADLINE_SECONDS:
        call_deadline.set(time.monotonic() + remaining)


def _idle_limited(messages: Iterator[Item], idle_seconds: float) -> Iterator[Item]:
    """The messages of a client stream, ended with DeadlineError when none arrives for `idle_seconds`.

    gRPC's request iterator blocks with no timeout of its own, so a reader thread feeds a small queue
    (two messages: the client waits for us rather than memory growing).
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=2)

    def read() -> None:
        try:
            for message in messages:
                handoff.put(("message", message))
            handoff.put(("end", None))
        except Exception as error:  # the call was cancelled or broke: the consumer re-raises it
            handoff.put(("error", error))

    threading.Thread(target=read, name="scmfit-upload-reader", daemon=True).start()
    while True:
        try:
            kind, item = handoff.get(timeout=idle_seconds)
        except queue.Empty:
            raise DeadlineError(f"no upload message arrived for {idle_seconds:g}s; the upload was ended") from None
        if kind == "end":
            return
        if kind == "error":
            raise item
        yield item


class CausalModelServicer:
    def __init__(
        self,
        executor: FitExecutor,
        registry: ModelRegistry,
        datasets: DatasetStore,
        admission: Admission,
        query_admission: Admission,
        metrics: Metrics,
        limits: Limits,
        workers: encode.WorkerShares,
        default_fit_deadline: float,
        serving: encode.AdmissionLimits,
    ) -> None:
        self._executor = executor
        self._registry = registry
        self._datasets = datasets
        self._admission = admission
        self._query_admission = query_admission
        self._uploads = Admission(limits.max_uploads, 0, what="uploads", limit_names="max_uploads")
        self._metrics = metrics
        self._limits = limits
        self._workers = workers
        self._default_fit_deadline = default_fit_deadline
        self._serving = serving
        """The connection bounds; the admission figures in it are filled in from the live objects."""
        self._replicas = ReplicaStore(limits.max_replica_bytes, on_refit=metrics.bootstrap_refits.inc)
        for kind in QUERY_KINDS.values():  # each registered query is served by the one generic path
            setattr(self, kind.rpc, self._query_handler(kind))

    def _query_handler(self, kind: QueryKind) -> Callable[[Message, grpc.ServicerContext], Message]:
        def handler(servicer: CausalModelServicer, request: Message, context: grpc.ServicerContext) -> Message:
            return servicer._ask(kind, request, context)

        handler.__name__ = kind.rpc
        return functools.partial(_unary(handler), self)

    def FitModel(  # noqa: N802 - the name is the RPC's
        self, request: pb.FitModelRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.FitModelResponse]:
        started = time.monotonic()
        _bound_store_calls(context)
        try:
            job = decode_fit_request(request, self._limits, self._uploaded)
            stored = self._registry.find(job.model_id)
        except ScmfitServerError as error:
            self._count_fit_error(error)
            status.abort(context, error)
        if stored is not None:
            result = pb.FitResult.FromString(stored.result)
            result.reused = True
            self._metrics.fits.labels("reused").inc()
            _log.info("fit %s: reused the stored model", job.model_id[:12])
            yield pb.FitModelResponse(result=result)
            return
        with contextlib.ExitStack() as stack:
            try:
                # Nothing has been streamed yet, so a refusal here can be retried by the client's policy.
                stack.enter_context(self._admission.slot(context.is_active))
            except ScmfitServerError as error:
                self._count_fit_error(error)
                status.abort(context, error)
            yield encode.progress_response(Progress(Stage.VALIDATING, "", 0, 1), time.monotonic() - started)
            yield from self._fit(job, context, started)

    def _uploaded(self, dataset_id: str) -> list[Entry]:
        stored = self._datasets.get(dataset_id)
        return [
            (name, stored.kinds[name], values, stored.missing.get(name, NO_ROWS))
            for name, values in stored.columns.items()
        ]

    @_unary
    def UploadDataset(  # noqa: N802
        self, request_iterator: Iterator[pb.UploadDatasetRequest], context: grpc.ServicerContext
    ) -> pb.UploadDatasetResponse:
        limits = self._limits
        upload_limits = UploadLimits(
            limits.max_rows, limits.max_columns, limits.max_upload_cells, limits.max_upload_bytes
        )
        with self._uploads.slot(lambda: False):  # no queue: a full server refuses with a retry delay
            messages = _idle_limited(request_iterator, limits.upload_idle_seconds)
            columns, kinds, missing = assemble_upload(messages, upload_limits)
        stored = self._datasets.put(columns, kinds, missing)
        _log.info(
            "dataset %s: %d columns x %d rows", stored.dataset_id[:15], len(columns), len(next(iter(columns.values())))
        )
        return pb.UploadDatasetResponse(
            dataset_id=stored.dataset_id,
            num_rows=len(next(iter(columns.values()))),
            size_bytes=stored.size_bytes,
            expire_time=encode.timestamp(stored.last_use_time + self._datasets.ttl_seconds),
        )

    def _count_fit_error(self, error: BaseException) -> None:
        self._metrics.fits.labels(status.code_name(error)).inc()

    def _deadline_timer(self, context: grpc.ServicerContext, cancel: Callable[[], None]) -> threading.Timer | None:
        """The server's default deadline, for fits whose client set none."""
        remaining = context.time_remaining()
        if remaining is not None and remaining < NO_DEADLINE_SECONDS:
            return None  # the client chose a deadline; gRPC enforces it
        timer = threading.Timer(self._default_fit_deadline, cancel)
        timer.daemon = True
        timer.start()
        return timer

    def _fit(self, job: FitJob, context: grpc.ServicerContext, started: float) -> Iterator[pb.FitModelResponse]:
        validating_seconds = time.monotonic() - started
        try:
            run = self._executor.submit(job)
        except ScmfitServerError as error:
            self._count_fit_error(error)
            status.abort(context, error)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            run.cancel()

        def cancelled() -> None:
            run.cancel()  # the replacement workers count themselves (scmfit_worker_spawns_total)

        # gRPC does not stop a handler whose call was cancelled or expired; this callback kills the worker.
        context.add_callback(cancelled)
        timer = self._deadline_timer(context, expire)
        try:
            for progress in run.events():
                if not context.is_active():
                    cancelled()
                    return
                yield encode.progress_response(progress, time.monotonic() - started)
            if not context.is_active():
                cancelled()
                return
        finally:
            if timer is not None:
                timer.cancel()
        if expired.is_set():
            late = DeadlineError(f"the server's default fit deadline of {self._default_fit_deadline:g}s passed")
            self._count_fit_error(late)
            status.abort(context, late)
        try:
            outcome = run.outcome()
            response = encode.result_response(
                outcome,
                model_id=job.model_id,
                num_rows=job.num_rows,
                settings=job.settings,
                validating_seconds=validating_seconds,
                total_seconds=time.monotonic() - started,
            )
            # Stored (and on disk, with --model-dir) before the client sees the id.
            self._registry.put(
                StoredModel(
                    model_id=job.model_id,
                    result=response.result.SerializeToString(),
                    blob=outcome.model_blob,
                    kinds=dict(job.kinds),
                    create_time=time.time(),
                )
            )
        except Exception as error:  # every failure, expected or not, goes through status.abort
            self._count_fit_error(error)
            status.abort(context, error)
        seconds = time.monotonic() - started
        self._metrics.fits.labels(outcome.status.value).inc()
        self._metrics.fit_seconds.labels(job.settings.quality.value.lower()).observe(seconds)
        _log.info("fit %s: %s in %.2fs", job.model_id[:12], outcome.status.value, seconds)
        yield response

    def CheckGraph(  # noqa: N802
        self, request: pb.CheckGraphRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.CheckGraphResponse]:
        """The independence tests that the graph and its permutations imply, spread over the fit workers
        in batches, progress after each batch, then the verdict; a cancel or deadline stops every batch."""
        started = time.monotonic()
        rpc = "CheckGraph"
        try:
            job = decode_check_graph(request, self._limits, self._uploaded)
            found = graph_check.plan(job)
        except ScmfitServerError as error:
            self._refuse(rpc, context, error)
        with self._admitted(rpc, context):
            parts = graph_check.batches(job, found.tests, max(1, min(len(found.tests), 4 * self._workers.workers)))
            total = len(found.tests)
            yield pb.CheckGraphResponse(progress=pb.CheckGraphProgress(done=0, total=total))
            p_values: dict[graph_check.IndependenceKey, float] = {}
            runs: list[CallRun] = []
            expired = threading.Event()

            def expire() -> None:
                expired.set()
                for run in runs:
                    run.cancel()

            timer = self._deadline_timer(context, expire)
            try:
                runs.extend(self._executor.submit_call(worker.run_independence_tests, part) for part in parts)
                with contextlib.closing(self._outcomes(runs, context)) as outcomes:  # closing cancels the rest
                    for part, values in zip(parts, outcomes, strict=True):
                        for test, value in zip(part.tests, values, strict=True):
                            p_values[test.key] = value
                        if not context.is_active():
                            return
                        elapsed = encode.duration(time.monotonic() - started)
                        progress = pb.CheckGraphProgress(done=len(p_values), total=total, elapsed=elapsed)
                        yield pb.CheckGraphResponse(progress=progress)
                result = encode.message_of(pb.GraphCheck, graph_check.verdict(job, found, p_values))
            except Exception as failure:  # every failure, expected or not, goes through status.abort
                late = DeadlineError(f"the server's default deadline of {self._default_fit_deadline:g}s passed")
                self._refuse(rpc, context, late if expired.is_set() else failure)
            finally:
                if timer is not None:
                    timer.cancel()
        self._metrics.queries.labels(rpc, "ok").inc()
        _log.info(
            "graph check: %d tests over %d permutations in %.2fs",
            total,
            len(found.permuted),
            time.monotonic() - started,
        )
        yield pb.CheckGraphResponse(result=result)

    def AttributeDistributionChange(  # noqa: N802
        self, request: pb.AttributeDistributionChangeRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.AttributeDistributionChangeResponse]:
        """Both versions fitted as FitModel fits them (and stored), their progress streamed, then the
        attribution on a worker; a cancel or deadline stops whichever step is running."""
        started = time.monotonic()
        rpc = "AttributeDistributionChange"
        try:
            asked = decode_change(request, self._limits)
        except ScmfitServerError as error:
            self._refuse(rpc, context, error)
        with self._admitted(rpc, context):
            fits: list[pb.FitResult] = []
            for phase, job in ((pb.CHANGE_PHASE_FITTING_OLD, asked.old), (pb.CHANGE_PHASE_FITTING_NEW, asked.new)):
                stored = self._registry.find(job.model_id)
                if stored is not None:
                    fits.append(pb.FitResult.FromString(stored.result))
                    fits[-1].reused = True
                    continue
                for event in self._fit(job, context, started):
                    if event.HasField("result"):
                        fits.append(event.result)
                    else:
                        progress = pb.DistributionChangeProgress(phase=phase, fit=event.progress)
                        yield pb.AttributeDistributionChangeResponse(progress=progress)
                if len(fits) < (1 if phase == pb.CHANGE_PHASE_FITTING_OLD else 2):
                    return  # the call ended while the fit ran
            yield pb.AttributeDistributionChangeResponse(
                progress=pb.DistributionChangeProgress(phase=pb.CHANGE_PHASE_ATTRIBUTING)
            )
            task = ChangeTask(
                old_model=self._registry.get(asked.old.model_id).blob,
                target=asked.target,
                old_columns=asked.old.columns,
                new_columns=asked.new.columns,
                num_samples=asked.num_samples,
                significance_level=asked.significance_level,
                seed=asked.seed,
            )
            try:
                (outcome,) = self._calls(worker.run_distribution_change, [task], context)
            except Exception as error:  # every failure, expected or not, goes through status.abort
                self._refuse(rpc, context, error)
            if asked.confidence_level:
                outcome = yield from self._change_intervals(rpc, asked, task, outcome, context)
        self._metrics.queries.labels(rpc, "ok").inc()
        _log.info("distribution change of %r: %.2fs", asked.target, time.monotonic() - started)
        nodes = [
            encode.message_of(
                pb.NodeChange,
                change,
                old_mechanism=encode.mechanism(change.old_mechanism),
                new_mechanism=encode.mechanism(change.new_mechanism),
            )
            for change in outcome.nodes
        ]
        result = encode.message_of(
            pb.DistributionChange, outcome, target=asked.target, nodes=nodes, old_fit=fits[0], new_fit=fits[1],
            num_samples=asked.num_samples,
        )  # fmt: skip
        yield pb.AttributeDistributionChangeResponse(result=result)

    def _change_intervals(
        self,
        rpc: str,
        asked: ChangeRequest,
        task: ChangeTask,
        outcome: ChangeOutcome,
        context: grpc.ServicerContext,
    ) -> Generator[pb.AttributeDistributionChangeResponse, None, ChangeOutcome]:
        """Bootstrap resamples of both versions, spread over the workers, with progress as each chunk
        ends; returns (to `yield from`) the outcome with each contribution's interval."""
        changed = frozenset(change.node for change in outcome.nodes if change.changed)
        parts = [ChangeReplicas(task, changed, start, stop) for start, stop in self._chunks(0, asked.num_bootstrap)]
        estimates: list[dict[str, float]] = []

        def progress() -> pb.AttributeDistributionChangeResponse:
            done, total = len(estimates), asked.num_bootstrap
            phase = pb.CHANGE_PHASE_BOOTSTRAPPING
            return pb.AttributeDistributionChangeResponse(
                progress=pb.DistributionChangeProgress(phase=phase, done=done, total=total)
            )

        yield progress()
        try:
            for done in self._calls(worker.run_change_replicas, parts, context):
                estimates.extend(done)
                yield progress()
        except Exception as error:  # every failure, expected or not, goes through status.abort
            self._refuse(rpc, context, error)
        nodes = tuple(
            dataclasses.replace(
                change,
                interval=bootstrap_interval(
                    change.contribution, [estimate[change.node] for estimate in estimates], asked.confidence_level
                ),
            )
            for change in outcome.nodes
        )
        return dataclasses.replace(outcome, nodes=nodes)

    def _refuse(self, rpc: str, context: grpc.ServicerContext, error: BaseException) -> NoReturn:
        """A streaming question's failure: counted by its code, as `_unary` counts the unary ones, then aborted."""
        self._metrics.queries.labels(rpc, status.code_name(error)).inc()
        status.abort(context, error)

    @contextlib.contextmanager
    def _admitted(self, rpc: str, context: grpc.ServicerContext) -> Iterator[None]:
        """A fit-lane slot for a streaming question's whole run; a refusal comes before anything is streamed."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self._admission.slot(context.is_active))
            except ScmfitServerError as error:
                self._refuse(rpc, context, error)
            yield

    @_unary
    def GetServerInfo(  # noqa: N802
        self, request: pb.GetServerInfoRequest, context: grpc.ServicerContext
    ) -> pb.GetServerInfoResponse:
        own_lane = self._query_admission is not self._admission
        bounds = dataclasses.replace(
            self._serving,
            registry_bytes=self._registry.max_bytes,
            max_concurrent=self._admission.max_active,
            max_queue=self._admission.max_queued,
            default_fit_deadline=self._default_fit_deadline,
            max_concurrent_queries=self._query_admission.max_active if own_lane else 0,
            max_query_queue=self._query_admission.max_queued if own_lane else 0,
        )
        return encode.server_info(self._limits, available_qualities(), self._workers, bounds)

    def _sendable(self, response: Response, field: str) -> Response:
        """An answer over the send limit is refused here, with a fix, instead of by gRPC with a bare
        RESOURCE_EXHAUSTED that clients would take for pushback and retry."""
        size = response.ByteSize()  # type: ignore[attr-defined]
        field = field or "the request"
        if size > self._limits.max_request_bytes:
            raise InvalidRequestError(
                [
                    FieldViolation(
                        field,
                        f"the answer takes {size} bytes, over the server's message limit of "
                        f"{self._limits.max_request_bytes}; ask for fewer samples or rows, or name fewer nodes",
                    )
                ]
            )
        return response

    @_unary
    def GetModel(self, request: pb.GetModelRequest, context: grpc.ServicerContext) -> pb.GetModelResponse:  # noqa: N802
        model = self._registry.get(request.model_id)
        return pb.GetModelResponse(result=pb.FitResult.FromString(model.result), summary=encode.model_summary(model))

    @_unary
    def ListModels(  # noqa: N802
        self, request: pb.ListModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListModelsResponse:
        models, token, total = self._registry.page(request.page_size, request.page_token)
        return pb.ListModelsResponse(
            models=[encode.model_summary(m) for m in models], next_page_token=token, total_size=total
        )

    @_unary
    def DeleteModel(  # noqa: N802
        self, request: pb.DeleteModelRequest, context: grpc.ServicerContext
    ) -> pb.DeleteModelResponse:
        model_id = self._registry.get(request.model_id).model_id
        self._registry.delete(model_id)
        self._replicas.drop(model_id)
        return pb.DeleteModelResponse()

    def _ask(self, kind: QueryKind, request: Message, context: grpc.ServicerContext) -> Message:
        """Every query RPC: decode against the model, admit, dispatch to a worker, encode by field name."""
        started = time.monotonic()
        model = self._registry.get(request.model_id)  # type: ignore[attr-defined]
        query = decode_query(kind.query, request, _facts(model), self._limits)
        outcome = self._answer(query, model, context)
        response_type: type[Message] = getattr(pb, f"{kind.rpc}Response")
        response = encode.answer_response(response_type, outcome, model.kinds, time.monotonic() - started)
        return self._sendable(response, kind.oversize_field)

    def _answer(self, query: Query, model: StoredModel, context: grpc.ServicerContext) -> QueryOutcome:
        with self._query_admission.slot(context.is_active):
            urgent = self._query_admission is not self._admission
            replicas: tuple[bytes, ...] = ()
            if getattr(query, "confidence_level", 0):
                count: int = getattr(query, "num_bootstrap")  # noqa: B009 - every query with a level has a count
                replicas = self._replicas.ensure(
                    model.model_id,
                    count,
                    lambda start, stop: self._refit(model, start, stop, urgent, context),
                    context.time_remaining(),
                )
            run = self._executor.submit_query(query, lambda: model.blob, urgent, replicas)
            context.add_callback(run.cancel)
            return run.outcome()

    def _chunks(self, start: int, stop: int) -> list[tuple[int, int]]:
        """[start, stop) in contiguous chunks, one per worker."""
        parallel = max(1, min(stop - start, self._workers.workers + self._workers.query_workers))
        bounds = np.linspace(start, stop, parallel + 1).round().astype(int).tolist()
        return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]

    def _calls(
        self, function: Callable[[Any], Any], payloads: list[Any], context: grpc.ServicerContext
    ) -> Generator[Any, None, None]:
        """`function` on each payload, all on the workers at once; yields their outcomes in order.
        Cancelling the call, or its deadline, cancels every one still running (their workers are killed)."""
        return self._outcomes([self._executor.submit_call(function, payload) for payload in payloads], context)

    @staticmethod
    def _outcomes(runs: list[Any], context: grpc.ServicerContext) -> Generator[Any, None, None]:
        """The runs' outcomes in order. Cancelling the call, or its deadline, cancels every run still going
        (their workers are killed), and so does leaving early or a run's failure."""
        try:
            for run in runs:
                if not context.add_callback(run.cancel):
                    run.cancel()
            for run in runs:
                yield run.outcome()
        finally:
            for run in runs:
                run.cancel()

    def _refit(
        self, model: StoredModel, start: int, stop: int, urgent: bool, context: grpc.ServicerContext
    ) -> list[bytes]:
        """Replicas [start, stop), in contiguous chunks spread over every worker; cancelling the call
        (or its deadline) cancels every chunk, and a chunk's worker is then killed."""
        runs = [
            self._executor.submit_query(RefitQuery(model.model_id, a, b), lambda: model.blob, urgent)
            for a, b in self._chunks(start, stop)
        ]
        replicas: list[bytes] = []
        for outcome in self._outcomes(runs, context):
            assert isinstance(outcome, RefitOutcome)
            replicas.extend(outcome.replicas)
        return replicas


def _facts(model: StoredModel) -> ModelFacts:
    """What checking a query needs of its model; the parents come from the stored FitResult."""
    result = pb.FitResult.FromString(model.result)
    parents = {node.name: tuple(node.parents) for node in result.nodes}
    categories = {node.name: tuple(node.categories) for node in result.nodes if node.categories}
    return ModelFacts(model.model_id, model.kinds, parents, categories)


SERVICE = pb.DESCRIPTOR.services_by_name["CausalModelService"]

_HANDLER_OF_SHAPE = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def service_handler(servicer: CausalModelServicer) -> grpc.GenericRpcHandler:
    """Every RPC of the proto's service, bound to the servicer's method of the same name (a registered
    query's is made per instance); a method the servicer lacks fails here, at start-up."""
    handlers = {}
    for method in SERVICE.methods:
        shape = (method.client_streaming, method.server_streaming)
        handlers[method.name] = _HANDLER_OF_SHAPE[shape](
            getattr(servicer, method.name),
            request_deserializer=getattr(pb, method.input_type.name).FromString,
            response_serializer=getattr(pb, method.output_type.name).SerializeToString,
        )
    return grpc.method_handlers_generic_handler(SERVICE.full_name, handlers)
