"""The gRPC server: DedupService, the standard health service, server reflection.

`NewsdedupServer` is what tests start in-process (port 0, then read `.port`);
`serve()` is what `newsdedup serve` runs: it starts the server, reports
SERVING to health checks, and on SIGTERM or SIGINT stops (`NewsdedupServer.stop`)
and returns 0. TLS, mutual TLS and the bearer token (`auth.py`) are set up
with the server, from the settings.

Shutdown, in order:

1. Health reports NOT_SERVING for good. Health.Watch streams (load balancers,
   clients with health checking) receive it before anything else changes.
   With --shutdown-delay the server goes on taking calls for that long, so
   that pollers of Health.Check see NOT_SERVING and move traffic away too.
2. The server stops accepting calls: a new call, Health.Check included, fails
   with UNAVAILABLE (CANCELLED if it arrives on an open connection just as
   the server stops), which pollers treat as unhealthy too. Calls already
   accepted go on, streams included, for up to the grace period
   (--grace-period); the Watch streams end (OK) so that they do not hold it.
3. At the end of the grace period the calls still running are cancelled; their
   clients get CANCELLED. A write that had not been acknowledged may or may not
   be stored; every acknowledged one is, since a result is sent only after its
   commit.
4. Once every handler has returned, the store is closed (the last commit is
   flushed) and the process exits 0. grpc closes the connections as soon as
   the last call is over, so a client that has not yet read all of a large
   reply can lose the rest of it and see UNAVAILABLE for a call that was
   carried out. It sends the call again, as it would any UNAVAILABLE one
   (the bundled client does); ingest is idempotent, the retry says
   already_ingested.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from newsdedup import logs
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.errors import NewsdedupError
from newsdedup.v1 import dedup_service_pb2 as pb

from . import auth
from .health import HealthService
from .metrics import Metrics
from .observability import ObservabilityInterceptor
from .registration import add_dedup_service
from .servicer import DedupServicer

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DedupService"].full_name
# How often articles past --retention-days are evicted when no ingest does it.
RETENTION_SWEEP_SECONDS = 60.0


class StartupError(Exception):
    """The server cannot start; the message says why and what to do."""


class NewsdedupServer:
    """One gRPC server over one Engine."""

    def __init__(
        self, settings: Settings, engine: Engine | None = None, sweep_every: float = RETENTION_SWEEP_SECONDS
    ) -> None:
        self.settings = settings
        try:  # Settings checked these files; what is read here is what the server keeps
            token_auth = auth.TokenAuth.from_file(settings.auth_token_file) if settings.auth_token_file else None
            tls = auth.server_credentials(settings)
        except (OSError, ValueError) as error:
            raise StartupError(f"cannot read the TLS or token files: {error}") from error
        self.engine = engine or Engine(settings)
        limit = settings.max_message_bytes
        self._workers = futures.ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="rpc")
        self.metrics = Metrics(self.engine)
        # Observability first (outermost), so calls that later interceptors refuse are counted and logged too.
        interceptors: list[grpc.ServerInterceptor] = [ObservabilityInterceptor(self.metrics)]
        if token_auth is not None:
            interceptors.append(token_auth)
        self._server = grpc.server(
            self._workers,
            interceptors=interceptors,
            options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)],
            maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        )
        self._sweep_every = sweep_every
        self._stop_sweeping = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="retention-sweep", daemon=True)
        add_dedup_service(DedupServicer(self.engine), self._server)
        self._health = HealthService()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server)
        try:
            if tls is None:
                self.port = self._server.add_insecure_port(settings.address)
            else:
                self.port = self._server.add_secure_port(settings.address, tls)
        except RuntimeError as error:
            self.engine.close()
            raise StartupError(
                f"cannot listen on {settings.address}: {error} (is another server using the port?)"
            ) from error
        self.metrics_port = 0  # the bound port of the metrics endpoint; 0 when there is none
        if settings.metrics_port:
            try:
                self.metrics_port = self.metrics.serve_http(
                    settings.host,
                    settings.metrics_port,
                    certfile=settings.tls_cert,
                    keyfile=settings.tls_key,
                    client_ca=settings.tls_client_ca,
                )
            except OSError as error:
                self._server.stop(None)
                self.engine.close()
                raise StartupError(
                    f"cannot serve metrics on {settings.host}:{settings.metrics_port}: {error} "
                    "(is another process using the port? --metrics-port 0 turns the endpoint off)"
                ) from error

    def start(self) -> None:
        self._server.start()
        if self.settings.retention_days:
            self._sweeper.start()
        for name in ("", SERVICE_NAME):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving newsdedup on %s:%d (%s; data: %s)",
            self.settings.host,
            self.port,
            auth.describe(self.settings),
            self.engine_location,
        )
        if self.metrics_port:
            scheme = "https" if self.settings.tls_cert else "http"
            log.info("metrics on %s://%s:%d/metrics", scheme, self.settings.host, self.metrics_port)

    @property
    def engine_location(self) -> str:
        return self.settings.data_dir or "memory only"

    def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, stop taking calls, drain in-flight ones for `grace` seconds, close the store.

        `grace` defaults to the grace_period setting; the module docstring
        tells the steps and what clients see.
        """
        grace = self.settings.grace_period if grace is None else grace
        started = time.monotonic()
        self._health.shut_down()
        if self.settings.shutdown_delay:
            log.info("not serving; still taking calls for %g s (shutdown_delay)", self.settings.shutdown_delay)
            time.sleep(self.settings.shutdown_delay)
        self._stop_sweeping.set()
        if self._sweeper.is_alive():
            self._sweeper.join()
        # grpc's own timer is only a backstop: cancelling here, at `grace`, is what lets us say so in the log.
        stopped = self._server.stop(grace + 60)
        log.info("not serving; in-flight calls have %g s to finish", grace)
        if not stopped.wait(grace):
            if grace:
                log.warning("the grace period of %g s is over: cancelling the calls still running", grace)
            self._server.stop(None).wait()
        # A cancelled call's handler may still be running: let it return before its store goes.
        self._workers.shutdown(wait=True)
        self.metrics.stop_http()  # before the store goes: a scrape reads the engine
        self.engine.close()
        log.info("drained and closed the store in %.1f s", time.monotonic() - started)

    def _sweep(self) -> None:
        """Evict expired articles between calls too, so a quiet service does not keep what it should not."""
        while not self._stop_sweeping.wait(self._sweep_every):
            try:
                while self.engine.evict_expired() and not self._stop_sweeping.is_set():
                    pass
            except NewsdedupError as error:  # a full disk, say: the next sweep tries again
                self.metrics.error_reasons([error.reason])
                log.warning("retention sweep failed: %s", error)


