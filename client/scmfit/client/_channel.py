"""Channel construction: TLS credentials, a bearer token on every call, and gRPC's retry policy."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc

SERVICE_NAME = "scmfit.v1.CausalModelService"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

RETRY_POLICY: dict[str, Any] = {
    "maxAttempts": 5,
    "initialBackoff": "0.2s",
    "maxBackoff": "3s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
"""gRPC's own retries: UNAVAILABLE only (server start-up, a restart). A full server's RESOURCE_EXHAUSTED
is retried by `_retry.py`, which can see its google.rpc.RetryInfo; other RESOURCE_EXHAUSTED (a message
over a size limit) fail at once. Requests over the retry buffer (256 KiB) are never replayed."""

SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {"name": [{"service": SERVICE_NAME}, {"service": "grpc.health.v1.Health"}], "retryPolicy": RETRY_POLICY}
        ]
    }
)


def tls_credentials(
    ca: Path | str | None = None, cert: Path | str | None = None, key: Path | str | None = None
) -> grpc.ChannelCredentials:
    """TLS with an optional private CA; `cert` and `key` add a client certificate for mutual TLS."""

    def read(path: Path | str | None) -> bytes | None:
        return Path(path).read_bytes() if path is not None else None

    return grpc.ssl_channel_credentials(root_certificates=read(ca), private_key=read(key), certificate_chain=read(cert))


class _Details(grpc.ClientCallDetails):
    def __init__(self, base: grpc.ClientCallDetails, metadata: tuple[tuple[str, str | bytes], ...]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = base.wait_for_ready
        self.compression = base.compression


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds `authorization: Bearer <token>`; unlike call credentials it also works on plaintext loopback."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: grpc.ClientCallDetails) -> _Details:
        return _Details(details, (*(details.metadata or ()), self._header))

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._details(details), request)


def open_channel(
    target: str,
    credentials: grpc.ChannelCredentials | None,
    options: Sequence[tuple[str, Any]] | None,
    token: str | None,
) -> grpc.Channel:
    # A caller's option replaces ours: gRPC would take the first of two equal keys, silently ours.
    chosen: dict[str, Any] = {
        "grpc.enable_retries": 1,
        "grpc.service_config": SERVICE_CONFIG,
        "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
        "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    }
    chosen.update(dict(options or []))
    channel_options = list(chosen.items())
    if credentials is None:
        channel = grpc.insecure_channel(target, options=channel_options)
    else:
        channel = grpc.secure_channel(target, credentials, options=channel_options)
    if token:
        channel = grpc.intercept_channel(channel, _BearerToken(token))
    return channel
