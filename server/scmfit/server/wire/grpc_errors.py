"""The one place where domain errors become gRPC statuses with google.rpc details."""

from __future__ import annotations

import collections
import logging
import uuid
from collections.abc import Callable
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from scmfit.server.domain.errors import (
    DatasetNotFoundError,
    InvalidRequestError,
    MissingDependencyError,
    ModelNotFoundError,
    ModelNotLoadedError,
    QueryNotSupportedError,
    ScmfitServerError,
    ServerBusyError,
)
from scmfit.server.wire.interceptors import REQUEST_ID_KEY, request_id

_log = logging.getLogger(__name__)

_DOMAIN = "scmfit.dev"

MAX_VIOLATIONS = 25
"""Status details travel in trailers, which gRPC caps at 16 KiB; violations and texts are clipped to fit."""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 20]}… ({len(text)} chars)"


def _bad_request(error: InvalidRequestError) -> Message:
    violations = [
        error_details_pb2.BadRequest.FieldViolation(field=_clip(v.field, 200), description=_clip(v.description, 400))
        for v in error.violations[:MAX_VIOLATIONS]
    ]
    if len(error.violations) > MAX_VIOLATIONS:
        violations.append(
            error_details_pb2.BadRequest.FieldViolation(
                field=violations[-1].field,
                description=f"... and {len(error.violations) - MAX_VIOLATIONS} more violation(s) not listed",
            )
        )
    message: Message = error_details_pb2.BadRequest(field_violations=violations)
    return message


def _precondition(kind: str, subject: str, description: str) -> Message:
    violation = error_details_pb2.PreconditionFailure.Violation(type=kind, subject=subject, description=description)
    message: Message = error_details_pb2.PreconditionFailure(violations=[violation])
    return message


def _retry_info(error: ServerBusyError) -> Message:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(round(error.retry_after_seconds * 1e9))
    message: Message = error_details_pb2.RetryInfo(retry_delay=delay)
    return message


_DETAILS: dict[type[ScmfitServerError], Callable[[Any], Message]] = {
    InvalidRequestError: _bad_request,
    MissingDependencyError: lambda e: _precondition("MISSING_DEPENDENCY", e.package, str(e)),
    QueryNotSupportedError: lambda e: _precondition(e.kind, e.subject, e.reason),
    DatasetNotFoundError: lambda e: error_details_pb2.ResourceInfo(
        resource_type="scmfit.v1.Dataset", resource_name=e.dataset_id[:200], description=str(e)
    ),
    ModelNotFoundError: lambda e: error_details_pb2.ResourceInfo(
        resource_type="scmfit.v1.Model", resource_name=e.model_id, description=str(e)
    ),
    ServerBusyError: _retry_info,
}
"""The google.rpc detail each error class carries beside its code (the code is the class's own)."""


def to_status(error: BaseException) -> status_pb2.Status:
    """Maps an error to a google.rpc.Status; anything unexpected becomes INTERNAL, without a traceback
    on the wire, logged here once with the reference the caller is given."""
    if not isinstance(error, ScmfitServerError) or isinstance(error, ModelNotLoadedError):  # never meant to leave
        reference = uuid.uuid4().hex[:12]
        _log.error("unexpected error (ref %s)", reference, exc_info=error)
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason="UNEXPECTED", domain=_DOMAIN, metadata={"ref": reference}))
        return status_pb2.Status(
            code=code_pb2.INTERNAL,
            message=f"internal error (ref {reference}); details are in the server log",
            details=[detail],
        )
    details = []
    build = _DETAILS.get(type(error))
    if build is not None:
        detail = any_pb2.Any()
        detail.Pack(build(error))
        details.append(detail)
    return status_pb2.Status(code=code_pb2.Code.Value(error.code), message=_clip(str(error), 1000), details=details)


def code_name(error: BaseException) -> str:
    """The lower-case gRPC code an error maps to, for metrics labels (without logging it)."""
    if isinstance(error, ScmfitServerError) and not isinstance(error, ModelNotLoadedError):
        return error.code.lower()
    return "internal"


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
