"""Replicas sharing one state in Redis (--store redis://): engines in this process, a real redis-server."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from newsdedup.boilerplate import RecurringLines
from newsdedup.changesets import Changeset
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.errors import Conflict, DeadlineExceeded, IncompatibleData, NotFound, StorageUnavailable
from newsdedup.models import ArticleInput, ArticleResult, Relation, Verdict
from newsdedup.shared import LEASE, LEASE_AFTER_LOSSES, META, PREFIX, Leased, SharedState, Stale
from redis.exceptions import ConnectionError as RedisConnectionError

from .articles import edited_copy, invented_words, story_text
from .redis_server import RedisClusterNodes, RedisServer, RedisWithSentinel

WORDS = invented_words(7, 4_000)
_T = TypeVar("_T")


def story(seed: int, article_id: str | None = None) -> ArticleInput:
    return ArticleInput(id=article_id or f"story-{seed}", title=f"Story {seed}", body=story_text(WORDS, seed))


@pytest.fixture
def replica(redis_server: RedisServer, tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    """Start engines on the shared store (memory-only copies unless a data dir is given); closed at the end."""
    started: list[Engine] = []

    def start(data_dir: str = "", **settings: object) -> Engine:
        engine = Engine(Settings(data_dir=data_dir, store=redis_server.url).replace(**settings))
        started.append(engine)
        return engine

    yield start
    for engine in started:
        engine.close()


def state(engine: Engine, ids: list[str]) -> dict[str, tuple]:
    """What a replica says of each article: verdict, original, cluster and its members; absent ones as None."""
    seen: dict[str, tuple | None] = {}
    for article_id in ids:
        try:
            stored = engine.get_article(article_id)
        except NotFound:
            seen[article_id] = None
            continue
        cluster = engine.get_cluster(cluster_id=stored.cluster_id)
        seen[article_id] = (stored.verdict, stored.duplicate_of, stored.cluster_id, tuple(cluster.article_ids))
    return seen


def test_a_copy_ingested_through_another_replica_is_a_duplicate(replica) -> None:
    """A stores an article; a moment later B judges its exact and edited copies against it."""
    first, second = replica(), replica()
    original = ArticleInput(id="wire", title="Allies weigh post-war force", body=story_text(WORDS, 1))
    first.ingest(original)
    exact = second.ingest(ArticleInput(id="copy", title=original.title, body=original.body))
    assert (exact.verdict, exact.duplicate_of) == (Verdict.EXACT_DUPLICATE, "wire")
    title, body = edited_copy(original.body)
    near = second.ingest(ArticleInput(id="rewrite", title=title, body=body))
    assert (near.verdict, near.duplicate_of) == (Verdict.NEAR_DUPLICATE, "wire")
    assert state(first, ["wire", "copy", "rewrite"]) == state(second, ["wire", "copy", "rewrite"])


def test_ingest_is_idempotent_across_replicas_and_conflicts_are_seen_everywhere(replica) -> None:
    first, second = replica(), replica()
    first.ingest(story(1, "a"))
    assert second.ingest(story(1, "a")).already_ingested
    with pytest.raises(Conflict):
        second.ingest(story(2, "a"))
    assert first.stats().article_count == second.stats().article_count == 1


def test_deletions_and_evictions_reach_every_replica(replica) -> None:
    """B deletes what A stored; with max_articles, A's evictions are gone from B too, clusters and counts alike."""
    first, second = replica(max_articles=5), replica(max_articles=5)
    for seed in range(4):
        first.ingest(story(seed))
    second.delete_article("story-0")
    with pytest.raises(NotFound):
        first.get_article("story-0")
    for seed in range(4, 9):
        first.ingest(story(seed))
    ids = [f"story-{seed}" for seed in range(9)]
    assert state(first, ids) == state(second, ids)
    assert [article_id for article_id, seen in state(second, ids).items() if seen] == ids[4:]
    searched = second.search_similar(article=ArticleInput(id="", body=story_text(WORDS, 2)), max_results=5)
    assert "story-2" not in [match.article_id for match in searched]
    second.ingest(story(9))  # B counts what A stored: it is full too, and evicts the oldest
    assert first.stats().article_count == second.stats().article_count == 5
    assert state(first, ["story-4"]) == {"story-4": None}


