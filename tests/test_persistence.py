"""Durability: a restart answers exactly as before; stores from other parameters or damaged files are refused."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import grpc
import pytest
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.errors import IncompatibleData, StorageUnavailable
from newsdedup.models import ArticleInput
from newsdedup.store import DATABASE_FILE
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc

from .articles import edited_copy, invented_words, story_text


def build_history(engine: Engine, seeds, ecbplus) -> list[ArticleInput]:
    """Ingest a stream with copies, rewrites, a merge and a deletion; return probes to check afterwards."""
    for doc in ecbplus[:60]:
        engine.ingest(ArticleInput(id=doc["doc_id"], body=doc["text"]))
    for seed in seeds:
        engine.ingest(ArticleInput(id=seed.id, body=seed.body, source="seed"))
    engine.ingest(ArticleInput(id="copy", body=seeds[0].body))
    title, body = edited_copy(seeds[1].body)
    engine.ingest(ArticleInput(id="rewrite", title=title, body=body))
    alpha, beta = invented_words(1, 20), invented_words(2, 20)
    engine.ingest(ArticleInput(id="alpha", body=story_text(alpha, 1)))
    engine.ingest(ArticleInput(id="beta", body=story_text(beta, 2)))
    engine.ingest(ArticleInput(id="bridge", body=story_text(alpha + beta, 3, length=240)))
    engine.delete_article(seeds[0].id)
    return [
        ArticleInput(id="", body=seeds[0].body),
        ArticleInput(id="", title=title, body=body),
        ArticleInput(id="", body=ecbplus[100]["text"]),
        ArticleInput(id="", body=story_text(beta, 9)),
    ]


def answers(engine: Engine, ids: list[str], probes: list[ArticleInput]) -> dict:
    """Everything the engine says about its articles, clusters and some probes."""
    clusters, token = [], ""
    while True:
        page = engine.list_clusters(page_size=7, page_token=token)
        clusters += page.clusters
        token = page.next_page_token
        if not token:
            break
    return {
        "articles": [engine.get_article(i) for i in ids],
        "clusters": clusters,
        "stats": engine.stats(),
        "checks": [engine.check(p) for p in probes],
        "searches": [engine.search_similar(article_id=i, max_results=20) for i in ids[-12:]],
        "merged": engine.get_cluster(cluster_id=engine.get_article("beta").cluster_id),
    }


def test_restart_answers_exactly_as_before(tmp_path: Path, seeds, ecbplus) -> None:
    """Close and reopen a data directory: every article, cluster, count, check and search is the same."""
    settings = Settings(data_dir=str(tmp_path / "data"))
    engine = Engine(settings)
    probes = build_history(engine, seeds, ecbplus)
    ids = (
        [doc["doc_id"] for doc in ecbplus[:60]]
        + [s.id for s in seeds[1:]]
        + ["copy", "rewrite", "alpha", "beta", "bridge"]
    )
    before = answers(engine, ids, probes)
    engine.close()
    reopened = Engine(settings)
    after = answers(reopened, ids, probes)
    reopened.close()
    assert after == before
    assert before["stats"].article_count == len(ids)


def test_store_written_with_other_parameters_is_refused(tmp_path: Path, seeds) -> None:
    """Signatures made with another num_perm cannot be compared: the server refuses and says how to recover."""
    engine = Engine(Settings(data_dir=str(tmp_path)))
    engine.ingest(ArticleInput(id="a", body=seeds[0].body))
    engine.close()
    with pytest.raises(IncompatibleData) as raised:
        Engine(Settings(data_dir=str(tmp_path), num_perm=64))
    message = raised.value.message
    assert '"num_perm": 128' in message and '"num_perm": 64' in message
    assert "ingest the articles again" in message
    reopened = Engine(Settings(data_dir=str(tmp_path)))
    assert reopened.get_article("a").id == "a", "the refused start must not have damaged the store"
    reopened.close()


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / DATABASE_FILE).write_bytes(b"this is not an SQLite database at all" * 100)
    with pytest.raises(IncompatibleData, match="not a usable newsdedup store"):
        Engine(Settings(data_dir=str(tmp_path)))


def test_memory_only_mode_writes_no_files(tmp_path: Path, monkeypatch, seeds) -> None:
    monkeypatch.chdir(tmp_path)
    engine = Engine(Settings(data_dir=""))
    engine.ingest(ArticleInput(id="a", body=seeds[0].body))
    engine.close()
    assert list(tmp_path.iterdir()) == []


def stub_for(server) -> tuple[grpc.Channel, pb_grpc.DedupServiceStub]:
    channel = grpc.insecure_channel(server.target)
    return channel, pb_grpc.DedupServiceStub(channel)


def test_server_restart_keeps_everything(server_process, tmp_path: Path, seeds) -> None:
    """SIGTERM exits 0; the restarted server returns the same articles, clusters and verdicts."""
    data = tmp_path / "data"
    server = server_process(data)
    channel, stub = stub_for(server)
    articles = [pb.Article(id=s.id, body=s.body) for s in seeds] + [pb.Article(id="copy", body=seeds[2].body)]
    results = stub.BatchIngestArticles(pb.BatchIngestArticlesRequest(articles=articles)).results
    before = [stub.GetArticle(pb.GetArticleRequest(article_id=a.id)).article for a in articles]
    clusters_before = stub.ListClusters(pb.ListClustersRequest()).clusters
    channel.close()
    assert server.stop() == 0
    assert "shutting down" in server.log()

    restarted = server_process(data)
    channel, stub = stub_for(restarted)
    after = [stub.GetArticle(pb.GetArticleRequest(article_id=a.id)).article for a in articles]
    assert after == before
    assert stub.ListClusters(pb.ListClustersRequest()).clusters == clusters_before
    assert results[-1].duplicate_of == seeds[2].id
    check = stub.CheckArticle(pb.CheckArticleRequest(article=pb.Article(body=seeds[2].body))).result
    assert (check.verdict, check.duplicate_of) == (pb.VERDICT_EXACT_DUPLICATE, seeds[2].id)
    channel.close()


def serving_the_seeds(server_process, data: Path, seeds):
    """A server on `data` that has ingested the five seed articles one by one: (server, channel, stub)."""
    server = server_process(data)
    channel, stub = stub_for(server)
    for seed in seeds:
        stub.IngestArticle(pb.IngestArticleRequest(article=pb.Article(id=seed.id, body=seed.body)))
    return server, channel, stub


def test_acknowledged_articles_survive_kill_9(server_process, tmp_path: Path, seeds) -> None:
    """An article whose ingest returned is on disk: SIGKILL right after does not lose it."""
    data = tmp_path / "data"
    server, channel, stub = serving_the_seeds(server_process, data, seeds)
    cluster = stub.GetCluster(pb.GetClusterRequest(article_id=seeds[0].id)).cluster
    channel.close()
    server.kill()

    restarted = server_process(data)
    channel, stub = stub_for(restarted)
    assert stub.GetStats(pb.GetStatsRequest()).article_count == len(seeds)
    assert stub.GetCluster(pb.GetClusterRequest(article_id=seeds[0].id)).cluster == cluster
    for seed in seeds:
        found = stub.SearchSimilarArticles(pb.SearchSimilarArticlesRequest(article=pb.Article(body=seed.body))).matches
        assert (found[0].article_id, found[0].similarity) == (seed.id, 1.0), "the index answers for it"
    channel.close()


def test_acknowledged_deletions_survive_kill_9(server_process, tmp_path: Path, seeds) -> None:
    """A DeleteArticle that returned is on disk: after SIGKILL the article stays gone, its cluster shrunk."""
    data = tmp_path / "data"
    server, channel, stub = serving_the_seeds(server_process, data, seeds)
    for seed in seeds[:2]:
        stub.DeleteArticle(pb.DeleteArticleRequest(article_id=seed.id))
    channel.close()
    server.kill()

    restarted = server_process(data)
    channel, stub = stub_for(restarted)
    assert stub.GetStats(pb.GetStatsRequest()).article_count == len(seeds) - 2
    for seed in seeds[:2]:
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetArticle(pb.GetArticleRequest(article_id=seed.id))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        found = stub.SearchSimilarArticles(pb.SearchSimilarArticlesRequest(article=pb.Article(body=seed.body))).matches
        assert all(match.article_id != seed.id for match in found), "the index no longer answers for it"
    cluster = stub.GetCluster(pb.GetClusterRequest(article_id=seeds[2].id)).cluster
    assert sorted(cluster.article_ids) == sorted(seed.id for seed in seeds[2:])
    channel.close()


def test_server_refuses_a_store_from_other_parameters(server_process, tmp_path: Path, seeds) -> None:
    """The server exits non-zero with a message naming the parameters instead of serving wrong answers."""
    data = tmp_path / "data"
    engine = Engine(Settings(data_dir=str(data)))
    engine.ingest(ArticleInput(id="a", body=seeds[0].body))
    engine.close()
    with pytest.raises(AssertionError, match="exited with 2") as raised:
        server_process(data, "--shingle-size", "5")
    assert "shingle_size" in str(raised.value)
    assert sqlite3.connect(data / DATABASE_FILE).execute("SELECT count(*) FROM articles").fetchone() == (1,)


def test_a_data_directory_serves_one_server_at_a_time(tmp_path: Path) -> None:
    """A second engine on a data directory in use is refused, naming the directory and the holder; two would
    each index one file and miss each other's writes. Once the first closes, the directory is free again."""
    data = str(tmp_path / "data")
    first = Engine(Settings(data_dir=data))
    with pytest.raises(StorageUnavailable) as refused:
        Engine(Settings(data_dir=data))
    assert refused.value.reason == "DATA_DIR_IN_USE"
    assert data in refused.value.message and f"pid {os.getpid()}" in refused.value.message
    first.close()
    Engine(Settings(data_dir=data)).close()


def test_a_second_server_on_a_data_directory_in_use_exits_saying_why(server_process, tmp_path: Path) -> None:
    """`newsdedup serve` on a data directory another server holds exits non-zero, and the first keeps serving;
    a server killed with SIGKILL leaves the directory free (the kernel drops its lock)."""
    first = server_process(tmp_path / "data")
    with pytest.raises(AssertionError, match="exited with") as raised:
        server_process(tmp_path / "data")
    assert "is using the data directory" in str(raised.value)
    with grpc.insecure_channel(first.target) as channel:
        assert pb_grpc.DedupServiceStub(channel).GetStats(pb.GetStatsRequest(), timeout=10).article_count == 0
    first.kill()
    again = server_process(tmp_path / "data")
    assert again.stop() == 0
