"""Concurrency: writers ingest and delete overlapping ids while readers search; afterwards nothing is corrupt.

The engine holds one lock around the store and the in-memory indexes because
neither an LSH band table nor a SQLite connection survives concurrent
mutation. These tests hammer a server with colliding writes and reads for a
bounded time, then check through the API alone that the store and indexes
still agree: counts add up, every stored article is indexed and finds itself,
no deleted article is found, no cluster lists a stale or doubled member, every
duplicate points at a stored original, and a restart answers as before.
A race that leaves an article half-indexed shows up either as an unexpected
status during the run (INTERNAL from a missing signature or row) or as a
broken invariant afterwards; both fail the test with examples.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from newsdedup.api.server import NewsdedupServer
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc

from .conftest import ServerProcess
from .programs import load_benchmark

SOAK = load_benchmark("soak")  # its invariant checks over the API are this test's too

POOL_SIZE = 150  # few enough ids that writers keep colliding on them
WRITERS = 4
READERS = 4
RPC_TIMEOUT = 30.0  # a deadlock fails the test instead of hanging it
SEARCH_LIMIT = 1000  # the most a search returns: every exact and near copy is listed
# Appended to a stored text, it makes a query that only the near-duplicate LSH can answer:
# the content hash differs, the shingles barely do.
NEAR_PROBE = " Quorvellan"
# A stored variant of an article's own text (a corrected version), another text under the same id.
CORRECTION = "\nThis article has been corrected to fix the spelling of a name."

OK = grpc.StatusCode.OK
NOT_FOUND = grpc.StatusCode.NOT_FOUND
ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS
# What each call may answer while others write: anything else (INTERNAL, UNKNOWN, UNAVAILABLE,
# DEADLINE_EXCEEDED...) means the server broke under contention.
ALLOWED: dict[str, frozenset[grpc.StatusCode]] = {
    "IngestArticle": frozenset({OK, ALREADY_EXISTS}),
    "BatchIngestArticles": frozenset({OK}),
    "StreamIngestArticles": frozenset({OK}),
    "ingested item": frozenset({OK, ALREADY_EXISTS}),  # a batch or stream result's own status
    "DeleteArticle": frozenset({OK, NOT_FOUND}),
    "SearchSimilarArticles": frozenset({OK, NOT_FOUND}),
    "GetArticle": frozenset({OK, NOT_FOUND}),
    "GetCluster": frozenset({OK, NOT_FOUND}),
    "ListClusters": frozenset({OK}),
    "CheckArticle": frozenset({OK, ALREADY_EXISTS}),
    "GetStats": frozenset({OK}),
}
STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
DUPLICATES = (pb.VERDICT_EXACT_DUPLICATE, pb.VERDICT_NEAR_DUPLICATE)


@dataclass(frozen=True)
class Pool:
    """The ids writers fight over; each id has a few texts: its own, a copy of another's, a corrected one.

    Writers mostly send an id's own text (a retry: already_ingested) and
    sometimes another (ALREADY_EXISTS while the id is stored, stored once it
    was deleted), so an id's stored text is always one of `texts[id]`.
    """

    ids: list[str]
    texts: dict[str, tuple[str, str, str]]

    @classmethod
    def from_ecbplus(cls, ecbplus: list[dict], size: int = POOL_SIZE) -> Pool:
        docs = ecbplus[:size]  # consecutive ECB+ topics: real stories that cluster and merge
        rng = random.Random(5)
        texts = {}
        for doc in docs:
            other = rng.choice([d for d in docs if d is not doc])
            texts[doc["doc_id"]] = (doc["text"], other["text"], doc["text"] + CORRECTION)
        return cls([doc["doc_id"] for doc in docs], texts)

    def article(self, rng: random.Random, article_id: str) -> pb.Article:
        own, *others = self.texts[article_id]
        return pb.Article(id=article_id, body=own if rng.random() < 0.8 else rng.choice(others))


@dataclass
class Tally:
    """What one client saw: how each call ended, and every outcome that should not happen."""

    codes: Counter[tuple[str, str]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def outcome(self, method: str, code: grpc.StatusCode, detail: str = "") -> None:
        self.codes[method, code.name] += 1
        if code not in ALLOWED[method]:
            self.failures.append(f"{method} -> {code.name}: {detail}")

    def call(self, stub: pb_grpc.DedupServiceStub, method: str, request):
        """The response, or None after an error status (recorded, and a failure unless allowed)."""
        try:
            response = getattr(stub, method)(request, timeout=RPC_TIMEOUT)
        except grpc.RpcError as error:
            self.outcome(method, error.code(), f"{error.details()} (request: {str(request)[:120]!r})")
            return None
        self.outcome(method, OK)
        return response

    def check(self, holds: bool, message: str) -> None:
        if not holds:
            self.failures.append(message)

    def ingested(self, result: pb.ArticleResult, article_id: str) -> None:
        """An ingest result, whole: its own status allowed, and if stored, a cluster and a consistent verdict."""
        code = STATUS_BY_NUMBER.get(result.error.code, grpc.StatusCode.UNKNOWN)
        self.outcome("ingested item", code, result.error.message)
        self.check(result.article_id == article_id, f"result for {article_id!r} names {result.article_id!r}")
        if code != OK:
            return
        self.check(
            bool(result.cluster_id) and result.cluster_size >= 1,
            f"{article_id} ingested without a cluster: {result.cluster_id!r} of size {result.cluster_size}",
        )
        if result.verdict in DUPLICATES:
            self.check(
                result.duplicate_of not in ("", article_id), f"{article_id} is a duplicate of {result.duplicate_of!r}"
            )

    def cluster(self, cluster: pb.Cluster) -> None:
        self.check(
            cluster.size == len(cluster.article_ids) == len(set(cluster.article_ids)) > 0,
            f"cluster {cluster.cluster_id} has size {cluster.size} but members {list(cluster.article_ids)}",
        )

    def matches(self, matches, query_id: str = "") -> None:
        for match in matches:
            self.check(0.0 <= match.similarity <= 1.0, f"similarity {match.similarity} of {match.article_id}")
            self.check(match.article_id != query_id or not query_id, f"a search for {query_id} returned itself")


# --- the load


def write(target: str, pool: Pool, seed: int, until: float) -> Tally:
    """Ingest (one, a batch, a stream) and delete random ids of the pool until `until`."""
    rng, tally = random.Random(seed), Tally()
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        while time.monotonic() < until:
            roll = rng.random()
            if roll < 0.4:
                article = pool.article(rng, rng.choice(pool.ids))
                response = tally.call(stub, "IngestArticle", pb.IngestArticleRequest(article=article))
                if response is not None:
                    tally.ingested(response.result, article.id)
            elif roll < 0.6:
                articles = [pool.article(rng, article_id) for article_id in rng.choices(pool.ids, k=rng.randint(2, 8))]
                request = pb.BatchIngestArticlesRequest(articles=articles)
                response = tally.call(stub, "BatchIngestArticles", request)
                if response is not None:
                    tally.check(len(response.results) == len(articles), "a batch result is missing")
                    for article, result in zip(articles, response.results, strict=False):
                        tally.ingested(result, article.id)
            elif roll < 0.65:
                articles = [pool.article(rng, article_id) for article_id in rng.choices(pool.ids, k=rng.randint(2, 5))]
                requests = [pb.StreamIngestArticlesRequest(article=article) for article in articles]
                try:
                    responses = list(stub.StreamIngestArticles(iter(requests), timeout=RPC_TIMEOUT))
                except grpc.RpcError as error:
                    tally.outcome("StreamIngestArticles", error.code(), error.details())
                    continue
                tally.outcome("StreamIngestArticles", OK)
                tally.check(len(responses) == len(articles), "a stream result is missing")
                for article, response in zip(articles, responses, strict=False):
                    tally.ingested(response.result, article.id)
            else:
                tally.call(stub, "DeleteArticle", pb.DeleteArticleRequest(article_id=rng.choice(pool.ids)))
    return tally


def read(target: str, pool: Pool, seed: int, until: float) -> Tally:
    """Search, check, look up and list while the writers write; each answer must be consistent in itself."""
    rng, tally = random.Random(seed), Tally()
    cluster_ids: list[str] = []
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        while time.monotonic() < until:
            article_id = rng.choice(pool.ids)
            roll = rng.random()
            if roll < 0.25:
                request = pb.SearchSimilarArticlesRequest(article_id=article_id, max_results=rng.choice([5, 50]))
                response = tally.call(stub, "SearchSimilarArticles", request)
                if response is not None:
                    tally.matches(response.matches, article_id)
            elif roll < 0.45:
                article = pb.Article(body=pool.article(rng, article_id).body)
                request = pb.SearchSimilarArticlesRequest(article=article, max_results=rng.choice([5, 50]))
                response = tally.call(stub, "SearchSimilarArticles", request)
                if response is not None:
                    tally.matches(response.matches)
            elif roll < 0.6:
                # With the id: the stored article's standing, or ALREADY_EXISTS for another text.
                article = pool.article(rng, article_id)
                if rng.random() < 0.5:
                    article = pb.Article(body=article.body)
                response = tally.call(stub, "CheckArticle", pb.CheckArticleRequest(article=article))
                if response is not None:
                    tally.matches(response.result.matches, article.id)
            elif roll < 0.7:
                response = tally.call(stub, "GetArticle", pb.GetArticleRequest(article_id=article_id))
                if response is not None:
                    tally.check(response.article.id == article_id, f"GetArticle({article_id}) answered another")
                    cluster_ids.append(response.article.cluster_id)
            elif roll < 0.85:
                if cluster_ids and rng.random() < 0.5:
                    request = pb.GetClusterRequest(cluster_id=rng.choice(cluster_ids[-50:]))
                else:
                    request = pb.GetClusterRequest(article_id=article_id)
                response = tally.call(stub, "GetCluster", request)
                if response is not None:
                    tally.cluster(response.cluster)
                    tally.check(
                        request.WhichOneof("selector") != "article_id" or article_id in response.cluster.article_ids,
                        f"the cluster of {article_id} does not list it: {list(response.cluster.article_ids)}",
                    )
            elif roll < 0.95:
                token = ""
                for _ in range(3):  # a few pages, turned while the clusters change
                    request = pb.ListClustersRequest(page_size=20, page_token=token)
                    response = tally.call(stub, "ListClusters", request)
                    if response is None:
                        break
                    for cluster in response.clusters:
                        tally.cluster(cluster)
                        cluster_ids.append(cluster.cluster_id)
                    token = response.next_page_token
                    if not token:
                        break
            else:
                tally.call(stub, "GetStats", pb.GetStatsRequest())
    return tally


def hammer(target: str, pool: Pool, seconds: float, seed: int = 0) -> Tally:
    """WRITERS writers and READERS readers for `seconds`; every unexpected status fails the test with examples."""
    until = time.monotonic() + seconds
    with ThreadPoolExecutor(WRITERS + READERS) as threads:
        writers = [threads.submit(write, target, pool, seed * 100 + i, until) for i in range(WRITERS)]
        readers = [threads.submit(read, target, pool, seed * 100 + 50 + i, until) for i in range(READERS)]
        tallies = [future.result() for future in writers + readers]
    total = Tally()
    for tally in tallies:
        total.codes.update(tally.codes)
        total.failures += tally.failures
    return total


# --- the invariants afterwards


@dataclass
class Snapshot:
    """What the API says once the writers have stopped."""

    articles: dict[str, pb.StoredArticle]
    clusters: list[pb.Cluster]
    stats: pb.GetStatsResponse


def stored_text(tally: Tally, stub: pb_grpc.DedupServiceStub, pool: Pool, article_id: str) -> str | None:
    """Which of its texts an id is stored with: the one CheckArticle with that id does not call a conflict.

    None if every text conflicts or a check fails otherwise (the tally holds the failure).
    """
    for body in pool.texts[article_id]:
        request = pb.CheckArticleRequest(article=pb.Article(id=article_id, body=body))
        try:
            stub.CheckArticle(request, timeout=RPC_TIMEOUT)
        except grpc.RpcError as error:
            tally.outcome("CheckArticle", error.code(), f"{error.details()} (checking the text of {article_id})")
            if error.code() == ALREADY_EXISTS:
                continue
            return None
        tally.outcome("CheckArticle", OK)
        return body
    tally.failures.append(f"{article_id} is stored with a text none of its writers sent")
    return None


def search(tally: Tally, stub: pb_grpc.DedupServiceStub, **query) -> list[pb.Match]:
    response = tally.call(
        stub, "SearchSimilarArticles", pb.SearchSimilarArticlesRequest(max_results=SEARCH_LIMIT, **query)
    )
    return list(response.matches) if response is not None else []


def found_as(matches: list[pb.Match]) -> list[str]:
    return [f"{m.article_id} ({pb.Relation.Name(m.relation)} {m.similarity:.2f})" for m in matches[:5]]


def check_invariants(stub: pb_grpc.DedupServiceStub, pool: Pool) -> tuple[Snapshot, list[str]]:
    """Probe the whole pool, every cluster and every stored article; returns what was seen and what is wrong."""
    tally = Tally()
    problems = tally.failures  # an unexpected status here is a problem too
    stats = tally.call(stub, "GetStats", pb.GetStatsRequest())
    articles = {}
    for article_id in pool.ids:
        response = tally.call(stub, "GetArticle", pb.GetArticleRequest(article_id=article_id))
        if response is not None:
            articles[article_id] = response.article
    clusters: list[pb.Cluster] = []
    token = ""
    while True:
        page = tally.call(stub, "ListClusters", pb.ListClustersRequest(page_size=50, page_token=token))
        if page is None:
            break
        clusters += page.clusters
        token = page.next_page_token
        if not token:
            break
    assert stats is not None, problems

    # Counts: the stats, the articles that answer and the clusters' members agree.
    sizes = sum(cluster.size for cluster in clusters)
    if not stats.article_count == len(articles) == sizes:
        problems.append(
            f"article counts disagree: GetStats says {stats.article_count}, GetArticle finds {len(articles)}, "
            f"cluster sizes add up to {sizes}"
        )
    if stats.cluster_count != len(clusters):
        problems.append(f"GetStats counts {stats.cluster_count} clusters, ListClusters lists {len(clusters)}")
    verdicts = Counter(article.verdict for article in articles.values())
    if (stats.exact_duplicate_count, stats.near_duplicate_count) != (
        verdicts[pb.VERDICT_EXACT_DUPLICATE],
        verdicts[pb.VERDICT_NEAR_DUPLICATE],
    ):
        problems.append(f"GetStats duplicate counts {stats} disagree with the stored verdicts {dict(verdicts)}")

    # Clusters: each member is stored, in this cluster and no other; each stored article is in one.
    for cluster in clusters:
        tally.cluster(cluster)
        fetched = tally.call(stub, "GetCluster", pb.GetClusterRequest(cluster_id=cluster.cluster_id))
        if fetched is not None and fetched.cluster != cluster:
            problems.append(f"GetCluster({cluster.cluster_id}) differs from its listing")
    problems += SOAK.membership_problems(clusters, articles)

    # Duplicates point at stored originals ingested before them; an exact one at the same text.
    for article_id, article in articles.items():
        original = articles.get(article.duplicate_of)
        if article.verdict not in DUPLICATES:
            if article.duplicate_of:
                problems.append(
                    f"{article_id} is {pb.Verdict.Name(article.verdict)} yet duplicates {article.duplicate_of}"
                )
            continue
        if original is None:
            problems.append(f"{article_id} duplicates {article.duplicate_of!r}, which GetArticle does not find")
            continue
        if original.ingested_at.ToNanoseconds() > article.ingested_at.ToNanoseconds():
            problems.append(f"{article_id} duplicates {original.id}, which was ingested after it")
        if article.verdict == pb.VERDICT_EXACT_DUPLICATE and original.content_hash != article.content_hash:
            problems.append(f"{article_id} is an exact duplicate of {original.id}, whose text differs")
    for article in articles.values():
        if article.verdict == pb.VERDICT_UNIQUE:
            earlier = [
                other.id
                for other in articles.values()
                if other.content_hash == article.content_hash
                and other.ingested_at.ToNanoseconds() < article.ingested_at.ToNanoseconds()
            ]
            if earlier:
                problems.append(f"{article.id} is unique though {earlier} with its text were ingested before it")

    # The indexes hold every stored article: each finds itself, by its id, its text and a near copy.
    found: set[str] = set()
    for article_id, article in articles.items():
        text = stored_text(tally, stub, pool, article_id)
        if text is None:
            continue
        by_id = search(tally, stub, article_id=article_id)
        exact = search(tally, stub, article=pb.Article(body=text))
        near = search(tally, stub, article=pb.Article(body=text + NEAR_PROBE))
        found.update(match.article_id for match in by_id + exact + near)
        check = tally.call(stub, "CheckArticle", pb.CheckArticleRequest(article=pb.Article(body=text)))
        if article.verdict == pb.VERDICT_LOW_CONTENT:  # too thin to judge: in no index, matches nothing
            if check is not None and check.result.verdict != pb.VERDICT_LOW_CONTENT:
                problems.append(
                    f"{article_id} was stored as low content, its text now checks as {check.result.verdict}"
                )
            continue
        if not any(m.article_id == article_id and m.similarity == 1.0 for m in exact):
            problems.append(f"a search for the text of {article_id} misses it: {found_as(exact)}")
        if not any(m.article_id == article_id and m.relation == pb.RELATION_NEAR_DUPLICATE for m in near):
            problems.append(f"the near-duplicate index misses {article_id}: a near copy finds {found_as(near)}")
        if check is not None:
            result = check.result
            copy = articles.get(result.duplicate_of)
            if (
                result.verdict != pb.VERDICT_EXACT_DUPLICATE
                or copy is None
                or copy.content_hash != article.content_hash
            ):
                problems.append(
                    f"checking the text of {article_id} says {pb.Verdict.Name(result.verdict)} of "
                    f"{result.duplicate_of!r}, not an exact duplicate of a stored copy"
                )
    for article_id in sorted(found - articles.keys()):
        problems.append(f"a search found {article_id}, which GetArticle does not find (deleted, still indexed)")
    return Snapshot(articles, clusters, stats), problems


def assert_sound(stub: pb_grpc.DedupServiceStub, pool: Pool, log: Callable[[], str]) -> Snapshot:
    snapshot, problems = check_invariants(stub, pool)
    assert not problems, f"{len(problems)} broken invariants, e.g.:\n" + "\n".join(problems[:15]) + log()
    assert len(snapshot.articles) > 10, "the load left too few articles to check anything"
    return snapshot


def assert_survived(load: Tally, log: Callable[[], str]) -> None:
    examples = "\n".join(load.failures[:15])
    assert not load.failures, f"{len(load.failures)} unexpected outcomes under load, e.g.:\n{examples}" + log()
    assert load.codes["IngestArticle", "ALREADY_EXISTS"] and load.codes["DeleteArticle", "OK"], load.codes


def assert_restart_answers_alike(before: Snapshot, after: Snapshot) -> None:
    assert after.articles.keys() == before.articles.keys()
    changed = [i for i, article in before.articles.items() if after.articles[i] != article]
    assert not changed, f"GetArticle answers differently after a restart for {changed[:10]}"
    assert after.clusters == before.clusters
    assert after.stats == before.stats


def server_log(server: ServerProcess) -> Callable[[], str]:
    return lambda: "\nserver log (end):\n" + server.log()[-4000:]


def no_log() -> str:
    return ""  # an in-process server logs into pytest's captured output


@contextmanager
def stub_for(target: str) -> Iterator[pb_grpc.DedupServiceStub]:
    with grpc.insecure_channel(target) as channel:
        yield pb_grpc.DedupServiceStub(channel)


@contextmanager
def in_process_server(data_dir: Path) -> Iterator[str]:
    """A server in this process over an Engine on `data_dir`; yields its target."""
    settings = Settings(data_dir=str(data_dir), port=0)
    server = NewsdedupServer(settings, Engine(settings))
    server.start()
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        server.stop(grace=0)


def test_server_under_concurrent_writes_and_reads_stays_consistent(server_process, tmp_path: Path, ecbplus) -> None:
    """Writers colliding on 150 ids and readers for 8 s: nothing unexpected, invariants hold, also after a restart."""
    pool = Pool.from_ecbplus(ecbplus)
    data = tmp_path / "data"
    server = server_process(data)
    load = hammer(server.target, pool, seconds=8.0, seed=1)
    assert_survived(load, server_log(server))
    with stub_for(server.target) as stub:
        before = assert_sound(stub, pool, server_log(server))
    assert server.stop() == 0

    restarted = server_process(data)
    with stub_for(restarted.target) as stub:
        after = assert_sound(stub, pool, server_log(restarted))
    assert_restart_answers_alike(before, after)


def test_engine_under_concurrent_writes_and_reads_stays_consistent(tmp_path: Path, ecbplus) -> None:
    """The same in this process, shorter: an Engine on a data directory, reopened afterwards."""
    pool = Pool.from_ecbplus(ecbplus)
    with in_process_server(tmp_path / "data") as target:
        assert_survived(hammer(target, pool, seconds=4.0, seed=2), no_log)
        with stub_for(target) as stub:
            before = assert_sound(stub, pool, no_log)
    with in_process_server(tmp_path / "data") as target, stub_for(target) as stub:
        after = assert_sound(stub, pool, no_log)
    assert_restart_answers_alike(before, after)
