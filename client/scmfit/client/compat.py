"""A drop-in replacement for lift-sys's subprocess `DoWhyClient`: change one import, keep every caller.

    # from lift_sys.causal.dowhy_client import DoWhyClient, DoWhySubprocessError
    from scmfit.client.compat import DoWhyClient, DoWhySubprocessError

The server is found at `target=`, else `SCMFIT_ADDRESS`, else 127.0.0.1:50051. The dicts have
the original's keys, value types and statuses, including its validation rule (the mean of the
R² of nodes with a regression model, 0.0 when there is none). What scmfit knows beyond that is
under extra keys: `model_id` at the top, `scmfit` in each mechanism (the unwrapped model and
coefficients by parent name) and in query metadata. README, "Switching lift-sys to scmfit",
lists every deliberate difference.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scmfit.client._client import ADDRESS_ENV, DEFAULT_TARGET, Client
from scmfit.client._errors import InvalidRequestError, ScmfitError
from scmfit.client._interventions import Intervention, do, scale, shift
from scmfit.client._request import GraphLike, fit_request, normalize_graph
from scmfit.client._results import FitResult, MechanismKind, NodeResult
from scmfit.client._upload import dataset_rows

_log = logging.getLogger(__name__)

"""Where the adapter finds the server when no `target=` is given."""
PROBE_SECONDS = 2.0
"""How long the constructor waits to learn whether the server is there."""
MIN_SAMPLES = 100
"""The original fits nothing below this many rows and returns a warning instead."""
REGRESSION_WRAPPER = "SklearnRegressionModel"
"""The DoWhy class the original reports as `model_type` for every scikit-learn regressor."""


class DoWhySubprocessError(Exception):
    """A failure on the service side; `cause` holds the underlying ScmfitError, when there is one."""

    def __init__(self, message: str, cause: ScmfitError | None = None) -> None:
        super().__init__(message)
        self.cause = cause


def mechanism_type(node: NodeResult) -> str:
    """scmfit's own coarse names ("empirical", "linear", "nonlinear", "classifier"), under `scmfit`."""
    kind = node.mechanism.kind
    if kind is MechanismKind.EMPIRICAL_ROOT:
        return "empirical"
    if kind in (MechanismKind.ADDITIVE_NOISE, MechanismKind.DISCRETE_ADDITIVE_NOISE):
        return "linear" if node.mechanism.is_linear else "nonlinear"
    return kind.value


def _has_coefficients(node: NodeResult) -> bool:
    """Whether the fitted estimator has `coef_`: a plain linear model, not a pipeline or a tree."""
    mechanism = node.mechanism
    return bool(mechanism.coefficients) and "(" not in mechanism.model_type


def original_mechanism(node: NodeResult) -> dict[str, Any]:
    """The original's serialisation: "empirical" roots with params None; "linear" for models with
    coefficients (listed by position); the lower-cased DoWhy wrapper name for other regressors; and
    "unknown" for classifiers, which have no `prediction_model` in DoWhy."""
    mechanism = node.mechanism
    extra = {
        "kind": mechanism.kind.value,
        "type": mechanism_type(node),
        "model_type": mechanism.model_type,
        "coefficients": dict(mechanism.coefficients),
        "intercept": mechanism.intercept,
    }
    if mechanism.kind is MechanismKind.EMPIRICAL_ROOT:
        return {"type": "empirical", "params": None, "scmfit": extra}
    if mechanism.kind not in (MechanismKind.ADDITIVE_NOISE, MechanismKind.DISCRETE_ADDITIVE_NOISE):
        family = "ClassifierFCM" if mechanism.kind is MechanismKind.CLASSIFIER else "PostNonlinearModel"
        return {"type": "unknown", "params": {"class": family}, "scmfit": extra}
    params: dict[str, Any] = {"model_type": REGRESSION_WRAPPER}
    if _has_coefficients(node):
        params["coefficients"] = list(mechanism.coefficients.values())
        if mechanism.intercept is not None:
            params["intercept"] = float(mechanism.intercept)
        return {"type": "linear", "params": params, "scmfit": extra}
    return {"type": REGRESSION_WRAPPER.lower(), "params": params, "scmfit": extra}


def original_r2(node: NodeResult) -> float | None:
    """The R² the original reports for a node, or None where it reports none (roots, classifiers).

    The original scores every regression node with scikit-learn's `r2_score`, which gives 1.0 for a
    constant held-out target predicted exactly; scmfit's wire says "constant_target" instead.
    """
    if node.r2 is not None:
        return node.r2
    if node.r2_omission == "constant_target":
        return 1.0
    if node.r2_omission == "too_few_test_rows":
        return math.nan
    return None


