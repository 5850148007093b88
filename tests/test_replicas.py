"""Replicas sharing one state on Redis (issue 7): real `newsdedup serve` processes on a real redis-server.

Every replica keeps a full copy and catches up with the shared log before
answering any call, so what one replica acknowledged is seen by the next call
to any other: none of these tests waits for anything to propagate.
"""

from __future__ import annotations

import random
import secrets
import shutil
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.errors import StorageUnavailable
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc

from .articles import edited_copy
from .conftest import ServerProcess
from .redis_server import RedisServer
from .test_api import error_info

CALL_TIMEOUT = 60.0
# ECB+ texts this short may be judged low-content, which is never a duplicate either way.
MIN_WORDS = 40
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Replica:
    """One `newsdedup serve --store redis://...` process and a stub on a channel to it."""

    server: ServerProcess
    channel: grpc.Channel
    stub: pb_grpc.DedupServiceStub

    def ingest(self, article: pb.Article) -> pb.ArticleResult:
        request = pb.IngestArticleRequest(article=article)
        return self.stub.IngestArticle(request, timeout=CALL_TIMEOUT).result

    def ingest_batch(self, articles: list[pb.Article]) -> list[pb.ArticleResult]:
        request = pb.BatchIngestArticlesRequest(articles=articles)
        return list(self.stub.BatchIngestArticles(request, timeout=CALL_TIMEOUT).results)

    def article(self, article_id: str) -> pb.StoredArticle:
        request = pb.GetArticleRequest(article_id=article_id)
        return self.stub.GetArticle(request, timeout=CALL_TIMEOUT).article

    def cluster(self, *, article_id: str = "", cluster_id: str = "") -> pb.Cluster:
        request = (
            pb.GetClusterRequest(article_id=article_id) if article_id else pb.GetClusterRequest(cluster_id=cluster_id)
        )
        return self.stub.GetCluster(request, timeout=CALL_TIMEOUT).cluster

    def delete(self, article_id: str) -> None:
        self.stub.DeleteArticle(pb.DeleteArticleRequest(article_id=article_id), timeout=CALL_TIMEOUT)

    def stats(self) -> pb.GetStatsResponse:
        return self.stub.GetStats(pb.GetStatsRequest(), timeout=CALL_TIMEOUT)

    def clusters(self) -> list[pb.Cluster]:
        """Every cluster, through every page of ListClusters."""
        clusters: list[pb.Cluster] = []
        token = ""
        while True:
            request = pb.ListClustersRequest(page_size=1000, page_token=token)
            reply = self.stub.ListClusters(request, timeout=CALL_TIMEOUT)
            clusters += reply.clusters
            token = reply.next_page_token
            if not token:
                return clusters

    def health(self) -> int:
        request = health_pb2.HealthCheckRequest()
        return health_pb2_grpc.HealthStub(self.channel).Check(request, timeout=CALL_TIMEOUT).status

    @classmethod
    def connect(cls, server: ServerProcess) -> Replica:
        channel = grpc.insecure_channel(server.target)
        return cls(server, channel, pb_grpc.DedupServiceStub(channel))


@pytest.fixture
def replica(
    server_process: Callable[..., ServerProcess], redis_server: RedisServer, tmp_path: Path
) -> Iterator[Callable[..., Replica]]:
    """Start a replica on the test's Redis: `replica("a")` with its own data dir, `replica("", ...)` memory only.

    Further arguments are `newsdedup serve` flags. The channels are closed at
    the end; `server_process` stops the processes.
    """
    started: list[Replica] = []

    def start(name: str, *extra_args: str) -> Replica:
        data_dir = str(tmp_path / "replicas" / name) if name else ""
        started.append(Replica.connect(server_process(data_dir, "--store", redis_server.url, *extra_args)))
        return started[-1]

    yield start
    for replica in started:
        replica.channel.close()


def server_logs(*replicas: Replica) -> str:
    """The tails of the replicas' logs, for a failure message."""
    return "\n".join(f"--- {replica.server.target}:\n{replica.server.log()[-4000:]}" for replica in replicas)


def reconnect(replica: Replica) -> Replica:
    """A new channel to a replica restarted on another port."""
    replica.channel.close()
    replica.channel = grpc.insecure_channel(replica.server.target)
    replica.stub = pb_grpc.DedupServiceStub(replica.channel)
    return replica


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def long_docs(ecbplus: list[dict]) -> list[dict]:
    return [doc for doc in ecbplus if len(doc["text"].split()) >= MIN_WORDS]


