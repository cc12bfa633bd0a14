"""The scmfit Python client: typed calls to a scmfit server, with no DoWhy dependency."""

from scmfit.client._client import DEFAULT_TARGET, SERVICE_NAME, Client
from scmfit.client._errors import (
    AlreadyExistsError,
    CancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    InternalError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ScmfitError,
    UnavailableError,
    UnimplementedError,
)
from scmfit.client._request import column, fit_request

__all__ = [
    "DEFAULT_TARGET",
    "SERVICE_NAME",
    "AlreadyExistsError",
    "CancelledError",
    "Client",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "InternalError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "ScmfitError",
    "UnavailableError",
    "UnimplementedError",
    "column",
    "fit_request",
]
