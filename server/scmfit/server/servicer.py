"""CausalModelService: orchestrates decode, registry, executor and encode; it computes nothing itself."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from scmfit.server import encode, status
from scmfit.server.config import Limits
from scmfit.server.decode import available_qualities, decode_fit_request
from scmfit.server.decode_query import decode_counterfactual, decode_effect, decode_sample
from scmfit.server.errors import ScmfitServerError
from scmfit.server.executor import FitExecutor
from scmfit.server.job import (
    CounterfactualOutcome,
    EffectOutcome,
    FitJob,
    Progress,
    Query,
    QueryOutcome,
    SampleOutcome,
    Stage,
)
from scmfit.server.registry import ModelRegistry, StoredModel, check_model_id
from scmfit.v1 import causal_model_service_pb2 as pb
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc

_log = logging.getLogger(__name__)

Response = TypeVar("Response")


def _unary(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Every failure of a unary handler goes through status.abort, the one mapping to gRPC codes."""

    @functools.wraps(handler)
    def wrapper(self: CausalModelServicer, request: Any, context: grpc.ServicerContext) -> Response:
        try:
            return handler(self, request, context)
        except Exception as error:
            status.abort(context, error)

    return wrapper


class CausalModelServicer(pb_grpc.CausalModelServiceServicer):
    def __init__(self, executor: FitExecutor, registry: ModelRegistry, limits: Limits, workers: int) -> None:
        self._executor = executor
        self._registry = registry
        self._limits = limits
        self._workers = workers

    def FitModel(  # noqa: N802 - the name is the RPC's
        self, request: pb.FitModelRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.FitModelResponse]:
        started = time.monotonic()
        yield encode.progress_response(Progress(Stage.VALIDATING, "", 0, 1), 0.0)
        try:
            job = decode_fit_request(request, self._limits)
            stored = self._registry.find(job.model_id)
        except ScmfitServerError as error:
            status.abort(context, error)
        if stored is not None:
            result = pb.FitResult.FromString(stored.result)
            result.reused = True
            _log.info("fit %s: reused the stored model", job.model_id[:12])
            yield pb.FitModelResponse(result=result)
            return
        yield from self._fit(job, context, started)

    def _fit(self, job: FitJob, context: grpc.ServicerContext, started: float) -> Iterator[pb.FitModelResponse]:
        validating_seconds = time.monotonic() - started
        try:
            run = self._executor.submit(job)
        except ScmfitServerError as error:
            status.abort(context, error)
        # gRPC does not stop a handler whose call was cancelled or expired; this callback kills the worker.
        context.add_callback(run.cancel)
        for progress in run.events():
            if not context.is_active():
                run.cancel()
                return
            yield encode.progress_response(progress, time.monotonic() - started)
        if not context.is_active():
            run.cancel()
            return
        try:
            outcome = run.outcome()
            response = encode.result_response(
                outcome,
                model_id=job.model_id,
                num_rows=job.num_rows,
                quality=job.settings.quality,
                seed=job.settings.seed,
                test_fraction=job.settings.test_fraction,
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
            status.abort(context, error)
        _log.info("fit %s: %s in %.2fs", job.model_id[:12], outcome.verdict.value, time.monotonic() - started)
        yield response

    @_unary
    def GetServerInfo(  # noqa: N802
        self, request: pb.GetServerInfoRequest, context: grpc.ServicerContext
    ) -> pb.GetServerInfoResponse:
        return encode.server_info(self._limits, available_qualities(), self._workers, self._registry.max_bytes)

    @_unary
    def GetModel(self, request: pb.GetModelRequest, context: grpc.ServicerContext) -> pb.GetModelResponse:  # noqa: N802
        model = self._registry.get(check_model_id(request.model_id))
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
        self._registry.delete(check_model_id(request.model_id))
        return pb.DeleteModelResponse()

    @_unary
    def SampleModel(  # noqa: N802
        self, request: pb.SampleModelRequest, context: grpc.ServicerContext
    ) -> pb.SampleModelResponse:
        started = time.monotonic()
        model = self._registry.get(check_model_id(request.model_id))
        outcome = self._answer(decode_sample(request, model, self._limits), model, context)
        assert isinstance(outcome, SampleOutcome)
        return encode.sample_response(outcome, model.kinds, time.monotonic() - started)

    @_unary
    def EstimateEffect(  # noqa: N802
        self, request: pb.EstimateEffectRequest, context: grpc.ServicerContext
    ) -> pb.EstimateEffectResponse:
        model = self._registry.get(check_model_id(request.model_id))
        outcome = self._answer(decode_effect(request, model, self._limits), model, context)
        assert isinstance(outcome, EffectOutcome)
        return pb.EstimateEffectResponse(effect=outcome.effect, num_samples=outcome.num_samples)

    @_unary
    def Counterfactual(  # noqa: N802
        self, request: pb.CounterfactualRequest, context: grpc.ServicerContext
    ) -> pb.CounterfactualResponse:
        model = self._registry.get(check_model_id(request.model_id))
        outcome = self._answer(decode_counterfactual(request, model, self._limits), model, context)
        assert isinstance(outcome, CounterfactualOutcome)
        return pb.CounterfactualResponse(counterfactual=encode.dataset(outcome.rows, model.kinds))

    def _answer(self, query: Query, model: StoredModel, context: grpc.ServicerContext) -> QueryOutcome:
        run = self._executor.submit_query(query, lambda: model.blob)
        context.add_callback(run.cancel)
        return run.outcome()