def as_article(doc: dict, article_id: str = "", **fields: object) -> pb.Article:
    return pb.Article(id=article_id or doc["doc_id"], body=doc["text"], **fields)


def view(replica: Replica, article_id: str) -> tuple[int, str, str]:
    """What a replica says of a stored article: verdict, duplicate_of and cluster id."""
    stored = replica.article(article_id)
    return stored.verdict, stored.duplicate_of, stored.cluster_id


def assert_not_found(call: Callable[[], object], reason: str = "ARTICLE_NOT_FOUND") -> None:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND, raised.value.details()
    assert error_info(raised.value).reason == reason


def assert_gone(replica: Replica, article_ids: list[str]) -> None:
    for article_id in article_ids:
        assert_not_found(lambda: replica.article(article_id))  # noqa: B023 - called at once


# --- duplicates and stories across replicas


def test_a_copy_reaching_another_replica_is_a_duplicate_of_the_article_the_first_stored(replica, seeds) -> None:
    """Ingested through A, then its exact copy and an edited copy through B: exact, then near duplicate of it."""
    a, b = replica("a"), replica("b")
    original = a.ingest(pb.Article(id="original", body=seeds[0].body))
    assert original.verdict == pb.VERDICT_UNIQUE

    exact = b.ingest(pb.Article(id="copy", body=seeds[0].body))
    assert (exact.verdict, exact.duplicate_of) == (pb.VERDICT_EXACT_DUPLICATE, "original")
    title, body = edited_copy(seeds[0].body)
    near = b.ingest(pb.Article(id="edited", title=title, body=body))
    assert (near.verdict, near.duplicate_of) == (pb.VERDICT_NEAR_DUPLICATE, "original")
    assert near.cluster_id == exact.cluster_id == original.cluster_id

    from_a, from_b = a.cluster(article_id="edited"), b.cluster(article_id="original")
    assert from_a == from_b
    assert list(from_a.article_ids) == ["original", "copy", "edited"]
    for article_id in ("original", "copy", "edited"):
        assert view(a, article_id) == view(b, article_id)


def test_seeds_ingested_alternately_through_two_replicas_form_one_story_seen_alike(replica, seeds) -> None:
    """The five seed articles, through A and B in turn, land in one cluster; a delete through B is seen by A."""
    a, b = replica("a"), replica("b")
    results = [(a, b)[i % 2].ingest(pb.Article(id=seed.id, body=seed.body)) for i, seed in enumerate(seeds)]
    ids = [seed.id for seed in seeds]
    clusters = {a.article(article_id).cluster_id for article_id in ids}
    assert len(clusters) == 1, f"the seeds went to {len(clusters)} clusters: {[r.cluster_id for r in results]}"
    (cluster_id,) = clusters
    assert a.cluster(cluster_id=cluster_id) == b.cluster(cluster_id=cluster_id)
    assert sorted(a.cluster(cluster_id=cluster_id).article_ids) == sorted(ids)
    assert a.stats() == b.stats()

    b.delete(ids[0])
    assert_not_found(lambda: a.article(ids[0]))
    assert_not_found(lambda: a.delete(ids[0]))
    assert sorted(a.cluster(article_id=ids[1]).article_ids) == sorted(ids[1:])
    assert a.cluster(article_id=ids[1]) == b.cluster(article_id=ids[1])
    assert a.stats().article_count == b.stats().article_count == 4


def test_reingest_through_another_replica_is_idempotent_and_a_conflict_is_refused(replica, ecbplus) -> None:
    """Same id and text through the other replica: already_ingested; same id, other text: ALREADY_EXISTS."""
    a, b = replica("a"), replica("b")
    first, other = long_docs(ecbplus)[:2]
    stored = a.ingest(as_article(first))
    again = b.ingest(as_article(first))
    assert again.already_ingested and not stored.already_ingested
    assert (again.verdict, again.cluster_id) == (stored.verdict, stored.cluster_id)
    (in_batch,) = b.ingest_batch([as_article(first)])
    assert in_batch.already_ingested

    with pytest.raises(grpc.RpcError) as raised:
        b.ingest(as_article(other, article_id=first["doc_id"]))
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(raised.value).reason == "ARTICLE_ID_CONFLICT"
    (conflict,) = a.ingest_batch([as_article(other, article_id=first["doc_id"])])
    assert conflict.error.code == grpc.StatusCode.ALREADY_EXISTS.value[0]
    assert a.stats().article_count == b.stats().article_count == 1


