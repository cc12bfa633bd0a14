"""The asyncio client on grpc.aio: the same calls, arguments, results and errors as `Client`.

Request building, conversion and error mapping come from `ClientBase`; only the waiting differs.
Web servers and UIs use it to follow many fits at once from one event loop.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scmfit.client._channel import SERVICE_NAME, open_aio_channel
from scmfit.client._client import (
    UPLOAD_THRESHOLD_BYTES,
    ClientBase,
    FitEvent,
    ProgressCallback,
    default_target,
)
from scmfit.client._config import FitConfig
from scmfit.client._errors import ScmfitError, from_rpc_error
from scmfit.client._interventions import Interventions, Scalar
from scmfit.client._request import DataLike, GraphLike
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
from scmfit.client._retry import with_pushback_async
from scmfit.client._upload import upload_messages
from scmfit.v1 import causal_model_service_pb2 as pb
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc

T = TypeVar("T")


class AsyncClient(ClientBase):
    """`async with AsyncClient(target) as client:`; the channel closes with the block."""

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
        """Create it inside the event loop that will use it: grpc.aio channels belong to one loop."""
        target = target or default_target()
        super().__init__(target, timeout, token, upload_threshold)
        self._channel = open_aio_channel(target, credentials, options)
        self._stub = pb_grpc.CausalModelServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _unary(self, method: Callable[..., Awaitable[T]], request: Any, timeout: float | None) -> T:
        try:
            return await with_pushback_async(
                lambda left: method(request, timeout=left, metadata=self._metadata), self._timeout(timeout)
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    async def _ask(self, rpc: str, timeout: float | None, **fields: Any) -> Any:
        """As `Client._ask`."""
        return await self._unary(getattr(self._stub, rpc), self._request(rpc, **fields), timeout)

    async def fit(
        self,
        graph: GraphLike | pb.FitModelRequest,
        data: DataLike | None = None,
        config: FitConfig | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        **settings: Any,
    ) -> FitResult:
        """As `Client.fit`; `on_progress` runs on the event loop, so it must not block."""
        events = self.fit_events(graph, data, config, timeout=timeout, **settings)
        try:
            async for event in events:
                if isinstance(event, FitResult):
                    return event
                if on_progress is not None:
                    on_progress(event)
        finally:
            await events.aclose()
        raise ScmfitError("the server closed the FitModel stream without a result")

    async def fit_events(
        self,
        graph: GraphLike | pb.FitModelRequest,
        data: DataLike | None = None,
        config: FitConfig | None = None,
        *,
        timeout: float | None = None,
        **settings: Any,
    ) -> AsyncGenerator[FitEvent, None]:
        """As `Client.fit_events`: closing the generator (or cancelling its task) cancels the fit."""
        request = self._fit_request(graph, data, config, settings)
        if self._needs_upload(request):
            request = self._naming_dataset(request, await self.upload_dataset(request.dataset, timeout=timeout))
        calls: list[Any] = []

        async def first(left: float | None) -> Any:
            call = self._stub.FitModel(request, timeout=left, metadata=self._metadata)
            calls.append(call)
            return await call.read()

        try:
            response = await with_pushback_async(first, self._timeout(timeout), unavailable=True)
            while response is not grpc.aio.EOF:
                yield self._event(response)
                response = await calls[-1].read()
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        finally:
            for call in calls:
                call.cancel()

    async def upload_dataset(self, dataset: pb.Dataset, *, timeout: float | None = None) -> str:
        """As `Client.upload_dataset`."""
        try:
            response = await with_pushback_async(
                lambda left: self._stub.UploadDataset(upload_messages(dataset), timeout=left, metadata=self._metadata),
                self._timeout(timeout),
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return str(response.dataset_id)

    async def get_model(self, model_id: str, *, timeout: float | None = None) -> tuple[FitResult, ModelSummary]:
        response = await self._unary(self._stub.GetModel, pb.GetModelRequest(model_id=model_id), timeout)
        return FitResult.from_proto(response.result), ModelSummary.from_proto(response.summary)

    async def list_models(self, *, page_size: int = 0, timeout: float | None = None) -> AsyncIterator[ModelSummary]:
        token = ""
        while True:
            request = pb.ListModelsRequest(page_size=page_size, page_token=token)
            response = await self._unary(self._stub.ListModels, request, timeout)
            for summary in response.models:
                yield ModelSummary.from_proto(summary)
            token = response.next_page_token
            if not token:
                return

    async def delete_model(self, model_id: str, *, timeout: float | None = None) -> None:
        await self._unary(self._stub.DeleteModel, pb.DeleteModelRequest(model_id=model_id), timeout)

    async def sample(
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
        """As `Client.sample`."""
        fields = {
            "interventions": interventions,
            "nodes": nodes,
            "num_samples": num_samples,
            "seed": seed,
            "confidence_level": confidence_level,
            "num_bootstrap": num_bootstrap,
        }
        response = await self._ask("SampleModel", timeout, model_id=model_id, include_samples=include_samples, **fields)
        return SampleResult.from_proto(response)

    async def effect(
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
        """As `Client.effect`."""
        estimate = await self.estimate_effect(
            model_id,
            treatment=treatment,
            target=target,
            alternative=alternative,
            reference=reference,
            num_samples=num_samples,
            seed=seed,
            timeout=timeout,
        )
        return estimate.effect

    async def estimate_effect(
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
        """As `Client.estimate_effect`."""
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
        return EffectEstimate.from_proto(await self._ask("EstimateEffect", timeout, model_id=model_id, **fields))

    async def counterfactual(
        self, model_id: str, observed: DataLike, interventions: Interventions, *, timeout: float | None = None
    ) -> dict[str, np.ndarray]:
        fields = {"observed": observed, "interventions": interventions}
        return columns_to_arrays(
            (await self._ask("Counterfactual", timeout, model_id=model_id, **fields)).counterfactual
        )

    async def arrow_strength(
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
        """As `Client.arrow_strength`."""
        fields = {"target": target, "num_samples": num_samples, "seed": seed}
        fields |= {"confidence_level": confidence_level, "num_bootstrap": num_bootstrap}
        response = await self._ask("ArrowStrength", timeout, model_id=model_id, **fields)
        return Shares.of_edges(response.strengths)

    async def attribute_anomalies(
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
        """As `Client.attribute_anomalies`."""
        fields = {"target": target, "anomalous": anomalous, "num_samples": num_samples, "seed": seed}
        fields |= {"confidence_level": confidence_level, "num_bootstrap": num_bootstrap}
        response = await self._ask("AttributeAnomalies", timeout, model_id=model_id, **fields)
        return [RowAttribution.from_proto(row) for row in response.rows]

    async def intrinsic_influence(
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
        """As `Client.intrinsic_influence`."""
        fields = {"target": target, "num_samples": num_samples, "seed": seed}
        fields |= {"confidence_level": confidence_level, "num_bootstrap": num_bootstrap}
        response = await self._ask("IntrinsicCausalInfluence", timeout, model_id=model_id, **fields)
        return Shares.of_contributions(response.contributions)

    async def check_graph(
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
        """As `Client.check_graph`; cancelling the task cancels the check on the server."""
        request = self._check_graph_request(graph, data, significance_level, independence_level, num_permutations, seed)
        call = self._stub.CheckGraph(request, timeout=self._timeout(timeout), metadata=self._metadata)
        return await self._answer_of(
            call, lambda response: self._graph_check_event(response, on_progress), "the graph check"
        )

    async def attribute_distribution_change(
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
        """As `Client.attribute_distribution_change`; cancelling the task cancels the work on the server."""
        options = {"num_samples": num_samples, "significance_level": significance_level, "seed": seed}
        options |= {"confidence_level": confidence_level, "num_bootstrap": num_bootstrap}
        request = self._change_request(graph, old, new, target, config, options, settings)
        call = self._stub.AttributeDistributionChange(request, timeout=self._timeout(timeout), metadata=self._metadata)
        return await self._answer_of(
            call, lambda response: self._change_event(response, on_progress, on_bootstrap), "the attribution"
        )

    @staticmethod
    async def _answer_of(call: Any, step: Callable[[Any], T | None], what: str) -> T:
        """As `Client._answer_of`: a progress-then-answer stream read to its answer."""
        result: T | None = None
        try:
            async for response in call:
                result = step(response) or result
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()
        return ClientBase._ended(result, what)

    async def server_info(self, *, timeout: float | None = None) -> ServerInfo:
        return ServerInfo.from_proto(await self._unary(self._stub.GetServerInfo, pb.GetServerInfoRequest(), timeout))

    async def health(self, service: str = SERVICE_NAME, *, timeout: float | None = None) -> str:
        response = await self._unary(self._health.Check, health_pb2.HealthCheckRequest(service=service), timeout)
        return self._health_status(response)
