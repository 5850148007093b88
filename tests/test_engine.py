"""The engine's use cases, on an in-memory store."""

from __future__ import annotations

import contextlib
import itertools
import random
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from newsdedup import text
from newsdedup.boilerplate import RecurringLines
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.errors import Conflict, InvalidArgument, NotFound, StorageUnavailable
from newsdedup.models import ArticleInput, ClusterOrder, Relation, Verdict

from .articles import edited_copy, invented_words, story_text

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> list[datetime]:
    """The engine's clock: tests move now[0]."""
    return [T0]


@pytest.fixture
def timed_engine(clock: list[datetime]):
    engine = Engine(Settings(data_dir=""), clock=lambda: clock[0])
    yield engine
    engine.close()


def test_first_article_is_unique_in_its_own_cluster(engine: Engine, seeds) -> None:
    """The first article of a story is unique and founds a cluster of one."""
    result = engine.ingest(ArticleInput(id=seeds[0].id, body=seeds[0].body))
    assert result.verdict == Verdict.UNIQUE
    assert result.duplicate_of == ""
    assert result.matches == []
    assert result.cluster_size == 1
    assert engine.get_cluster(cluster_id=result.cluster_id).article_ids == [seeds[0].id]


def test_exact_copy_is_reported_with_its_original(engine: Engine, seeds) -> None:
    """A word-for-word copy, even reformatted, is an exact duplicate of the stored article, in its cluster."""
    original = engine.ingest(ArticleInput(id="original", body=seeds[0].body))
    reformatted = "  " + seeds[0].body.replace("\n", "\n\n").replace(",", " ,") + "\n"
    copy = engine.ingest(ArticleInput(id="copy", body=reformatted))
    assert copy.verdict == Verdict.EXACT_DUPLICATE
    assert copy.duplicate_of == "original"
    assert copy.matches[0].article_id == "original"
    assert copy.matches[0].relation == Relation.EXACT_DUPLICATE
    assert copy.matches[0].similarity == 1.0
    assert copy.cluster_id == original.cluster_id
    assert copy.cluster_size == 2


def test_edited_copy_is_a_near_duplicate(engine: Engine, seeds) -> None:
    """A syndicated rewrite (new headline, byline, dropped paragraph, chrome) is a near duplicate."""
    engine.ingest(ArticleInput(id="original", body=seeds[2].body))
    title, body = edited_copy(seeds[2].body)
    result = engine.ingest(ArticleInput(id="rewrite", title=title, body=body))
    assert result.verdict == Verdict.NEAR_DUPLICATE
    assert result.duplicate_of == "original"
    assert result.matches[0].relation == Relation.NEAR_DUPLICATE
    assert 0.5 <= result.matches[0].similarity < 1.0
    assert result.cluster_id == engine.get_article("original").cluster_id


def test_duplicate_of_is_the_earliest_published(timed_engine: Engine, seeds) -> None:
    """Of several stored copies, duplicate_of names the earliest published, not the first ingested."""
    timed_engine.ingest(ArticleInput(id="late", body=seeds[1].body, published_at=T0 - timedelta(hours=1)))
    timed_engine.ingest(ArticleInput(id="early", body=seeds[1].body, published_at=T0 - timedelta(days=2)))
    result = timed_engine.ingest(ArticleInput(id="third", body=seeds[1].body))
    assert result.duplicate_of == "early"
    assert [m.article_id for m in result.matches[:2]] == ["early", "late"]


def test_five_seed_outlets_form_one_story_without_ecbplus_events(engine: Engine, seeds, ecbplus) -> None:
    """The five seed articles land in one cluster; articles about other events do not join it."""
    others = [doc for doc in ecbplus if doc["topic"] in (1, 2, 3, 19, 41)][:40]
    for doc in others[:20]:
        engine.ingest(ArticleInput(id=doc["doc_id"], body=doc["text"]))
    clusters = {engine.ingest(ArticleInput(id=seed.id, body=seed.body)).cluster_id for seed in seeds}
    for doc in others[20:]:
        engine.ingest(ArticleInput(id=doc["doc_id"], body=doc["text"]))
    final = {engine.get_article(seed.id).cluster_id for seed in seeds}
    assert len(final) == 1, f"seeds split over {final} (during ingest: {clusters})"
    cluster = engine.get_cluster(cluster_id=final.pop())
    assert sorted(cluster.article_ids) == sorted(seed.id for seed in seeds)


def test_the_seed_story_is_one_cluster_in_every_order_from_a_cold_start(seeds) -> None:
    """All 120 orders of the five seed articles, each into an empty service: always one story of five.

    The hardest start: document frequencies come from the built-in prior alone,
    and an article that opens a story of its own must be merged back later.
    """
    for order in itertools.permutations(seeds):
        engine = Engine(Settings(data_dir=""))
        try:
            for seed in order:
                engine.ingest(ArticleInput(id=seed.id, body=seed.body))
            clusters = {engine.get_article(seed.id).cluster_id for seed in seeds}
        finally:
            engine.close()
        assert len(clusters) == 1, [seed.id for seed in order]


def test_reingesting_the_same_article_changes_nothing(engine: Engine, seeds) -> None:
    """Re-sending an id with the same text is idempotent and says so."""
    first = engine.ingest(ArticleInput(id="a", body=seeds[0].body))
    before = engine.stats()
    again = engine.ingest(ArticleInput(id="a", body=seeds[0].body, title=""))
    assert again.already_ingested
    assert (again.verdict, again.cluster_id, again.cluster_size) == (first.verdict, first.cluster_id, 1)
    assert engine.stats() == before


