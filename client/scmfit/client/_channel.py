"""Channel construction, sync and asyncio: TLS credentials, a bearer token on every call, and gRPC's
retry policy."""

from __future__ import annotations

import json
from collections.abc import Sequence
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

FIT_METHOD_CONFIG: dict[str, Any] = {"name": [{"service": SERVICE_NAME, "method": "FitModel"}]}
"""FitModel without gRPC's retries: with them, grpcio 1.85 leaves a streaming call that was waiting for
its first message hanging past its deadline, forever, when the server dies (measured: calls queued on a
SIGKILLed server still waiting after 200 s of a 60 s deadline; without retries they fail in
milliseconds). The client retries FitModel's UNAVAILABLE itself, before the first message only."""

SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {"name": [{"service": SERVICE_NAME}, {"service": "grpc.health.v1.Health"}], "retryPolicy": RETRY_POLICY},
            FIT_METHOD_CONFIG,
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


def call_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """`authorization: Bearer <token>` for every call. Sent as call metadata rather than call credentials,
    which gRPC allows only on TLS channels, so that a token also works on plaintext loopback; and on every
    kind of call, including UploadDataset's client stream."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def channel_options(options: Sequence[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    """Ours, then the caller's: a caller's option replaces ours, where gRPC would take the first of two
    equal keys, silently ours."""
    chosen: dict[str, Any] = {
        "grpc.enable_retries": 1,
        "grpc.service_config": SERVICE_CONFIG,
        "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
        "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    }
    chosen.update(dict(options or []))
    return list(chosen.items())


def open_channel(
    target: str, credentials: grpc.ChannelCredentials | None, options: Sequence[tuple[str, Any]] | None
) -> grpc.Channel:
    if credentials is None:
        return grpc.insecure_channel(target, options=channel_options(options))
    return grpc.secure_channel(target, credentials, options=channel_options(options))


def open_aio_channel(
    target: str, credentials: grpc.ChannelCredentials | None, options: Sequence[tuple[str, Any]] | None
) -> grpc.aio.Channel:
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=channel_options(options))
    return grpc.aio.secure_channel(target, credentials, options=channel_options(options))
