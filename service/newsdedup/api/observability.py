"""Every call, counted, timed and logged: a server interceptor.

`ObservabilityInterceptor` is the outermost interceptor, so it sees every
call that reaches a handler, those refused by later interceptors (auth)
included. For each call it records, once the call has ended:

- `newsdedup_rpc_total{service,method,code}` and the latency histogram, from
  the call's arrival (before it waits for a worker thread) to its end: the
  handler's return, its error, or the client's cancellation or deadline,
  whichever comes first;
- the storage errors among the call's ErrorInfo reason and, for batches and
  streams, among the per-article errors in its results;
- one log line (logger `newsdedup.api.observability`, message "rpc") with
  service, method, code, latency_ms, peer, the article ids the request names
  (`article_id`, or `article_ids` and `article_count` for several; never the
  title or body), any `cluster_id`, and for a failed call its `reason` and
  `error` message. OK calls log at INFO (health and reflection at DEBUG),
  calls the server or its store failed at WARNING or ERROR.

The status code is what the handler set (`context.abort`, `set_code`), OK
when it returned without one, UNKNOWN when it raised without one (grpc's own
answer), CANCELLED or DEADLINE_EXCEEDED when the call ended before its
handler did. Calls gRPC refuses before any handler runs (an unknown method,
one beyond --max-concurrent-rpcs) are not seen here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc
from google.protobuf import message
from google.rpc import error_details_pb2, status_pb2

from newsdedup.v1 import dedup_service_pb2 as pb

from .metrics import Metrics

log = logging.getLogger(__name__)

DEDUP_SERVICE = pb.DESCRIPTOR.services_by_name["DedupService"].full_name
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# A batch names up to 1,000 ids: the log line keeps the first ones and the count.
MAX_LOGGED_IDS = 20
_ARTICLE = pb.Article.DESCRIPTOR
_SERVER_FAULTS = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS})
_OVERLOAD = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


class ObservabilityInterceptor(grpc.ServerInterceptor):
    """Counts, times and logs every call that reaches a handler (see the module docstring)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return _observed(handler, _Call(self._metrics, handler_call_details.method))


class _Call:
    """One call's record, from its arrival to its end; ended once, by whichever end comes first."""

    def __init__(self, metrics: Metrics, full_method: str) -> None:
        self._arrived = time.perf_counter()
        self._metrics = metrics
        self.service, _, self.method = full_method.lstrip("/").rpartition("/")
        self._context: grpc.ServicerContext | None = None
        self._ended = threading.Lock()
        self._article_ids: list[str] = []
        self._article_count = 0
        self._cluster_id = ""
        self._article_errors: dict[str, int] = {}

    def begin(self, context: grpc.ServicerContext) -> None:
        self._context = context
        self._metrics.in_flight.inc()
        if not context.add_callback(self._terminated):  # the call ended before its handler started
            self._terminated()

    def note_request(self, request: Any) -> None:
        """Keep the article and cluster ids a request names (an undecodable one names none)."""
        if not isinstance(request, message.Message):
            return
        for field, value in request.ListFields():
            if field.name == "article_id":
                self._note_ids((value,))
            elif field.name == "cluster_id":
                self._cluster_id = value
            elif field.message_type is _ARTICLE:
                articles = value if field.is_repeated else (value,)
                self._note_ids(article.id for article in articles)

    def _note_ids(self, ids: Iterable[str]) -> None:
        for article_id in ids:
            if article_id:
                self._article_count += 1
                if len(self._article_ids) < MAX_LOGGED_IDS:
                    self._article_ids.append(article_id)

    def received(self, context: grpc.ServicerContext, request: Any, request_streaming: bool) -> Any:
        """Begin the call with what it received: one request, noted now, or a stream noted as it is read."""
        self.begin(context)
        if request_streaming:
            return self.requests(request)
        self.note_request(request)
        return request

    def requests(self, requests: Iterator[Any]) -> Iterator[Any]:
        for request in requests:
            self.note_request(request)
            yield request

    def note_response(self, response: Any) -> None:
        """Count the per-article errors of a batch's or a stream's results."""
        if isinstance(response, pb.BatchIngestArticlesResponse):
            results: Iterable[pb.ArticleResult] = response.results
        elif isinstance(response, pb.StreamIngestArticlesResponse):
            results = (response.result,)
        else:
            return
        for result in results:
            if result.HasField("error"):
                reason = _reason(result.error) or grpc.StatusCode.UNKNOWN.name
                self._article_errors[reason] = self._article_errors.get(reason, 0) + 1

    def handler_ended(self, context: grpc.ServicerContext, *, raised: bool) -> None:
        code = context.code()
        if code is None:
            if not context.is_active():  # the client went first: its request stream broke off, say
                code = _cut_short(context)
            else:
                code = grpc.StatusCode.UNKNOWN if raised else grpc.StatusCode.OK
        self._end(code)

    def _terminated(self) -> None:
        """grpc's callback when the call is over: ends the record if the handler has not (a cancelled call)."""
        self._end(_cut_short(self._context))

    def _end(self, code: grpc.StatusCode) -> None:
        if not self._ended.acquire(blocking=False):
            return
        seconds = time.perf_counter() - self._arrived
        self._metrics.in_flight.dec()
        self._metrics.rpc_ended(self.service, self.method, code.name, seconds)
        reason = _call_reason(self._context) if code != grpc.StatusCode.OK and self._context is not None else ""
        self._metrics.error_reasons([reason, *(r for r, count in self._article_errors.items() for _ in range(count))])
        level = self._level(code)
        if log.isEnabledFor(level):
            log.log(level, "rpc", extra={"fields": self._fields(code, seconds, reason)})

    def _fields(self, code: grpc.StatusCode, seconds: float, reason: str) -> dict[str, Any]:
        """The call's log fields: never a title or a body, only ids."""
        fields: dict[str, Any] = {
            "service": self.service,
            "method": self.method,
            "code": code.name,
            "latency_ms": round(seconds * 1000, 3),
            "peer": self._context.peer() if self._context is not None else "",
        }
        if self._article_count == 1:
            fields["article_id"] = self._article_ids[0]
        elif self._article_count:
            fields["article_ids"] = self._article_ids
            fields["article_count"] = self._article_count
        if self._cluster_id:
            fields["cluster_id"] = self._cluster_id
        if reason:
            fields["reason"] = reason
        details = self._context.details() if code != grpc.StatusCode.OK and self._context is not None else None
        if details:
            fields["error"] = details.decode(errors="replace") if isinstance(details, bytes) else str(details)
        if self._article_errors:
            fields["article_errors"] = self._article_errors
        return fields

    def _level(self, code: grpc.StatusCode) -> int:
        if code in _SERVER_FAULTS:
            return logging.ERROR
        if code in _OVERLOAD:
            return logging.WARNING
        if code == grpc.StatusCode.OK and self.service != DEDUP_SERVICE:
            return logging.DEBUG  # health probes and reflection every few seconds: not worth a line each
        return logging.INFO


