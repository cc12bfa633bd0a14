"""The scmfit Python client: typed calls to a scmfit server. It never imports DoWhy or server code.

from scmfit.client import Client

with Client("127.0.0.1:50051") as client:
    result = client.fit(nx_graph, dataframe, quality="GOOD")
    print(result.status, result.mean_r2, result.node("Y").mechanism.coefficients)
"""

from scmfit.client._async_client import AsyncClient
from scmfit.client._channel import RETRY_POLICY, SERVICE_NAME, tls_credentials
from scmfit.client._client import DEFAULT_TARGET, Client, FitEvent, ProgressCallback
from scmfit.client._config import FitConfig
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
from scmfit.client._interventions import Intervention, do, scale, shift
from scmfit.client._request import column, fit_request
from scmfit.client._results import (
    Candidate,
    FitMetadata,
    FitProgress,
    FitResult,
    FitStatus,
    Mechanism,
    MechanismKind,
    ModelSummary,
    NodeResult,
    NodeStatistics,
    SampleResult,
    ServerInfo,
    Stage,
    Validation,
)

__all__ = [
    "DEFAULT_TARGET",
    "RETRY_POLICY",
    "SERVICE_NAME",
    "AlreadyExistsError",
    "AsyncClient",
    "CancelledError",
    "Candidate",
    "Client",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "FitConfig",
    "FitEvent",
    "FitMetadata",
    "FitProgress",
    "FitResult",
    "FitStatus",
    "InternalError",
    "Intervention",
    "InvalidRequestError",
    "Mechanism",
    "MechanismKind",
    "ModelSummary",
    "NodeResult",
    "NodeStatistics",
    "NotFoundError",
    "PermissionDeniedError",
    "ProgressCallback",
    "ResourceExhaustedError",
    "SampleResult",
    "ScmfitError",
    "ServerInfo",
    "Stage",
    "UnavailableError",
    "UnimplementedError",
    "Validation",
    "column",
    "do",
    "fit_request",
    "scale",
    "shift",
    "tls_credentials",
]
