"""Every grpc.StatusCode the server answers with maps to a specific ServerError, the codes gRPC raises
itself (no server answered) to TransportErrors, and BadRequest details become field violations."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from scmfit.client import (
    CallTimeoutError,
    ConnectError,
    ConnectionLostError,
    DeadlineExceededError,
    InvalidRequestError,
    PermissionDeniedError,
    ScmfitError,
    ServerError,
    TransportError,
    UnavailableError,
)
from scmfit.client._errors import ERROR_FOR_CODE, from_rpc_error


class FakeCall(grpc.RpcError, grpc.Call):
    """An RpcError as grpc raises it: a Call carrying a code, details and trailing metadata."""

    def __init__(self, code: grpc.StatusCode, details: str, trailers: tuple[tuple[str, bytes], ...] = ()) -> None:
        self._code, self._details, self._trailers = code, details, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailers

    def initial_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> Any:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


def test_every_status_code_is_mapped() -> None:
    assert set(ERROR_FOR_CODE) == set(grpc.StatusCode)


FROM_SERVER = (("x-request-id", "0123456789abcdef"),)
"""The trailer our server sets on every answer: the status came from the server."""


@pytest.mark.parametrize("code", list(grpc.StatusCode))
def test_each_code_the_server_answers_becomes_its_subclass_with_code_and_message(code: grpc.StatusCode) -> None:
    error = from_rpc_error(FakeCall(code, f"went wrong: {code.name}", FROM_SERVER))  # type: ignore[arg-type]
    assert type(error) is ERROR_FOR_CODE[code]
    assert isinstance(error, ServerError) and not isinstance(error, TransportError)
    assert error.code is code
    assert error.message == f"went wrong: {code.name}"
    assert error.request_id == "0123456789abcdef"


def test_specific_codes_get_the_documented_classes() -> None:
    names = {code.name: ERROR_FOR_CODE[code].__name__ for code in grpc.StatusCode}
    assert names["INVALID_ARGUMENT"] == "InvalidRequestError"
    assert names["UNAVAILABLE"] == "ServerUnavailableError"
    assert names["DEADLINE_EXCEEDED"] == "ServerDeadlineError"
    assert names["CANCELLED"] == "CancelledError"
    assert names["INTERNAL"] == "InternalError"
    assert names["UNAUTHENTICATED"] == "UnauthenticatedError"
    assert issubclass(ERROR_FOR_CODE[grpc.StatusCode.UNAVAILABLE], UnavailableError)
    assert issubclass(ERROR_FOR_CODE[grpc.StatusCode.UNAUTHENTICATED], PermissionDeniedError)


@pytest.mark.parametrize(
    ("code", "details", "expected"),
    [
        (grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses", ConnectError),
        (grpc.StatusCode.UNAVAILABLE, "Socket closed", ConnectionLostError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", CallTimeoutError),
    ],
)
def test_codes_grpc_raises_itself_are_transport_errors(
    code: grpc.StatusCode, details: str, expected: type[ScmfitError]
) -> None:
    error = from_rpc_error(FakeCall(code, details))
    assert type(error) is expected
    assert isinstance(error, TransportError) and not isinstance(error, ServerError)
    assert isinstance(error, UnavailableError | DeadlineExceededError)


def test_bad_request_details_become_field_violations() -> None:
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field="graph.edges", description="cycle")]
        )
    )
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="bad", details=[detail])
    call = FakeCall(grpc.StatusCode.INVALID_ARGUMENT, "bad", (("grpc-status-details-bin", status.SerializeToString()),))
    error = from_rpc_error(call)
    assert isinstance(error, InvalidRequestError)
    assert error.fields() == ["graph.edges"]
    assert error.violations[0].description == "cycle"


def test_every_google_rpc_detail_is_readable_from_the_exception() -> None:
    """All the details the server sends (grpc_errors.py), unpacked: RetryInfo, ResourceInfo,
    PreconditionFailure and ErrorInfo; a detail of another kind is kept as it came."""
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.FromNanoseconds(1_500_000_000)
    details = [
        retry,
        error_details_pb2.ResourceInfo(resource_type="scmfit.v1.Model", resource_name="ab" * 32, description="gone"),
        error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(type="NOT_INVERTIBLE", subject="Y", description="x")
            ]
        ),
        error_details_pb2.ErrorInfo(reason="UNEXPECTED", domain="scmfit.dev", metadata={"ref": "0123abcd4567"}),
        error_details_pb2.DebugInfo(detail="kept as it came"),
    ]
    packed = []
    for detail in details:
        wrapper = any_pb2.Any()
        wrapper.Pack(detail)
        packed.append(wrapper)
    status = status_pb2.Status(code=code_pb2.INTERNAL, message="boom", details=packed)
    trailers = (("grpc-status-details-bin", status.SerializeToString()), ("x-request-id", "feedbeef"))
    error = from_rpc_error(FakeCall(grpc.StatusCode.INTERNAL, "boom", trailers))  # type: ignore[arg-type]
    assert error.retry_delay == 1.5
    assert error.resource is not None and error.resource.resource_name == "ab" * 32
    assert [(v.type, v.subject) for v in error.preconditions] == [("NOT_INVERTIBLE", "Y")]
    assert error.error_info is not None and error.error_info.metadata["ref"] == "0123abcd4567"
    assert len(error.details.others) == 1 and error.request_id == "feedbeef"