def test_concurrent_writers_on_two_replicas_end_in_one_state(replica, ecbplus) -> None:
    """Four threads ingest and delete overlapping ECB+ articles through two replicas at once: writes
    interleave, some are judged again, and both replicas, and a third that copies the state afterwards,
    say the same of every article; cluster sizes add up."""
    first, second = replica(), replica()
    docs = ecbplus[:160]
    errors: list[BaseException] = []

    def writer(engine: Engine, part: int) -> None:
        try:
            for i, doc in enumerate(docs[part::2]):
                article = ArticleInput(id=doc["doc_id"], body=doc["text"])
                if i % 5 == 4:
                    engine.ingest_many([article, ArticleInput(id=doc["doc_id"] + "-copy", body=doc["text"])])
                else:
                    engine.ingest(article)
                if i % 7 == 6:
                    with contextlib.suppress(NotFound):  # the other replica's thread on this part deleted it first
                        engine.delete_article(doc["doc_id"])
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(engine, part)) for engine in (first, second) for part in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    ids = [doc["doc_id"] + suffix for doc in docs for suffix in ("", "-copy")]
    seen = state(first, ids)
    assert seen == state(second, ids) == state(replica(), ids)
    stored = [article_id for article_id, entry in seen.items() if entry is not None]
    clusters = {entry[2]: entry[3] for entry in seen.values() if entry is not None}
    assert sorted(member for members in clusters.values() for member in members) == sorted(stored)
    assert first.stats().article_count == second.stats().article_count == len(stored)


def test_a_replica_restarted_with_its_data_dir_catches_up_from_the_log(replica, tmp_path: Path) -> None:
    data_dir = str(tmp_path / "replica")
    first, other = replica(data_dir), replica()
    first.ingest(story(1))
    first.close()
    other.ingest(story(2))
    other.delete_article("story-1")
    again = replica(data_dir)
    assert state(again, ["story-1", "story-2"]) == state(other, ["story-1", "story-2"])
    assert again.stats().article_count == 1


def test_the_first_replica_puts_its_existing_store_into_an_empty_redis(redis_server, tmp_path: Path) -> None:
    """A server that ran alone keeps its articles when it first starts with --store: they become the shared state."""
    data_dir = str(tmp_path / "alone")
    alone = Engine(Settings(data_dir=data_dir))
    alone.ingest(story(1))
    alone.close()
    shared = Engine(Settings(data_dir=data_dir, store=redis_server.url))
    joined = Engine(Settings(data_dir="", store=redis_server.url))
    try:
        assert joined.get_article("story-1").id == "story-1"
        assert joined.ingest(story(1, "copy")).duplicate_of == "story-1"
        assert shared.get_article("copy").verdict == Verdict.EXACT_DUPLICATE
    finally:
        shared.close()
        joined.close()


def test_redis_going_away_fails_calls_with_storage_unavailable_until_it_is_back(replica, redis_server) -> None:
    """Calls fail cleanly while Redis is down, nothing half-written; once it restarts (same append-only file),
    the same engine carries on without a restart."""
    engine = replica()
    engine.ingest(story(1))
    redis_server.stop()
    with pytest.raises(StorageUnavailable, match="Redis"):
        engine.ingest(story(2))
    with pytest.raises(StorageUnavailable):
        engine.get_article("story-1")
    redis_server.start()
    assert engine.ingest(story(2)).verdict == Verdict.UNIQUE
    assert engine.stats().article_count == 2


def test_a_redis_that_lost_its_data_is_refused(replica, redis_server) -> None:
    """A Redis emptied under the replicas (no persistence, a restart) is not mistaken for an empty state."""
    engine = replica()
    engine.ingest(story(1))
    redis_server.client().flushall()
    with pytest.raises(StorageUnavailable, match="lost its data"):
        engine.ingest(story(2))


