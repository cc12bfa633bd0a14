"""A drop-in replacement for lift-sys's subprocess `DoWhyClient`: change one import, keep every caller.

    # from lift_sys.causal.dowhy_client import DoWhyClient, DoWhySubprocessError
    from scmfit.client.compat import DoWhyClient, DoWhySubprocessError

`fit_scm` returns the dict shape lift-sys's callers read. It goes further in two ways: mechanisms
report the real scikit-learn model instead of DoWhy's wrapper name, with coefficients keyed by
parent name, and the dict carries the `model_id` of the fitted model.
"""

from __future__ import annotations

from typing import Any

from scmfit.client._client import DEFAULT_TARGET, Client
from scmfit.client._errors import InvalidRequestError, ScmfitError
from scmfit.client._interventions import Intervention, do, scale, shift
from scmfit.client._request import GraphLike, fit_request, normalize_graph
from scmfit.client._results import FitResult, MechanismKind, NodeResult


class DoWhySubprocessError(Exception):
    """A failure on the service side; `cause` holds the underlying ScmfitError."""

    def __init__(self, message: str, cause: ScmfitError | None = None) -> None:
        super().__init__(message)
        self.cause = cause


def mechanism_type(node: NodeResult) -> str:
    """lift-sys's coarse mechanism names: "empirical", "linear", "nonlinear", "classifier", ..."""
    kind = node.mechanism.kind
    if kind is MechanismKind.EMPIRICAL_ROOT:
        return "empirical"
    if kind in (MechanismKind.ADDITIVE_NOISE, MechanismKind.DISCRETE_ADDITIVE_NOISE):
        return "linear" if node.mechanism.is_linear else "nonlinear"
    return kind.value


def to_lift_sys_dict(result: FitResult, graph: GraphLike) -> dict[str, Any]:
    nodes, edges = normalize_graph(graph)
    meta = result.metadata
    return {
        "status": result.status.value,
        "message": result.message,
        "model_id": result.model_id,
        "scm": {
            "graph": {"nodes": nodes, "edges": [[source, target] for source, target in edges]},
            "mechanisms": {
                node.name: {
                    "type": mechanism_type(node),
                    "kind": node.mechanism.kind.value,
                    "params": {
                        "model_type": node.mechanism.model_type,
                        "coefficients": dict(node.mechanism.coefficients),
                        "intercept": node.mechanism.intercept,
                    },
                }
                for node in result.nodes
            },
        },
        "validation": {
            "r2_scores": {node.name: node.r2 for node in result.nodes if node.r2 is not None},
            "mean_r2": result.validation.mean_r2,
            "passed": result.validation.passed,
            "threshold": result.validation.threshold,
            "failed_nodes": list(result.validation.failed_nodes),
        },
        "metadata": {
            "fitting_time_ms": meta.total_seconds * 1000.0,
            "num_samples": meta.num_rows,
            "num_train": meta.num_train,
            "num_val": meta.num_test,
            "dowhy_version": meta.dowhy_version,
            "quality": meta.quality,
        },
    }


class DoWhyClient:
    """Same names and signatures as lift-sys's client; fits go to a warm scmfit server over gRPC."""

    def __init__(self, target: str = DEFAULT_TARGET, timeout: float = 60.0) -> None:
        self.target = target
        self.timeout = timeout

    def fit_scm(
        self,
        graph: GraphLike,
        traces: Any,
        quality: str = "GOOD",
        validate_r2: bool = True,
        r2_threshold: float = 0.7,
        test_size: float = 0.2,
    ) -> dict[str, Any]:
        """Raises ValueError for a non-DAG graph or mismatched columns, DoWhySubprocessError otherwise."""
        try:
            request = fit_request(
                graph,
                traces,
                quality=quality,
                validate_r2=validate_r2,
                r2_threshold=r2_threshold,
                test_fraction=test_size,
            )
        except InvalidRequestError as error:
            raise ValueError(error.message) from error
        try:
            with Client(self.target, timeout=self.timeout) as client:
                result = client.submit(request)
        except ScmfitError as error:
            raise DoWhySubprocessError(f"{type(error).__name__}: {error.message}", error) from error
        return to_lift_sys_dict(result, graph)

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
        specs = [lift_sys_intervention(spec, i) for i, spec in enumerate(interventions or [])]
        try:
            request = fit_request(graph, traces, quality=quality)
        except InvalidRequestError as error:
            raise ValueError(error.message) from error
        try:
            with Client(self.target, timeout=self.timeout) as client:
                fitted = client.submit(request)
                sampled = client.sample(
                    fitted.model_id, specs, nodes=query_nodes or (), num_samples=num_samples, include_samples=True
                )
        except InvalidRequestError as error:
            raise ValueError(error.message) from error
        except ScmfitError as error:
            raise DoWhySubprocessError(f"{type(error).__name__}: {error.message}", error) from error
        return {
            "status": "success",
            "query_type": "interventional" if specs else "observational",
            "samples": {node: values.tolist() for node, values in sampled.samples.items()},
            "statistics": {node: stats.as_dict() for node, stats in sampled.statistics.items()},
            "metadata": {
                "num_samples": sampled.num_samples,
                "model_id": fitted.model_id,
                "reused_model": fitted.reused,
                "fit_status": fitted.status.value,
                "query_time_ms": sampled.seconds * 1000.0,
                "interventions": interventions or [],
            },
        }


def lift_sys_intervention(spec: dict[str, Any], index: int) -> Intervention:
    """`{"type": "hard", "node", "value"}` or `{"type": "soft", "node", "transform": "shift"|"scale", "param"}`."""
    try:
        node, kind = str(spec["node"]), spec.get("type", "hard")
        if kind == "hard":
            return do(node, float(spec["value"]))
        if kind == "soft" and spec.get("transform") == "shift":
            return shift(node, float(spec["param"]))
        if kind == "soft" and spec.get("transform") == "scale":
            return scale(node, float(spec["param"]))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"interventions[{index}] is malformed: {error!r} in {spec!r}") from None
    raise ValueError(f"interventions[{index}]: unknown intervention {spec!r}")


__all__ = ["DoWhyClient", "DoWhySubprocessError", "lift_sys_intervention", "mechanism_type", "to_lift_sys_dict"]
