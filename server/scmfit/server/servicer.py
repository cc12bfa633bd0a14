"""CausalModelService: orchestrates decode, the executor and encode; it does no fitting itself."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import grpc

from scmfit.server import encode, status
from scmfit.server.config import Limits
from scmfit.server.decode import available_qualities, decode_fit_request
from scmfit.server.errors import ScmfitServerError
from scmfit.server.executor import FitExecutor
from scmfit.server.job import Progress, Stage
from scmfit.v1 import causal_model_service_pb2 as pb
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc

_log = logging.getLogger(__name__)


class CausalModelServicer(pb_grpc.CausalModelServiceServicer):
    def __init__(self, executor: FitExecutor, limits: Limits, workers: int) -> None:
        self._executor = executor
        self._limits = limits
        self._workers = workers

    def FitModel(  # noqa: N802 - the name is the RPC's
        self, request: pb.FitModelRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.FitModelResponse]:
        started = time.monotonic()
        yield encode.progress_response(Progress(Stage.VALIDATING, "", 0, 1), 0.0)
        try:
            job = decode_fit_request(request, self._limits)
        except ScmfitServerError as error:
            status.abort(context, error)
        validating_seconds = time.monotonic() - started
        if not context.is_active():
            return
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
        except Exception as error:  # every failure, expected or not, goes through status.abort
            status.abort(context, error)
        _log.info("fit %s: %s in %.2fs", job.model_id[:12], outcome.verdict.value, time.monotonic() - started)
        yield encode.result_response(
            outcome,
            model_id=job.model_id,
            num_rows=job.num_rows,
            quality=job.settings.quality,
            seed=job.settings.seed,
            test_fraction=job.settings.test_fraction,
            validating_seconds=validating_seconds,
            total_seconds=time.monotonic() - started,
        )

    def GetServerInfo(  # noqa: N802 - the name is the RPC's
        self, request: pb.GetServerInfoRequest, context: grpc.ServicerContext
    ) -> pb.GetServerInfoResponse:
        return encode.server_info(self._limits, available_qualities(), self._workers)