def test_a_replica_with_other_signature_parameters_is_refused(replica) -> None:
    replica()
    with pytest.raises(IncompatibleData, match="same settings"):
        replica(num_perm=64)


@contextlib.contextmanager
def by_hand(engine: Engine, url: str) -> Iterator[SharedState]:
    """A connection to the shared state `engine` is on, as another replica's, for the test to drive by hand."""
    shared = SharedState(url, engine._store.get_meta("parameters") or "")
    try:
        shared.join()
        yield shared
    finally:
        shared.close()


def test_a_commit_on_top_of_an_old_position_is_stale_and_writes_nothing(replica, redis_server) -> None:
    """The optimistic check: a changeset made before another replica's commit is refused whole."""
    engine = replica()
    with by_hand(engine, redis_server.url) as shared:
        position = shared._head()
        engine.ingest(story(1))  # another replica commits
        before = redis_server.client().hlen("{newsdedup}:t:articles")
        with pytest.raises(Stale):
            shared.commit(Changeset(), position)
        assert redis_server.client().hlen("{newsdedup}:t:articles") == before == 1


def test_a_long_write_on_one_replica_is_not_starved_by_small_writes_on_another(replica, ecbplus) -> None:
    """A batch takes a while to judge, and another replica commits single articles all the while: the batch
    loses twice, then holds the write lease and commits; the single writes wait their turn and go on."""
    first, second = replica(), replica()
    stop, singles, errors = threading.Event(), [], []

    def single_writer() -> None:
        seed = 0
        try:
            while not stop.is_set():
                second.ingest(story(seed, f"single-{seed}"))
                singles.append(seed)
                seed += 1
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    thread = threading.Thread(target=single_writer)
    thread.start()
    try:
        while len(singles) < 5:  # the other replica is committing
            time.sleep(0.01)
        batch = [ArticleInput(id=doc["doc_id"], body=doc["text"]) for doc in ecbplus[:200]]
        results = first.ingest_many(batch)
        committed_during_batch = len(singles)
        while len(singles) < committed_during_batch + 5:  # and it goes on afterwards
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert all(isinstance(result, ArticleResult) for result in results)
    replication = first.replication()
    assert replication is not None and 1 <= replication["conflicts"] <= LEASE_AFTER_LOSSES
    assert first.stats().article_count == second.stats().article_count == len(batch) + len(singles)


def test_the_write_lease_refuses_other_commits_until_its_own_ends_it_or_it_lapses(replica, redis_server) -> None:
    """While a replica holds the write lease, another's commit is refused whole (Leased); the holder's commit
    ends the lease. A lease whose holder died lapses; a replica that saw it as it caught up waited for that,
    then judged its write once."""
    engine = replica()
    with by_hand(engine, redis_server.url) as shared:
        redis = redis_server.client()
        token = shared.take_lease(60)
        with pytest.raises(Leased):
            shared.commit(Changeset(), shared._head())  # no lease: refused, though on top of the latest write
        assert shared.commit(Changeset(), shared._head(), token)
        assert redis.get(LEASE) is None
        shared.take_lease(0.5)  # and the holder dies
        engine.ingest(story(1))
        assert engine.replication() == {"applied": 1, "conflicts": 0}  # applied: the holder's one commit
        assert redis.get(LEASE) is None


def test_a_write_waiting_for_the_lease_gives_up_at_its_deadline(replica, redis_server) -> None:
    """Another replica holds the lease for a minute: a write with a deadline stops waiting at the deadline
    (DEADLINE_EXCEEDED, nothing stored), not at the end of the lease."""
    engine = replica()
    with by_hand(engine, redis_server.url) as shared:
        token = shared.take_lease(60)
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            engine.ingest(story(1), deadline=started + 0.5)
        assert time.monotonic() - started < 30
        assert redis_server.client().get(LEASE) == token.encode()
        shared.release_lease(token)
        assert engine.stats().article_count == 0


