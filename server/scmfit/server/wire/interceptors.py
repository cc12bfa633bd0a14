"""Server interceptors: bearer-token authentication and request ids for logs and trailers."""

from __future__ import annotations

import contextvars
import hmac
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

REQUEST_ID_KEY = "x-request-id"
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_MAX_REQUEST_ID = 128


class RequestIdFilter(logging.Filter):
    """Adds the current call's request id to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def _wrap(handler: grpc.RpcMethodHandler[Any, Any], wrap: Callable[[Any], Any]) -> grpc.RpcMethodHandler[Any, Any]:
    kinds = {
        (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
        (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
        (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
        (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
    }
    attribute, factory = kinds[(handler.request_streaming, handler.response_streaming)]
    return factory(
        wrap(getattr(handler, attribute)),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


Continuation = Callable[[grpc.HandlerCallDetails], "grpc.RpcMethodHandler[Any, Any] | None"]


class RequestIdInterceptor(grpc.ServerInterceptor):
    """Takes `x-request-id` from the caller (or makes one), logs with it, and returns it in trailers."""

    def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(details)
        if handler is None:
            return None
        given = dict(details.invocation_metadata or ()).get(REQUEST_ID_KEY)
        rid = str(given)[:_MAX_REQUEST_ID] if given else uuid.uuid4().hex

        def wrap(behavior: Callable[..., Any]) -> Callable[..., Any]:
            if handler.response_streaming:

                def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                    token = request_id.set(rid)
                    context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
                    try:
                        yield from behavior(request, context)
                    finally:
                        request_id.reset(token)

                return streaming

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                token = request_id.set(rid)
                context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
                try:
                    return behavior(request, context)
                finally:
                    request_id.reset(token)

            return unary

        return _wrap(handler, wrap)


class TokenAuthInterceptor(grpc.ServerInterceptor):
    """Every call must carry `authorization: Bearer <token>`; compared in constant time."""

    def __init__(self, token: str, *, open_health: bool = True) -> None:
        self._expected = f"Bearer {token}".encode()
        self._open_health = open_health

        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")

        self._deny = deny

    def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        if self._open_health and details.method.startswith(OPEN_METHOD_PREFIXES):
            return continuation(details)
        given = str(dict(details.invocation_metadata or ()).get("authorization", "")).encode()
        if hmac.compare_digest(given, self._expected):
            return continuation(details)
        handler = continuation(details)
        if handler is None:
            return None
        return _wrap(handler, lambda _behavior: self._deny)
