"""The one place where domain errors become gRPC statuses with google.rpc details."""

from __future__ import annotations

import collections
import logging
import uuid
from typing import NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from scmfit.server.errors import (
    DatasetNotFoundError,
    DeadlineError,
    FitCancelledError,
    FitFailedError,
    InvalidRequestError,
    MissingDependencyError,
    ModelNotFoundError,
    QueryNotSupportedError,
    ResultOutOfRangeError,
    ScmfitServerError,
    ServerBusyError,
    ShuttingDownError,
    WorkerLostError,
)
from scmfit.server.interceptors import REQUEST_ID_KEY, request_id

_log = logging.getLogger(__name__)

_DOMAIN = "scmfit.dev"

MAX_VIOLATIONS = 25
"""Status details travel in trailers, which gRPC caps at 16 KiB; violations and texts are clipped to fit."""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 20]}… ({len(text)} chars)"


def to_status(error: BaseException) -> status_pb2.Status:
    """Maps an error to a google.rpc.Status; anything unexpected becomes INTERNAL without a traceback."""
    detail = any_pb2.Any()
    if isinstance(error, InvalidRequestError):
        violations = [
            error_details_pb2.BadRequest.FieldViolation(
                field=_clip(v.field, 200), description=_clip(v.description, 400)
            )
            for v in error.violations[:MAX_VIOLATIONS]
        ]
        if len(error.violations) > MAX_VIOLATIONS:
            violations.append(
                error_details_pb2.BadRequest.FieldViolation(
                    field=violations[-1].field,
                    description=f"... and {len(error.violations) - MAX_VIOLATIONS} more violation(s) not listed",
                )
            )
        detail.Pack(error_details_pb2.BadRequest(field_violations=violations))
        return status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=_clip(str(error), 1000), details=[detail])
    if isinstance(error, MissingDependencyError):
        detail.Pack(
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type="MISSING_DEPENDENCY", subject=error.package, description=str(error)
                    )
                ]
            )
        )
        return status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=str(error), details=[detail])
    if isinstance(error, DatasetNotFoundError):
        detail.Pack(
            error_details_pb2.ResourceInfo(
                resource_type="scmfit.v1.Dataset", resource_name=error.dataset_id[:200], description=str(error)
            )
        )
        return status_pb2.Status(code=code_pb2.NOT_FOUND, message=str(error), details=[detail])
    if isinstance(error, ModelNotFoundError):
        detail.Pack(
            error_details_pb2.ResourceInfo(
                resource_type="scmfit.v1.Model", resource_name=error.model_id, description=str(error)
            )
        )
        return status_pb2.Status(code=code_pb2.NOT_FOUND, message=str(error), details=[detail])
    if isinstance(error, QueryNotSupportedError):
        detail.Pack(
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type="NOT_INVERTIBLE", subject=error.subject, description=error.reason
                    )
                ]
            )
        )
        return status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=str(error), details=[detail])
    if isinstance(error, ResultOutOfRangeError):
        return status_pb2.Status(code=code_pb2.OUT_OF_RANGE, message=str(error))
    if isinstance(error, ServerBusyError):
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(round(error.retry_after_seconds * 1e9))
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        return status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=str(error), details=[detail])
    if isinstance(error, DeadlineError):
        return status_pb2.Status(code=code_pb2.DEADLINE_EXCEEDED, message=str(error))
    if isinstance(error, WorkerLostError | ShuttingDownError):
        return status_pb2.Status(code=code_pb2.UNAVAILABLE, message=str(error))
    if isinstance(error, FitCancelledError):
        return status_pb2.Status(code=code_pb2.CANCELLED, message=str(error))
    if isinstance(error, FitFailedError):
        return status_pb2.Status(code=code_pb2.INTERNAL, message=str(error))
    reference = uuid.uuid4().hex[:12]
    _log.error("unexpected error (ref %s)", reference, exc_info=error)
    detail.Pack(error_details_pb2.ErrorInfo(reason="UNEXPECTED", domain=_DOMAIN, metadata={"ref": reference}))
    return status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"internal error (ref {reference}); details are in the server log",
        details=[detail],
    )


def code_name(error: BaseException) -> str:
    """The lower-case gRPC code an error maps to, for metrics labels."""
    return str(code_pb2.Code.Name(to_status(error).code)).lower()


class _Status(collections.namedtuple("_Status", ("code", "details", "trailing_metadata")), grpc.Status):
    pass


def abort(context: grpc.ServicerContext, error: BaseException) -> NoReturn:
    if isinstance(error, ScmfitServerError):
        _log.info("request failed: %s: %s", type(error).__name__, error)
    status = rpc_status.to_status(to_status(error))
    # abort_with_status replaces the trailers, so the request id the interceptor set is added back here.
    metadata = (*status.trailing_metadata, (REQUEST_ID_KEY, request_id.get()))
    if isinstance(error, ServerBusyError):
        # gRPC's client retry policy honours server pushback (gRFC A6), mirroring google.rpc.RetryInfo.
        metadata += (("grpc-retry-pushback-ms", str(round(error.retry_after_seconds * 1000))),)
    context.abort_with_status(_Status(status.code, status.details, metadata))
    raise AssertionError("abort_with_status always raises")  # pragma: no cover