def test_same_id_with_other_text_is_a_conflict(engine: Engine, seeds) -> None:
    """An id that is stored with different text is refused; the stored article is untouched."""
    engine.ingest(ArticleInput(id="a", body=seeds[0].body))
    with pytest.raises(Conflict) as raised:
        engine.ingest(ArticleInput(id="a", body=seeds[1].body))
    assert "'a'" in raised.value.message
    assert engine.get_article("a").content_hash == engine.get_article("a").content_hash
    assert engine.search_similar(article=ArticleInput(id="", body=seeds[0].body))[0].article_id == "a"


def test_check_predicts_ingest_and_stores_nothing(engine: Engine, seeds) -> None:
    """CheckArticle gives the verdict ingest would give, and leaves the store as it was."""
    engine.ingest(ArticleInput(id="original", body=seeds[3].body))
    title, body = edited_copy(seeds[3].body)
    before = engine.stats()
    checked = engine.check(ArticleInput(id="rewrite", title=title, body=body))
    assert engine.stats() == before
    with pytest.raises(NotFound):
        engine.get_article("rewrite")
    ingested = engine.ingest(ArticleInput(id="rewrite", title=title, body=body))
    assert (checked.verdict, checked.duplicate_of, checked.cluster_id) == (
        ingested.verdict,
        ingested.duplicate_of,
        ingested.cluster_id,
    )
    assert checked.cluster_size == ingested.cluster_size


def test_check_of_a_new_story_has_no_cluster_yet(engine: Engine, seeds) -> None:
    """A check that would found a new cluster reports an empty cluster id and a size of one."""
    result = engine.check(ArticleInput(id="", body=seeds[0].body))
    assert (result.verdict, result.cluster_id, result.cluster_size) == (Verdict.UNIQUE, "", 1)


def test_bridging_article_merges_clusters_and_the_older_id_survives(engine: Engine) -> None:
    """Two stories bridged by a third article merge; the older id survives and the other still resolves."""
    alpha, beta = invented_words(1, 20), invented_words(2, 20)
    first = engine.ingest(ArticleInput(id="alpha", body=story_text(alpha, 1)))
    second = engine.ingest(ArticleInput(id="beta", body=story_text(beta, 2)))
    assert first.cluster_id != second.cluster_id
    bridge = engine.ingest(ArticleInput(id="bridge", body=story_text(alpha + beta, 3, length=240)))
    assert bridge.cluster_id == first.cluster_id
    assert bridge.cluster_size == 3
    merged = engine.get_cluster(cluster_id=second.cluster_id)
    assert merged.cluster_id == first.cluster_id
    assert merged.merged_cluster_ids == [second.cluster_id]
    assert sorted(merged.article_ids) == ["alpha", "beta", "bridge"]
    assert engine.get_article("beta").cluster_id == first.cluster_id
    assert engine.stats().cluster_count == 1


def test_merged_ids_keep_resolving_through_later_merges(engine: Engine) -> None:
    """An id merged into a cluster that is merged again resolves to the final cluster."""
    a, b, c = invented_words(11, 20), invented_words(12, 20), invented_words(13, 20)
    ids = [
        engine.ingest(ArticleInput(id=name, body=story_text(words, i))).cluster_id
        for i, (name, words) in enumerate([("a", a), ("b", b), ("c", c)])
    ]
    engine.ingest(ArticleInput(id="bc", body=story_text(b + c, 4, length=240)))
    final = engine.ingest(ArticleInput(id="abc", body=story_text(a + b + c, 5, length=360)))
    assert final.cluster_id == ids[0]
    for old in ids:
        assert engine.get_cluster(cluster_id=old).cluster_id == ids[0]
    assert sorted(engine.get_cluster(cluster_id=ids[0]).merged_cluster_ids) == sorted(ids[1:])


def test_deleting_an_original_rejudges_its_duplicates(engine: Engine, seeds) -> None:
    """After the original goes, its first copy becomes unique and the next copy points at it."""
    engine.ingest(ArticleInput(id="original", body=seeds[0].body))
    engine.ingest(ArticleInput(id="copy1", body=seeds[0].body))
    engine.ingest(ArticleInput(id="copy2", body=seeds[0].body))
    cluster_id = engine.get_article("copy1").cluster_id
    engine.delete_article("original")
    assert engine.get_article("copy1").verdict == Verdict.UNIQUE
    assert engine.get_article("copy1").duplicate_of == ""
    assert engine.get_article("copy2").verdict == Verdict.EXACT_DUPLICATE
    assert engine.get_article("copy2").duplicate_of == "copy1"
    cluster = engine.get_cluster(cluster_id=cluster_id)
    assert (cluster.size, sorted(cluster.article_ids)) == (2, ["copy1", "copy2"])
    with pytest.raises(NotFound):
        engine.get_article("original")
    assert all(m.article_id != "original" for m in engine.search_similar(article_id="copy1"))


def test_deleting_the_last_article_removes_its_cluster(engine: Engine, seeds) -> None:
    """A cluster with no articles left is gone, and its id no longer resolves."""
    result = engine.ingest(ArticleInput(id="only", body=seeds[0].body))
    engine.delete_article("only")
    with pytest.raises(NotFound):
        engine.get_cluster(cluster_id=result.cluster_id)
    assert engine.stats().cluster_count == 0
    assert engine.check(ArticleInput(id="", body=seeds[0].body)).verdict == Verdict.UNIQUE
    again = engine.ingest(ArticleInput(id="only", body=seeds[1].body))
    assert again.verdict == Verdict.UNIQUE and not again.already_ingested


def test_deleting_an_unknown_article_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound) as raised:
        engine.delete_article("missing")
    assert raised.value.reason == "ARTICLE_NOT_FOUND"


