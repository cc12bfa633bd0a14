"""The client's exceptions, and the single place that translates grpc.RpcError into them.

As httpx keeps transport failures apart from HTTP status errors, a failure here is either a
TransportError (no answer came from the server) or a ServerError (the server answered with a status):

ScmfitError                       every error, with the status details the server sent
├── TransportError                no answer from the server
│   ├── ConnectError              could not connect (refused, unresolvable, TLS)   also UnavailableError
│   ├── ConnectionLostError       the connection broke during the call             also UnavailableError
│   └── CallTimeoutError          the call's own deadline passed                   also DeadlineExceededError
└── ServerError                   the server answered with a status code
    ├── InvalidRequestError       INVALID_ARGUMENT, OUT_OF_RANGE (carries field violations)
    ├── NotFoundError             NOT_FOUND (carries the resource)
    ├── AlreadyExistsError        ALREADY_EXISTS
    ├── FailedPreconditionError   FAILED_PRECONDITION (carries the precondition violations)
    ├── ResourceExhaustedError    RESOURCE_EXHAUSTED (request too large, server busy: carries the retry delay)
    ├── ServerUnavailableError    UNAVAILABLE (shutting down, a worker or store lost)  also UnavailableError
    ├── ServerDeadlineError       DEADLINE_EXCEEDED (the server's own deadline)         also DeadlineExceededError
    ├── CancelledError            CANCELLED, ABORTED
    ├── PermissionDeniedError     PERMISSION_DENIED
    │   └── UnauthenticatedError  UNAUTHENTICATED (no or a wrong token)
    ├── UnimplementedError        UNIMPLEMENTED
    └── InternalError             INTERNAL, UNKNOWN, DATA_LOSS (carries the log reference)

UnavailableError and DeadlineExceededError name a code whatever its origin, for code that retries on it.
A status came from the server when it carries the request id the server puts on every answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

REQUEST_ID_KEY = "x-request-id"
"""The trailer the server sets on every answer, its own errors included."""


@dataclass(frozen=True)
class FieldViolation:
    """One problem with one request field, as the server (or local validation) named it."""

    field: str
    description: str


@dataclass(frozen=True)
class ResourceInfo:
    """The resource an error is about (google.rpc.ResourceInfo), such as the model that was not found."""

    resource_type: str
    resource_name: str
    description: str


@dataclass(frozen=True)
class PreconditionViolation:
    """One unmet precondition (google.rpc.PreconditionFailure), such as a missing optional package."""

    type: str
    subject: str
    description: str


@dataclass(frozen=True)
class ErrorInfo:
    """Why, in machine-readable form (google.rpc.ErrorInfo); `metadata["ref"]` finds an internal error in
    the server's log."""

    reason: str
    domain: str
    metadata: Mapping[str, str]


@dataclass(frozen=True)
class StatusDetails:
    """Every google.rpc detail the server may send, unpacked; absent ones are empty or None."""

    violations: tuple[FieldViolation, ...] = ()
    retry_delay: float | None = None
    """Seconds the server asks the caller to wait before retrying (google.rpc.RetryInfo)."""
    resource: ResourceInfo | None = None
    preconditions: tuple[PreconditionViolation, ...] = ()
    error_info: ErrorInfo | None = None
    request_id: str = ""
    """The id the server logged this call under; empty when no answer came from the server."""
    others: tuple[Message, ...] = field(default=())
    """Details of kinds this client does not unpack, as they came."""


class ScmfitError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self, message: str, *, code: grpc.StatusCode | None = None, details: StatusDetails | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or StatusDetails()

    @property
    def request_id(self) -> str:
        return self.details.request_id

    @property
    def retry_delay(self) -> float | None:
        return self.details.retry_delay

    @property
    def resource(self) -> ResourceInfo | None:
        return self.details.resource

    @property
    def preconditions(self) -> tuple[PreconditionViolation, ...]:
        return self.details.preconditions

    @property
    def error_info(self) -> ErrorInfo | None:
        return self.details.error_info


class TransportError(ScmfitError):
    """No answer came from the server: it was unreachable, the connection broke, or the deadline passed."""


class ServerError(ScmfitError):
    """The server answered with a status code; `details` holds what it sent with it."""


class UnavailableError(ScmfitError):
    """UNAVAILABLE, from either side: the server cannot be reached or is shutting down; retrying later may work."""


class DeadlineExceededError(ScmfitError):
    """DEADLINE_EXCEEDED, from either side: the call's deadline, or the server's own, passed."""


class ConnectError(TransportError, UnavailableError):
    """The client could not connect: nothing listens there, the name does not resolve, or TLS failed."""


class ConnectionLostError(TransportError, UnavailableError):
    """The connection broke during the call (reset, closed, or the server went away)."""


class CallTimeoutError(TransportError, DeadlineExceededError):
    """The call's own deadline passed before the server answered."""


