"""The single mapping from domain errors to gRPC statuses."""

from __future__ import annotations

import logging
import pickle
import re

import pytest
from google.rpc import code_pb2, error_details_pb2

from scmfit.server.domain import errors
from scmfit.server.domain.errors import (
    FieldViolation,
    FitCancelledError,
    FitFailedError,
    InvalidRequestError,
    MissingDependencyError,
    ScmfitServerError,
    ServerBusyError,
    ShuttingDownError,
    WorkerLostError,
)
from scmfit.server.wire.grpc_errors import code_name, to_status


def test_invalid_request_carries_bad_request_field_violations() -> None:
    status = to_status(InvalidRequestError([FieldViolation("graph.edges", "cycle"), FieldViolation("a", "b")]))
    assert status.code == code_pb2.INVALID_ARGUMENT
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    assert [(v.field, v.description) for v in detail.field_violations] == [
        ("graph.edges", "cycle"),
        ("a", "b"),
    ]


def test_missing_dependency_is_failed_precondition_naming_the_package() -> None:
    status = to_status(MissingDependencyError("autogluon.tabular", "QUALITY_BEST"))
    assert status.code == code_pb2.FAILED_PRECONDITION
    detail = error_details_pb2.PreconditionFailure()
    assert status.details[0].Unpack(detail)
    assert detail.violations[0].subject == "autogluon.tabular"


def test_other_domain_errors() -> None:
    assert to_status(WorkerLostError("died")).code == code_pb2.UNAVAILABLE
    assert to_status(ShuttingDownError("bye")).code == code_pb2.UNAVAILABLE
    assert to_status(FitCancelledError("x")).code == code_pb2.CANCELLED
    assert to_status(FitFailedError("node 'Y' failed")).message == "node 'Y' failed"


def test_unexpected_errors_are_internal_without_traceback_text() -> None:
    status = to_status(KeyError("secret internals"))
    assert status.code == code_pb2.INTERNAL
    assert "secret" not in status.message and "Traceback" not in status.message
    assert "ref " in status.message


def test_domain_errors_survive_the_trip_from_a_worker_process() -> None:
    for error in (
        InvalidRequestError([FieldViolation("f", "d")]),
        MissingDependencyError("pkg", "feature"),
        FitFailedError("m"),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)


def test_every_error_class_declares_its_code_and_the_status_uses_it() -> None:
    classes = [cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, ScmfitServerError)]
    assert len(classes) >= 14
    for cls in classes:
        assert "code" in vars(cls), f"{cls.__name__} takes its code from a parent instead of declaring it"
        assert cls.code in set(code_pb2.Code.keys()), f"{cls.__name__}.code {cls.code!r} names no google.rpc code"
    busy = ServerBusyError(2, 16, 1.5)
    assert ServerBusyError.code == "RESOURCE_EXHAUSTED"
    assert to_status(busy).code == code_pb2.RESOURCE_EXHAUSTED
    assert code_name(busy) == "resource_exhausted"


def test_an_unexpected_error_is_logged_once_with_the_reference_the_caller_gets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = RuntimeError("boom")
    with caplog.at_level(logging.ERROR, logger="scmfit.server.wire.grpc_errors"):
        assert code_name(error) == "internal"  # counting it for metrics logs nothing
        status = to_status(error)
    reference = re.search(r"ref ([0-9a-f]{12})", status.message)
    assert reference is not None
    assert [record.getMessage() for record in caplog.records] == [f"unexpected error (ref {reference.group(1)})"]
