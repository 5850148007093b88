"""Bounded storage: a retention window by published_at, and a capacity that evicts the oldest or refuses."""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from newsdedup.api.server import NewsdedupServer
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.errors import CapacityExhausted, NotFound
from newsdedup.models import ArticleInput
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc

from .articles import invented_words, story_text
from .test_api import error_info

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def engine_with(tmp_path: Path | None = None, **settings: object) -> Engine:
    data_dir = str(tmp_path) if tmp_path is not None else ""
    return Engine(Settings(data_dir=data_dir).replace(**settings), clock=lambda: NOW)


def article(doc: dict, days_old: float) -> ArticleInput:
    return ArticleInput(id=doc["doc_id"], body=doc["text"], published_at=NOW - timedelta(days=days_old))


def stored_ids(engine: Engine, docs: list[dict]) -> list[str]:
    found = []
    for doc in docs:
        with contextlib.suppress(NotFound):
            found.append(engine.get_article(doc["doc_id"]).id)
    return found


def assert_consistent(engine: Engine, docs: list[dict]) -> None:
    """Counts add up: stats, the articles that answer, and the clusters' members."""
    stored = stored_ids(engine, docs)
    assert engine.stats().article_count == len(stored)
    members = [
        m
        for c in {engine.get_article(i).cluster_id for i in stored}
        for m in engine.get_cluster(cluster_id=c).article_ids
    ]
    assert sorted(members) == sorted(stored)


def test_articles_past_the_retention_window_are_evicted_as_new_ones_arrive(ecbplus) -> None:
    """With retention_days 30, what was published over 30 days ago goes at the next ingest; the rest stays."""
    docs = ecbplus[:12]
    engine = engine_with(retention_days=30)
    try:
        ages = [45, 40, 35, 31, 29, 20, 10, 5, 1, 0.5, 0.1, 0]
        for doc, age in zip(docs[:-1], ages, strict=False):
            engine.ingest(article(doc, age))
        engine.ingest(article(docs[-1], 0))
        assert stored_ids(engine, docs) == [doc["doc_id"] for doc in docs[4:]]
        assert all(
            m.article_id not in {d["doc_id"] for d in docs[:4]}
            for m in engine.search_similar(article=article(docs[0], 0))
        )
        assert_consistent(engine, docs)
        assert engine.evict_expired() == 0
    finally:
        engine.close()


def test_a_sweep_evicts_expired_articles_without_an_ingest(ecbplus) -> None:
    """evict_expired (what a periodic sweep calls) evicts in bounded steps, oldest first."""
    clock = [NOW]
    engine = Engine(Settings(data_dir="", retention_days=7), clock=lambda: clock[0])
    try:
        engine.ingest_many([article(doc, 0) for doc in ecbplus[:5]])
        clock[0] = NOW + timedelta(days=8)
        assert engine.evict_expired(limit=3) == 3
        assert engine.evict_expired(limit=3) == 2
        assert engine.stats().article_count == 0 and engine.stats().cluster_count == 0
    finally:
        engine.close()


def test_a_full_store_evicts_the_oldest_published(ecbplus) -> None:
    """max_articles 5 with when_full=evict: each new article pushes out the oldest published one."""
    docs = ecbplus[:9]
    engine = engine_with(max_articles=5)
    try:
        for i, doc in enumerate(docs):
            engine.ingest(article(doc, days_old=len(docs) - i))
        assert stored_ids(engine, docs) == [doc["doc_id"] for doc in docs[-5:]]
        assert_consistent(engine, docs)
    finally:
        engine.close()


