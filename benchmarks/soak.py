"""Soak: real servers under mixed ingest, search and delete load for a set time; errors, memory, invariants.

    python benchmarks/soak.py [--duration 120] [--writers 4] [--readers 4] [--ids 500] [--seed 0]
        [--sample-every 5] [--data ../shared/data] [--server-args "--durability normal"]
        [--store sqlite|redis] [--replicas 1]

Starts `newsdedup serve` on 127.0.0.1 with an empty temporary data directory
(service_load.Server) and drives it for `--duration` seconds from this process
with grpc.aio: `--writers` and `--readers` closed-loop callers on one channel.

`--store redis` soaks the shared store of replicas instead (the README's
"Several replicas on one Redis"): a redis-server of its own on a free
loopback port with a temporary folder, an append-only file fsynced once a
second (`appendfsync everysec`) and no snapshots (redis_process.RedisProcess,
as service_load.py --store redis starts it), and `--replicas` servers on it,
each with its own data directory and channel, started one after another (the
first puts its empty store into Redis, the others copy it). Writer i and
reader i talk to replica i mod N, so that writes to one id race across
replicas. With `--store sqlite` (the default) there is one server.

The ids are a fixed pool of `--ids`, so that writers keep colliding: ingests
of an id that is stored, deletes of one that is not, re-ingests of one just
deleted. Each id has three texts (its own article of the service_load corpus,
a copy of another id's article, and its own with a correction appended); a
writer sends the id's own text 80% of the time, so a re-send is mostly an
idempotent retry and sometimes a conflict (ALREADY_EXISTS). The corpus itself
holds exact and near duplicates, so duplicate groups and story clusters form,
merge and shrink as articles come and go.

- writers: IngestArticle (40%), BatchIngestArticles of 2 to 8 ids (20%),
  DeleteArticle (40%); about four in five ids end up stored at any time.
- readers: SearchSimilarArticles by id and by text, GetArticle, CheckArticle
  (half with the id, half without), ListClusters (up to three pages of 20,
  largest or recently updated first); 20% each.

Every status is counted per kind of call. The codes the API documents for
this load (NOT_FOUND for a missing id, ALREADY_EXISTS for an id stored with
another text) are expected; any other (INTERNAL, UNAVAILABLE,
DEADLINE_EXCEEDED, ...) is unexpected, with the first examples kept (when, and
through which server). Every `--sample-every` seconds, for every server: its
VmRSS, the memory its in-memory indexes hold
(`newsdedup_index_memory_bytes`, scraped from its metrics endpoint), its
store's size on disk, its article count (GetStats); and the calls and error
codes so far. Every write takes a new sequence number, so with the pool's
article count flat, a flat index memory is what shows that memory follows the
articles held rather than those ever ingested. With Redis, also Redis's
used_memory, its RSS and its files' size, and the length of the replicas'
shared log (XLEN of `{newsdedup}:log`). The log keeps the last ten minutes of
changesets (each write trims what is older), so Redis's memory grows for the
first ten minutes and should then level off; the slope of its second half is
reported as those of RSS and index memory are, and says so only for a soak of
20 minutes or more, whose second half starts after the trimming has.

When the time is up the callers finish their call in flight and stop; then,
through the API alone and through every server, the invariants:

- counts agree: GetStats' article count == the pool ids GetArticle finds ==
  the sum of the ListClusters sizes; and GetStats' cluster count == the
  clusters listed, each member stored and listed once, in the cluster it names;
- every stored article finds itself at similarity 1.0 when searched by its
  text (which text it is stored with is what CheckArticle with its id does
  not call a conflict);
- no search returns a missing id: a search by id and by text for every stored
  article, and by its own text for every id not stored (where a deleted
  article still in an index would show), name only stored articles;
- with replicas, they agree: every replica gives replica 0's GetStats article
  and cluster counts, its ListClusters (cluster ids, sizes and members, in
  order) and its GetArticle answer (verdict, duplicate_of, cluster_id, or
  NOT_FOUND) for every pool id. Every call first catches up with Redis's log,
  so once the writes have stopped a difference is a bug.

Then SIGTERM to every server, and each must exit with status 0; redis-server
is stopped by its PID. One JSON object goes to stdout, progress to stderr;
`ok` is true when no call had an unexpected status and every invariant held,
and the exit status is 0 exactly then. With `--store sqlite` the JSON has the
one server's figures at the top; with Redis, each replica's are in
`replicas`, Redis's in `redis`, and the invariants in `invariants.by_replica`
and `invariants.replicas_agree`. Each caller draws from its own generator
seeded from `--seed`; the interleaving of the callers, and so the final state,
depends on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shlex
import shutil
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from newsdedup.shared import LOG, LOG_MINUTES
from newsdedup.v1 import dedup_service_pb2 as pb
from prometheus_client.parser import text_string_to_metric_families
from redis import RedisError
from redis_process import RedisProcess, free_port, redis_server_binary
from service_load import (
    DEFAULT_DATA,
    HOST,
    REDIS_APPENDFSYNC,
    SERVER,
    STORES,
    Corpus,
    CpuClock,
    Server,
    ServerDied,
    code_version,
    directory_bytes,
    machine,
    megabytes,
    percentiles,
    progress,
    redis_memory,
    report_failure,
)

RPC_TIMEOUT = 30.0  # a call that hangs this long is a failure (DEADLINE_EXCEEDED), not a slow answer
SEARCH_LIMIT = 1000  # the server's most; every exact copy of a text is listed
CHECK_CONCURRENCY = 8  # calls at once during the final checks
OWN_TEXT_SHARE = 0.8  # a writer sends an id's own text, else one of its other two
# Appended to an id's own text, numbered so that it recurs in no other article: one line shared
# by many articles of a source is learned as that source's chrome (boilerplate.RecurringLines),
# and would make the texts with and without it one text. (The server still learns it once the
# article itself has been stored five times, deletes in between: see the README.)
CORRECTION = "\n\nCorrection {number}: an earlier version of this article misspelled a name."
WRITE_MIX = {"ingest": 0.4, "ingest_batch": 0.2, "delete": 0.4}
READ_MIX = {"search_by_id": 0.2, "search_by_text": 0.2, "get": 0.2, "check": 0.2, "list_clusters": 0.2}
BATCH_SIZES = (2, 8)
LIST_PAGE_SIZE, LIST_PAGES = 20, 3

OK, NOT_FOUND, ALREADY_EXISTS = grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS
# The codes each kind of call may answer under this load; anything else is unexpected.
EXPECTED: dict[str, frozenset[grpc.StatusCode]] = {
    "ingest": frozenset({OK, ALREADY_EXISTS}),
    "ingest_batch": frozenset({OK}),
    "ingest_batch_article": frozenset({OK, ALREADY_EXISTS}),  # an article's own status in a batch result
    "delete": frozenset({OK, NOT_FOUND}),
    "search_by_id": frozenset({OK, NOT_FOUND}),
    "search_stored_by_id": frozenset({OK}),  # after the load: a stored article is searched by its id
    "search_by_text": frozenset({OK}),
    "get": frozenset({OK, NOT_FOUND}),
    "check": frozenset({OK, ALREADY_EXISTS}),
    "list_clusters": frozenset({OK}),
    "stats": frozenset({OK}),
}
STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
# A replica's counters, as its figures name them: other replicas' writes applied, its own writes judged again.
REPLICATION_METRICS = {
    "changesets_applied": "newsdedup_shared_changesets_applied_total",
    "write_conflicts": "newsdedup_shared_write_conflicts_total",
}


# --- the id pool


@dataclass(frozen=True)
class Pool:
    """The ids the callers fight over, each with its three texts: its own first."""

    ids: list[str]
    texts: dict[str, tuple[pb.Article, pb.Article, pb.Article]]

    @classmethod
    def build(cls, corpus: Corpus, size: int, seed: int) -> Pool:
        ids = [f"soak-{i:06d}" for i in range(size)]
        own = [corpus.article(i, article_id=article_id) for i, article_id in enumerate(ids)]
        rng = np.random.default_rng([seed, size])
        others = (np.arange(size) + rng.integers(1, size, size=size)) % size  # never the id itself
        texts = {}
        for i, article_id in enumerate(ids):
            copy, corrected = pb.Article(), pb.Article()
            copy.CopyFrom(own[int(others[i])])
            copy.id = article_id
            corrected.CopyFrom(own[i])
            corrected.body += CORRECTION.format(number=i)
            texts[article_id] = (own[i], copy, corrected)
        return cls(ids, texts)

    def pick(self, rng: random.Random, article_id: str) -> pb.Article:
        own, *others = self.texts[article_id]
        return own if rng.random() < OWN_TEXT_SHARE else rng.choice(others)


def query(article: pb.Article) -> pb.Article:
    """The article as a search text: the same words, no id."""
    text = pb.Article()
    text.CopyFrom(article)
    text.id = ""
    return text


# --- the servers


class Replica(Server):
    """A server of the soak: service_load's Server in a folder of its own (made here) for its data directory, log
    and port file, with its metrics endpoint on a free port (the endpoint has no --port-file of its own)."""

    def __init__(self, index: int, folder: Path, extra_args: list[str], redis: RedisProcess | None) -> None:
        self.name = "server" if redis is None else f"replica {index}"
        self.metrics_port = free_port()
        (folder / "data").mkdir(parents=True)
        metrics = ["--metrics-port", str(self.metrics_port)]
        super().__init__(folder / "data", folder / "server.log", [*extra_args, *metrics], redis)


# --- the calls, counted


@dataclass
class Tally:
    """How every call ended, per kind: status codes, latencies, and examples of unexpected ones."""

    codes: dict[str, Counter[str]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)

    def outcome(self, kind: str, code: grpc.StatusCode, via: Replica, detail: str = "") -> None:
        self.codes.setdefault(kind, Counter())[code.name] += 1
        if code not in EXPECTED[kind] and len(self.unexpected) < 20:
            # The time matches the progress lines' (and so a sample), the server the log to read.
            when = time.strftime("%H:%M:%S")
            self.unexpected.append(f"{when} {via.name}: {kind} -> {code.name}: {detail[:300]}")

    async def call(self, kind: str, via: Replica, method: Callable[..., Awaitable[Any]], request: Any) -> Any:
        """The reply, or None after an error status (counted, and kept as an example if unexpected, naming `via`:
        the server whose stub `method` is)."""
        started = time.perf_counter()
        try:
            reply = await method(request, timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError as error:
            self.latencies.setdefault(kind, []).append(time.perf_counter() - started)
            self.outcome(kind, error.code(), via, f"{error.details()} (request: {str(request)[:100]!r})")
            return None
        self.latencies.setdefault(kind, []).append(time.perf_counter() - started)
        self.outcome(kind, OK, via)
        return reply

    def calls(self) -> dict[str, int]:
        return {kind: sum(codes.values()) for kind, codes in sorted(self.codes.items())}

    def errors(self) -> dict[str, int]:
        """Non-OK codes over every kind."""
        total: Counter[str] = Counter()
        for codes in self.codes.values():
            total.update({code: n for code, n in codes.items() if code != "OK"})
        return dict(sorted(total.items()))

    def split_errors(self) -> tuple[dict[str, int], dict[str, int]]:
        """Non-OK codes over every kind: (expected, unexpected)."""
        expected: Counter[str] = Counter()
        unexpected: Counter[str] = Counter()
        for kind, codes in self.codes.items():
            allowed = {code.name for code in EXPECTED[kind]}
            for code, n in codes.items():
                if code != "OK":
                    (expected if code in allowed else unexpected)[code] += n
        return dict(sorted(expected.items())), dict(sorted(unexpected.items()))

    def unexpected_count(self) -> int:
        return sum(self.split_errors()[1].values())


# --- the load


@dataclass(frozen=True)
class Sample:
    """One point of the series: every server's figures, Redis's (with --store redis), the calls and errors so far."""

    t: float
    servers: list[dict[str, Any]]  # per server: rss_mb, index_mb, store_mb, articles
    calls_by_kind: dict[str, int]
    errors: dict[str, int]
    redis: dict[str, float] = field(default_factory=dict)  # used_memory_mb, rss_mb, files_mb, log_entries

    def json(self) -> dict:
        """On SQLite the one server's figures stand beside the calls, as they did before there were replicas."""
        figures = {"replicas": self.servers, "redis": self.redis} if self.redis else self.servers[0]
        calls = sum(self.calls_by_kind.values())
        return {"t": self.t, **figures, "calls": calls, "calls_by_kind": self.calls_by_kind, "errors": self.errors}

    def describe(self) -> str:
        """The figures for a progress line."""

        def server(figures: dict[str, Any]) -> str:
            replication = (
                f", applied {figures['changesets_applied']:,}, conflicts {figures['write_conflicts']:,}"
                if "write_conflicts" in figures
                else ""
            )
            return (
                f"RSS {figures['rss_mb']} MB, index {figures['index_mb']} MB, store {figures['store_mb']} MB, "
                f"{figures['articles']} articles{replication}"
            )

        if not self.redis:
            return server(self.servers[0])
        replicas = "; ".join(f"replica {index}: {server(figures)}" for index, figures in enumerate(self.servers))
        redis = self.redis
        return (
            f"{replicas}; Redis {redis['used_memory_mb']} MB used, RSS {redis['rss_mb']} MB, "
            f"files {redis['files_mb']} MB, log {redis['log_entries']:,.0f} entries"
        )


