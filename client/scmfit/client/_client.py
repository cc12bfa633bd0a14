"""The synchronous client, and the base it shares with the asyncio one: each owns its channel and turns
every gRPC failure into a ScmfitError."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc
import numpy as np
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scmfit.client._channel import SERVICE_NAME, call_metadata, open_channel
from scmfit.client._config import FitConfig
from scmfit.client._errors import ConnectionLostError, ScmfitError, from_rpc_error
from scmfit.client._interventions import Interventions, Scalar, interventions_proto, value_proto
from scmfit.client._request import DataLike, GraphLike, column, fit_request, normalize_data
from scmfit.client._results import (
    BootstrapProgress,
    CheckProgress,
    DistributionChange,
    EffectEstimate,
    FitProgress,
    FitResult,
    GraphCheck,
    ModelSummary,
    RowAttribution,
    SampleResult,
    ServerInfo,
    Shares,
    columns_to_arrays,
)
from scmfit.client._retry import with_pushback
from scmfit.client._upload import upload_messages, uploadable
from scmfit.client._views import enum_name
from scmfit.v1 import causal_model_service_pb2 as pb
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["CausalModelService"]

DEFAULT_TARGET = "127.0.0.1:50051"
ADDRESS_ENV = "SCMFIT_ADDRESS"
"""Where a client without a target connects, before DEFAULT_TARGET: `host:port`."""


def default_target() -> str:
    return os.environ.get(ADDRESS_ENV) or DEFAULT_TARGET


UPLOAD_THRESHOLD_BYTES = 3 * 1024 * 1024
"""Requests larger than this send their data through UploadDataset first (gRPC's default limit is 4 MiB)."""

ProgressCallback = Callable[[FitProgress], None]
FitEvent = FitProgress | FitResult


Answer = TypeVar("Answer")


def _wire_field(request_type: type[Message], name: str, value: Any) -> Any:
    field = request_type.DESCRIPTOR.fields_by_name[name]
    kind = field.message_type.name if field.message_type is not None else ""
    if kind == "Intervention":
        return interventions_proto(value)
    if kind == "Value":
        return value_proto(value, name)
    if kind == "Dataset":
        arrays = normalize_data(value)
        return pb.Dataset(columns=[column(column_name, values) for column_name, values in arrays.items()])
    return list(value) if field.is_repeated else value


class ClientBase:
    """What `Client` and `AsyncClient` share: settings, request building, upload decisions and
    conversions. The two differ only in how they wait for the network, as httpx's clients do."""

    def __init__(self, target: str, timeout: float | None, token: str | None, upload_threshold: int) -> None:
        self.target = target
        self.timeout = timeout
        self.upload_threshold = upload_threshold
        self._metadata = call_metadata(token)

    def _timeout(self, timeout: float | None) -> float | None:
        return timeout if timeout is not None else self.timeout

    @staticmethod
    def _fit_request(
        graph: GraphLike | pb.FitModelRequest, data: DataLike | None, config: FitConfig | None, settings: dict[str, Any]
    ) -> pb.FitModelRequest:
        """A prebuilt request as it is; otherwise one built from graph, data and config."""
        if isinstance(graph, pb.FitModelRequest):
            if data is not None or config is not None or settings:
                raise TypeError("a prebuilt FitModelRequest carries its own data and config; pass it alone")
            return graph
        if data is None:
            raise TypeError("fit needs the data: fit(graph, data, config)")
        return fit_request(graph, data, config=config, **settings)

    def _needs_upload(self, request: pb.FitModelRequest) -> bool:
        return request.ByteSize() > self.upload_threshold and uploadable(request.dataset)

    @staticmethod
    def _naming_dataset(request: pb.FitModelRequest, dataset_id: str) -> pb.FitModelRequest:
        slim = pb.FitModelRequest()
        slim.CopyFrom(request)
        slim.ClearField("dataset")
        slim.dataset_id = dataset_id
        return slim

    @staticmethod
    def _event(response: pb.FitModelResponse) -> FitEvent:
        if response.HasField("result"):
            return FitResult.from_proto(response.result)
        return FitProgress.from_proto(response.progress)

    @staticmethod
    def _request(rpc: str, **fields: Any) -> Message:
        """The request of `rpc`, built by field name; interventions, observed rows and sequences convert by
        the proto field's type, so a new query's method only names its fields."""
        request_type: type[Message] = getattr(pb, SERVICE.methods_by_name[rpc].input_type.name)
        return request_type(**{name: _wire_field(request_type, name, value) for name, value in fields.items()})

    @staticmethod
    def _effect_fields(
        treatment: str,
        target: str,
        alternative: Scalar,
        reference: Scalar,
        **options: Any,
    ) -> dict[str, Any]:
        """Typed arms, and the double fields too for numbers, which servers before typed values read."""
        arms: dict[str, Any] = {"alternative": alternative, "reference": reference}
        for arm, value in (("alternative", alternative), ("reference", reference)):
            if value_proto(value, arm).WhichOneof("kind") in ("double_value", "int64_value"):
                arms[f"{arm}_value"] = float(value)
        return {"treatment": treatment, "target": target, **arms, **options}

    @staticmethod
    def _check_graph_request(
        graph: GraphLike,
        data: DataLike,
        significance_level: float,
        independence_level: float,
        num_permutations: int,
        seed: int | None,
    ) -> pb.CheckGraphRequest:
        fit = fit_request(graph, data)  # the same graph and column checks as a fit's, client-side
        return pb.CheckGraphRequest(
            graph=fit.graph,
            dataset=fit.dataset,
            significance_level=significance_level,
            independence_level=independence_level,
            num_permutations=num_permutations,
            seed=seed,
        )

    @staticmethod
    def _change_request(
        graph: GraphLike,
        old: DataLike,
        new: DataLike,
        target: str,
        config: FitConfig | None,
        options: dict[str, Any],
        settings: dict[str, Any],
    ) -> pb.AttributeDistributionChangeRequest:
        """`options`: the request's own scalar fields (num_samples, seed, ...); `settings`: FitConfig's."""
        before = fit_request(graph, old, config, **settings)  # each version checked as a fit's traces are
        after = fit_request(graph, new, config, **settings)
        return pb.AttributeDistributionChangeRequest(
            graph=before.graph,
            old_dataset=before.dataset,
            new_dataset=after.dataset,
            target=target,
            config=before.config,
            **options,
        )

    @staticmethod
    def _graph_check_event(
        response: pb.CheckGraphResponse, on_progress: Callable[[CheckProgress], None] | None
    ) -> GraphCheck | None:
        """The verdict, or None after passing progress on; shared by both clients' stream loops."""
        if response.HasField("result"):
            return GraphCheck.from_proto(response.result)
        if on_progress is not None:
            on_progress(CheckProgress.from_proto(response.progress))
        return None

    @staticmethod
    def _change_event(
        response: pb.AttributeDistributionChangeResponse,
        on_progress: Callable[[str, FitProgress | None], None] | None,
        on_bootstrap: Callable[[BootstrapProgress], None] | None = None,
    ) -> DistributionChange | None:
        if response.HasField("result"):
            return DistributionChange.from_proto(response.result)
        progress = response.progress
        if on_progress is not None:
            phase = enum_name(pb.ChangePhase.DESCRIPTOR, progress.phase).lower()
            on_progress(phase, FitProgress.from_proto(progress.fit) if progress.HasField("fit") else None)
        if on_bootstrap is not None and progress.phase == pb.CHANGE_PHASE_BOOTSTRAPPING:
            on_bootstrap(BootstrapProgress(progress.done, progress.total))
        return None

    @staticmethod
    def _ended(result: Answer | None, what: str) -> Answer:
        if result is None:
            raise ConnectionLostError(f"the server ended {what} without an answer")
        return result

    @staticmethod
    def _health_status(response: health_pb2.HealthCheckResponse) -> str:
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


class Client(ClientBase):
    """`with Client(target) as client:`; the channel is owned by the client and closes with the block."""

    def __init__(
        self,
        target: str | None = None,
        *,
        timeout: float | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] | None = None,
        token: str | None = None,
        upload_threshold: int = UPLOAD_THRESHOLD_BYTES,
    ) -> None:
        """`target` is host:port, else SCMFIT_ADDRESS, else 127.0.0.1:50051. `credentials` from
        `tls_credentials(...)` turn on TLS; `token` sends a bearer token on every call."""
        target = target or default_target()
        super().__init__(target, timeout, token, upload_threshold)
        self._channel = open_channel(target, credentials, options)
        self._stub = pb_grpc.CausalModelServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def fit(
        self,
        graph: GraphLike | pb.FitModelRequest,
        data: DataLike | None = None,
        config: FitConfig | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        **settings: Any,
    ) -> FitResult:
        """Fits `graph` on `data` (or sends a prebuilt FitModelRequest); `on_progress` sees each event.

        Keyword settings (`seed=7`) change single fields of `config`; an unknown one is an error. Large
        data is uploaded in chunks first, automatically.
        """
        for event in self.fit_events(graph, data, config, timeout=timeout, **settings):
            if isinstance(event, FitResult):
                return event
            if on_progress is not None:
                on_progress(event)
        raise ScmfitError("the server closed the FitModel stream without a result")

    def fit_events(
        self,
        graph: GraphLike | pb.FitModelRequest,
        data: DataLike | None = None,
        config: FitConfig | None = None,
        *,
        timeout: float | None = None,
        **settings: Any,
    ) -> Generator[FitEvent, None, None]:
        """Each FitProgress, then the FitResult; closing the generator early cancels the fit on the server.

        A full server refuses before it streams anything, so only the first message is awaited under
        the pushback retry; once a response has arrived, an error ends the stream.
        """
        request = self._fit_request(graph, data, config, settings)
        if self._needs_upload(request):
            request = self._naming_dataset(request, self.upload_dataset(request.dataset, timeout=timeout))
        calls: list[Any] = []

        def first(left: float | None) -> pb.FitModelResponse | None:
            call = self._stub.FitModel(request, timeout=left, metadata=self._metadata)
            calls.append(call)
            return next(call, None)

        try:
            response = with_pushback(first, self._timeout(timeout), unavailable=True)
            if response is None:
                return
            yield self._event(response)
            for response in calls[-1]:
                yield self._event(response)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        finally:
            for call in calls:
                call.cancel()

    def upload_dataset(self, dataset: pb.Dataset, *, timeout: float | None = None) -> str:
        """Sends columns in chunks (UploadDataset) and returns the id a FitModelRequest can name instead."""
        try:
            response = with_pushback(
                lambda left: self._stub.UploadDataset(upload_messages(dataset), timeout=left, metadata=self._metadata),
                self._timeout(timeout),
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return str(response.dataset_id)

    def _unary(self, method: Callable[..., Any], request: Any, timeout: float | None) -> Any:
        try:
            return with_pushback(
                lambda left: method(request, timeout=left, metadata=self._metadata), self._timeout(timeout)
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _ask(self, rpc: str, timeout: float | None, **fields: Any) -> Any:
        """Any unary RPC of the service, its request built by field name."""
        return self._unary(getattr(self._stub, rpc), self._request(rpc, **fields), timeout)

    def get_model(self, model_id: str, *, timeout: float | None = None) -> tuple[FitResult, ModelSummary]:
        """The stored FitResult, exactly as the fit streamed it, and its registry entry."""
        response = self._unary(self._stub.GetModel, pb.GetModelRequest(model_id=model_id), timeout)
        return FitResult.from_proto(response.result), ModelSummary.from_proto(response.summary)

    def list_models(self, *, page_size: int = 0, timeout: float | None = None) -> Iterator[ModelSummary]:
        """Every stored model, newest first, fetching pages as the iteration needs them."""
        token = ""
        while True:
            request = pb.ListModelsRequest(page_size=page_size, page_token=token)
            response = self._unary(self._stub.ListModels, request, timeout)
            yield from (ModelSummary.from_proto(m) for m in response.models)
            token = response.next_page_token
            if not token:
                return

    def delete_model(self, model_id: str, *, timeout: float | None = None) -> None:
        self._unary(self._stub.DeleteModel, pb.DeleteModelRequest(model_id=model_id), timeout)

    def sample(
        self,
        model_id: str,
        interventions: Interventions = None,
        *,
        nodes: Sequence[str] = (),
        num_samples: int = 0,
        seed: int | None = None,
        include_samples: bool = False,
        confidence_level: float = 0.0,
        num_bootstrap: int = 0,
        timeout: float | None = None,
    ) -> SampleResult:
        """Observational samples, or interventional: `{"X": 2}` means do(X = 2), `{"mode": "slow"}` sets a
        category; see `do`, `shift`, `scale`. `num_samples` 0 takes the server's default (the proto's comment
        states it). A `confidence_level` such as 0.95 adds each numeric node's `mean_interval`."""
        fields = {
            "interventions": interventions,
            "nodes": nodes,
            "num_samples": num_samples,
            "seed": seed,
            "confidence_level": confidence_level,
            "num_bootstrap": num_bootstrap,
        }
        response = self._ask("SampleModel", timeout, model_id=model_id, include_samples=include_samples, **fields)
        return SampleResult.from_proto(response)

    def effect(
        self,
        model_id: str,
        *,
        treatment: str,
        target: str,
        alternative: Scalar,
        reference: Scalar,
        num_samples: int = 0,
        seed: int | None = None,
        timeout: float | None = None,
    ) -> float:
        """E[target | do(treatment = alternative)] - E[target | do(treatment = reference)], the number only;
        `estimate_effect` adds intervals, categorical targets and the direct/indirect split."""
        return self.estimate_effect(
            model_id,
            treatment=treatment,
            target=target,
            alternative=alternative,
            reference=reference,
            num_samples=num_samples,
            seed=seed,
            timeout=timeout,
        ).effect

    def estimate_effect(
        self,
        model_id: str,
        *,
        treatment: str,
        target: str,
        alternative: Scalar,
        reference: Scalar,
        target_category: str = "",
        confidence_level: float = 0.0,
        num_bootstrap: int = 0,
        decompose: bool = False,
        num_samples: int = 0,
        seed: int | None = None,
        timeout: float | None = None,
    ) -> EffectEstimate:
        """The average causal effect of setting `treatment` (values in its own type: a number, a bool or a
        category); for a bool or string target, the change in P(target = target_category). With a
        `confidence_level` such as 0.95 it carries a bootstrap interval, and `decompose` splits it into
        natural direct and indirect effects."""
        fields = self._effect_fields(
            treatment,
            target,
            alternative,
            reference,
            target_category=target_category,
            confidence_level=confidence_level,
            num_bootstrap=num_bootstrap,
            decompose=decompose,
            num_samples=num_samples,
            seed=seed,
        )
        return EffectEstimate.from_proto(self._ask("EstimateEffect", timeout, model_id=model_id, **fields))

    def counterfactual(
        self, model_id: str, observed: DataLike, interventions: Interventions, *, timeout: float | None = None
    ) -> dict[str, np.ndarray]:
        """What each observed row would have been under the interventions (needs invertible mechanisms)."""
        response = self._ask(
            "Counterfactual", timeout, model_id=model_id, observed=observed, interventions=interventions
        )
        return columns_to_arrays(response.counterfactual)

    def arrow_strength(
        self,
        model_id: str,
        target: str,
        *,
        num_samples: int = 0,
        seed: int | None = None,
        confidence_level: float = 0.0,
        num_bootstrap: int = 0,
        timeout: float | None = None,
    ) -> Shares[tuple[str, str]]:
        """How much each edge into `target` carries, strongest first, as DoWhy's `gcm.arrow_strength` gives it:
        {(parent, target): strength}; `num_samples` 0 takes the server's default."""
        fields = {"target": target, "num_samples": num_samples, "seed": seed}
        fields |= {"confidence_level": confidence_level, "num_bootstrap": num_bootstrap}
        response = self._ask("ArrowStrength", timeout, model_id=model_id, **fields)
        return Shares.of_edges(response.strengths)

    def attribute_anomalies(
        self,
        model_id: str,
        target: str,
        anomalous: DataLike,
        *,
        num_samples: int = 0,
        seed: int | None = None,
        confidence_level: float = 0.0,
        num_bootstrap: int = 0,
        timeout: float | None = None,
    ) -> list[RowAttribution]:
        """Why each row is anomalous at `target`, as DoWhy's `gcm.attribute_anomalies` says: per row, each
        upstream node's Shapley contribution to the target's anomaly score (they add up to it), largest
        first, and every node's own anomaly score; `num_samples` 0 takes the server's default."""
        fields = {"target": target, "anomalous": anomalous, "num_samples": num_samples, "seed": seed}
        fields |= {"confidence_level": confidence_level, "num_bootstrap": num_bootstrap}
        response = self._ask("AttributeAnomalies", timeout, model_id=model_id, **fields)
        return [RowAttribution.from_proto(row) for row in response.rows]

    def intrinsic_influence(
        self,
        model_id: str,
        target: str,
        *,
        num_samples: int = 0,
        seed: int | None = None,
        confidence_level: float = 0.0,
        num_bootstrap: int = 0,
        timeout: float | None = None,
    ) -> Shares[str]:
        """How much of `target`'s variance each ancestor's own noise causes, and the target's own, as
        DoWhy's `gcm.intrinsic_causal_influence` gives it: {node: contribution}, largest first."""
        fields = {"target": target, "num_samples": num_samples, "seed": seed}
        fields |= {"confidence_level": confidence_level, "num_bootstrap": num_bootstrap}
        response = self._ask("IntrinsicCausalInfluence", timeout, model_id=model_id, **fields)
        return Shares.of_contributions(response.contributions)

    def check_graph(
        self,
        graph: GraphLike,
        data: DataLike,
        *,
        significance_level: float = 0.0,
        independence_level: float = 0.0,
        num_permutations: int = 0,
        seed: int | None = None,
        on_progress: Callable[[CheckProgress], None] | None = None,
        timeout: float | None = None,
    ) -> GraphCheck:
        """Whether the traces contradict the independences `graph` implies (DoWhy's `falsify_graph`): the
        verdict, every violated independence, and the edges the violations point to. 0 takes each
        server default; `on_progress` sees the tests done as they finish."""
        request = self._check_graph_request(graph, data, significance_level, independence_level, num_permutations, seed)
        call = self._stub.CheckGraph(request, timeout=self._timeout(timeout), metadata=self._metadata)
        return self._answer_of(call, lambda response: self._graph_check_event(response, on_progress), "the graph check")

    def attribute_distribution_change(
        self,
        graph: GraphLike,
        old: DataLike,
        new: DataLike,
        target: str,
        config: FitConfig | None = None,
        *,
        num_samples: int = 0,
        significance_level: float = 0.0,
        seed: int | None = None,
        confidence_level: float = 0.0,
        num_bootstrap: int = 0,
        on_progress: Callable[[str, FitProgress | None], None] | None = None,
        on_bootstrap: Callable[[BootstrapProgress], None] | None = None,
        timeout: float | None = None,
        **settings: Any,
    ) -> DistributionChange:
        """What changed between two versions of the code, from their traces (DoWhy's
        `gcm.distribution_change`): both versions are fitted as `fit` fits them (and stored), each node's
        mechanism is tested for a change, and the change in `target`'s distribution is split among the
        nodes. `on_progress` sees each fit's progress and each step, as (phase, FitProgress or None). With
        `confidence_level`, each contribution gets a bootstrap interval, and `on_bootstrap` sees how many
        of the `num_bootstrap` resamples are attributed."""
        options = {"num_samples": num_samples, "significance_level": significance_level, "seed": seed}
        options |= {"confidence_level": confidence_level, "num_bootstrap": num_bootstrap}
        request = self._change_request(graph, old, new, target, config, options, settings)
        call = self._stub.AttributeDistributionChange(request, timeout=self._timeout(timeout), metadata=self._metadata)
        return self._answer_of(
            call, lambda response: self._change_event(response, on_progress, on_bootstrap), "the attribution"
        )

    @staticmethod
    def _answer_of(call: Any, step: Callable[[Any], Answer | None], what: str) -> Answer:
        """Reads a progress-then-answer stream to its answer; leaving early cancels the call."""
        result: Answer | None = None
        try:
            for response in call:
                result = step(response) or result
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()
        return ClientBase._ended(result, what)

    def server_info(self, *, timeout: float | None = None) -> ServerInfo:
        return ServerInfo.from_proto(self._unary(self._stub.GetServerInfo, pb.GetServerInfoRequest(), timeout))

    def health(self, service: str = SERVICE_NAME, *, timeout: float | None = None) -> str:
        """The health status name, such as "SERVING" or "NOT_SERVING"."""
        response = self._unary(self._health.Check, health_pb2.HealthCheckRequest(service=service), timeout)
        return self._health_status(response)