def test_a_write_that_fails_holding_the_write_lease_ends_it(replica, redis_server, monkeypatch) -> None:
    """The lease of a write that fails before its commit (Redis gone, a deadline passed) is given back at once,
    not left to lapse while every other replica waits; if it cannot be, the caller gets the write's error."""
    engine = replica()
    redis = redis_server.client()
    shared = engine._shared.shared

    def commit(changeset: Changeset, position: str, lease: str = "") -> str:
        if not lease:
            raise Stale(position)  # lost to another replica, twice: the next attempt holds the lease
        assert redis.get(LEASE) == lease.encode()
        raise StorageUnavailable("Redis went away")

    monkeypatch.setattr(shared, "commit", commit)
    with pytest.raises(StorageUnavailable, match="Redis went away"):
        engine.ingest(story(1))
    assert redis.get(LEASE) is None

    def unreachable(*args: object, **kwargs: object) -> None:
        raise RedisConnectionError("Redis is unreachable")

    monkeypatch.setattr(shared, "_release", unreachable)  # the lease cannot be given back: it will lapse
    with pytest.raises(StorageUnavailable, match="Redis went away"):  # the write's own error, not the release's
        engine.ingest(story(1))
    assert redis.pttl(LEASE) > 0
    monkeypatch.undo()
    redis.delete(LEASE)
    assert engine.ingest(story(1)).verdict == Verdict.UNIQUE


def test_a_replica_the_trimmed_log_left_behind_copies_the_state_again(replica, redis_server) -> None:
    """When the log no longer holds what a replica missed (trimmed by age while it was idle), the gap shows
    and the replica copies the tables anew instead of carrying on without those writes."""
    first, second = replica(), replica()
    first.ingest(story(1))
    second.get_article("story-1")  # caught up
    for seed in (2, 3, 4):
        first.ingest(story(seed))
    first.delete_article("story-1")
    redis_server.client().xtrim("{newsdedup}:log", maxlen=1)  # keeps only the newest write
    ids = [f"story-{seed}" for seed in range(1, 5)]
    assert state(second, ids) == state(first, ids)
    assert second.stats().article_count == 3
    second.ingest(story(5))  # and writes on from the copy
    assert first.get_article("story-5").verdict == Verdict.UNIQUE


def test_a_write_redis_took_but_the_local_commit_lost_comes_back_through_the_log(replica) -> None:
    """The local commit fails after Redis took the write (a full local disk, say): the caller gets the error,
    the replica's memory is rolled back, and the write comes back through the log like another replica's."""
    engine, other = replica(), replica()
    ship = engine._store.on_commit
    assert ship is not None

    def ship_then_fail(changeset: Changeset) -> None:
        ship(changeset)
        raise StorageUnavailable("the local disk is full (injected)")

    engine._store.on_commit = ship_then_fail
    with pytest.raises(StorageUnavailable, match="injected"):
        engine.ingest(story(1))
    engine._store.on_commit = ship
    assert engine.ingest(story(1)).already_ingested
    assert engine.stats().article_count == other.stats().article_count == 1
    assert state(engine, ["story-1"]) == state(other, ["story-1"])
    assert engine.ingest(story(1, "copy")).duplicate_of == "story-1"


def test_replicas_taking_turns_answer_exactly_as_one_server(replica, ecbplus) -> None:
    """The same stream of writes (200 ECB+ articles, some deleted) spread over two replicas gives every result,
    verdict, original, story and member list that a single server gives: replication adds nothing and
    loses nothing, the story clusters included."""
    single = Engine(Settings(data_dir=""))
    first, second = replica(), replica()
    articles = [ArticleInput(id=doc["doc_id"], body=doc["text"]) for doc in ecbplus[:200]]
    try:
        for i, article in enumerate(articles):
            alone = single.ingest(article)
            shared = (first if i % 3 else second).ingest(article)
            assert (shared.verdict, shared.duplicate_of, shared.cluster_id, shared.cluster_size) == (
                alone.verdict,
                alone.duplicate_of,
                alone.cluster_id,
                alone.cluster_size,
            ), article.id
            if i % 40 == 39:
                single.delete_article(articles[i - 20].id)
                (second if i % 2 else first).delete_article(articles[i - 20].id)
        ids = [article.id for article in articles]
        assert state(first, ids) == state(second, ids) == state(single, ids)
    finally:
        single.close()


