"""A synchronous client that owns its channel and turns every gRPC failure into a ScmfitError."""

from __future__ import annotations

from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scmfit.client._errors import ScmfitError, from_rpc_error
from scmfit.v1 import causal_model_service_pb2 as pb
from scmfit.v1 import causal_model_service_pb2_grpc as pb_grpc

DEFAULT_TARGET = "127.0.0.1:50051"
SERVICE_NAME = "scmfit.v1.CausalModelService"

ProgressCallback = Callable[[pb.FitProgress], None]


class Client:
    """`with Client(target) as client:`; the channel closes with the block."""

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: list[tuple[str, Any]] | None = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        if credentials is None:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            self._channel = grpc.secure_channel(target, credentials, options=options)
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

    def fit_events(
        self, request: pb.FitModelRequest, *, timeout: float | None = None
    ) -> Generator[pb.FitModelResponse, None, None]:
        """Every streamed message, progress first and the result last; breaking out cancels the call."""
        call = self._stub.FitModel(request, timeout=timeout if timeout is not None else self.timeout)
        try:
            yield from call
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()

    def fit_proto(
        self,
        request: pb.FitModelRequest,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> pb.FitResult:
        for response in self.fit_events(request, timeout=timeout):
            if response.HasField("result"):
                return response.result
            if on_progress is not None:
                on_progress(response.progress)
        raise ScmfitError("the server closed the FitModel stream without a result")

    def server_info(self, *, timeout: float | None = None) -> pb.GetServerInfoResponse:
        try:
            response: pb.GetServerInfoResponse = self._stub.GetServerInfo(
                pb.GetServerInfoRequest(), timeout=timeout if timeout is not None else self.timeout
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return response

    def health(self, service: str = SERVICE_NAME, *, timeout: float | None = None) -> str:
        """The health status name, such as "SERVING" or "NOT_SERVING"."""
        try:
            response = self._health.Check(
                health_pb2.HealthCheckRequest(service=service),
                timeout=timeout if timeout is not None else self.timeout,
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