def test_search_by_id_leaves_the_article_out_and_ranks_duplicates_first(engine: Engine, seeds) -> None:
    """Searching from a stored article: copies first, then the same story, never itself."""
    for seed in seeds:
        engine.ingest(ArticleInput(id=seed.id, body=seed.body))
    engine.ingest(ArticleInput(id="copy", body=seeds[0].body))
    matches = engine.search_similar(article_id=seeds[0].id, max_results=10)
    assert seeds[0].id not in [m.article_id for m in matches]
    assert matches[0].article_id == "copy" and matches[0].relation == Relation.EXACT_DUPLICATE
    story = [m for m in matches if m.relation == Relation.SAME_STORY]
    assert story, "the other seeds should be found as the same story"
    assert [m.similarity for m in story] == sorted((m.similarity for m in story), reverse=True)
    assert all(m.similarity >= 0.3 for m in engine.search_similar(article_id=seeds[0].id, min_similarity=0.3))
    assert len(engine.search_similar(article_id=seeds[0].id, max_results=2)) == 2


def test_search_by_text_finds_the_stored_copy_at_similarity_one(engine: Engine, seeds) -> None:
    engine.ingest(ArticleInput(id="stored", body=seeds[4].body))
    matches = engine.search_similar(article=ArticleInput(id="", body=seeds[4].body))
    assert (matches[0].article_id, matches[0].similarity, matches[0].relation) == (
        "stored",
        1.0,
        Relation.EXACT_DUPLICATE,
    )


def words_of(raw: str) -> str:
    """A text as the space-separated words explanations are made of."""
    return " " + " ".join(text.tokenize(raw).strings(text.normalize(raw))) + " "


def test_search_explains_each_match_with_shared_shingles_and_terms(engine: Engine, seeds) -> None:
    """Every search match says why: shingles both texts hold (a rewrite shares many) and the heaviest shared terms."""
    engine.ingest(ArticleInput(id="original", body=seeds[2].body))
    title, body = edited_copy(seeds[2].body)
    ingested = engine.ingest(ArticleInput(id="rewrite", title=title, body=body))
    assert all(not m.shared_shingles and not m.shared_terms for m in ingested.matches)  # ingest never explains
    for seed in (seeds[1], seeds[3], seeds[4]):
        engine.ingest(ArticleInput(id=seed.id, body=seed.body))
    matches = {m.article_id: m for m in engine.search_similar(article_id="original")}
    rewrite = matches["rewrite"]
    assert rewrite.relation == Relation.NEAR_DUPLICATE
    assert len(rewrite.shared_shingles) == 20
    assert all(f" {s} " in words_of(seeds[2].body) and f" {s} " in words_of(body) for s in rewrite.shared_shingles)
    same_story = [m for m in matches.values() if m.relation == Relation.SAME_STORY]
    assert same_story, "the other outlets' coverage should match as the same story"
    for match in same_story:
        other = next(seed.body for seed in seeds if seed.id == match.article_id)
        assert match.shared_terms and "coalition" in match.shared_terms[:10]
        assert all(f" {t} " in words_of(seeds[2].body) and f" {t} " in words_of(other) for t in match.shared_terms)
    by_text = {m.article_id: m for m in engine.search_similar(article=ArticleInput(id="", body=seeds[2].body))}
    assert by_text["rewrite"].shared_shingles == rewrite.shared_shingles


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"max_results": -1}, "max_results"), ({"min_similarity": 1.5}, "min_similarity"), ({}, "article_id or article")],
    ids=["negative-max", "similarity-above-one", "no-query"],
)
def test_search_rejects_bad_arguments(engine: Engine, arguments: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        engine.search_similar(**({"article_id": "x"} if arguments else {}) | arguments)


def test_list_clusters_pages_through_every_cluster_once(engine: Engine) -> None:
    """Paging with tokens returns each cluster exactly once, largest first."""
    for i in range(7):
        words = invented_words(100 + i, 20)
        for copy in range(i % 3 + 1):
            engine.ingest(ArticleInput(id=f"s{i}-{copy}", body=story_text(words, 10 * i + copy)))
    seen, token, pages = [], "", 0
    while True:
        page = engine.list_clusters(page_size=3, page_token=token)
        seen += page.clusters
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert len({c.cluster_id for c in seen}) == len(seen) == engine.stats().cluster_count == 7
    assert [c.size for c in seen] == sorted((c.size for c in seen), reverse=True)
    large = engine.list_clusters(min_size=3).clusters
    assert large and all(c.size >= 3 for c in large)


def test_list_clusters_by_recent_update(timed_engine: Engine, clock) -> None:
    """RECENTLY_UPDATED puts the cluster that last gained an article first."""
    ids = []
    for i in range(3):
        clock[0] = T0 + timedelta(minutes=i)
        ids.append(
            timed_engine.ingest(ArticleInput(id=f"a{i}", body=story_text(invented_words(200 + i, 20), i))).cluster_id
        )
    clock[0] = T0 + timedelta(minutes=10)
    timed_engine.ingest(ArticleInput(id="a0-copy", body=story_text(invented_words(200, 20), 0)))
    order = [c.cluster_id for c in timed_engine.list_clusters(order=ClusterOrder.RECENTLY_UPDATED).clusters]
    assert order == [ids[0], ids[2], ids[1]]


def test_page_token_from_another_query_is_rejected(engine: Engine) -> None:
    for i in range(3):
        engine.ingest(ArticleInput(id=f"x{i}", body=story_text(invented_words(300 + i, 20), i)))
    token = engine.list_clusters(page_size=1).next_page_token
    with pytest.raises(InvalidArgument, match="min_size"):
        engine.list_clusters(page_size=1, page_token=token, min_size=2)
    with pytest.raises(InvalidArgument) as raised:
        engine.list_clusters(page_size=1, page_token=token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1])
    assert raised.value.reason == "INVALID_PAGE_TOKEN"