SOURCES = ("Courier", "Herald", "Tribune")


def test_a_source_forgotten_to_make_room_is_forgotten_on_every_replica_and_no_other(replica) -> None:
    """Past max_sources the writer forgets its least recently observed source; another replica, which saw the
    sources arrive in another order, forgets the same one and keeps the learned chrome of the rest."""
    first, second = replica(), replica()
    for engine in (first, second):
        engine._recurring = RecurringLines(min_articles=2, max_sources=2)

    def article(source: str, seed: int) -> ArticleInput:
        body = "\n".join([story_text(WORDS, seed), f"The {source}: news for the Midlands since 1889"])
        return ArticleInput(id=f"{source}-{seed}", body=body, source=source)

    # The batch saves the Courier's counts first, but the Courier was observed last: the Herald is the
    # writer's least recent source, not the other replica's.
    first.ingest_many([article("Courier", 1), article("Herald", 2), article("Courier", 3)])
    second.get_article("Courier-1")  # caught up
    first.ingest(article("Tribune", 6))
    second.get_article("Tribune-6")
    third = replica()  # copies the state afterwards

    def counted(engine: Engine) -> dict[str, bytes]:
        return {source: engine._recurring.export(source) for source in SOURCES if source in engine._recurring}

    assert set(counted(first)) == {"Courier", "Tribune"}
    assert first._recurring.learned("Courier")  # its template line, in both of its articles
    assert counted(second) == counted(third) == counted(first)


def test_a_read_call_reads_the_log_once_and_sees_every_write_committed_before_it(replica, monkeypatch) -> None:
    """Check, search and compare catch the copy up once, while analysing their texts (one round trip to Redis),
    and still judge against what another replica committed just before."""
    first, second = replica(), replica()
    original = story(1, "wire")
    copy = ArticleInput(id="", title=original.title, body=original.body)
    shared = second._shared
    assert shared is not None
    reads: list[str] = []
    real_changes = shared.changes

    def counted(position: str):
        reads.append(position)
        return real_changes(position)

    monkeypatch.setattr(shared, "changes", counted)
    first.ingest(original)
    assert (second.check(copy).verdict, len(reads)) == (Verdict.EXACT_DUPLICATE, 1)
    first.ingest(story(2, "other"))
    assert [match.article_id for match in second.search_similar(article=story(2, ""))][:1] == ["other"]
    assert len(reads) == 2
    assert second.compare(copy, story(2, "")).relation != Relation.EXACT_DUPLICATE
    assert len(reads) == 3


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[RedisClusterNodes]:
    """A Redis Cluster of three real redis-servers on loopback, stopped by their PIDs at the end."""
    cluster = RedisClusterNodes(tmp_path / "cluster").start()
    yield cluster
    cluster.stop()


def test_replicas_on_a_redis_cluster_share_one_state_through_any_node_and_follow_a_resharding(
    redis_cluster: RedisClusterNodes,
) -> None:
    """Each replica is given another node of the cluster, two of which do not hold newsdedup's hash slot:
    they share one state. When the slot moves to another node (resharding), they follow it, not restarted."""
    engines = [Engine(Settings(data_dir="", store=url)) for url in redis_cluster.urls]
    try:
        first, second, third = engines
        original = story(1, "wire")
        first.ingest(original)
        copy = second.ingest(ArticleInput(id="copy", title=original.title, body=original.body))
        assert (copy.verdict, copy.duplicate_of) == (Verdict.EXACT_DUPLICATE, "wire")
        holder = redis_cluster.holder(META)
        redis_cluster.move_slot_of(META, to=(holder + 1) % 3)
        assert redis_cluster.holder(META) != holder
        assert third.ingest(story(1, "copy-2")).duplicate_of == "wire"
        second.ingest(story(2))
        first.delete_article("copy")
        ids = ["wire", "copy", "copy-2", "story-2"]
        assert state(first, ids) == state(second, ids) == state(third, ids)
        assert third.stats().article_count == 3
    finally:
        for engine in engines:
            engine.close()