def redis_figures(redis: RedisProcess) -> dict[str, float]:
    """Redis's memory and files (as service_load.py reports them) and the length of the replicas' shared log."""
    with redis.client() as client:
        log_entries = client.xlen(LOG)
    return {**redis_memory(redis), "log_entries": int(log_entries)}


@dataclass
class Load:
    """The callers and the sampler, sharing the servers, one pool and one tally."""

    replicas: list[Replica]
    pool: Pool
    until: float
    tally: Tally = field(default_factory=Tally)
    batch_articles: int = 0

    async def writer(self, replica: Replica, rng: random.Random) -> None:
        stub = replica.stub()
        kinds, weights = list(WRITE_MIX), list(WRITE_MIX.values())
        while time.monotonic() < self.until:
            kind = rng.choices(kinds, weights)[0]
            if kind == "ingest":
                article = self.pool.pick(rng, rng.choice(self.pool.ids))
                await self.tally.call(kind, replica, stub.IngestArticle, pb.IngestArticleRequest(article=article))
            elif kind == "ingest_batch":
                chosen = rng.choices(self.pool.ids, k=rng.randint(*BATCH_SIZES))
                request = pb.BatchIngestArticlesRequest(articles=[self.pool.pick(rng, i) for i in chosen])
                reply = await self.tally.call(kind, replica, stub.BatchIngestArticles, request)
                if reply is not None:
                    self.batch_articles += len(chosen)
                    for result in reply.results:
                        code = STATUS_BY_NUMBER.get(result.error.code, grpc.StatusCode.UNKNOWN)
                        self.tally.outcome("ingest_batch_article", code, replica, result.error.message)
            else:
                request = pb.DeleteArticleRequest(article_id=rng.choice(self.pool.ids))
                await self.tally.call(kind, replica, stub.DeleteArticle, request)

    async def reader(self, replica: Replica, rng: random.Random) -> None:
        stub = replica.stub()
        kinds, weights = list(READ_MIX), list(READ_MIX.values())
        while time.monotonic() < self.until:
            kind = rng.choices(kinds, weights)[0]
            article_id = rng.choice(self.pool.ids)
            max_results = rng.choice((5, 50))
            if kind == "search_by_id":
                request = pb.SearchSimilarArticlesRequest(article_id=article_id, max_results=max_results)
                await self.tally.call(kind, replica, stub.SearchSimilarArticles, request)
            elif kind == "search_by_text":
                text = query(self.pool.pick(rng, article_id))
                request = pb.SearchSimilarArticlesRequest(article=text, max_results=max_results)
                await self.tally.call(kind, replica, stub.SearchSimilarArticles, request)
            elif kind == "get":
                await self.tally.call(kind, replica, stub.GetArticle, pb.GetArticleRequest(article_id=article_id))
            elif kind == "check":
                article = self.pool.pick(rng, article_id)
                article = article if rng.random() < 0.5 else query(article)
                await self.tally.call(kind, replica, stub.CheckArticle, pb.CheckArticleRequest(article=article))
            else:
                order = rng.choice((pb.CLUSTER_ORDER_LARGEST, pb.CLUSTER_ORDER_RECENTLY_UPDATED))
                token = ""
                for _ in range(LIST_PAGES):  # pages turned while the clusters change
                    request = pb.ListClustersRequest(page_size=LIST_PAGE_SIZE, page_token=token, order_by=order)
                    reply = await self.tally.call(kind, replica, stub.ListClusters, request)
                    token = reply.next_page_token if reply is not None else ""
                    if not token:
                        break

    async def server_figures(self, replica: Replica) -> dict[str, Any]:
        """A server's RSS, index memory, store size and stored articles; a replica's writes applied from the
        others and its own judged again (conflicts), so far."""
        reply = await self.tally.call("stats", replica, replica.stub().GetStats, pb.GetStatsRequest())
        names = ["newsdedup_index_memory_bytes", *(REPLICATION_METRICS.values() if replica.redis else ())]
        index_bytes, *replication = await asyncio.to_thread(scrape, replica.metrics_port, *names)
        return {
            "rss_mb": megabytes(replica.memory()["rss_bytes"]),
            "index_mb": megabytes(index_bytes),
            "store_mb": megabytes(directory_bytes(replica.data_dir)),
            "articles": reply.article_count if reply is not None else None,
            **{name: int(count) for name, count in zip(REPLICATION_METRICS, replication, strict=True)},
        }

    async def sample(self, started: float) -> Sample:
        """One point of the series: every server's figures, Redis's, and the calls and errors so far."""
        servers = await asyncio.gather(*(self.server_figures(replica) for replica in self.replicas))
        redis = self.replicas[0].redis
        shared = {} if redis is None else await asyncio.to_thread(redis_figures, redis)
        t = round(time.monotonic() - started, 1)
        return Sample(t, list(servers), self.tally.calls(), self.tally.errors(), shared)

    async def sampler(self, started: float, every: float, samples: list[Sample]) -> None:
        while True:
            await asyncio.sleep(max(0.0, started + every * len(samples) - time.monotonic()))
            if time.monotonic() >= self.until:
                return
            point = await self.sample(started)
            samples.append(point)
            calls = sum(point.calls_by_kind.values())
            unexpected = self.tally.unexpected_count()
            progress(
                f"t={point.t:.0f} s: {point.describe()}, {calls:,} calls, errors {point.errors} "
                f"({unexpected} unexpected)"
            )