def test_get_article_reports_stored_metadata(timed_engine: Engine, seeds) -> None:
    """GetArticle returns what was sent, the ingest time, and a 16-digit content hash."""
    published = T0 - timedelta(days=1)
    timed_engine.ingest(
        ArticleInput(
            id="a",
            title="Title",
            body=seeds[0].body,
            url="https://example.org/a",
            source="Example",
            published_at=published,
            language="en",
        )
    )
    timed_engine.ingest(ArticleInput(id="b", body=seeds[0].body))
    a, b = timed_engine.get_article("a"), timed_engine.get_article("b")
    assert (a.title, a.url, a.source, a.language, a.published_at, a.ingested_at) == (
        "Title", "https://example.org/a", "Example", "en", published, T0,
    )  # fmt: skip
    assert b.published_at == T0, "published_at defaults to the ingest time"
    assert len(a.content_hash) == 16 and int(a.content_hash, 16) >= 0
    assert (b.verdict, b.duplicate_of) == (Verdict.NEAR_DUPLICATE, "a"), "the title makes a's text differ"


@pytest.mark.parametrize(
    ("article", "reason"),
    [
        (ArticleInput(id="", body="some words"), "MISSING_ID"),
        (ArticleInput(id="   ", body="some words"), "MISSING_ID"),
        (ArticleInput(id="x" * 513, body="some words"), "ID_TOO_LONG"),
        (ArticleInput(id="bad\x00id", body="some words"), "INVALID_ID"),
        (ArticleInput(id="empty", body=""), "NO_USABLE_TEXT"),
        (ArticleInput(id="punctuation", title="...", body="-- !! ??"), "NO_USABLE_TEXT"),
        (
            ArticleInput(id="chrome", body="Leave a Comment\nPrev Article\nSome headline\nShare this article"),
            "NO_USABLE_TEXT",
        ),
        (ArticleInput(id="huge", body="word " * 200_001), "TEXT_TOO_LARGE"),
    ],
    ids=["no-id", "blank-id", "long-id", "control-char-id", "empty", "punctuation-only", "chrome-only", "too-large"],
)
def test_invalid_articles_are_refused_with_a_reason(engine: Engine, article: ArticleInput, reason: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        engine.ingest(article)
    assert raised.value.reason == reason
    assert engine.stats().article_count == 0


@pytest.mark.parametrize(
    "body", ["x", "42", "a b c", "I", "2026 10 31"], ids=["letter", "number", "letters", "pronoun", "date"]
)
def test_articles_without_story_terms_are_still_judged(body: str) -> None:
    """With min_content_words 1, a text of numbers and single letters (no salient terms) is judged, its copy found."""
    engine = Engine(Settings(data_dir="", min_content_words=1))
    try:
        outcomes = engine.ingest_many([ArticleInput(id="short", body=body), ArticleInput(id="copy", body=body)])
    finally:
        engine.close()
    assert [o.verdict for o in outcomes] == [Verdict.UNIQUE, Verdict.EXACT_DUPLICATE]
    assert outcomes[1].cluster_id == outcomes[0].cluster_id


RATE_LIMITED = "Too Many Requests\nYou have sent too many requests in a given amount of time. Please try again later."
CONSENT_WALL = "\n".join(
    [
        "We value your privacy",
        "Accept all cookies",
        "Manage preferences",
        "Subscribe to our newsletter",
        "Share this article",
        "Leave a Comment",
    ]
)


@pytest.mark.parametrize(
    ("title", "body"),
    [("Markets rally on rate cut", RATE_LIMITED), ("Storm closes ports", CONSENT_WALL), ("", "Breaking: more soon")],
    ids=["rate-limit-page", "consent-wall-with-headline", "three-word-brief"],
)
def test_too_little_content_is_flagged_and_never_matched(engine: Engine, title: str, body: str) -> None:
    """Pages that are mostly chrome get VERDICT_LOW_CONTENT: never a duplicate, never duplicated, alone in a story."""
    first = engine.ingest(ArticleInput(id="first", title=title, body=body))
    copy = engine.ingest(ArticleInput(id="copy", title=title, body=body))
    for result in (first, copy):
        assert (result.verdict, result.duplicate_of, result.matches, result.cluster_size) == (
            Verdict.LOW_CONTENT,
            "",
            [],
            1,
        )
    assert copy.cluster_id != first.cluster_id
    assert engine.check(ArticleInput(id="", title=title, body=body)).verdict == Verdict.LOW_CONTENT
    assert engine.get_article("copy").verdict == Verdict.LOW_CONTENT
    assert engine.search_similar(article_id="first") == []
    assert engine.ingest(ArticleInput(id="copy", title=title, body=body)).already_ingested


def test_a_page_fetched_again_replaces_its_low_content_version(engine: Engine, seeds) -> None:
    """The same id with real text replaces a stored low-content page (a re-fetch); other stored ids still conflict."""
    thin = engine.ingest(ArticleInput(id="page", title="Allies meet in Paris", body=CONSENT_WALL))
    assert thin.verdict == Verdict.LOW_CONTENT
    engine.ingest(ArticleInput(id="other", title="Allies meet in Paris", body=seeds[0].body))
    refetched = engine.ingest(ArticleInput(id="page", title="Allies meet in Paris", body=seeds[0].body))
    assert (refetched.verdict, refetched.duplicate_of, refetched.already_ingested) == (
        Verdict.EXACT_DUPLICATE,
        "other",
        False,
    )
    assert engine.get_article("page").verdict == Verdict.EXACT_DUPLICATE
    with pytest.raises(NotFound):
        engine.get_cluster(cluster_id=thin.cluster_id)
    assert engine.stats().article_count == 2
    with pytest.raises(Conflict):
        engine.ingest(ArticleInput(id="page", body=seeds[1].body))


def test_a_real_article_is_never_a_duplicate_of_a_thin_page(engine: Engine, seeds) -> None:
    """A low-content page is not indexed: a full article holding the same words is judged among real articles only."""
    thin = engine.ingest(ArticleInput(id="thin", body=" ".join(seeds[0].body.split()[:6])))
    assert thin.verdict == Verdict.LOW_CONTENT
    full = engine.ingest(ArticleInput(id="full", body=seeds[0].body))
    assert (full.verdict, full.duplicate_of) == (Verdict.UNIQUE, "")
    assert all(match.article_id != "thin" for match in full.matches)
    assert full.cluster_id != thin.cluster_id


def test_low_content_articles_stay_unindexed_after_a_restart(tmp_path, seeds) -> None:
    """Startup indexes only judged articles; a thin page is still alone and unmatched after a restart."""
    settings = Settings(data_dir=str(tmp_path))
    engine = Engine(settings)
    engine.ingest(ArticleInput(id="thin", title="Markets rally", body=RATE_LIMITED))
    engine.ingest(ArticleInput(id="real", body=seeds[1].body))
    engine.close()
    engine = Engine(settings)
    try:
        assert engine.search_similar(article_id="thin") == []
        again = engine.ingest(ArticleInput(id="again", title="Markets rally", body=RATE_LIMITED))
        assert (again.verdict, again.matches) == (Verdict.LOW_CONTENT, [])
        assert engine.ingest(ArticleInput(id="copy", body=seeds[1].body)).duplicate_of == "real"
    finally:
        engine.close()


def test_text_too_large_names_the_limit(engine: Engine) -> None:
    with pytest.raises(InvalidArgument, match="limit is 1000000 bytes"):
        engine.ingest(ArticleInput(id="huge", body="x" * 1_000_001))


def test_batch_results_keep_order_and_isolate_bad_articles(engine: Engine, seeds) -> None:
    """A batch sees its own earlier articles; a bad article gets its error and the others are stored."""
    outcomes = engine.ingest_many(
        [
            ArticleInput(id="a", body=seeds[0].body),
            ArticleInput(id="", body=seeds[1].body),
            ArticleInput(id="b", body=seeds[0].body),
            ArticleInput(id="a", body=seeds[2].body),
        ]
    )
    assert outcomes[0].verdict == Verdict.UNIQUE
    assert isinstance(outcomes[1], InvalidArgument)
    assert (outcomes[2].verdict, outcomes[2].duplicate_of) == (Verdict.EXACT_DUPLICATE, "a")
    assert isinstance(outcomes[3], Conflict)
    assert engine.stats().article_count == 2


def test_failed_commit_leaves_nothing_behind(engine: Engine, seeds, monkeypatch) -> None:
    """When the store refuses a write, the batch fails as a whole and memory is as before."""
    engine.ingest(ArticleInput(id="kept", body=seeds[0].body))
    before = engine.stats()
    store = engine._store
    real_insert = store.insert_article
    calls = []

    def fail_on_second(article):
        calls.append(article.id)
        if len(calls) == 2:
            raise sqlite3.OperationalError("database or disk is full")
        return real_insert(article)

    monkeypatch.setattr(store, "insert_article", fail_on_second)
    with pytest.raises(StorageUnavailable, match="disk is full"):
        engine.ingest_many([ArticleInput(id="new1", body=seeds[1].body), ArticleInput(id="new2", body=seeds[1].body)])
    monkeypatch.setattr(store, "insert_article", real_insert)
    assert engine.stats() == before
    assert engine.get_cluster(article_id="kept").article_ids == ["kept"]
    for article_id in ("new1", "new2"):
        with pytest.raises(NotFound):
            engine.get_article(article_id)
    pristine = Engine(Settings(data_dir=""))
    pristine.ingest(ArticleInput(id="kept", body=seeds[0].body))
    for probe in seeds[1:]:
        # Equal similarities mean the document frequencies and centroids were restored too.
        assert engine.check(ArticleInput(id="", body=probe.body)) == pristine.check(
            ArticleInput(id="", body=probe.body)
        )
    pristine.close()
    assert engine.ingest(ArticleInput(id="new1", body=seeds[1].body)).verdict == Verdict.UNIQUE


def test_failed_commit_after_a_merge_unmerges_the_clusters(engine: Engine, monkeypatch) -> None:
    """A batch whose bridging article merged two stories, then failed, leaves both stories apart."""
    alpha, beta = invented_words(21, 20), invented_words(22, 20)
    first = engine.ingest(ArticleInput(id="alpha", body=story_text(alpha, 1)))
    second = engine.ingest(ArticleInput(id="beta", body=story_text(beta, 2)))
    store = engine._store
    real_commit = store.transaction

    @contextlib.contextmanager
    def failing_commit():
        with real_commit():
            yield
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "transaction", failing_commit)
    with pytest.raises(StorageUnavailable):
        engine.ingest(ArticleInput(id="bridge", body=story_text(alpha + beta, 3, length=240)))
    monkeypatch.setattr(store, "transaction", real_commit)
    assert engine.get_cluster(cluster_id=second.cluster_id).cluster_id == second.cluster_id
    check = engine.check(ArticleInput(id="", body=story_text(beta, 4)))
    assert check.cluster_id == second.cluster_id != first.cluster_id


