"""An AttributeDistributionChange request into its two fit jobs and the attribution's settings; each
version's traces are checked as a fit's are, and named by their own field."""

from __future__ import annotations

from dataclasses import dataclass

from scmfit.server.config import Limits
from scmfit.server.domain.errors import FieldViolation, InvalidRequestError
from scmfit.server.domain.fit import FitJob
from scmfit.server.wire.decode import decode_fit_request
from scmfit.server.wire.decode_query import read_bootstrap, read_count, read_level, read_seed
from scmfit.v1 import causal_model_service_pb2 as pb

DEFAULT_SAMPLES = 2000
DEFAULT_LEVEL = 0.05
DEFAULT_BOOTSTRAP = 100


@dataclass(frozen=True)
class ChangeRequest:
    old: FitJob
    new: FitJob
    target: str
    num_samples: int
    significance_level: float
    seed: int
    confidence_level: float = 0.0
    num_bootstrap: int = 0


def _side(request: pb.AttributeDistributionChangeRequest, field: str, limits: Limits) -> FitJob:
    dataset = getattr(request, field)
    fit = pb.FitModelRequest(graph=request.graph, dataset=dataset, config=request.config)
    try:
        return decode_fit_request(fit, limits)
    except InvalidRequestError as error:
        raise InvalidRequestError(
            [
                FieldViolation(field + violation.field.removeprefix("dataset"), violation.description)
                if violation.field.startswith("dataset")
                else violation
                for violation in error.violations
            ]
        ) from None


def decode_change(request: pb.AttributeDistributionChangeRequest, limits: Limits) -> ChangeRequest:
    old = _side(request, "old_dataset", limits)
    new = _side(request, "new_dataset", limits)
    violations: list[FieldViolation] = []
    for field, job in (("old_dataset", old), ("new_dataset", new)):
        for name, mask in job.missing.items():
            violations.append(
                FieldViolation(
                    f"{field}.columns[{job.column_index[name]}].missing_rows",
                    f"column {name!r} is missing at row {int(mask.argmax())}; the mechanism change tests need "
                    "every cell (drop or fill those rows)",
                )
            )
    for name in old.nodes:
        if old.kinds[name] is not new.kinds[name]:
            violations.append(
                FieldViolation(
                    f"new_dataset.columns[{new.column_index[name]}]",
                    f"column {name!r} is {new.kinds[name].value} here but {old.kinds[name].value} in old_dataset",
                )
            )
    if request.target not in old.nodes:
        violations.append(
            FieldViolation("target", f"unknown node {request.target!r}; the graph has {', '.join(old.nodes)}")
        )
    elif not old.parents(request.target):
        violations.append(
            FieldViolation("target", f"node {request.target!r} is a root: no upstream node can explain its change")
        )
    samples = read_count(request.num_samples, DEFAULT_SAMPLES, "num_samples", limits, violations)
    level = read_level(request.significance_level, "significance_level", violations, DEFAULT_LEVEL)
    seed = read_seed(request, "seed", violations)
    confidence = read_level(request.confidence_level, "confidence_level", violations)
    bootstrap = read_bootstrap(request.num_bootstrap, DEFAULT_BOOTSTRAP, "num_bootstrap", limits, violations)
    if violations:
        raise InvalidRequestError(violations)
    return ChangeRequest(old, new, request.target, samples, level, seed, confidence, bootstrap)
