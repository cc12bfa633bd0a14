"""The outermost interceptor: no caller can hold the RPC threads, and health always answers.

grpcio's sync server hands a unary call to a pool thread *before* its request message has arrived,
and that thread then waits for the message with no bound of its own. A peer that sends headers and
nothing else pins one thread per call. So every handler is served here as a request-streaming one
(the wire is unchanged): the behaviour runs at once, counts its peer, and reads its one message under
a bound, cancelling the call when the bound passes. The always-answer methods (health checks and
GetServerInfo) run on a small pool of their own, which grpcio selects per behaviour through its
`experimental_thread_pool` attribute.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from scmfit.server.domain.errors import ScmfitServerError, ServerBusyError
from scmfit.server.wire import grpc_errors as status

_log = logging.getLogger(__name__)

PEER_RETRY_SECONDS = 1.0


class Alarms:
    """One thread that runs callbacks at their times; a per-call `threading.Timer` costs a thread each."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, list[Callable[[], None] | None]]] = []
        self._condition = threading.Condition()
        self._counter = itertools.count()
        self._thread: threading.Thread | None = None

    def after(self, seconds: float, callback: Callable[[], None]) -> Callable[[], None]:
        """Runs `callback` after `seconds` unless the returned function is called first."""
        slot: list[Callable[[], None] | None] = [callback]
        with self._condition:
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._counter), slot))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="scmfit-alarms", daemon=True)
                self._thread.start()
            self._condition.notify()

        def disarm() -> None:
            slot[0] = None

        return disarm

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._condition.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                _, _, slot = heapq.heappop(self._heap)
            callback = slot[0]
            if callback is not None:
                try:
                    callback()
                except Exception:  # a failing callback must not stop the others
                    _log.exception("alarm callback failed")


def peer_host(peer: str) -> str:
    """The host part of gRPC's peer string (`ipv4:1.2.3.4:5`, `ipv6:[::1]:5`): calls per host, not per port."""
    kind, _, rest = peer.partition(":")
    if kind in {"ipv4", "ipv6"} and ":" in rest:
        return rest.rsplit(":", 1)[0]
    return peer


class PeerCounts:
    """Calls in progress per peer host, refused beyond a bound."""

    def __init__(self, limit: int, what: str, on_refusal: Callable[[], None]) -> None:
        self.limit = limit
        self._what = what
        self._on_refusal = on_refusal
        self._counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def acquire(self, peer: str) -> str:
        host = peer_host(peer)
        with self._lock:
            if self._counts[host] >= self.limit:
                self._on_refusal()
                raise ServerBusyError(
                    self._counts[host], 0, PEER_RETRY_SECONDS, f"{self._what} from this peer", "max_calls_per_peer"
                )
            self._counts[host] += 1
        return host

    def release(self, host: str) -> None:
        with self._lock:
            self._counts[host] -= 1
            if not self._counts[host]:
                del self._counts[host]

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


class _PooledBehavior:
    """A behaviour that grpcio runs on `experimental_thread_pool` instead of the server's pool."""

    def __init__(self, behavior: Callable[..., Any], pool: futures.ThreadPoolExecutor) -> None:
        self._behavior = behavior
        self.experimental_thread_pool = pool

    def __call__(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._behavior(request, context)


class CallGuard(grpc.ServerInterceptor):
    """Bounds the wait for a request message and the calls each peer holds; routes always-answer methods."""

    def __init__(
        self,
        *,
        read_seconds: float,
        max_calls_per_peer: int,
        always_answer: frozenset[str],
        priority_threads: int,
        on_read_timeout: Callable[[], None] = lambda: None,
        on_refusal: Callable[[], None] = lambda: None,
    ) -> None:
        self.read_seconds = read_seconds
        self._on_read_timeout = on_read_timeout
        self._always_answer = always_answer
        self._alarms = Alarms()
        self.calls = PeerCounts(max_calls_per_peer, "calls", on_refusal)
        # A peer may hold at most half the priority threads, so another peer's health check always finds one.
        self.priority_calls = PeerCounts(max(1, priority_threads // 2), "health and info calls", on_refusal)
        self.priority_pool = futures.ThreadPoolExecutor(max_workers=priority_threads, thread_name_prefix="scmfit-prio")

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(details)
        if handler is None:
            return None
        priority = details.method in self._always_answer
        counts = self.priority_calls if priority else self.calls
        if handler.request_streaming:
            behavior = self._streaming_request(handler, counts)
        else:
            behavior = self._one_request(handler, counts)
        if priority:
            behavior = _PooledBehavior(behavior, self.priority_pool)
        factory = (
            grpc.stream_stream_rpc_method_handler
            if handler.response_streaming
            else grpc.stream_unary_rpc_method_handler
        )
        return factory(
            behavior, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )

    def _one_request(self, handler: grpc.RpcMethodHandler[Any, Any], counts: PeerCounts) -> Callable[..., Any]:
        inner = handler.unary_stream if handler.response_streaming else handler.unary_unary
        assert inner is not None

        def first(messages: Iterator[Any], context: grpc.ServicerContext) -> Any:
            """The call's one message, read under the bound; aborts (or ends a cancelled call) without one."""
            timed_out = threading.Event()
            peer = context.peer()  # empty once the call is cancelled

            def expire() -> None:
                timed_out.set()
                self._on_read_timeout()  # counted before the peer can see the cancel
                context.cancel()  # wakes the read below: the call is over

            disarm = self._alarms.after(self.read_seconds, expire)
            try:
                request = next(messages, None)
            except grpc.RpcError:
                request = None
            finally:
                disarm()
            if request is not None:
                return request
            # abort raises; on a call that is already over, grpcio drops it without logging.
            if timed_out.is_set():
                _log.warning("a call from %s sent no request within %gs; cancelled", peer, self.read_seconds)
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"no request message within {self.read_seconds:g}s")
            if context.is_active():  # closed without a message: what grpcio itself answers
                context.abort(grpc.StatusCode.UNIMPLEMENTED, "a unary method requires exactly one request message")
            context.abort(grpc.StatusCode.CANCELLED, "the call ended before its request message arrived")
            raise AssertionError("abort always raises")  # pragma: no cover

        return self._guarded(handler, counts, lambda messages, context: inner(first(messages, context), context))

    def _streaming_request(self, handler: grpc.RpcMethodHandler[Any, Any], counts: PeerCounts) -> Callable[..., Any]:
        inner = handler.stream_stream if handler.response_streaming else handler.stream_unary
        assert inner is not None
        return self._guarded(handler, counts, inner)

    @staticmethod
    def _guarded(
        handler: grpc.RpcMethodHandler[Any, Any], counts: PeerCounts, call: Callable[[Iterator[Any], Any], Any]
    ) -> Callable[..., Any]:
        def acquire(context: grpc.ServicerContext) -> str:
            try:
                return counts.acquire(context.peer())
            except ScmfitServerError as error:
                status.abort(context, error)

        if handler.response_streaming:

            def streaming(messages: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
                host = acquire(context)
                try:
                    yield from call(messages, context)
                finally:
                    counts.release(host)

            return streaming

        def unary(messages: Iterator[Any], context: grpc.ServicerContext) -> Any:
            host = acquire(context)
            try:
                return call(messages, context)
            finally:
                counts.release(host)

        return unary