def to_lift_sys_dict(result: FitResult, graph: GraphLike, validate_r2: bool = True) -> dict[str, Any]:
    nodes, edges = normalize_graph(graph)
    by_name = {node.name: node for node in result.nodes}
    r2_scores = {name: r2 for name in nodes if (r2 := original_r2(by_name[name])) is not None}
    valid = [r2 for r2 in r2_scores.values() if not math.isnan(r2)]
    threshold = result.validation.threshold
    mean_r2 = float(sum(valid) / len(valid)) if valid else 0.0
    passed = mean_r2 >= threshold if validate_r2 else True
    failed = [] if passed else [n for n, r2 in r2_scores.items() if math.isnan(r2) or r2 < threshold]
    meta = result.metadata
    return {
        "status": "success" if passed else "validation_failed",
        "model_id": result.model_id,
        "scm": {
            "graph": {"nodes": nodes, "edges": [[source, target] for source, target in edges]},
            "mechanisms": {name: original_mechanism(by_name[name]) for name in nodes},
        },
        "validation": {
            "r2_scores": r2_scores,
            "mean_r2": mean_r2,
            "passed": passed,
            "threshold": threshold,
            "failed_nodes": failed,
        },
        "metadata": {
            "fitting_time_ms": int(meta.total_seconds * 1000),
            "num_samples": meta.num_rows,
            "num_train": meta.num_train,
            "num_val": meta.num_test,
            "dowhy_version": meta.dowhy_version,
            "quality": meta.quality,
        },
    }


def _reachable(target: str) -> str | None:
    """None when a server answers at `target`; otherwise why not. No retries: this must be quick."""
    try:
        with Client(target, timeout=PROBE_SECONDS, options=[("grpc.enable_retries", 0)]) as client:
            client.health(timeout=PROBE_SECONDS)
    except ScmfitError as error:
        return f"{type(error).__name__}: {error.message}"
    return None


