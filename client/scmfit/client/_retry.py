"""Retries a call the server pushed back on (RESOURCE_EXHAUSTED carrying google.rpc.RetryInfo), and no other.

gRPC's own retry policy cannot tell pushback from any other RESOURCE_EXHAUSTED, such as a message
over a size limit, which fails the same way on every attempt: the review saw the server sample
a million rows five times. So gRPC's policy keeps only UNAVAILABLE (start-up, a restart), and this
module retries exactly what the server marked as retryable, after the delay it asked for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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


def _backoff(attempt: int) -> float:
    """gRPC's own schedule for UNAVAILABLE (RETRY_POLICY in _channel.py), for calls we retry ourselves."""
    return min(0.2 * 2.0 ** (attempt - 1), 3.0)


class _Schedule:
    """The attempts and waits of one call, shared by the sync and the asyncio loop."""

    def __init__(self, timeout: float | None, unavailable: bool) -> None:
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.number = 0
        self.unavailable = unavailable

    def remaining(self) -> float | None:
        self.number += 1
        return None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)

    def wait_after(self, error: grpc.RpcError) -> float:
        """The delay before the next attempt; re-raises `error` when there should be none."""
        delay = retry_delay(error)
        if delay is None and self.unavailable and getattr(error, "code", lambda: None)() == grpc.StatusCode.UNAVAILABLE:
            delay = _backoff(self.number)
        late = self.deadline is not None and time.monotonic() + (delay or 0.0) >= self.deadline
        if delay is None or self.number >= MAX_ATTEMPTS or late:
            raise error
        return delay


def with_pushback(attempt: Callable[[float | None], T], timeout: float | None, *, unavailable: bool = False) -> T:
    """Calls `attempt(remaining_timeout)` until it succeeds, fails for good, or the deadline would pass.

    `unavailable`: also retry UNAVAILABLE, with gRPC's backoff, for a call that gRPC's own retry policy
    must not handle (see FIT_METHOD_CONFIG in _channel.py)."""
    schedule = _Schedule(timeout, unavailable)
    while True:
        try:
            return attempt(schedule.remaining())
        except grpc.RpcError as error:
            time.sleep(schedule.wait_after(error))


async def with_pushback_async(
    attempt: Callable[[float | None], Awaitable[T]], timeout: float | None, *, unavailable: bool = False
) -> T:
    """`with_pushback` for grpc.aio: the wait is an asyncio sleep, so other tasks run meanwhile."""
    schedule = _Schedule(timeout, unavailable)
    while True:
        try:
            return await attempt(schedule.remaining())
        except grpc.RpcError as error:
            await asyncio.sleep(schedule.wait_after(error))
