"""The standard gRPC health service, with Watch streams that end when the server shuts down.

grpc's reference `HealthServicer` keeps a Watch stream open until the client
leaves. A client with client-side health checking (or a load balancer) holds
one open all the time, and `grpc.Server.stop(grace)` waits for every open
call: each watcher would keep a stopping server alive for the whole grace
period. `shut_down()` sends every watcher NOT_SERVING, then ends its stream
with OK, so only real work (DedupService calls) is drained.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2

SendResponse = Callable[[Any], None]


class HealthService(health.HealthServicer):
    """grpc.health.v1.Health whose watchers hear NOT_SERVING and are let go on shutdown."""

    def __init__(self) -> None:
        super().__init__(experimental_non_blocking=True)
        self._watch_lock = threading.Lock()
        self._watches: set[SendResponse] = set()
        self._shut_down = False

    def Watch(
        self,
        request: health_pb2.HealthCheckRequest,
        context: grpc.ServicerContext,
        send_response_callback: SendResponse | None = None,
    ) -> Any:
        if send_response_callback is None:  # a blocking server: nothing to end early
            return super().Watch(request, context)
        send = _once_ended(send_response_callback)
        with self._watch_lock:
            shutting_down = self._shut_down
            if not shutting_down:
                self._watches.add(send)
                context.add_callback(lambda: self._forget(send))
        result = super().Watch(request, context, send)  # sends the current status first
        if shutting_down:  # accepted just before the server stopped taking calls: end it at once
            send(None)
        return result

    def _forget(self, send: SendResponse) -> None:
        with self._watch_lock:
            self._watches.discard(send)

    def shut_down(self) -> None:
        """Report NOT_SERVING for good (every watcher is told), then end the Watch streams."""
        self.enter_graceful_shutdown()
        with self._watch_lock:
            self._shut_down = True
            watches, self._watches = self._watches, set()
        for send in watches:
            send(None)


def _once_ended(send: SendResponse) -> SendResponse:
    """`send`, ignoring whatever comes after the end of the stream (None).

    The reference servicer ends a stream again when the call completes; after
    `shut_down` ended it, that second end must not reach grpc.
    """
    lock = threading.Lock()
    ended = False

    def guarded(response: Any) -> None:
        nonlocal ended
        with lock:
            if ended:
                return
            ended = response is None
        send(response)

    return guarded
