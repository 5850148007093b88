"""Soak: a real server under mixed ingest, search and delete load for a set time; errors, RSS, invariants.

    python benchmarks/soak.py [--duration 120] [--writers 4] [--readers 4] [--ids 500] [--seed 0]
        [--sample-every 5] [--data ../shared/data] [--server-args "--durability normal"]

Starts `newsdedup serve` on 127.0.0.1 with an empty temporary data directory
(service_load.Server) and drives it for `--duration` seconds from this process
with grpc.aio: `--writers` and `--readers` closed-loop callers on one channel.

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
DEADLINE_EXCEEDED, ...) is unexpected, with the first examples kept. Every
`--sample-every` seconds: the server's VmRSS, the memory its in-memory
indexes hold (`newsdedup_index_memory_bytes`, scraped from its metrics
endpoint), the store's size on disk, the article count (GetStats), and the
calls and error codes so far. Every write takes a new sequence number, so with
the pool's article count flat, a flat index memory is what shows that memory
follows the articles held rather than those ever ingested.

When the time is up the callers finish their call in flight and stop; then,
through the API alone, the invariants:

- counts agree: GetStats' article count == the pool ids GetArticle finds ==
  the sum of the ListClusters sizes; and GetStats' cluster count == the
  clusters listed, each member stored and listed once, in the cluster it names;
- every stored article finds itself at similarity 1.0 when searched by its
  text (which text it is stored with is what CheckArticle with its id does
  not call a conflict);
- no search returns a missing id: a search by id and by text for every stored
  article, and by its own text for every id not stored (where a deleted
  article still in an index would show), name only stored articles.

Then SIGTERM, and the server must exit with status 0. One JSON object goes to
stdout, progress to stderr; `ok` is true when no call had an unexpected status
and every invariant held, and the exit status is 0 exactly then. Each caller
draws from its own generator seeded from `--seed`; the interleaving of the
callers, and so the final state, depends on timing.
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
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from newsdedup.v1 import dedup_service_pb2 as pb
from prometheus_client.parser import text_string_to_metric_families
from redis_process import free_port  # the metrics endpoint has no --port-file of its own
from service_load import (
    DEFAULT_DATA,
    HOST,
    SERVER,
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


# --- the calls, counted


@dataclass
class Tally:
    """How every call ended, per kind: status codes, latencies, and examples of unexpected ones."""

    codes: dict[str, Counter[str]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)

    def outcome(self, kind: str, code: grpc.StatusCode, detail: str = "") -> None:
        self.codes.setdefault(kind, Counter())[code.name] += 1
        if code not in EXPECTED[kind] and len(self.unexpected) < 20:
            self.unexpected.append(f"{kind} -> {code.name}: {detail[:300]}")

    async def call(self, kind: str, method: Callable[..., Awaitable[Any]], request: Any) -> Any:
        """The reply, or None after an error status (counted, and kept as an example if unexpected)."""
        started = time.perf_counter()
        try:
            reply = await method(request, timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError as error:
            self.latencies.setdefault(kind, []).append(time.perf_counter() - started)
            self.outcome(kind, error.code(), f"{error.details()} (request: {str(request)[:100]!r})")
            return None
        self.latencies.setdefault(kind, []).append(time.perf_counter() - started)
        self.outcome(kind, OK)
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


@dataclass
class Load:
    """The callers and the sampler, sharing one server, one pool and one tally."""

    server: Server
    pool: Pool
    until: float
    metrics_port: int
    tally: Tally = field(default_factory=Tally)
    batch_articles: int = 0

    async def writer(self, rng: random.Random) -> None:
        stub = self.server.stub()
        kinds, weights = list(WRITE_MIX), list(WRITE_MIX.values())
        while time.monotonic() < self.until:
            kind = rng.choices(kinds, weights)[0]
            if kind == "ingest":
                article = self.pool.pick(rng, rng.choice(self.pool.ids))
                await self.tally.call(kind, stub.IngestArticle, pb.IngestArticleRequest(article=article))
            elif kind == "ingest_batch":
                chosen = rng.choices(self.pool.ids, k=rng.randint(*BATCH_SIZES))
                request = pb.BatchIngestArticlesRequest(articles=[self.pool.pick(rng, i) for i in chosen])
                reply = await self.tally.call(kind, stub.BatchIngestArticles, request)
                if reply is not None:
                    self.batch_articles += len(chosen)
                    for result in reply.results:
                        code = STATUS_BY_NUMBER.get(result.error.code, grpc.StatusCode.UNKNOWN)
                        self.tally.outcome("ingest_batch_article", code, result.error.message)
            else:
                request = pb.DeleteArticleRequest(article_id=rng.choice(self.pool.ids))
                await self.tally.call(kind, stub.DeleteArticle, request)

    async def reader(self, rng: random.Random) -> None:
        stub = self.server.stub()
        kinds, weights = list(READ_MIX), list(READ_MIX.values())
        while time.monotonic() < self.until:
            kind = rng.choices(kinds, weights)[0]
            article_id = rng.choice(self.pool.ids)
            max_results = rng.choice((5, 50))
            if kind == "search_by_id":
                request = pb.SearchSimilarArticlesRequest(article_id=article_id, max_results=max_results)
                await self.tally.call(kind, stub.SearchSimilarArticles, request)
            elif kind == "search_by_text":
                text = query(self.pool.pick(rng, article_id))
                request = pb.SearchSimilarArticlesRequest(article=text, max_results=max_results)
                await self.tally.call(kind, stub.SearchSimilarArticles, request)
            elif kind == "get":
                await self.tally.call(kind, stub.GetArticle, pb.GetArticleRequest(article_id=article_id))
            elif kind == "check":
                article = self.pool.pick(rng, article_id)
                article = article if rng.random() < 0.5 else query(article)
                await self.tally.call(kind, stub.CheckArticle, pb.CheckArticleRequest(article=article))
            else:
                order = rng.choice((pb.CLUSTER_ORDER_LARGEST, pb.CLUSTER_ORDER_RECENTLY_UPDATED))
                token = ""
                for _ in range(LIST_PAGES):  # pages turned while the clusters change
                    request = pb.ListClustersRequest(page_size=LIST_PAGE_SIZE, page_token=token, order_by=order)
                    reply = await self.tally.call(kind, stub.ListClusters, request)
                    token = reply.next_page_token if reply is not None else ""
                    if not token:
                        break

    async def sample(self, started: float) -> dict:
        """One point of the series: RSS, index memory, store size, stored articles, and the calls and errors so far."""
        reply = await self.tally.call("stats", self.server.stub().GetStats, pb.GetStatsRequest())
        index_bytes = await asyncio.to_thread(scrape, self.metrics_port, "newsdedup_index_memory_bytes")
        return {
            "t": round(time.monotonic() - started, 1),
            "rss_mb": megabytes(self.server.memory()["rss_bytes"]),
            "index_mb": megabytes(index_bytes),
            "store_mb": megabytes(directory_bytes(self.server.data_dir)),
            "articles": reply.article_count if reply is not None else None,
            "calls": sum(self.tally.calls().values()),
            "calls_by_kind": self.tally.calls(),
            "errors": self.tally.errors(),
        }

    async def sampler(self, started: float, every: float, samples: list[dict]) -> None:
        while True:
            await asyncio.sleep(max(0.0, started + every * len(samples) - time.monotonic()))
            if time.monotonic() >= self.until:
                return
            point = await self.sample(started)
            samples.append(point)
            unexpected = self.tally.unexpected_count()
            progress(
                f"t={point['t']:.0f} s: RSS {point['rss_mb']} MB, index {point['index_mb']} MB, "
                f"store {point['store_mb']} MB, "
                f"{point['articles']} articles, {point['calls']:,} calls, errors {point['errors']} "
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


async def invariants(server: Server, pool: Pool, tally: Tally) -> dict[str, dict[str, Any]]:
    """Probe the pool, the clusters and every stored article once the load has stopped."""
    stub = server.stub()
    stats = await tally.call("stats", stub.GetStats, pb.GetStatsRequest())
    articles: dict[str, pb.StoredArticle] = {}

    async def get(article_id: str) -> None:
        reply = await tally.call("get", stub.GetArticle, pb.GetArticleRequest(article_id=article_id))
        if reply is not None:
            articles[article_id] = reply.article

    await each(pool.ids, get)
    clusters: list[pb.Cluster] = []
    token = ""
    while True:
        request = pb.ListClustersRequest(page_size=100, page_token=token)
        page = await tally.call("list_clusters", stub.ListClusters, request)
        if page is None:
            break
        clusters += page.clusters
        token = page.next_page_token
        if not token:
            break
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
        reply = await tally.call(kind, stub.SearchSimilarArticles, request)
        searches += 1
        if reply is None:
            return None
        returned.update(match.article_id for match in reply.matches)
        return list(reply.matches)

    async def stored_text(article_id: str) -> pb.Article | None:
        for article in pool.texts[article_id]:
            reply = await tally.call("check", stub.CheckArticle, pb.CheckArticleRequest(article=article))
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


# --- the run


def scrape(port: int, metric: str) -> float:
    """The value of an unlabelled gauge on the server's metrics endpoint."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == metric:
                return sample.value
    raise ValueError(f"the metrics endpoint has no {metric}")


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