def test_compare_explains_a_same_story_pair(engine: Engine, seeds) -> None:
    """Two outlets' reports of one story: low shingle overlap, high story similarity, shared terms shown."""
    comparison = engine.compare(ArticleInput(id="", body=seeds[0].body), ArticleInput(id="", body=seeds[1].body))
    assert comparison.relation == Relation.SAME_STORY
    assert comparison.similarity < 0.1 and comparison.exact_similarity < 0.1
    assert comparison.story_similarity >= 0.2
    assert "coalition" in comparison.shared_terms and "ukraine" in comparison.shared_terms
    assert "coalition of the" in comparison.shared_shingles
    assert comparison.first_shingle_count > 100


def test_compare_of_a_copy_is_an_exact_duplicate(engine: Engine, seeds) -> None:
    comparison = engine.compare(ArticleInput(id="", body=seeds[0].body), ArticleInput(id="", body=seeds[0].body + "\n"))
    assert (comparison.relation, comparison.similarity, comparison.exact_similarity) == (
        Relation.EXACT_DUPLICATE,
        1.0,
        1.0,
    )


def test_stats_count_articles_clusters_and_duplicates(engine: Engine, seeds) -> None:
    engine.ingest(ArticleInput(id="a", body=seeds[0].body))
    engine.ingest(ArticleInput(id="b", body=seeds[0].body))
    title, body = edited_copy(seeds[0].body)
    engine.ingest(ArticleInput(id="c", title=title, body=body))
    engine.ingest(ArticleInput(id="d", body=story_text(invented_words(5, 20), 5)))
    stats = engine.stats()
    assert (stats.article_count, stats.exact_duplicate_count, stats.near_duplicate_count) == (4, 1, 1)
    assert (stats.cluster_count, stats.multi_article_cluster_count, stats.duplicate_count) == (2, 1, 2)
    assert stats.parameters.near_duplicate.bands * stats.parameters.near_duplicate.rows <= stats.parameters.num_perm