def _cut_short(context: grpc.ServicerContext | None) -> grpc.StatusCode:
    """The code of a call that ended before its handler: its deadline passed, or its client cancelled it."""
    expired = context is not None and context.time_remaining() <= 0
    return grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED


def _reason(status: status_pb2.Status) -> str:
    """The ErrorInfo reason of a google.rpc.Status ("" without one)."""
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


def _call_reason(context: grpc.ServicerContext) -> str:
    """The ErrorInfo reason a handler ended its call with (`api.errors.abort` puts it in the trailers)."""
    for key, value in context.trailing_metadata() or ():
        if key == STATUS_DETAILS_KEY:
            try:
                return _reason(status_pb2.Status.FromString(value))
            except message.DecodeError:
                return ""
    return ""


def _observed(handler: grpc.RpcMethodHandler, call: _Call) -> grpc.RpcMethodHandler:
    """`handler` with its behaviour wrapped to keep `call`'s record; same kind, same (de)serializers."""
    coders = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(_streaming(handler.stream_stream, call, True), **coders)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(_unary(handler.stream_unary, call, True), **coders)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(_streaming(handler.unary_stream, call, False), **coders)
    return grpc.unary_unary_rpc_method_handler(_unary(handler.unary_unary, call, False), **coders)


def _unary(behaviour: Callable[..., Any], call: _Call, request_streaming: bool) -> Callable[..., Any]:
    def observed(request: Any, context: grpc.ServicerContext) -> Any:
        request = call.received(context, request, request_streaming)
        try:
            response = behaviour(request, context)
            call.note_response(response)
        except BaseException:
            call.handler_ended(context, raised=True)
            raise
        call.handler_ended(context, raised=False)
        return response

    return observed


def _streaming(behaviour: Callable[..., Any], call: _Call, request_streaming: bool) -> Callable[..., Any]:
    if getattr(behaviour, "experimental_non_blocking", False):
        return _non_blocking(behaviour, call)

    def observed(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        request = call.received(context, request, request_streaming)
        try:
            for response in behaviour(request, context):
                call.note_response(response)
                yield response
        except GeneratorExit:  # closed unfinished: the call was over already, and _terminated has said so
            raise
        except BaseException:
            call.handler_ended(context, raised=True)
            raise
        call.handler_ended(context, raised=False)

    return observed


def _non_blocking(behaviour: Callable[..., Any], call: _Call) -> Callable[..., Any]:
    """A handler that returns at once and sends its responses later, through a callback (the health Watch).

    grpc hands it the callback only if the behaviour says `experimental_non_blocking`; the call ends when the
    handler sends None (or when the client goes, which `_Call._terminated` notices).
    """

    def observed(request: Any, context: grpc.ServicerContext, send_response_callback: Callable[[Any], None]) -> Any:
        def send(response: Any) -> None:
            if response is None:
                call.handler_ended(context, raised=False)
            else:
                call.note_response(response)
            send_response_callback(response)

        call.begin(context)
        call.note_request(request)
        try:
            return behaviour(request, context, send)
        except BaseException:
            call.handler_ended(context, raised=True)
            raise

    observed.experimental_non_blocking = True  # type: ignore[attr-defined]
    return observed
