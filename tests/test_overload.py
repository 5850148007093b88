"""Overload and deadlines: a bounded number of calls, writes never committed past their deadline, and a sweep."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from newsdedup.api.server import NewsdedupServer
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.errors import DeadlineExceeded, NotFound
from newsdedup.models import ArticleInput
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc


@contextmanager
def running(server: NewsdedupServer) -> Iterator[pb_grpc.DedupServiceStub]:
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield pb_grpc.DedupServiceStub(channel)
    finally:
        server.stop(grace=0)


@contextmanager
def engine_busy(engine: Engine) -> Iterator[None]:
    """Hold the engine's lock, as a long write would, until the block ends."""
    engine._lock.acquire()
    try:
        yield
    finally:
        engine._lock.release()


def test_a_write_whose_deadline_passes_is_not_committed(ecbplus) -> None:
    """An ingest that could only run after its deadline stores nothing and says DEADLINE_EXCEEDED."""
    engine = Engine(Settings(data_dir=""))
    try:
        with pytest.raises(DeadlineExceeded):
            engine.ingest(ArticleInput(id="late", body=ecbplus[0]["text"]), deadline=time.monotonic() - 1)
        with pytest.raises(NotFound):
            engine.get_article("late")
        assert engine.stats().article_count == 0
        engine.ingest(ArticleInput(id="on-time", body=ecbplus[0]["text"]), deadline=time.monotonic() + 30)
        engine.ingest(ArticleInput(id="late", body=ecbplus[1]["text"]))
        with pytest.raises(DeadlineExceeded):
            engine.delete_article("late", deadline=time.monotonic() - 1)
        assert engine.get_article("late").id == "late"
    finally:
        engine.close()


def test_a_call_that_waited_past_its_deadline_leaves_nothing_behind(ecbplus) -> None:
    """Over gRPC: an ingest queued behind a busy engine times out, and is not stored when the engine frees up."""
    settings = Settings(data_dir="", port=0)
    server = NewsdedupServer(settings)
    with running(server) as stub:
        article = pb.Article(id="queued", body=ecbplus[2]["text"])
        with engine_busy(server.engine):
            with pytest.raises(grpc.RpcError) as raised:
                stub.IngestArticle(pb.IngestArticleRequest(article=article), timeout=0.5)
            assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            time.sleep(0.2)
        wait_in_flight(server, 0)  # the handler got the lock, saw its deadline had passed, and rolled back
        with pytest.raises(grpc.RpcError) as missing:
            stub.GetArticle(pb.GetArticleRequest(article_id="queued"))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        assert stub.IngestArticle(pb.IngestArticleRequest(article=article), timeout=30).result.article_id == "queued"


def test_calls_beyond_max_concurrent_rpcs_are_refused_at_once(ecbplus) -> None:
    """With max_concurrent_rpcs 2, a third call while two wait gets RESOURCE_EXHAUSTED instead of queueing."""
    server = NewsdedupServer(Settings(data_dir="", port=0, max_concurrent_rpcs=2))
    with running(server) as stub:
        waiting: list[grpc.Future] = []
        with engine_busy(server.engine):
            for i in range(2):
                article = pb.Article(id=f"waiting-{i}", body=ecbplus[i]["text"])
                waiting.append(stub.IngestArticle.future(pb.IngestArticleRequest(article=article), timeout=30))
            wait_in_flight(server, 2)
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as raised:
                stub.GetStats(pb.GetStatsRequest(), timeout=10)
            assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert time.monotonic() - started < 5
        assert [future.result().result.article_id for future in waiting] == ["waiting-0", "waiting-1"]
        assert stub.GetStats(pb.GetStatsRequest()).article_count == 2


def wait_in_flight(server: NewsdedupServer, calls: int) -> None:
    """Until `calls` calls have reached their handlers (blocked on the busy engine), by the server's metrics."""
    deadline = time.monotonic() + 30
    while server.metrics.registry.get_sample_value("newsdedup_rpc_in_flight") != calls:
        assert time.monotonic() < deadline, f"{calls} calls did not reach their handlers within 30 s"
        time.sleep(0.01)


def test_the_server_sweeps_expired_articles_without_an_ingest(ecbplus) -> None:
    """A quiet server still evicts what passed --retention-days: a sweep runs every few seconds (here 0.2)."""
    clock = [datetime(2026, 6, 1, tzinfo=UTC)]
    settings = Settings(data_dir="", port=0, retention_days=7)
    engine = Engine(settings, clock=lambda: clock[0])
    server = NewsdedupServer(settings, engine, sweep_every=0.2)
    with running(server) as stub:
        for doc in ecbplus[:3]:
            stub.IngestArticle(pb.IngestArticleRequest(article=pb.Article(id=doc["doc_id"], body=doc["text"])))
        assert stub.GetStats(pb.GetStatsRequest()).article_count == 3
        clock[0] += timedelta(days=8)
        deadline = time.monotonic() + 10
        while stub.GetStats(pb.GetStatsRequest()).article_count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stub.GetStats(pb.GetStatsRequest()).article_count == 0