# --- the invariants


async def each(items: Iterable[Any], work: Callable[[Any], Awaitable[None]]) -> None:
    """`work` on every item, CHECK_CONCURRENCY at a time."""
    queue = list(items)[::-1]

    async def worker() -> None:
        while queue:
            await work(queue.pop())

    await asyncio.gather(*(worker() for _ in range(CHECK_CONCURRENCY)))


def membership_problems(clusters: Iterable[pb.Cluster], articles: Mapping[str, pb.StoredArticle]) -> list[str]:
    """What breaks membership: a member not stored, in two clusters, or naming another; a stored article in none.

    `articles` are the stored ones (GetArticle), `clusters` every listed one
    (ListClusters); tests/test_concurrency.py checks the same.
    """
    problems: list[str] = []
    cluster_of: dict[str, str] = {}
    for cluster in clusters:
        for member in cluster.article_ids:
            if member in cluster_of:
                problems.append(f"{member} is in {cluster_of[member]} and {cluster.cluster_id}")
            cluster_of[member] = cluster.cluster_id
            if member not in articles:
                problems.append(f"{cluster.cluster_id} lists {member}, which GetArticle does not find")
            elif articles[member].cluster_id != cluster.cluster_id:
                problems.append(f"{member} is listed in {cluster.cluster_id}, names {articles[member].cluster_id}")
    problems += [f"{i} is stored but in no listed cluster" for i in sorted(articles.keys() - cluster_of.keys())]
    return problems