def test_replicas_on_a_redis_cluster_follow_a_failover_of_the_node_holding_their_slot(
    redis_cluster: RedisClusterNodes,
) -> None:
    """The node holding newsdedup's slot crashes; its replica takes over (the cluster's own failover). Calls fail
    with STORAGE_UNAVAILABLE meanwhile, then every replica goes on, the one given the crashed node's URL too."""
    holder = redis_cluster.holder(META)
    standby = redis_cluster.add_replica(of=holder)
    engines = [Engine(Settings(data_dir="", store=url)) for url in redis_cluster.urls[:3]]
    try:
        original = story(1, "wire")
        engines[0].ingest(original)
        with redis_cluster.nodes[holder].client() as client:  # replication is asynchronous: the README says so
            assert client.execute_command("WAIT", 1, 10_000) == 1
        redis_cluster.crash(holder)
        with pytest.raises(StorageUnavailable):
            engines[holder].ingest(story(2))
        redis_cluster.wait_for_promotion(standby)
        assert redis_cluster.holder(META) == standby
        for engine, seed in zip(engines, (3, 4, 5), strict=True):
            after_failover(lambda engine=engine, seed=seed: engine.ingest(story(seed)))
        copy = engines[holder].ingest(ArticleInput(id="copy", title=original.title, body=original.body))
        assert (copy.verdict, copy.duplicate_of) == (Verdict.EXACT_DUPLICATE, "wire")
        ids = ["wire", "copy", "story-2", "story-3", "story-4", "story-5"]
        assert state(engines[0], ids) == state(engines[1], ids) == state(engines[2], ids)
        assert state(engines[0], ["story-2"]) == {"story-2": None}  # refused while the slot had no node
        assert engines[2].stats().article_count == 5
    finally:
        for engine in engines:
            engine.close()


@pytest.fixture
def redis_with_sentinel(tmp_path: Path) -> Iterator[RedisWithSentinel]:
    """A real master, its replica and a Sentinel watching them, stopped by their PIDs at the end."""
    redis = RedisWithSentinel(tmp_path / "sentinel").start()
    yield redis
    redis.stop()


def after_failover(call: Callable[[], _T]) -> _T:
    """The call's result once it reaches the new master: calls that meet the demoted one fail, as the README says."""
    for _ in range(40):
        try:
            return call()
        except StorageUnavailable:
            time.sleep(0.25)
    return call()


@pytest.mark.parametrize(
    "url",
    ["redis+sentinel://127.0.0.1:26379", "redis+sentinel://127.0.0.1/news/0", "redis+sentinel://h:1/news/first"],
)
def test_a_sentinel_url_without_sentinels_or_a_service_is_refused_saying_what_it_takes(url: str) -> None:
    with pytest.raises(StorageUnavailable, match=r"host:port\[,host:port\.\.\.\]/service\[/db\]"):
        Engine(Settings(data_dir="", store=url))


def test_replicas_through_sentinel_follow_a_failover_to_the_promoted_master(redis_with_sentinel) -> None:
    """--store redis+sentinel://: the replicas find the master through Sentinel; after a failover they write to
    the promoted replica, which holds every acknowledged write (it had them all: WAIT), not restarted."""
    first, second = (Engine(Settings(data_dir="", store=redis_with_sentinel.url)) for _ in range(2))
    try:
        original = story(1, "wire")
        first.ingest(original)
        assert redis_with_sentinel.master_port() == redis_with_sentinel.master.port
        redis_with_sentinel.failover()
        copy = after_failover(lambda: second.ingest(ArticleInput(id="copy", title=original.title, body=original.body)))
        assert (copy.verdict, copy.duplicate_of) == (Verdict.EXACT_DUPLICATE, "wire")
        after_failover(lambda: first.ingest(story(2)))
        ids = ["wire", "copy", "story-2"]
        assert state(first, ids) == state(second, ids)
        with redis_with_sentinel.replica.client() as promoted:
            assert promoted.hlen(f"{PREFIX}:t:articles") == 3
    finally:
        first.close()
        second.close()
