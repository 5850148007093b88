"""The gRPC server: DedupService, the standard health service, server reflection.

`NewsdedupServer` is what tests start in-process (port 0, then read `.port`);
`serve()` is what `newsdedup serve` runs: it starts the server, reports
SERVING to health checks, and on SIGTERM or SIGINT reports NOT_SERVING, gives
in-flight calls the grace period to finish, closes the store and returns 0.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.errors import NewsdedupError
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc

from .servicer import DedupServicer

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DedupService"].full_name


class StartupError(Exception):
    """The server cannot start; the message says why and what to do."""


class NewsdedupServer:
    """One gRPC server over one Engine."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or Engine(settings)
        limit = settings.max_message_bytes
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="rpc"),
            options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)],
        )
        pb_grpc.add_DedupServiceServicer_to_server(DedupServicer(self.engine), self._server)
        self._health = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server)
        try:
            self.port = self._server.add_insecure_port(settings.address)
        except RuntimeError as error:
            self.engine.close()
            raise StartupError(
                f"cannot listen on {settings.address}: {error} (is another server using the port?)"
            ) from error

    def _set_health(self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        for name in ("", SERVICE_NAME):
            self._health.set(name, status)

    def start(self) -> None:
        self._server.start()
        self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info("serving newsdedup on %s:%d (data: %s)", self.settings.host, self.port, self.engine_location)

    @property
    def engine_location(self) -> str:
        return self.settings.data_dir or "memory only"

    def stop(self, grace: float | None = None) -> None:
        """Stop taking calls, let in-flight ones finish within `grace` seconds, close the store."""
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self._server.stop(self.settings.grace_period if grace is None else grace).wait()
        self.engine.close()


def _write_port_file(path: str, port: int) -> None:
    """Write the port atomically, so a reader never sees a half-written file."""
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(f"{port}\n")
    os.replace(partial, target)


def serve(settings: Settings) -> int:
    """Run the server until SIGTERM or SIGINT; returns the process exit code."""
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = NewsdedupServer(settings)
    except (NewsdedupError, StartupError) as error:
        log.error("%s", error)
        return 2
    stopping = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    server.start()
    if settings.port_file:
        _write_port_file(settings.port_file, server.port)
    stopping.wait()
    server.stop()
    log.info("stopped")
    return 0