@dataclass(frozen=True)
class View:
    """What one server answers once the load has stopped: GetStats, GetArticle of the pool ids, ListClusters."""

    stats: pb.GetStatsResponse | None
    articles: dict[str, pb.StoredArticle]  # the pool ids GetArticle finds
    clusters: list[pb.Cluster]  # every page, in the server's order

    def counts(self) -> tuple[int, int] | None:
        """GetStats' article and cluster counts."""
        return None if self.stats is None else (self.stats.article_count, self.stats.cluster_count)

    def cluster_rows(self) -> list[tuple[str, int, list[str]]]:
        """ListClusters as replicas must agree on it: ids, sizes and members."""
        return [(cluster.cluster_id, cluster.size, list(cluster.article_ids)) for cluster in self.clusters]

    def answer(self, article_id: str) -> tuple[str, str, str] | None:
        """GetArticle as replicas must agree on it: verdict, duplicate_of, cluster id; None if it is not found."""
        article = self.articles.get(article_id)
        if article is None:
            return None
        return pb.Verdict.Name(article.verdict), article.duplicate_of, article.cluster_id


async def observe(replica: Replica, pool: Pool, tally: Tally) -> View:
    """GetStats, GetArticle of every pool id and every page of ListClusters, through `replica`."""
    stub = replica.stub()
    stats = await tally.call("stats", replica, stub.GetStats, pb.GetStatsRequest())
    articles: dict[str, pb.StoredArticle] = {}

    async def get(article_id: str) -> None:
        reply = await tally.call("get", replica, stub.GetArticle, pb.GetArticleRequest(article_id=article_id))
        if reply is not None:
            articles[article_id] = reply.article

    await each(pool.ids, get)
    clusters: list[pb.Cluster] = []
    token = ""
    while True:
        request = pb.ListClustersRequest(page_size=100, page_token=token)
        page = await tally.call("list_clusters", replica, stub.ListClusters, request)
        if page is None:
            break
        clusters += page.clusters
        token = page.next_page_token
        if not token:
            break
    return View(stats, articles, clusters)


