"""Retries a call the server pushed back on (RESOURCE_EXHAUSTED carrying google.rpc.RetryInfo), and no other.

gRPC's own retry policy cannot tell pushback from any other RESOURCE_EXHAUSTED, such as a message
over a size limit, which fails the same way on every attempt: the review saw the server sample
a million rows five times. So gRPC's policy keeps only UNAVAILABLE (start-up, a restart), and this
module retries exactly what the server marked as retryable, after the delay it asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from scmfit.client._errors import _as_call

T = TypeVar("T")
MAX_ATTEMPTS = 5
MAX_DELAY_SECONDS = 30.0


def retry_delay(error: grpc.RpcError) -> float | None:
    """The server's RetryInfo delay on a RESOURCE_EXHAUSTED, or None when the error is not pushback."""
    call: Any = _as_call(error)
    if call is None or call.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return None
    try:
        status = rpc_status.from_call(call)
    except ValueError:
        return None
    if status is None:
        return None
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return float(min(max(info.retry_delay.ToNanoseconds() / 1e9, 0.0), MAX_DELAY_SECONDS))
    return None


def with_pushback(attempt: Callable[[float | None], T], timeout: float | None) -> T:
    """Calls `attempt(remaining_timeout)` until it succeeds, fails for good, or the deadline would pass."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for number in range(1, MAX_ATTEMPTS + 1):
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        try:
            return attempt(remaining)
        except grpc.RpcError as error:
            delay = retry_delay(error)
            late = deadline is not None and time.monotonic() + (delay or 0.0) >= deadline
            if delay is None or number == MAX_ATTEMPTS or late:
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