def _write_port_file(path: str, port: int) -> None:
    """Write the port atomically, so a reader never sees a half-written file."""
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(f"{port}\n")
    os.replace(partial, target)


class _StopSignals:
    """SIGTERM and SIGINT, noticed by the main thread whichever thread the kernel hands them to.

    Waiting on an Event (or any lock) is not enough: the kernel may deliver a
    signal to one of grpc's threads, and a main thread asleep in a lock is then
    never woken to run the Python handler, so the server would ignore SIGTERM;
    Event.set in a handler can also deadlock when a second signal interrupts
    the wait that the first one ended. Instead, the interpreter's C-level
    handler writes each signal's number to a pipe (`signal.set_wakeup_fd`),
    whichever thread runs it, and the main thread reads the pipe.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self._read, write = os.pipe()
        os.set_blocking(write, False)
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        for signum in self.SIGNALS:
            signal.signal(signum, _noted)  # a Python-level handler is what makes the signal reach the pipe

    def wait(self) -> signal.Signals:
        """Block until SIGTERM or SIGINT arrives (or has arrived since __init__); return which."""
        while True:
            for number in os.read(self._read, 64):
                if number in self.SIGNALS:
                    return signal.Signals(number)


def _noted(signum: int, frame: object) -> None:
    """The signal is in the wakeup pipe; nothing more to do here."""


def serve(settings: Settings) -> int:
    """Run the server until SIGTERM or SIGINT; returns the process exit code."""
    logs.configure(settings.log_level, settings.log_format)
    try:
        server = NewsdedupServer(settings)
    except (NewsdedupError, StartupError) as error:
        log.error("%s", error)
        return 2
    stop_signals = _StopSignals()
    server.start()
    if settings.port_file:
        _write_port_file(settings.port_file, server.port)
    log.info("received %s, shutting down", stop_signals.wait().name)
    server.stop()  # a second signal changes nothing: the drain runs to its end
    log.info("stopped")
    return 0