async def invariants(replica: Replica, pool: Pool, tally: Tally, view: View) -> dict[str, dict[str, Any]]:
    """Probe the pool, the clusters and every stored article through `replica` once the load has stopped."""
    stub = replica.stub()
    stats, articles, clusters = view.stats, view.articles, view.clusters
    stats_articles = stats.article_count if stats is not None else None
    sizes = sum(cluster.size for cluster in clusters)

    # Clusters: sizes match members, each member stored, in one cluster, the one it names.
    cluster_problems = [
        f"{cluster.cluster_id}: size {cluster.size}, members {list(cluster.article_ids)}"
        for cluster in clusters
        if not cluster.size == len(cluster.article_ids) == len(set(cluster.article_ids)) > 0
    ]
    cluster_problems += membership_problems(clusters, articles)
    stats_clusters = stats.cluster_count if stats is not None else None

    # Searches: each stored article finds itself by its text; no search names an article not stored.
    returned: set[str] = set()
    self_misses: list[str] = []
    self_similarities: list[float] = []  # of the misses that found themselves, below 1.0
    not_judged: list[str] = []
    searches = 0

    async def search(kind: str, **by: Any) -> list[pb.Match] | None:
        nonlocal searches
        request = pb.SearchSimilarArticlesRequest(max_results=SEARCH_LIMIT, **by)
        reply = await tally.call(kind, replica, stub.SearchSimilarArticles, request)
        searches += 1
        if reply is None:
            return None
        returned.update(match.article_id for match in reply.matches)
        return list(reply.matches)

    async def stored_text(article_id: str) -> pb.Article | None:
        for article in pool.texts[article_id]:
            reply = await tally.call("check", replica, stub.CheckArticle, pb.CheckArticleRequest(article=article))
            if reply is not None:
                return article
        return None

    async def probe(article_id: str) -> None:
        if article_id not in articles:
            await search("search_by_text", article=query(pool.texts[article_id][0]))
            return
        await search("search_stored_by_id", article_id=article_id)
        article = await stored_text(article_id)
        if article is None:
            self_misses.append(f"{article_id}: stored with a text none of the writers sent")
            return
        matches = await search("search_by_text", article=query(article))
        if articles[article_id].verdict == pb.VERDICT_LOW_CONTENT:  # in no index by design
            not_judged.append(article_id)
        elif matches is not None and not any(m.article_id == article_id and m.similarity == 1.0 for m in matches):
            own = [m.similarity for m in matches if m.article_id == article_id]
            if own:
                self_similarities.append(own[0])
            best = [f"{m.article_id} {m.similarity:.3f}" for m in matches[:3]]
            found = f"itself at {own[0]:.3f}" if own else "not itself"
            self_misses.append(f"{article_id}: its text finds {found}; first {best}")

    await each(pool.ids, probe)
    missing = sorted(returned - articles.keys())
    final_expected, final_unexpected = tally.split_errors()
    return {
        "counts_agree": {
            "ok": stats_articles == len(articles) == sizes,
            "get_stats_articles": stats_articles,
            "get_article_finds": len(articles),
            "cluster_sizes_sum": sizes,
        },
        "clusters_consistent": {
            "ok": not cluster_problems and stats_clusters == len(clusters),
            "get_stats_clusters": stats_clusters,
            "clusters_listed": len(clusters),
            "problems": len(cluster_problems),
            "examples": cluster_problems[:10],
        },
        "stored_articles_find_themselves": {
            "ok": not self_misses and len(articles) > 0,
            "checked": len(articles) - len(not_judged),
            "low_content_skipped": len(not_judged),
            "failed": len(self_misses),
            "found_below_1": len(self_similarities),
            "lowest_similarity_to_itself": round(min(self_similarities), 4) if self_similarities else None,
            "examples": self_misses[:10],
        },
        "no_search_returns_missing_id": {
            "ok": not missing,
            "searches": searches,
            "ids_returned": len(returned),
            "missing": len(missing),
            "examples": missing[:10],
        },
        "final_calls_as_expected": {
            "ok": not final_unexpected,
            "calls": sum(tally.calls().values()),
            "expected_errors": final_expected,
            "unexpected_errors": final_unexpected,
            "examples": tally.unexpected[:10],
        },
    }