# --- concurrent writers


WRITER_THREADS_PER_REPLICA = 2
CONCURRENT_DOCS = 160
COPIES = 30  # exact copies under new ids, sent by both replicas' writers


def test_concurrent_writers_on_two_replicas_end_in_one_consistent_state(replica, ecbplus) -> None:
    """Threads on both replicas ingest overlapping ECB+ articles (single and batched) at once; afterwards both
    replicas agree on every article and every cluster, and the clusters account for every article once."""
    a, b = replica("a"), replica("b")
    rng = random.Random(7)
    docs = rng.sample(long_docs(ecbplus), CONCURRENT_DOCS)  # several of each topic: stories merge under load
    articles = [as_article(doc) for doc in docs]
    articles += [as_article(doc, article_id=f"{doc['doc_id']}/copy") for doc in rng.sample(docs, COPIES)]
    answers: dict[str, list[pb.ArticleResult]] = defaultdict(list)
    failures: list[BaseException] = []
    lock = threading.Lock()

    def writer(target: Replica, n: int) -> None:
        """All the articles but every `writers`-th one, in an order of its own, singly and batched: every
        article goes through three writers, and through both replicas."""
        own = random.Random(n)
        mine = [article for i, article in enumerate(articles) if i % writers != n]
        own.shuffle(mine)
        try:
            while mine:
                size = own.choice((1, 1, 5, 12))
                chunk, mine = mine[:size], mine[size:]
                results = [target.ingest(chunk[0])] if size == 1 else target.ingest_batch(chunk)
                with lock:
                    for result in results:
                        assert not result.error.code, result.error.message
                        answers[result.article_id].append(result)
        except BaseException as error:  # reported below
            failures.append(error)

    targets = [a, b] * WRITER_THREADS_PER_REPLICA
    writers = len(targets)
    threads = [threading.Thread(target=writer, args=(target, n)) for n, target in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, f"{failures}\n{server_logs(a, b)}"

    ids = sorted(answers)
    assert ids == sorted(article.id for article in articles)
    for article_id in ids:
        stored = view(a, article_id)
        assert view(b, article_id) == stored, article_id
        # Each article was stored once, by one writer; the others were told it was already ingested.
        assert sum(not result.already_ingested for result in answers[article_id]) == 1, article_id
        assert {result.verdict for result in answers[article_id]} == {stored[0]}, article_id
    for article in articles:
        if article.id.endswith("/copy"):
            copy, original = view(a, article.id), view(a, article.id.removesuffix("/copy"))
            # One of the two was stored first, whichever replica took it: the other is its exact duplicate.
            pair = {(copy[0], copy[1]), (original[0], original[1])}
            assert (pb.VERDICT_EXACT_DUPLICATE, article.id) in pair or (
                pb.VERDICT_EXACT_DUPLICATE,
                article.id.removesuffix("/copy"),
            ) in pair, (article.id, pair)

    stats_a, stats_b = a.stats(), b.stats()
    assert stats_a == stats_b
    assert stats_a.article_count == len(ids)
    clusters_a, clusters_b = a.clusters(), b.clusters()
    assert sorted(clusters_a, key=lambda c: c.cluster_id) == sorted(clusters_b, key=lambda c: c.cluster_id)
    assert sum(cluster.size for cluster in clusters_a) == len(ids)
    members = sorted(member for cluster in clusters_a for member in cluster.article_ids)
    assert members == ids
    assert len(clusters_a) == stats_a.cluster_count
    for article_id in ids:
        assert article_id in a.cluster(cluster_id=view(a, article_id)[2]).article_ids


# --- Redis restarted under the service


def test_calls_fail_unavailable_while_redis_is_down_and_succeed_again_once_it_is_back(
    replica, redis_server: RedisServer, ecbplus
) -> None:
    """Redis stopped: calls get UNAVAILABLE (STORAGE_UNAVAILABLE) and health still answers; Redis started
    again on its data: the same replicas serve again without a restart, with nothing lost."""
    a, b = replica("a"), replica("b")
    docs = long_docs(ecbplus)[:4]
    before = a.ingest_batch([as_article(doc) for doc in docs[:2]])

    redis_server.stop()
    for call in (
        lambda: a.ingest(as_article(docs[2])),
        lambda: b.ingest_batch([as_article(docs[2])]),
        lambda: a.article(docs[0]["doc_id"]),
        lambda: b.delete(docs[0]["doc_id"]),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            call()
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE, raised.value.details()
        assert error_info(raised.value).reason == "STORAGE_UNAVAILABLE"
    assert a.health() == b.health() == health_pb2.HealthCheckResponse.SERVING
    assert a.server.process is not None and a.server.process.poll() is None

    redis_server.start()
    for result in before:
        expected = (result.verdict, result.duplicate_of, result.cluster_id)
        assert view(a, result.article_id) == view(b, result.article_id) == expected
    stored = a.ingest(as_article(docs[2]))
    assert not stored.already_ingested  # the call refused while Redis was down stored nothing
    assert b.ingest(as_article(docs[2])).already_ingested
    b.ingest(as_article(docs[3]))
    assert view(a, docs[3]["doc_id"]) == view(b, docs[3]["doc_id"])
    assert a.stats().article_count == b.stats().article_count == 4


# --- replicas joining late, and restarted


def test_a_replica_started_later_copies_the_state_and_a_restarted_one_catches_up(replica, seeds, ecbplus) -> None:
    """A new replica (empty data dir, or memory only) answers as the others do; a replica restarted on its
    data dir sees what was written while it was down."""
    a, b = replica("a"), replica("b")
    for i, seed in enumerate(seeds):
        (a, b)[i % 2].ingest(pb.Article(id=seed.id, body=seed.body))
    docs = long_docs(ecbplus)[:20]
    a.ingest_batch([as_article(doc) for doc in docs[:10]])
    b.ingest(as_article(docs[0], article_id="copy"))
    ids = [seed.id for seed in seeds] + [doc["doc_id"] for doc in docs[:10]] + ["copy"]

    c, memory_only = replica("c"), replica("")
    for article_id in ids:
        expected = a.article(article_id)
        cluster = a.cluster(article_id=article_id)
        for late in (c, memory_only):
            assert late.article(article_id) == expected, article_id
            assert late.cluster(article_id=article_id) == cluster, article_id
    assert c.stats() == a.stats() == memory_only.stats()

    assert b.server.stop() == 0
    written = c.ingest_batch([as_article(doc) for doc in docs[10:]])
    a.delete("copy")
    b.server.start()
    reconnect(b)
    # From its own copy's position in the log (replica.py logs which way it joined), not by copying anew.
    assert "catching up from" in b.server.log(), server_logs(b)
    for result in written:
        assert view(b, result.article_id) == view(a, result.article_id)
    assert_not_found(lambda: b.article("copy"))
    assert b.stats() == a.stats() == c.stats()
    assert b.clusters() == a.clusters()


# --- bounded storage


MAX_ARTICLES = 5


def test_capacity_eviction_through_one_replica_is_seen_by_the_others(replica, ecbplus) -> None:
    """With --max-articles, ingesting beyond it through A evicts the oldest published, and B no longer finds them."""
    a, b = replica("a", "--max-articles", str(MAX_ARTICLES)), replica("b", "--max-articles", str(MAX_ARTICLES))
    docs = long_docs(ecbplus)[:9]
    published = [NOW - timedelta(hours=len(docs) - i) for i in range(len(docs))]  # docs[0] oldest
    articles = [as_article(doc, published_at=timestamp(moment)) for doc, moment in zip(docs, published, strict=True)]
    for article in articles[:7]:
        a.ingest(article)
    assert_gone(b, [article.id for article in articles[:2]])
    assert [b.article(article.id).id for article in articles[2:7]] == [article.id for article in articles[2:7]]
    assert a.stats().article_count == b.stats().article_count == MAX_ARTICLES

    for article in articles[7:]:  # now through B: A sees its evictions too
        b.ingest(article)
    assert_gone(a, [article.id for article in articles[:4]])
    assert a.stats() == b.stats()
    assert a.stats().article_count == MAX_ARTICLES
    assert sum(cluster.size for cluster in a.clusters()) == MAX_ARTICLES


def test_retention_eviction_through_one_replica_is_seen_by_the_others(replica, ecbplus) -> None:
    """With --retention-days, an article past the window is evicted by the next write, on whichever replica."""
    a, b = replica("a", "--retention-days", "30"), replica("b", "--retention-days", "30")
    old, recent, new = long_docs(ecbplus)[:3]
    # An article published before the window is stored, and goes at the next write (which evicts first).
    a.ingest(as_article(old, published_at=timestamp(NOW - timedelta(days=40))))
    assert b.article(old["doc_id"]).id == old["doc_id"]
    a.ingest(as_article(recent, published_at=timestamp(NOW - timedelta(days=1))))
    assert_not_found(lambda: b.article(old["doc_id"]))
    a.ingest(as_article(old, article_id="old-again", published_at=timestamp(NOW - timedelta(days=40))))
    b.ingest(as_article(new, published_at=timestamp(NOW)))
    assert_not_found(lambda: a.article("old-again"))
    assert a.stats() == b.stats()
    assert a.stats().article_count == 2


def test_replicas_ahead_of_a_rolled_back_redis_notice_and_take_writes_again(
    replica, redis_server: RedisServer, ecbplus, tmp_path: Path
) -> None:
    """Redis restored from an older append-only file (a backup; or a failover that lost the last writes): the
    replicas that had the lost writes notice, copy Redis's state, and take writes again (README, Sentinel)."""
    a, b = replica("a"), replica("b")
    docs = long_docs(ecbplus)[:4]
    a.ingest(as_article(docs[0]))
    redis_server.stop()
    backup = tmp_path / "redis-backup"
    shutil.copytree(redis_server.directory, backup)
    redis_server.start()
    a.ingest(as_article(docs[1]))
    assert b.article(docs[1]["doc_id"]).id == docs[1]["doc_id"]  # both replicas are past the backup
    redis_server.stop()
    shutil.rmtree(redis_server.directory)
    shutil.copytree(backup, redis_server.directory)
    redis_server.start()

    assert not a.ingest(as_article(docs[2])).already_ingested
    assert not b.ingest(as_article(docs[3])).already_ingested
    assert_gone(a, [docs[1]["doc_id"]])
    assert_gone(b, [docs[1]["doc_id"]])
    assert a.stats() == b.stats()
    assert a.stats().article_count == 3


# --- a Redis that asks for a password


def test_replicas_on_a_redis_with_a_password_share_one_state_and_never_show_it(
    server_process: Callable[..., ServerProcess], ecbplus, tmp_path: Path
) -> None:
    """Redis with requirepass, the password in the --store URL: the replicas share one state, and the password
    is in no log line and in no error a client gets, not even while Redis is down (the URL shows `:***@`);
    a wrong password is refused at startup, without showing it either."""
    password = "pw-" + secrets.token_hex(8)
    redis_server = RedisServer(tmp_path / "redis-auth", appendfsync="always", password=password).start()
    replicas: list[Replica] = []
    try:
        for name in ("a", "b"):
            replicas.append(Replica.connect(server_process(str(tmp_path / name), "--store", redis_server.url)))
        a, b = replicas
        doc = long_docs(ecbplus)[0]
        a.ingest(as_article(doc))
        copy = b.ingest(as_article(doc, "copy"))
        assert (copy.verdict, copy.duplicate_of) == (pb.VERDICT_EXACT_DUPLICATE, doc["doc_id"])
        with pytest.raises(StorageUnavailable) as refused:  # a replica given the wrong password does not start
            Engine(Settings(data_dir="", store=redis_server.url.replace(password, "wrong-password")))
        assert "redis://:***@" in str(refused.value) and "wrong-password" not in str(refused.value)
        redis_server.stop()
        with pytest.raises(grpc.RpcError) as raised:
            b.ingest(as_article(long_docs(ecbplus)[1]))
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        assert f"redis://:***@127.0.0.1:{redis_server.port}/0" in (raised.value.details() or "")
        assert ":***@" in server_logs(a, b)
        for shown in (raised.value.details() or "", server_logs(a, b)):
            assert password not in shown
    finally:
        for replica in replicas:
            replica.channel.close()
        redis_server.stop()