class InvalidRequestError(ServerError):
    """The request was rejected; `violations` names each bad field."""

    def __init__(
        self,
        message: str,
        violations: tuple[FieldViolation, ...] = (),
        *,
        code: grpc.StatusCode | None = None,
        details: StatusDetails | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.violations = violations or self.details.violations

    def fields(self) -> list[str]:
        return [violation.field for violation in self.violations]

    @classmethod
    def of_field(cls, field: str, description: str) -> InvalidRequestError:
        """A local check's failure, in the same shape as the server's for the same field."""
        return cls(f"{field}: {description}", (FieldViolation(field, description),))


class NotFoundError(ServerError):
    """The named resource does not exist; `resource` names it."""


class AlreadyExistsError(ServerError):
    """The resource exists already."""


class FailedPreconditionError(ServerError):
    """The server cannot do this in its current state or configuration; `preconditions` say what is missing."""


class ResourceExhaustedError(ServerError):
    """A limit was hit: request size, rows, or server capacity; `retry_delay` says when to retry, if ever."""


class ServerUnavailableError(ServerError, UnavailableError):
    """The server answered UNAVAILABLE: it is shutting down, or lost a worker or its model store."""


class ServerDeadlineError(ServerError, DeadlineExceededError):
    """The server's own deadline passed (its default fit deadline, or an idle upload)."""


class CancelledError(ServerError):
    """The call was cancelled."""


class PermissionDeniedError(ServerError):
    """The caller is not allowed (PERMISSION_DENIED), or not authenticated (see UnauthenticatedError)."""


class UnauthenticatedError(PermissionDeniedError):
    """The call carried no token, or a wrong one (UNAUTHENTICATED): pass `token=` or --token."""


class UnimplementedError(ServerError):
    """The server does not implement this call."""


class InternalError(ServerError):
    """The server failed unexpectedly; `error_info.metadata["ref"]` finds it in the server's log."""


ERROR_FOR_CODE: dict[grpc.StatusCode, type[ScmfitError]] = {
    grpc.StatusCode.OK: InternalError,  # an RpcError with OK is itself a bug somewhere
    grpc.StatusCode.CANCELLED: CancelledError,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidRequestError,
    grpc.StatusCode.DEADLINE_EXCEEDED: ServerDeadlineError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: CancelledError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidRequestError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNAVAILABLE: ServerUnavailableError,
    grpc.StatusCode.DATA_LOSS: InternalError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}
"""The class of each status code the server answers with."""

_CONNECT_FAILURES = ("failed to connect", "connection refused", "dns resolution", "name resolution", "handshake")
"""Text of gRPC's own UNAVAILABLE that means the connection never came up."""


def from_rpc_error(error: grpc.RpcError) -> ScmfitError:
    """Builds the matching ScmfitError with every status detail, on the transport or the server branch."""
    call = _as_call(error)
    code = call.code() if call is not None else grpc.StatusCode.UNKNOWN
    message = (call.details() if call is not None else None) or str(error)
    details = _details(call)
    if not details.request_id and code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return _transport_error(call, code, message, details)
    cls = ERROR_FOR_CODE.get(code, InternalError)
    return cls(message, code=code, details=details)


def _transport_error(call: Any, code: grpc.StatusCode, message: str, details: StatusDetails) -> TransportError:
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return CallTimeoutError(message, code=code, details=details)
    debug = f"{message} {_debug_text(call)}".lower()
    cls = ConnectError if any(failure in debug for failure in _CONNECT_FAILURES) else ConnectionLostError
    return cls(message, code=code, details=details)


def _debug_text(call: Any) -> str:
    debug = getattr(call, "debug_error_string", None)
    try:
        return str(debug()) if callable(debug) else ""
    except Exception:
        return ""


def _as_call(error: grpc.RpcError) -> Any:
    """Sync calls are grpc.Call; grpc.aio.AioRpcError has the same methods without the base class."""
    if isinstance(error, grpc.Call | grpc.aio.AioRpcError):
        return error
    return None


def _request_id(call: Any) -> str:
    try:
        trailers = call.trailing_metadata() or ()
    except Exception:
        return ""
    return next((str(value) for key, value in trailers if key == REQUEST_ID_KEY), "")


def _details(call: Any) -> StatusDetails:
    if call is None:
        return StatusDetails()
    request_id = _request_id(call)
    try:
        status = rpc_status.from_call(call)
    except ValueError:  # a status detail that does not match the code and message: ignore the details
        status = None
    if status is None:
        return StatusDetails(request_id=request_id)
    found: dict[str, Any] = {"request_id": request_id}
    violations: list[FieldViolation] = []
    preconditions: list[PreconditionViolation] = []
    others: list[Message] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            found["retry_delay"] = retry.retry_delay.ToNanoseconds() / 1e9
        elif detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
            resource = error_details_pb2.ResourceInfo()
            detail.Unpack(resource)
            found["resource"] = ResourceInfo(resource.resource_type, resource.resource_name, resource.description)
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            preconditions.extend(PreconditionViolation(v.type, v.subject, v.description) for v in failure.violations)
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            found["error_info"] = ErrorInfo(info.reason, info.domain, dict(info.metadata))
        else:
            others.append(detail)
    return StatusDetails(
        violations=tuple(violations), preconditions=tuple(preconditions), others=tuple(others), **found
    )