def agreement(views: list[View], ids: list[str]) -> dict[str, Any]:
    """Whether every replica answers as replica 0: GetStats' counts, ListClusters, GetArticle of every pool id.

    Every call first catches up with Redis's log, so once the writes have
    stopped the replicas hold one state, and any difference is a bug.
    """
    first = views[0]
    problems: list[str] = []
    clusters_differing = 0
    articles_differing: set[str] = set()
    for index, view in enumerate(views[1:], start=1):
        if view.counts() != first.counts():
            problems.append(
                f"replica {index}: GetStats (articles, clusters) {view.counts()}, replica 0 {first.counts()}"
            )
        rows = zip_longest(first.cluster_rows(), view.cluster_rows())
        differing = [(position, ours, theirs) for position, (ours, theirs) in enumerate(rows) if ours != theirs]
        clusters_differing += len(differing)
        problems += [
            f"replica {index}: ListClusters' cluster {position} is {theirs or 'missing'}, "
            f"replica 0's {ours or 'missing'}"
            for position, ours, theirs in differing[:3]
        ]
        answers_differing = [i for i in ids if view.answer(i) != first.answer(i)]
        articles_differing.update(answers_differing)
        problems += [
            f"replica {index}: GetArticle {i} answers {view.answer(i) or 'NOT_FOUND'}, "
            f"replica 0 {first.answer(i) or 'NOT_FOUND'}"
            for i in answers_differing[:3]
        ]
    return {
        "ok": not problems,
        "get_stats_by_replica": [view.counts() for view in views],
        "clusters_listed_by_replica": [len(view.clusters) for view in views],
        "cluster_positions_differing": clusters_differing,
        "articles_differing": len(articles_differing),
        "examples": problems[:10],
    }


# --- the run


def scrape(port: int, *metrics: str) -> list[float]:
    """The values of unlabelled samples on the server's metrics endpoint, in the order asked."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in metrics
    }
    missing = [metric for metric in metrics if metric not in found]
    if missing:
        raise ValueError(f"the metrics endpoint has no {', '.join(missing)}")
    return [found[metric] for metric in metrics]


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    if len(points) < 3:
        return None
    t, mb = np.array(points).T
    return round(float(np.polyfit(t, mb, 1)[0]) * 60, 2)


def summary(tally: Tally, seconds: float) -> dict:
    by_kind: dict[str, dict[str, Any]] = {}
    for kind, calls in tally.calls().items():
        if kind == "ingest_batch_article":
            continue
        by_kind[kind] = {
            "calls": calls,
            "per_second": round(calls / seconds, 1),
            "codes": dict(sorted(tally.codes[kind].items())),
            **percentiles(tally.latencies[kind]),
        }
    total = sum(entry["calls"] for entry in by_kind.values())
    return {"total": total, "per_second": round(total / seconds, 1), "by_kind": by_kind}


def memory_summary(series: list[tuple[float, float]], seconds: float, **beside_peak: float) -> dict[str, Any]:
    """Start, end and peak of a series of (seconds, MB), then `beside_peak`, the slope of its second half of the
    load (where memory that grows without bound shows), and the series."""
    return {
        "start_mb": series[0][1],
        "end_mb": series[-1][1],
        "peak_mb": max(mb for _, mb in series),
        **beside_peak,
        "second_half_slope_mb_per_minute": slope_per_minute([point for point in series if point[0] >= seconds / 2]),
        "series": [[t, mb] for t, mb in series],
    }


def server_report(
    samples: list[Sample], index: int, seconds: float, empty: dict[str, int], after_checks: dict[str, int], end: int
) -> dict[str, Any]:
    """Server `index`'s memory, store size and stored articles (`end` of them after the load) over the run."""

    def figure(name: str) -> list[tuple[float, float]]:
        return [(sample.t, sample.servers[index][name]) for sample in samples]

    rss = memory_summary(
        figure("rss_mb"),
        seconds,
        hwm_mb=megabytes(after_checks["hwm_bytes"]),
        after_checks_mb=megabytes(after_checks["rss_bytes"]),
    )
    store = figure("store_mb")
    stored = [articles for _, articles in figure("articles") if articles is not None]
    report = {
        "rss": {"empty_server_mb": megabytes(empty["rss_bytes"]), **rss},
        "index_memory": memory_summary(figure("index_mb"), seconds),
        "store_mb": {"start": store[0][1], "end": store[-1][1]},
        "articles_stored": {"min": min(stored, default=None), "max": max(stored, default=None), "end": end},
    }
    if "write_conflicts" in samples[-1].servers[index]:  # a replica: the counts at each sample
        report["replication"] = {name: [[t, count] for t, count in figure(name)] for name in REPLICATION_METRICS}
    return report