def test_evicted_story_centroids_are_reloaded_to_the_same_answers(ecbplus: list[dict]) -> None:
    """With room for two centroids, clusters and results match an engine that keeps them all, deletes included."""
    docs = [doc for doc in ecbplus if doc["topic"] in (1, 2, 3, 4)]
    deleted = {doc["doc_id"] for doc in docs[:60:3]}

    def replay(centroid_cache: int) -> tuple[list, list]:
        engine = Engine(Settings(data_dir="", centroid_cache=centroid_cache))
        results = [engine.ingest(ArticleInput(id=doc["doc_id"], body=doc["text"])) for doc in docs[:60]]
        for article_id in sorted(deleted):
            cluster = engine._row(article_id).cluster_seq
            engine.delete_article(article_id)
            cached, stored = engine._centroids.get(cluster), engine._load_centroid(cluster)
            assert cached.ids.tolist() == stored.ids.tolist() and cached.counts.tolist() == stored.counts.tolist()
        # Placing these reads the centroids the deletes left behind.
        results += [engine.ingest(ArticleInput(id=doc["doc_id"], body=doc["text"])) for doc in docs[60:]]
        clusters = [
            engine.get_cluster(article_id=doc["doc_id"]).article_ids for doc in docs if doc["doc_id"] not in deleted
        ]
        engine.close()
        return results, clusters

    cached = replay(centroid_cache=50_000)
    reloaded = replay(centroid_cache=2)
    assert reloaded == cached
    assert len({tuple(ids) for ids in cached[1]}) > 2, "more clusters than the cache holds"


# --- the story window


def days_after_t0(days: float) -> datetime:
    return T0 + timedelta(days=days)


@pytest.mark.parametrize(
    ("days", "joins"),
    [(4.5, True), (5.5, False), (365, False), (-2.5, True), (-3.5, False)],
    ids=["within-after", "past-after", "next-year", "within-before", "past-before"],
)
def test_a_story_takes_coverage_only_within_its_window(timed_engine: Engine, seeds, days: float, joins: bool) -> None:
    """Coverage published within story_window_days (3) of a story's first to last article joins it; later, a new one."""
    assert timed_engine.settings.story_window_days == 3.0
    first = timed_engine.ingest(ArticleInput(id="s0", body=seeds[0].body, published_at=days_after_t0(0)))
    second = timed_engine.ingest(ArticleInput(id="s1", body=seeds[1].body, published_at=days_after_t0(2)))
    assert second.cluster_id == first.cluster_id
    article = ArticleInput(id="s2", body=seeds[2].body, published_at=days_after_t0(days))
    checked = timed_engine.check(article)
    result = timed_engine.ingest(article)
    assert (result.cluster_id == first.cluster_id) is joins
    assert (checked.cluster_id == first.cluster_id) is joins
    assert result.cluster_size == (3 if joins else 1)


def test_a_continuing_story_stays_open_past_its_first_window(timed_engine: Engine, seeds) -> None:
    """Each article within the window of the last keeps the story open, however long it runs."""
    results = [
        timed_engine.ingest(ArticleInput(id=seed.id, body=seed.body, published_at=days_after_t0(2.5 * i)))
        for i, seed in enumerate(seeds)
    ]
    assert {result.cluster_id for result in results} == {results[0].cluster_id}
    cluster = timed_engine.get_cluster(cluster_id=results[0].cluster_id)
    assert cluster.last_published_at - cluster.first_published_at == timedelta(days=10)


def test_a_copy_of_a_closed_story_is_a_duplicate_in_a_new_story(timed_engine: Engine, seeds) -> None:
    """A text published again a year later is still an exact duplicate, but the old story is closed."""
    old = timed_engine.ingest(ArticleInput(id="old", body=seeds[0].body, published_at=days_after_t0(0)))
    again = timed_engine.ingest(ArticleInput(id="again", body=seeds[0].body, published_at=days_after_t0(365)))
    assert (again.verdict, again.duplicate_of) == (Verdict.EXACT_DUPLICATE, "old")
    assert again.cluster_id != old.cluster_id and again.cluster_size == 1


