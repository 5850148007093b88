"""Prometheus metrics of one server: its calls, what its engine holds, what failed to be stored.

Each `Metrics` has its own registry, so several servers in one process (the
tests) never share a counter. `serve_http` exposes it at
http://host:port/metrics (--metrics-port) from a thread of its own; https://
when the server has TLS, with its certificate (and client CA).

- `newsdedup_rpc_total{service,method,code}`: calls ended, by status code;
- `newsdedup_rpc_duration_seconds{service,method}`: histogram of call latency,
  arrival to end (a stream: its whole life);
- `newsdedup_rpc_in_flight`: calls started and not yet ended;
- `newsdedup_storage_errors_total{reason}`: STORAGE_UNAVAILABLE, STORE_FULL,
  STORE_CORRUPTED, whether a call's status, an article's in a batch or stream,
  or a retention sweep's;
- read from the engine when Prometheus scrapes, so never stale:
  `newsdedup_articles`, `newsdedup_clusters`, `newsdedup_multi_article_clusters`,
  `newsdedup_duplicates{kind=exact|near}`, `newsdedup_index_memory_bytes`
  (the in-memory indexes) and `newsdedup_evictions_total{cause=retention|capacity}`
  (since the server started); with a shared store (--store redis://...) also
  `newsdedup_shared_changesets_applied_total` and `newsdedup_shared_write_conflicts_total`;
- prometheus_client's process_* and python_* metrics (memory, CPU, open files, GC).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from newsdedup.engine import Engine
from newsdedup.errors import CapacityExhausted, DataCorrupted, NewsdedupError, StorageUnavailable

log = logging.getLogger(__name__)

# The ErrorInfo reasons that mean the store did not take a write.
STORAGE_ERROR_REASONS = frozenset(cls.default_reason for cls in (StorageUnavailable, CapacityExhausted, DataCorrupted))
# From 1 ms (a GetArticle) to a minute (a stream, a batch of 1,000 on a slow disk).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The metrics of one server over one engine, in a registry of their own."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.rpcs = Counter(
            "newsdedup_rpc",
            "Calls ended, by service, method and status code.",
            ("service", "method", "code"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "newsdedup_rpc_duration_seconds",
            "Seconds from a call's arrival to its status (a stream: its whole life).",
            ("service", "method"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge("newsdedup_rpc_in_flight", "Calls started and not yet ended.", registry=self.registry)
        self.storage_errors = Counter(
            "newsdedup_storage_errors",
            "Writes the store did not take, by ErrorInfo reason: of calls, of articles in batches and streams, "
            "of retention sweeps.",
            ("reason",),
            registry=self.registry,
        )
        self.registry.register(EngineCollector(engine))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._http: WSGIServer | None = None
        self._http_thread: threading.Thread | None = None

    def rpc_ended(self, service: str, method: str, code: str, seconds: float) -> None:
        self.rpcs.labels(service, method, code).inc()
        self.latency.labels(service, method).observe(seconds)

    def error_reasons(self, reasons: Iterable[str]) -> None:
        """Count the storage errors among these ErrorInfo reasons (others are the caller's, not the store's)."""
        for reason in reasons:
            if reason in STORAGE_ERROR_REASONS:
                self.storage_errors.labels(reason).inc()

    def serve_http(self, host: str, port: int, *, certfile: str = "", keyfile: str = "", client_ca: str = "") -> int:
        """Serve /metrics on host:port (0: a free port) from a daemon thread; returns the bound port.

        With `certfile` and `keyfile`, over HTTPS only, and with `client_ca`
        only to clients presenting a certificate that CA signed: the gRPC
        port's settings, so that TLS or mutual TLS covers the whole server.
        Raises OSError when the address cannot be bound.
        """
        tls: dict[str, Any] = {}
        if certfile:
            tls = {"certfile": certfile, "keyfile": keyfile}
            if client_ca:
                tls.update(client_cafile=client_ca, client_auth_required=True)
        self._http, self._http_thread = start_http_server(port, addr=host, registry=self.registry, **tls)
        return int(self._http.server_address[1])

    def stop_http(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._http_thread is not None:
            self._http_thread.join()
            self._http_thread = None


class EngineCollector:
    """What the engine holds, read at scrape time: articles, clusters, duplicates, index memory, evictions,
    and with a shared store what replication did."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self._engine.stats()
            index_bytes = self._engine.index_bytes()
            evictions = self._engine.evictions()
            replication = self._engine.replication()
        except NewsdedupError as error:  # a broken store: the scrape still answers, with the call metrics
            log.warning("metrics: cannot read the engine's counts: %s", error)
            return
        yield GaugeMetricFamily("newsdedup_articles", "Articles stored.", value=stats.article_count)
        yield GaugeMetricFamily("newsdedup_clusters", "Story clusters.", value=stats.cluster_count)
        yield GaugeMetricFamily(
            "newsdedup_multi_article_clusters",
            "Story clusters of two articles or more.",
            value=stats.multi_article_cluster_count,
        )
        duplicates = GaugeMetricFamily(
            "newsdedup_duplicates", "Stored articles judged duplicates, exact or near.", labels=("kind",)
        )
        duplicates.add_metric(("exact",), stats.exact_duplicate_count)
        duplicates.add_metric(("near",), stats.near_duplicate_count)
        yield duplicates
        yield GaugeMetricFamily(
            "newsdedup_index_memory_bytes", "Bytes held by the in-memory indexes.", value=index_bytes
        )
        evicted = CounterMetricFamily(
            "newsdedup_evictions",
            "Articles evicted since the server started: past --retention-days, or to make room under --max-articles.",
            labels=("cause",),
        )
        for cause, count in sorted(evictions.items()):
            evicted.add_metric((cause,), count)
        yield evicted
        if replication is not None:
            yield CounterMetricFamily(
                "newsdedup_shared_changesets_applied",
                "Writes of other replicas applied to this replica's copy since the server started.",
                value=replication["applied"],
            )
            yield CounterMetricFamily(
                "newsdedup_shared_write_conflicts",
                "Writes judged again since the server started, because another replica committed first.",
                value=replication["conflicts"],
            )