def redis_report(samples: list[Sample], seconds: float) -> dict[str, Any]:
    """Redis's memory, files and shared log over the run."""

    def figure(name: str) -> list[tuple[float, float]]:
        return [(sample.t, sample.redis[name]) for sample in samples]

    files, log = figure("files_mb"), figure("log_entries")
    return {
        "used_memory": memory_summary(figure("used_memory_mb"), seconds),
        "rss": memory_summary(figure("rss_mb"), seconds),
        "files_mb": {"start": files[0][1], "end": files[-1][1]},
        "log_entries": {
            "start": log[0][1],
            "end": log[-1][1],
            "peak": max(entries for _, entries in log),
            "series": [[t, entries] for t, entries in log],
        },
        "log_kept_minutes": LOG_MINUTES,
    }


async def shutdown(replica: Replica) -> dict[str, Any]:
    """SIGTERM, and whether the server exited with status 0."""
    stop: dict[str, Any]
    try:
        stop = {"seconds": round(await replica.stop(), 2)}
    except ServerDied as error:
        stop = {"error": str(error)}
    assert replica.process is not None
    stop["exit_code"] = replica.process.returncode
    return {"ok": stop["exit_code"] == 0, **stop}


async def run(options: argparse.Namespace, pool: Pool, replicas: list[Replica]) -> dict:
    redis = replicas[0].redis
    startups, empty = [], []
    for replica in replicas:  # one after another: the first puts its empty store into Redis, the others copy it
        progress(f"starting an empty {replica.name} ({SERVER})")
        startups.append(await replica.start())
        empty.append(replica.memory())
        progress(f"{replica.name}: serving after {startups[-1]:.1f} s, RSS {megabytes(empty[-1]['rss_bytes'])} MB")
    progress(f"load for {options.duration} s")
    started = time.monotonic()
    load = Load(replicas, pool, until=started + options.duration)
    samples: list[Sample] = []
    clocks = [CpuClock(replica).start() for replica in replicas]
    # Caller i talks to replica i mod N, so that writes to one id race across replicas.
    callers = [
        load.writer(replicas[i % len(replicas)], random.Random(f"{options.seed}/writer/{i}"))
        for i in range(options.writers)
    ]
    callers += [
        load.reader(replicas[i % len(replicas)], random.Random(f"{options.seed}/reader/{i}"))
        for i in range(options.readers)
    ]
    await asyncio.gather(load.sampler(started, options.sample_every, samples), *callers)
    seconds = time.monotonic() - started
    cpu = [clock.read() for clock in clocks]
    samples.append(await load.sample(started))  # the end of the load, every caller stopped
    rss = ", ".join(str(figures["rss_mb"]) for figures in samples[-1].servers)
    progress(f"load stopped after {seconds:.1f} s; RSS {rss} MB; checking the invariants")

    async def check(replica: Replica) -> tuple[View, dict[str, dict[str, Any]]]:
        tally = Tally()  # a server's own: its final calls are judged apart from the load's and the others'
        view = await observe(replica, pool, tally)
        return view, await invariants(replica, pool, tally, view)

    checks_started = time.monotonic()
    views, checks = zip(*await asyncio.gather(*(check(replica) for replica in replicas)), strict=True)
    agree = agreement(list(views), pool.ids)
    checks_seconds = time.monotonic() - checks_started
    after_checks = [replica.memory() for replica in replicas]
    progress(f"invariants checked in {checks_seconds:.1f} s; stopping the server(s)")
    stops = await asyncio.gather(*(shutdown(replica) for replica in replicas))
    for replica_checks, stop in zip(checks, stops, strict=True):
        replica_checks["clean_shutdown"] = stop

    expected, unexpected = load.tally.split_errors()
    every_check = [check for replica_checks in checks for check in replica_checks.values()]
    ok = not unexpected and agree["ok"] and all(check["ok"] for check in every_check)
    servers = [
        server_report(samples, i, seconds, empty[i], after_checks[i], checks[i]["counts_agree"]["get_article_finds"])
        for i in range(len(replicas))
    ]
    if redis is None:  # one server: its figures where they were before there were replicas
        startup: dict[str, Any] = {"startup_seconds": round(startups[0], 2)}
        cpu_cores = cpu[0]
        figures = servers[0]
        checked = checks[0]
    else:
        startup = {}
        # Every clock reads this process's and Redis's CPU alike, and its own server's.
        cpu_cores = {name: cores for name, cores in cpu[0].items() if name != "server_cpu_cores"}
        figures = {
            "replicas": [
                {"startup_seconds": round(seconds_to_serve, 2), "server_cpu_cores": cores["server_cpu_cores"], **report}
                for seconds_to_serve, cores, report in zip(startups, cpu, servers, strict=True)
            ],
            "redis": redis_report(samples, seconds),
        }
        checked = {"by_replica": list(checks), "replicas_agree": agree}
    return {
        "benchmark": "soak",
        "store": options.store,
        "machine": machine(),
        "server": {
            "command": f"{SERVER} serve",
            "extra_args": replicas[0].extra_args,  # replica 0's: every replica has a metrics port of its own
            **({"redis": redis.info()} if redis is not None else {}),
            **code_version(),
        },
        "settings": {
            "duration": options.duration,
            "writers": options.writers,
            "readers": options.readers,
            "ids": options.ids,
            "seed": options.seed,
            "sample_every": options.sample_every,
            "replicas": options.replicas,
            "write_mix": WRITE_MIX,
            "read_mix": READ_MIX,
            "batch_sizes": BATCH_SIZES,
            "own_text_share": OWN_TEXT_SHARE,
            "rpc_timeout": RPC_TIMEOUT,
        },
        "duration_seconds": round(seconds, 1),
        **startup,
        "calls": summary(load.tally, seconds),
        "batch_articles": load.batch_articles,
        "cpu": cpu_cores,
        "errors": {
            "expected": expected,
            "unexpected": unexpected,
            "batch_article_codes": dict(sorted(load.tally.codes.get("ingest_batch_article", Counter()).items())),
            "unexpected_examples": load.tally.unexpected[:10],
        },
        **figures,
        "samples": [sample.json() for sample in samples],
        "invariants_seconds": round(checks_seconds, 1),
        "invariants": checked,
        "ok": ok,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load (default 120)")
    parser.add_argument("--writers", type=int, default=4, help="concurrent ingest/delete callers (default 4)")
    parser.add_argument("--readers", type=int, default=4, help="concurrent search/get/check/list callers (default 4)")
    parser.add_argument("--ids", type=int, default=500, help="size of the id pool the callers share (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between samples (default 5)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--server-args", default="", help='extra `newsdedup serve` flags, e.g. "--workers 4"')
    parser.add_argument(
        "--store",
        choices=STORES,
        default="sqlite",
        help="one server on its embedded SQLite store, or replicas sharing a redis-server started for the run",
    )
    parser.add_argument("--replicas", type=int, default=1, help="servers on the Redis store (default 1)")
    options = parser.parse_args(argv)
    if options.duration <= 0 or options.sample_every <= 0:
        parser.error(f"--duration and --sample-every must be positive, got {options.duration}, {options.sample_every}")
    if options.writers < 1 or options.readers < 0:
        parser.error(f"--writers must be at least 1 and --readers at least 0, got {options.writers}, {options.readers}")
    if options.ids < 2:
        parser.error(f"--ids must be at least 2 (an id's texts include another id's), got {options.ids}")
    if options.replicas < 1:
        parser.error(f"--replicas must be at least 1, got {options.replicas}")
    if options.replicas > 1 and options.store != "redis":
        parser.error(
            f"--replicas {options.replicas} needs --store redis: replicas share their state through Redis, "
            f"and a SQLite store has one server"
        )
    if not SERVER.exists():
        sys.exit(f"{SERVER} not found: install the project into this environment (pip install -e .)")
    if options.store == "redis" and redis_server_binary() is None:
        sys.exit("redis-server not found: --store redis needs it (Debian: apt-get install redis-server)")
    corpus = Corpus.load(options.data.resolve(), options.seed)
    pool = Pool.build(corpus, options.ids, options.seed)
    work = Path(tempfile.mkdtemp(prefix="newsdedup-soak-"))
    redis = RedisProcess(work / "redis", REDIS_APPENDFSYNC) if options.store == "redis" else None
    server_args = shlex.split(options.server_args)
    replicas = [Replica(i, work / f"replica-{i}", server_args, redis) for i in range(options.replicas)]
    try:
        if redis is not None:
            redis.start()
            progress(
                f"redis-server {redis.info()['version']} on {redis.url}: append-only file with appendfsync "
                f"{REDIS_APPENDFSYNC}, no snapshots; {options.replicas} replica(s)"
            )
        report = asyncio.run(run(options, pool, replicas))
    except (RuntimeError, grpc.aio.AioRpcError, OSError, RedisError) as error:
        for replica in replicas:
            report_failure(error, replica)
        if redis is not None:
            print(f"redis-server's log:\n{redis.log_tail()}", file=sys.stderr)
        return 1
    finally:
        for replica in replicas:
            replica.kill()
        if redis is not None:
            redis.stop()
        logs = {replica.name: replica.log_tail() for replica in replicas}
        shutil.rmtree(work, ignore_errors=True)
    if not report["ok"]:
        for name, log in logs.items():
            print(f"not ok; the tail of the {name}'s log:\n{log}", file=sys.stderr)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
