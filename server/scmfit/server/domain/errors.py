"""Domain errors raised while decoding or fitting. Each class names its status code, so the code of an
error is decided where the error is defined; `wire/grpc_errors.py` alone turns them into gRPC statuses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class FieldViolation:
    """One problem with one field of a request, named by its path (for example `dataset.columns[2]`)."""

    field: str
    description: str


class ScmfitServerError(Exception):
    """Base of every error the server reports on purpose."""

    code: ClassVar[str] = "INTERNAL"
    """The name of the google.rpc code this error travels as (wire/grpc_errors.py maps it); every subclass
    sets its own."""


class InvalidRequestError(ScmfitServerError):
    """The request is malformed; it carries every violation found, not only the first."""

    code: ClassVar[str] = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))

    def __reduce__(self) -> tuple[type[InvalidRequestError], tuple[list[FieldViolation]]]:
        return (type(self), (list(self.violations),))


class MissingDependencyError(ScmfitServerError):
    """The request needs an optional package the server does not have."""

    code: ClassVar[str] = "FAILED_PRECONDITION"

    def __init__(self, package: str, needed_for: str) -> None:
        self.package = package
        self.needed_for = needed_for
        super().__init__(f"{needed_for} needs the optional package '{package}', which is not installed")

    def __reduce__(self) -> tuple[type[MissingDependencyError], tuple[str, str]]:
        return (type(self), (self.package, self.needed_for))


class ModelNotFoundError(ScmfitServerError):
    """No stored model has this id: never fitted, deleted, evicted or expired."""

    code: ClassVar[str] = "NOT_FOUND"

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        super().__init__(f"model {model_id} not found (never fitted here, deleted, evicted or expired)")

    def __reduce__(self) -> tuple[type[ModelNotFoundError], tuple[str]]:
        return (type(self), (self.model_id,))


class DatasetNotFoundError(ScmfitServerError):
    """No uploaded dataset has this id: never uploaded, evicted or expired."""

    code: ClassVar[str] = "NOT_FOUND"

    def __init__(self, dataset_id: str) -> None:
        self.dataset_id = dataset_id
        super().__init__(f"dataset {dataset_id[:80]} not found (never uploaded here, evicted or expired)")

    def __reduce__(self) -> tuple[type[DatasetNotFoundError], tuple[str]]:
        return (type(self), (self.dataset_id,))


class ModelNotLoadedError(ScmfitServerError):
    """A worker does not hold this model yet; the caller resends it with the model's bytes."""

    code: ClassVar[str] = "INTERNAL"


class QueryNotSupportedError(ScmfitServerError):
    """The model cannot answer this query (for example a counterfactual through a classifier)."""

    code: ClassVar[str] = "FAILED_PRECONDITION"

    def __init__(self, subject: str, reason: str, kind: str = "NOT_INVERTIBLE") -> None:
        self.subject = subject
        self.reason = reason
        self.kind = kind
        """The google.rpc PreconditionFailure type."""
        super().__init__(reason)

    def __reduce__(self) -> tuple[type[QueryNotSupportedError], tuple[str, str, str]]:
        return (type(self), (self.subject, self.reason, self.kind))


class ResultOutOfRangeError(ScmfitServerError):
    """A query's answer left what its node's type can hold (an int64 overflow, a non-finite double)."""

    code: ClassVar[str] = "OUT_OF_RANGE"


class ServerBusyError(ScmfitServerError):
    """Every worker slot is taken and the wait queue is full; the client should retry later."""

    code: ClassVar[str] = "RESOURCE_EXHAUSTED"

    def __init__(
        self,
        active: int,
        queued: int,
        retry_after_seconds: float,
        what: str = "calls",
        limit_names: str = "max_concurrent and max_queue",
    ) -> None:
        self.active = active
        self.queued = queued
        self.retry_after_seconds = retry_after_seconds
        self.what = what
        self.limit_names = limit_names
        super().__init__(
            f"server busy: {active} {what} running and {queued} queued ({limit_names} reached); "
            f"retry in {retry_after_seconds:g}s"
        )

    def __reduce__(self) -> tuple[type[ServerBusyError], tuple[int, int, float, str, str]]:
        return (type(self), (self.active, self.queued, self.retry_after_seconds, self.what, self.limit_names))


class ReplicaBudgetError(ScmfitServerError):
    """One model's bootstrap refits would not fit in the memory the server keeps for them."""

    code: ClassVar[str] = "RESOURCE_EXHAUSTED"


class DeadlineError(ScmfitServerError):
    """The server's default deadline for fits that set none has passed."""

    code: ClassVar[str] = "DEADLINE_EXCEEDED"


class WorkerLostError(ScmfitServerError):
    """The worker process running the job died; the pool replaces it."""

    code: ClassVar[str] = "UNAVAILABLE"


class FitCancelledError(ScmfitServerError):
    """The fit was stopped because its call was cancelled or its deadline passed."""

    code: ClassVar[str] = "CANCELLED"


class ShuttingDownError(ScmfitServerError):
    """The server is stopping and accepts no new work."""

    code: ClassVar[str] = "UNAVAILABLE"


class FitFailedError(ScmfitServerError):
    """DoWhy or scikit-learn failed on input that passed validation; the message is short and safe to show."""

    code: ClassVar[str] = "INTERNAL"


class ModelStoreUnavailableError(ScmfitServerError):
    """The shared model store could not be reached or refused a request; retrying later may succeed."""

    code: ClassVar[str] = "UNAVAILABLE"


class ModelStoreFullError(ScmfitServerError):
    """The model directory has no room for the fitted model; the fit's work is lost, nothing is left behind."""

    code: ClassVar[str] = "RESOURCE_EXHAUSTED"