def test_deleting_a_story_s_latest_article_narrows_its_window(timed_engine: Engine, seeds) -> None:
    """The window runs from the articles still in the story: without its latest, a later article is out of reach."""
    first = timed_engine.ingest(ArticleInput(id="s0", body=seeds[0].body, published_at=days_after_t0(0)))
    timed_engine.ingest(ArticleInput(id="s1", body=seeds[1].body, published_at=days_after_t0(2)))
    article = ArticleInput(id="s2", body=seeds[2].body, published_at=days_after_t0(4))
    assert timed_engine.check(article).cluster_id == first.cluster_id
    timed_engine.delete_article("s1")
    assert timed_engine.check(article).cluster_id == ""
    assert timed_engine.ingest(article).cluster_id != first.cluster_id


def test_story_windows_survive_a_restart(tmp_path, seeds, clock) -> None:
    """Cluster spans are loaded from the store: after a restart a story is open or closed exactly as before."""
    settings = Settings(data_dir=str(tmp_path))
    engine = Engine(settings, clock=lambda: clock[0])
    first = engine.ingest(ArticleInput(id="s0", body=seeds[0].body, published_at=days_after_t0(0)))
    engine.ingest(ArticleInput(id="s1", body=seeds[1].body, published_at=days_after_t0(2)))
    engine.close()
    engine = Engine(settings, clock=lambda: clock[0])
    try:
        within = engine.ingest(ArticleInput(id="s2", body=seeds[2].body, published_at=days_after_t0(4.5)))
        assert within.cluster_id == first.cluster_id
        past = engine.ingest(ArticleInput(id="s3", body=seeds[3].body, published_at=days_after_t0(8)))
        assert past.cluster_id != first.cluster_id
    finally:
        engine.close()


def test_near_duplicate_verdicts_follow_exact_jaccard_around_the_threshold(engine: Engine, ecbplus) -> None:
    """Copies edited to land either side of near_threshold are judged by their exact Jaccard, not the estimate.

    A 128-bin estimate is off by 0.04 or more for a third of the pairs near 0.5,
    so without the exact check some of these verdicts would flip.
    """
    source = max(ecbplus, key=lambda doc: len(doc["text"]))["text"]
    engine.ingest(ArticleInput(id="source", body=source))
    words = source.split()
    rng = random.Random(7)
    judged = []
    for copy in range(40):
        rate = 0.08 + 0.004 * copy  # exact Jaccard from about 0.7 down to about 0.3
        edited = [f"zq{rng.randrange(10**6)}" if rng.random() < rate else word for word in words]
        article = ArticleInput(id="", body=" ".join(edited))
        exact = engine.compare(ArticleInput(id="", body=source), article).exact_similarity
        result = engine.check(article)
        is_near = result.verdict == Verdict.NEAR_DUPLICATE
        assert is_near == (exact >= 0.5), (copy, exact, result.verdict)
        if is_near:  # exact when the estimate was unsure, else an estimate within the margin
            assert abs(result.matches[0].similarity - exact) < 0.18
        judged.append(exact)
    assert min(judged) < 0.4 and max(judged) > 0.6 and sum(0.45 <= j < 0.55 for j in judged) >= 10


# --- chrome learned per source

COURIER_TEMPLATE = [
    "The Midland Courier is an independent newspaper owned by its readers' trust since 1889.",
    "Our journalism is funded by readers like you in the towns and villages of the Trent valley.",
    "Tips and corrections go to the night desk at the Midland Courier offices on Castle Street.",
]


def courier_article(ecbplus: list[dict], i: int) -> str:
    return "\n".join([ecbplus[i]["text"], *COURIER_TEMPLATE])


BRIEFS = [
    "Council approves new bus lanes on the ring road after a long public consultation this week.",
    "Local bakery wins regional award for its sourdough, owners thank loyal customers and staff.",
]


def test_lines_a_source_repeats_are_learned_as_its_chrome(tmp_path, ecbplus) -> None:
    """A source's template lines stop counting as text once seen in 5 of its articles, and stay learned."""
    settings = Settings(data_dir=str(tmp_path))
    engine = Engine(settings)
    first, second = (
        ArticleInput(id="", body="\n".join([brief, *COURIER_TEMPLATE]), source="Courier") for brief in BRIEFS
    )
    # Before learning, two different briefs are near duplicates: the template is most of their words.
    assert engine.compare(first, second).relation == Relation.NEAR_DUPLICATE
    for i in range(5):
        engine.ingest(ArticleInput(id=f"courier-{i}", body=courier_article(ecbplus, i), source="Courier"))
    assert engine.compare(first, second).relation != Relation.NEAR_DUPLICATE
    other_outlet = [replace(article, source="Gazette") for article in (first, second)]
    assert engine.compare(*other_outlet).relation == Relation.NEAR_DUPLICATE  # learned for the Courier only
    engine.close()
    engine = Engine(settings)
    try:
        assert engine.compare(first, second).relation != Relation.NEAR_DUPLICATE
        stored = engine.ingest(replace(first, id="brief-1"))
        assert engine.ingest(replace(second, id="brief-2")).verdict == Verdict.UNIQUE
        assert stored.verdict == Verdict.UNIQUE
    finally:
        engine.close()