async def run(options: argparse.Namespace, pool: Pool, server: Server, metrics_port: int) -> dict:
    progress(f"starting an empty server ({SERVER})")
    startup = await server.start()
    empty = server.memory()
    progress(f"serving after {startup:.1f} s, RSS {megabytes(empty['rss_bytes'])} MB; load for {options.duration} s")
    started = time.monotonic()
    load = Load(server, pool, until=started + options.duration, metrics_port=metrics_port)
    samples: list[dict] = []
    clock = CpuClock(server).start()
    callers = [load.writer(random.Random(f"{options.seed}/writer/{i}")) for i in range(options.writers)]
    callers += [load.reader(random.Random(f"{options.seed}/reader/{i}")) for i in range(options.readers)]
    await asyncio.gather(load.sampler(started, options.sample_every, samples), *callers)
    seconds = time.monotonic() - started
    cpu = clock.read()
    samples.append(await load.sample(started))  # the end of the load, every caller stopped
    progress(f"load stopped after {seconds:.1f} s; RSS {samples[-1]['rss_mb']} MB; checking the invariants")

    checks_started = time.monotonic()
    final = Tally()
    checks = await invariants(server, pool, final)
    checks_seconds = time.monotonic() - checks_started
    after_checks = server.memory()
    progress(f"invariants checked in {checks_seconds:.1f} s; stopping the server")
    stop: dict[str, Any]
    try:
        stop = {"seconds": round(await server.stop(), 2)}
    except ServerDied as error:
        stop = {"error": str(error)}
    assert server.process is not None
    stop["exit_code"] = server.process.returncode
    checks["clean_shutdown"] = {"ok": stop["exit_code"] == 0, **stop}

    expected, unexpected = load.tally.split_errors()
    series = [(s["t"], s["rss_mb"]) for s in samples]
    index_series = [(s["t"], s["index_mb"]) for s in samples]
    stored = [s["articles"] for s in samples if s["articles"] is not None]
    second_half = [point for point in series if point[0] >= seconds / 2]
    ok = not unexpected and all(check["ok"] for check in checks.values())
    return {
        "benchmark": "soak",
        "machine": machine(),
        "server": {
            "command": f"{SERVER} serve",
            "extra_args": server.extra_args,
            **code_version(),
        },
        "settings": {
            "duration": options.duration,
            "writers": options.writers,
            "readers": options.readers,
            "ids": options.ids,
            "seed": options.seed,
            "sample_every": options.sample_every,
            "write_mix": WRITE_MIX,
            "read_mix": READ_MIX,
            "batch_sizes": BATCH_SIZES,
            "own_text_share": OWN_TEXT_SHARE,
            "rpc_timeout": RPC_TIMEOUT,
        },
        "duration_seconds": round(seconds, 1),
        "startup_seconds": round(startup, 2),
        "calls": summary(load.tally, seconds),
        "batch_articles": load.batch_articles,
        "cpu": cpu,
        "errors": {
            "expected": expected,
            "unexpected": unexpected,
            "batch_article_codes": dict(sorted(load.tally.codes.get("ingest_batch_article", Counter()).items())),
            "unexpected_examples": load.tally.unexpected[:10],
        },
        "rss": {
            "empty_server_mb": megabytes(empty["rss_bytes"]),
            "start_mb": series[0][1],
            "end_mb": series[-1][1],
            "peak_mb": max(mb for _, mb in series),
            "hwm_mb": megabytes(after_checks["hwm_bytes"]),
            "after_checks_mb": megabytes(after_checks["rss_bytes"]),
            "second_half_slope_mb_per_minute": slope_per_minute(second_half),
            "series": [[t, mb] for t, mb in series],
        },
        "index_memory": {
            "start_mb": index_series[0][1],
            "end_mb": index_series[-1][1],
            "peak_mb": max(mb for _, mb in index_series),
            "second_half_slope_mb_per_minute": slope_per_minute(
                [point for point in index_series if point[0] >= seconds / 2]
            ),
            "series": [[t, mb] for t, mb in index_series],
        },
        "store_mb": {"start": samples[0]["store_mb"], "end": samples[-1]["store_mb"]},
        "articles_stored": {
            "min": min(stored, default=None),
            "max": max(stored, default=None),
            "end": checks["counts_agree"]["get_article_finds"],
        },
        "samples": samples,
        "invariants_seconds": round(checks_seconds, 1),
        "invariants": checks,
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
    options = parser.parse_args(argv)
    if options.duration <= 0 or options.sample_every <= 0:
        parser.error(f"--duration and --sample-every must be positive, got {options.duration}, {options.sample_every}")
    if options.writers < 1 or options.readers < 0:
        parser.error(f"--writers must be at least 1 and --readers at least 0, got {options.writers}, {options.readers}")
    if options.ids < 2:
        parser.error(f"--ids must be at least 2 (an id's texts include another id's), got {options.ids}")
    if not SERVER.exists():
        sys.exit(f"{SERVER} not found: install the project into this environment (pip install -e .)")
    corpus = Corpus.load(options.data.resolve(), options.seed)
    pool = Pool.build(corpus, options.ids, options.seed)
    work = Path(tempfile.mkdtemp(prefix="newsdedup-soak-"))
    (work / "data").mkdir()
    metrics_port = free_port()
    server_args = [*shlex.split(options.server_args), "--metrics-port", str(metrics_port)]
    server = Server(work / "data", work / "server.log", server_args)
    try:
        report = asyncio.run(run(options, pool, server, metrics_port))
    except (ServerDied, grpc.aio.AioRpcError, OSError) as error:
        report_failure(error, server)
        return 1
    finally:
        server.kill()
        log = server.log_tail()
        shutil.rmtree(work, ignore_errors=True)
    if not report["ok"]:
        print(f"not ok; the tail of the server's log:\n{log}", file=sys.stderr)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