class DoWhyClient:
    """Same names and signatures as lift-sys's client; fits go to a warm scmfit server over gRPC."""

    def __init__(
        self,
        python_path: str | None = None,
        script_path: str | None = None,
        timeout: float = 60.0,
        *,
        target: str | None = None,
    ) -> None:
        """Raises FileNotFoundError, as the original does when its interpreter is missing, when no
        server answers: lift-sys then takes its own "DoWhy subprocess not available" path."""
        if python_path is not None or script_path is not None:
            warnings.warn(
                "python_path and script_path are ignored: scmfit fits on a server "
                f"(target=, or {ADDRESS_ENV}); there is no subprocess to start",
                DeprecationWarning,
                stacklevel=2,
            )
        self.python_path = Path(python_path) if python_path is not None else None
        self.script_path = Path(script_path) if script_path is not None else None
        self.timeout = timeout
        self.target = target or os.environ.get(ADDRESS_ENV) or DEFAULT_TARGET
        problem = _reachable(self.target)
        if problem is not None:
            _log.warning("scmfit server not reachable at %s (%s); DoWhy fitting is unavailable", self.target, problem)
            raise FileNotFoundError(
                f"no scmfit server answers at {self.target} ({problem}); start one with `scmfit serve`, "
                f"or point {ADDRESS_ENV} at it"
            )

    def check_availability(self) -> bool:
        """True when the server answers its health check, as the original's import check."""
        problem = _reachable(self.target)
        print(f"DoWhy available: scmfit at {self.target}" if problem is None else f"DoWhy check failed: {problem}")
        return problem is None

    def fit_scm(
        self,
        graph: GraphLike,
        traces: Any,
        quality: str = "GOOD",
        validate_r2: bool = True,
        r2_threshold: float = 0.7,
        test_size: float = 0.2,
        *,
        missing_values: str | None = None,
        escalate_quality: bool = False,
    ) -> dict[str, Any]:
        """Raises ValueError for a non-DAG graph or mismatched columns, DoWhySubprocessError otherwise.

        Beyond the original: `missing_values="PER_NODE"` (or "COMPLETE_ROWS") fits traces with gaps (NaN,
        None, pd.NA), which the original refused, as this adapter does by default; `escalate_quality=True`
        refits nodes below the threshold at the next quality up (off, as in the original)."""
        try:
            request = fit_request(
                graph,
                traces,
                quality=quality,
                validate_r2=validate_r2,
                r2_threshold=r2_threshold,
                test_fraction=test_size,
                refit_on_all_rows=False,  # the original describes the model it scored, fitted on the split
                missing_values=missing_values,
                escalate_quality=escalate_quality,
                check_gaps=False,  # the original's service raised on NaN, so the refusal comes from the server
            )
        except InvalidRequestError as error:
            raise ValueError(error.message) from error
        rows = dataset_rows(request.dataset)
        if rows < MIN_SAMPLES:  # the original fits nothing below this
            return {
                "status": "warning",
                "message": f"Only {rows} samples (recommended: ≥{MIN_SAMPLES})",
                "scm": None,
                "validation": None,
            }
        try:
            with Client(self.target, timeout=self.timeout) as client:
                result = client.fit(request)
        except ScmfitError as error:
            raise DoWhySubprocessError(f"DoWhy subprocess failed: {error.message}", error) from error
        return to_lift_sys_dict(result, graph, validate_r2)

    def query_scm(
        self,
        graph: GraphLike,
        traces: Any,
        interventions: list[dict[str, Any]] | None = None,
        query_nodes: list[str] | None = None,
        num_samples: int = 1000,
        quality: str = "GOOD",
    ) -> dict[str, Any]:
        """Fits (or reuses the stored fit of) graph and traces, then samples under the interventions.

        Unlike the subprocess original, an identical graph and traces fitted before are not refitted:
        the server recognises the request by its content and answers from its model registry.
        """
        try:
            # As the original's query script: selection and fit on every row, nothing held out or scored.
            request = fit_request(
                graph, traces, quality=quality, test_fraction=0.0, validate_r2=False, check_gaps=False
            )
        except InvalidRequestError as error:
            raise ValueError(error.message) from error
        nodes, _ = normalize_graph(graph)
        listed = list(interventions or [])
        try:
            specs = list({spec.node: spec for spec in map(lift_sys_intervention, listed)}.values())  # last wins
            if num_samples < 1:
                raise ValueError(f"num_samples must be positive, got {num_samples}")
            with Client(self.target, timeout=self.timeout) as client:
                fitted = client.fit(request)
                sampled = client.sample(
                    fitted.model_id, specs, nodes=query_nodes or (), num_samples=num_samples, include_samples=True
                )
        except (KeyError, TypeError, ValueError, ScmfitError) as error:
            cause = error if isinstance(error, ScmfitError) else None
            message = error.message if isinstance(error, ScmfitError) else str(error)
            raise DoWhySubprocessError(f"DoWhy query subprocess failed: {message}", cause) from error
        order = list(query_nodes) if query_nodes else [node for node in nodes if node in sampled.statistics]
        return {
            "status": "success",
            "query_type": "interventional",  # the original's client always asks for this type
            "samples": {node: sampled.samples[node].tolist() for node in order},
            "statistics": {node: sampled.statistics[node].as_dict() for node in order},
            "metadata": {
                "query_time_ms": int(sampled.seconds * 1000),
                "num_samples": num_samples,
                "num_interventions": len(listed),
                "query_nodes": order,
                "fit_time_ms": int(fitted.metadata.total_seconds * 1000),
                "num_training_samples": fitted.metadata.num_rows,
                "scmfit": {
                    "model_id": fitted.model_id,
                    "reused_model": fitted.reused,
                    "fit_status": fitted.status.value,
                    "num_fit_rows": fitted.metadata.num_model_rows,
                },
            },
        }


def lift_sys_intervention(spec: Mapping[str, Any]) -> Intervention:
    """`{"type": "hard", "node", "value"}` or `{"type": "soft", "node", "transform": "shift"|"scale", "param"}`.

    Raises ValueError as the original's worker does (which its client reports as DoWhySubprocessError).
    """
    node, kind = str(spec["node"]), spec["type"]
    if kind == "hard":
        return do(node, _number(spec["value"], node))
    if kind == "soft":
        transform = spec["transform"]
        if transform == "shift":
            return shift(node, _number(spec.get("param"), node))
        if transform == "scale":
            return scale(node, _number(spec.get("param"), node))
        raise ValueError(f"Unknown soft intervention transform: {transform}")
    raise ValueError(f"Unknown intervention type: {kind}")


def _number(value: Any, node: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"intervention on {node!r}: {value!r} is not a number")
    return float(value)


def fit_scm(graph: GraphLike, traces: Any, **kwargs: Any) -> dict[str, Any]:
    """The original's one-shot convenience function."""
    return DoWhyClient().fit_scm(graph, traces, **kwargs)


__all__ = [
    "ADDRESS_ENV",
    "DoWhyClient",
    "DoWhySubprocessError",
    "fit_scm",
    "lift_sys_intervention",
    "mechanism_type",
    "to_lift_sys_dict",
]