def test_a_batch_that_fails_to_commit_learns_nothing(engine: Engine, ecbplus, monkeypatch) -> None:
    """Learned chrome counts are put back when the write fails, like every other in-memory change."""
    for i in range(4):
        engine.ingest(ArticleInput(id=f"courier-{i}", body=courier_article(ecbplus, i), source="Courier"))

    def fail(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    first, second = (
        ArticleInput(id="", body="\n".join([brief, *COURIER_TEMPLATE]), source="Courier") for brief in BRIEFS
    )
    with monkeypatch.context() as patch:
        patch.setattr(engine._store, "save_source_lines", fail)
        with pytest.raises(StorageUnavailable):
            engine.ingest(ArticleInput(id="courier-4", body=courier_article(ecbplus, 4), source="Courier"))
    assert engine.compare(first, second).relation == Relation.NEAR_DUPLICATE  # still 4 articles: not learned
    engine.ingest(ArticleInput(id="courier-4", body=courier_article(ecbplus, 4), source="Courier"))
    assert engine.compare(first, second).relation != Relation.NEAR_DUPLICATE


def test_a_source_forgotten_by_a_write_that_fails_keeps_its_chrome(tmp_path, ecbplus, monkeypatch) -> None:
    """Past max_sources a new source forgets the least recent one; if the write then fails, that source is
    back, with its learned chrome, in memory as in the store."""
    settings = Settings(data_dir=str(tmp_path))
    engine = Engine(settings)
    engine._recurring = RecurringLines(max_sources=2)
    for i in range(5):
        engine.ingest(ArticleInput(id=f"courier-{i}", body=courier_article(ecbplus, i), source="Courier"))
    engine.ingest(ArticleInput(id="gazette-0", body=ecbplus[5]["text"], source="Gazette"))
    first, second = (
        ArticleInput(id="", body="\n".join([brief, *COURIER_TEMPLATE]), source="Courier") for brief in BRIEFS
    )
    assert engine.compare(first, second).relation != Relation.NEAR_DUPLICATE  # learned

    def fail(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(engine._store, "save_source_lines", fail)
        with pytest.raises(StorageUnavailable):
            # The Tribune, a third source, makes the Courier (the least recent) go before the write fails.
            engine.ingest(ArticleInput(id="tribune-0", body=ecbplus[6]["text"], source="Tribune"))
    assert "Courier" in engine._recurring and "Tribune" not in engine._recurring
    assert engine.compare(first, second).relation != Relation.NEAR_DUPLICATE
    engine.close()
    reopened = Engine(settings)
    try:
        assert reopened.compare(first, second).relation != Relation.NEAR_DUPLICATE
    finally:
        reopened.close()


# --- stable ids under merges, on a real stream


def replay(engine: Engine, stream: list[dict]) -> dict[str, str]:
    """Ingest the stream in order; the cluster id each article was given on arrival."""
    return {doc["doc_id"]: engine.ingest(ArticleInput(id=doc["doc_id"], body=doc["text"])).cluster_id for doc in stream}


def test_replayed_stream_with_a_bridging_merge_keeps_every_id_resolving(tmp_path, ecbplus) -> None:
    """A real stream (ECB+ event 22_ecb, seeded order 0) in which a later article merges two clusters.

    Every id ever handed out keeps resolving to the cluster its article is in
    now; the oldest id survives; a fresh replay hands out the same ids; a
    restart changes nothing. If clustering changes so that this stream no
    longer merges, the first assertion says so: pick another stream.
    """
    stream = [doc for doc in ecbplus if doc["subtopic"] == "22_ecb"]
    random.Random(0).shuffle(stream)
    settings = Settings(data_dir=str(tmp_path / "a"))
    engine = Engine(settings)
    given = replay(engine, stream)
    now = {article: engine.get_article(article).cluster_id for article in given}
    merged = {old for article, old in given.items() if now[article] != old}
    assert merged, "this stream no longer merges clusters"
    for article, old in given.items():
        assert engine.get_cluster(cluster_id=old).cluster_id == now[article]
    survivors = {now[article] for article, old in given.items() if old in merged}
    for survivor in survivors:
        absorbed = {old for article, old in given.items() if now[article] == survivor} - {survivor}
        assert sorted(engine.get_cluster(cluster_id=survivor).merged_cluster_ids) == sorted(absorbed)
        assert all(int(old.split("-")[1]) > int(survivor.split("-")[1]) for old in absorbed)  # the oldest survives
    engine.close()
    fresh = Engine(Settings(data_dir=str(tmp_path / "b")))
    try:
        assert replay(fresh, stream) == given
    finally:
        fresh.close()
    engine = Engine(settings)
    try:
        for article, old in given.items():
            assert engine.get_cluster(cluster_id=old).cluster_id == now[article]
    finally:
        engine.close()


def test_a_retry_stays_a_retry_after_its_source_learned_its_template(engine: Engine, ecbplus) -> None:
    """An article sent again after its outlet's template was learned is already_ingested, not a conflict."""
    first = ArticleInput(id="courier-0", body=courier_article(ecbplus, 0), source="Courier")
    engine.ingest(first)
    for i in range(1, 6):
        engine.ingest(ArticleInput(id=f"courier-{i}", body=courier_article(ecbplus, i), source="Courier"))
    assert engine.compare(first, replace(first, id="")).relation == Relation.EXACT_DUPLICATE
    assert engine.ingest(first).already_ingested  # its stored hash still includes the template
    assert engine.check(first).already_ingested
    with pytest.raises(Conflict):
        engine.ingest(replace(first, body=courier_article(ecbplus, 7)))


def test_an_article_deleted_and_ingested_again_does_not_teach_its_own_lines(engine: Engine, ecbplus) -> None:
    """Chrome counts follow the stored articles: re-ingesting one article six times still finds it at 1.0."""
    article = ArticleInput(id="churn", body=courier_article(ecbplus, 0), source="Courier")
    for _ in range(6):
        engine.ingest(article)
        engine.delete_article("churn")
    engine.ingest(article)
    matches = engine.search_similar(article=replace(article, id=""))
    assert (matches[0].article_id, matches[0].similarity) == ("churn", 1.0)