def test_a_full_store_set_to_refuse_refuses_new_articles_and_keeps_serving(ecbplus) -> None:
    """when_full=refuse: a new article is refused; a retry still answers, reads work, a deletion makes room."""
    docs = ecbplus[:6]
    engine = engine_with(max_articles=3, when_full="refuse")
    try:
        outcomes = engine.ingest_many([article(doc, 1) for doc in docs[:4]])
        assert [type(o).__name__ for o in outcomes] == ["ArticleResult"] * 3 + ["CapacityExhausted"]
        assert outcomes[3].reason == "STORE_FULL" and "max_articles" in outcomes[3].message
        with pytest.raises(CapacityExhausted):
            engine.ingest(article(docs[4], 1))
        assert engine.ingest(article(docs[0], 1)).already_ingested
        assert engine.search_similar(article_id=docs[0]["doc_id"]) is not None
        engine.delete_article(docs[1]["doc_id"])
        assert engine.ingest(article(docs[4], 1)).article_id == docs[4]["doc_id"]
        assert_consistent(engine, docs)
    finally:
        engine.close()


def test_the_capacity_holds_across_a_restart(tmp_path: Path, ecbplus) -> None:
    """The article count is read back at startup, so a restarted full store is still full."""
    engine = engine_with(tmp_path, max_articles=3, when_full="refuse")
    engine.ingest_many([article(doc, 1) for doc in ecbplus[:3]])
    engine.close()
    engine = engine_with(tmp_path, max_articles=3, when_full="refuse")
    try:
        with pytest.raises(CapacityExhausted):
            engine.ingest(article(ecbplus[3], 1))
    finally:
        engine.close()


def test_a_refused_article_is_resource_exhausted_over_grpc(ecbplus) -> None:
    """Over the wire the refusal is RESOURCE_EXHAUSTED with reason STORE_FULL; the batch reports it in place."""
    server = NewsdedupServer(Settings(data_dir="", port=0, max_articles=1, when_full="refuse"))
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = pb_grpc.DedupServiceStub(channel)
            first, second = (pb.Article(id=doc["doc_id"], body=doc["text"]) for doc in ecbplus[:2])
            stub.IngestArticle(pb.IngestArticleRequest(article=first))
            with pytest.raises(grpc.RpcError) as raised:
                stub.IngestArticle(pb.IngestArticleRequest(article=second))
            assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert error_info(raised.value).reason == "STORE_FULL"
            batch = stub.BatchIngestArticles(pb.BatchIngestArticlesRequest(articles=[first, second])).results
            assert batch[0].already_ingested and batch[1].error.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
            assert stub.GetStats(pb.GetStatsRequest()).article_count == 1
    finally:
        server.stop(grace=0)


def test_evicting_a_near_duplicate_candidate_in_the_same_write_is_harmless(ecbplus) -> None:
    """An article evicted to make room is still in the LSH until the commit; judging the newcomer must skip it."""
    source = max(ecbplus, key=lambda doc: len(doc["text"]))
    words = source["text"].split()
    engine = engine_with(max_articles=2)
    try:
        engine.ingest(article(source, days_old=5))
        engine.ingest(article(ecbplus[1], days_old=1))
        for copy in range(12):  # rewrites around the threshold, so the exact check runs against the evicted one
            rng = random.Random(copy)
            edited = " ".join(f"zq{rng.randrange(10**6)}" if rng.random() < 0.3 else w for w in words)
            result = engine.ingest(ArticleInput(id=f"rewrite-{copy}", body=edited, published_at=NOW))
            assert result.article_id == f"rewrite-{copy}"
        assert engine.stats().article_count == 2
    finally:
        engine.close()


def test_index_memory_follows_the_articles_held_not_those_streamed_through() -> None:
    """4,000 articles streamed through a capacity of 300 leave the indexes smaller than 1,000 articles held do:
    evicted articles give back their signatures, band entries, memberships, spans and centroids."""
    words = invented_words(1, 5_000)
    docs = [ArticleInput(id=f"a{i}", body=story_text(words, i)) for i in range(4_000)]
    streamed, held = engine_with(max_articles=300), engine_with()
    try:
        fixed = held.index_bytes()  # the term statistics, whatever the articles
        for start in range(0, 4_000, 100):
            streamed.ingest_many(docs[start : start + 100])
        held.ingest_many(docs[:1_000])
        assert streamed.stats().article_count == 300
        assert streamed.index_bytes() - fixed < held.index_bytes() - fixed
    finally:
        streamed.close()
        held.close()
