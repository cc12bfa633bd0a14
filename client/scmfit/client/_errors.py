"""The client's exceptions, and the single place that translates grpc.RpcError into them.

ScmfitError
├── InvalidRequestError        INVALID_ARGUMENT, OUT_OF_RANGE (carries field violations)
├── NotFoundError              NOT_FOUND
├── AlreadyExistsError         ALREADY_EXISTS
├── FailedPreconditionError    FAILED_PRECONDITION (for example a missing optional package)
├── ResourceExhaustedError     RESOURCE_EXHAUSTED (request too large, server busy)
├── UnavailableError           UNAVAILABLE
├── DeadlineExceededError      DEADLINE_EXCEEDED
├── CancelledError             CANCELLED, ABORTED
├── PermissionDeniedError      PERMISSION_DENIED, UNAUTHENTICATED
├── UnimplementedError         UNIMPLEMENTED
└── InternalError              INTERNAL, UNKNOWN, DATA_LOSS
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    """One problem with one request field, as the server (or local validation) named it."""

    field: str
    description: str


class ScmfitError(Exception):
    """Base of every error the client raises."""

    def __init__(self, message: str, *, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class InvalidRequestError(ScmfitError):
    """The request was rejected; `violations` names each bad field."""

    def __init__(
        self,
        message: str,
        violations: tuple[FieldViolation, ...] = (),
        *,
        code: grpc.StatusCode | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.violations = violations

    def fields(self) -> list[str]:
        return [violation.field for violation in self.violations]

    @classmethod
    def of_field(cls, field: str, description: str) -> InvalidRequestError:
        """A local check's failure, in the same shape as the server's for the same field."""
        return cls(f"{field}: {description}", (FieldViolation(field, description),))


class NotFoundError(ScmfitError):
    """The named resource does not exist."""


class AlreadyExistsError(ScmfitError):
    """The resource exists already."""


class FailedPreconditionError(ScmfitError):
    """The server cannot do this in its current state or configuration."""


class ResourceExhaustedError(ScmfitError):
    """A limit was hit: request size, rows, or server capacity."""


class UnavailableError(ScmfitError):
    """The server cannot be reached or is shutting down; retrying later may work."""


class DeadlineExceededError(ScmfitError):
    """The call's deadline passed before it finished."""


class CancelledError(ScmfitError):
    """The call was cancelled."""


class PermissionDeniedError(ScmfitError):
    """The caller is not authenticated or not allowed."""


class UnimplementedError(ScmfitError):
    """The server does not implement this call."""


class InternalError(ScmfitError):
    """The server failed unexpectedly."""


ERROR_FOR_CODE: dict[grpc.StatusCode, type[ScmfitError]] = {
    grpc.StatusCode.OK: InternalError,  # an RpcError with OK is itself a bug somewhere
    grpc.StatusCode.CANCELLED: CancelledError,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidRequestError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: CancelledError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidRequestError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DATA_LOSS: InternalError,
    grpc.StatusCode.UNAUTHENTICATED: PermissionDeniedError,
}


def from_rpc_error(error: grpc.RpcError) -> ScmfitError:
    """Builds the matching ScmfitError, unpacking google.rpc.BadRequest field violations."""
    call = _as_call(error)
    code = call.code() if call is not None else grpc.StatusCode.UNKNOWN
    message = (call.details() if call is not None else None) or str(error)
    cls = ERROR_FOR_CODE.get(code, InternalError)
    if cls is InvalidRequestError:
        return InvalidRequestError(message, _violations(error), code=code)
    return cls(message, code=code)


def _as_call(error: grpc.RpcError) -> Any:
    """Sync calls are grpc.Call; grpc.aio.AioRpcError has the same methods without the base class."""
    if isinstance(error, grpc.Call | grpc.aio.AioRpcError):
        return error
    return None


def _violations(error: grpc.RpcError) -> tuple[FieldViolation, ...]:
    call = _as_call(error)
    try:
        status = rpc_status.from_call(call) if call is not None else None
    except ValueError:  # a status detail that does not match the code and message: ignore the detail
        return ()
    if status is None:
        return ()
    found: list[FieldViolation] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)
    return tuple(found)
