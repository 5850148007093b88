"""The story tier: term statistics, salient terms, centroids and placement (newsdedup.stories)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from newsdedup import hashing, stories, text
from newsdedup.stories import (
    DF_BUCKETS,
    EMPTY_VECTOR,
    STORY_TERM_MIN_DOCUMENTS,
    Centroids,
    ClusterSpans,
    Memberships,
    Placement,
    TermStatistics,
    TermVector,
    add_vectors,
    cosine,
    document_buckets,
    heaviest,
    place,
    select_salient,
    story_set,
    sum_vectors,
    term_prior,
)
from newsdedup.text import Terms, concatenate_terms

from .strategies import term_counts, term_vectors


def ids(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.uint64)


def vector(counts: dict[int, float]) -> TermVector:
    keys = sorted(counts)
    return TermVector(ids(*keys), np.array([counts[k] for k in keys], dtype=np.float64))


def terms(counts: dict[int, int]) -> Terms:
    """One text's terms, as `text.terms` gives them: a batch of one, ids sorted."""
    keys = sorted(counts)
    return Terms(np.array([0, len(keys)]), ids(*keys), np.array([counts[k] for k in keys], dtype=np.uint32))


def batch(texts: list[dict[int, int]]) -> Terms:
    return (
        concatenate_terms([terms(counts) for counts in texts]) if texts else Terms(np.zeros(1, np.int64), ids(), ids())
    )


def counts_of(terms: Terms) -> dict[int, int]:
    return dict(zip(terms.ids.tolist(), terms.counts.tolist(), strict=True))


def statistics_with(document_frequencies: dict[int, int], documents: int) -> TermStatistics:
    """Statistics over `documents` articles in which term t occurs in document_frequencies[t] of them."""
    statistics = TermStatistics()
    for document in range(documents):
        statistics.add(document_buckets(ids(*(t for t, df in document_frequencies.items() if document < df))))
    return statistics


# Distinct term ids in distinct DF buckets, some with high bits set (ids are the top 48 bits of hashes).
distinct_ids = st.sets(st.integers(0, DF_BUCKETS - 1), min_size=1, max_size=30).map(
    lambda s: np.array(sorted(s), dtype=np.uint64) | np.uint64(0xABCD << 32)
)


# --- TermStatistics --------------------------------------------------------------------------------


def test_idf_is_positive_and_falls_as_document_frequency_rises() -> None:
    """A term in more articles is less telling: idf decreases with df and stays positive up to df = N."""
    statistics = statistics_with({10: 0, 11: 1, 12: 5, 13: 50, 14: 99, 15: 100}, documents=100)
    idf = statistics.idf(ids(10, 11, 12, 13, 14, 15))
    assert np.all(idf > 0)
    assert np.all(np.diff(idf) < 0)
    assert idf[0] == pytest.approx(np.log(101 / 0.5))


def test_idf_of_an_empty_collection_is_positive() -> None:
    """Before any article is stored every term has the same positive idf."""
    idf = TermStatistics().idf(ids(1, 2, 3))
    assert np.all(idf > 0) and len(set(idf.tolist())) == 1


def term_id(word: str) -> int:
    return int(text.terms(text.tokenize(word)).ids[0])


@pytest.mark.parametrize(
    ("common", "rare"),
    [("the", "coalition"), ("und", "waffenruhe"), ("что", "перемирие"), ("said", "zelensky")],
    ids=["english", "german", "russian", "names"],
)
def test_prior_tells_common_words_from_story_terms_before_any_article(common: str, rare: str) -> None:
    """With the word-frequency prior a fresh service already weighs a common word below a story term."""
    statistics = TermStatistics(prior_weight=300.0)
    assert statistics.documents == 0
    common_idf, rare_idf = statistics.idf(ids(term_id(common), term_id(rare)))
    assert 0 < common_idf < rare_idf
    assert TermStatistics().idf(ids(term_id(common), term_id(rare))).tolist() == [np.log(2.0)] * 2


def test_prior_keeps_every_idf_positive() -> None:
    """No term of the prior starts with a document frequency above the prior's article count."""
    prior_ids, _ = term_prior()
    assert np.all(TermStatistics(prior_weight=300.0).idf(prior_ids) > 0)


@given(distinct_ids, distinct_ids)
def test_add_then_remove_restores_the_statistics(stored: np.ndarray, article: np.ndarray) -> None:
    """Removing an article undoes adding it: same document count, same idf for every term."""
    statistics = TermStatistics()
    statistics.add(document_buckets(stored))
    probe = np.union1d(stored, article)
    before = statistics.idf(probe)
    statistics.add(document_buckets(article))
    assert statistics.documents == 2
    statistics.remove(document_buckets(article))
    assert statistics.documents == 1
    assert statistics.idf(probe).tolist() == before.tolist()


@given(st.lists(distinct_ids, max_size=5))
def test_counting_many_articles_at_once_is_counting_them_one_by_one(articles: list[np.ndarray]) -> None:
    """add_many, as the startup rebuild uses it, counts exactly what add counts article by article."""
    one_by_one, at_once = TermStatistics(prior_weight=300.0), TermStatistics(prior_weight=300.0)
    for article in articles:
        one_by_one.add(document_buckets(article))
    buckets = [document_buckets(article) for article in articles]
    offsets = np.concatenate(([0], np.cumsum([len(b) for b in buckets], dtype=np.int64)))
    at_once.add_many(np.concatenate([np.zeros(0, dtype=np.uint32), *buckets]), offsets)
    flat = np.concatenate([ids(), *articles])
    assert at_once.documents == one_by_one.documents == len(articles)
    probe = hashing.distinct(flat)
    assert at_once.idf(probe).tolist() == one_by_one.idf(probe).tolist()
    assert at_once.specific(probe, 1).tolist() == one_by_one.specific(probe, 1).tolist()


@given(distinct_ids, distinct_ids, distinct_ids)
def test_pending_idf_equals_adding_the_article(stored: np.ndarray, article: np.ndarray, probe: np.ndarray) -> None:
    """idf with a pending article equals the idf after storing it, and asking changes nothing."""
    statistics = TermStatistics()
    statistics.add(document_buckets(stored))
    probe = np.union1d(probe, article[:3])
    pending = statistics.idf(probe, pending=article)
    unchanged = statistics.idf(probe)
    statistics.add(document_buckets(article))
    assert pending.tolist() == pytest.approx(statistics.idf(probe).tolist())
    statistics.remove(document_buckets(article))
    assert statistics.idf(probe).tolist() == unchanged.tolist()


# --- select_salient --------------------------------------------------------------------------------


def test_terms_sharing_a_bucket_count_an_article_once() -> None:
    """Two terms of one article in one hashed bucket add one article, so idf stays positive."""
    statistics = TermStatistics()
    statistics.add(document_buckets(ids(5, 5 + DF_BUCKETS)))
    assert statistics.idf(ids(5))[0] > 0
    statistics.remove(document_buckets(ids(5, 5 + DF_BUCKETS)))
    assert statistics.idf(ids(5))[0] == TermStatistics().idf(ids(5))[0]


def test_pending_counts_buckets_like_adding() -> None:
    """A probe term sharing a bucket with a pending term gets the idf it would get after the add."""
    statistics = TermStatistics()
    pending = statistics.idf(ids(5), pending=ids(5 + DF_BUCKETS))[0]
    statistics.add(document_buckets(ids(5 + DF_BUCKETS)))
    assert pending == statistics.idf(ids(5))[0]


def test_cosine_never_exceeds_one() -> None:
    """The rounding case found in review: [1, 3, 7] against itself computed 1.0000000000000002."""
    vector = TermVector(ids(1, 2, 3), np.array([1.0, 3.0, 7.0]))
    assert cosine(vector, vector, TermStatistics()) == 1.0


def test_select_salient_keeps_the_rarest_and_most_repeated_terms() -> None:
    """The kept terms are those with the highest (1 + log tf) * idf: rare or repeated beats common."""
    statistics = statistics_with({1: 90, 2: 80, 3: 2, 4: 1, 5: 90, 6: 70}, documents=100)
    article = terms({1: 1, 2: 1, 3: 1, 4: 1, 5: 30, 6: 1})
    salient = select_salient(article, statistics, limit=3)
    assert salient.offsets.tolist() == [0, 3]
    assert salient.ids.tolist() == [3, 4, 5]
    assert salient.counts.tolist() == [1, 1, 30]


def test_select_salient_weighs_terms_as_if_the_text_were_counted() -> None:
    """idf counts the text itself (N + 1 articles, df + 1), which can change the choice, as on ingest."""
    # With one stored article holding term 2: counted alone, rare term 1 (idf
    # log(2 / 0.5)) outweighs term 2 seen 30 times ((1 + log 30) * log(2 / 1.5));
    # counting the text too, term 2 wins (log(3 / 1.5) against 4.4 * log(3 / 2.5)).
    statistics = statistics_with({2: 1}, documents=1)
    article = terms({1: 1, 2: 30})
    plain = TermVector(article.ids, article.counts).weights(statistics)
    assert plain[0] > plain[1]
    assert select_salient(article, statistics, limit=1).ids.tolist() == [2]
    assert statistics.idf_with_itself(ids(1, 2)).tolist() == statistics.idf(ids(1, 2), pending=ids(1, 2)).tolist()


def test_select_salient_keeps_everything_when_under_the_limit() -> None:
    """An article with no more terms than the limit keeps them all, with their counts."""
    salient = select_salient(terms({7: 2, 9: 1}), TermStatistics(), limit=2)
    assert salient.ids.tolist() == [7, 9] and salient.counts.tolist() == [2, 1]


@given(st.sets(st.integers(0, 2**16 - 1), min_size=5, max_size=40), st.integers(1, 4))
def test_select_salient_breaks_ties_by_term_id(term_ids: set[int], limit: int) -> None:
    """When all weights tie, the smallest term ids are kept, so the choice never depends on anything else."""
    salient = select_salient(terms(dict.fromkeys(term_ids, 1)), TermStatistics(), limit=limit)
    assert salient.ids.tolist() == sorted(term_ids)[:limit]


@given(term_counts.filter(len), st.integers(1, 30))
def test_select_salient_returns_sorted_ids_with_their_counts(counts: dict[int, int], limit: int) -> None:
    """The result holds at most `limit` of the article's terms, ids sorted, each with its own count."""
    statistics = statistics_with({t: t % 7 for t in counts}, documents=10)
    salient = select_salient(terms(counts), statistics, limit=limit)
    assert salient.offsets.tolist() == [0, min(limit, len(counts))]
    assert salient.ids.tolist() == sorted(salient.ids.tolist())
    assert all(counts[t] == c for t, c in counts_of(salient).items())


@given(term_counts.filter(len), st.integers(1, 30))
def test_select_salient_keeps_the_highest_weights(counts: dict[int, int], limit: int) -> None:
    """No dropped term outweighs a kept one, weights taken as if the text were stored (pending)."""
    statistics = statistics_with({t: t % 7 for t in counts}, documents=10)
    article = terms(counts)
    weights = dict(
        zip(article.ids.tolist(), TermVector(article.ids, article.counts).weights(statistics, article.ids), strict=True)
    )
    kept = set(select_salient(article, statistics, limit=limit).ids.tolist())
    dropped = set(weights) - kept
    if kept and dropped:
        # float32 ranking: allow the rounding of a float32 weight.
        assert min(weights[t] for t in kept) >= max(weights[t] for t in dropped) * (1 - 1e-6)


@given(st.lists(term_counts, max_size=8), st.integers(1, 30))
def test_select_salient_of_a_batch_equals_each_text_alone(texts: list[dict[int, int]], limit: int) -> None:
    """A batch keeps, text by text, the terms each text keeps alone; empty texts stay empty."""
    statistics = statistics_with({t: t % 5 for t in range(0, 201, 3)}, documents=10)
    salient = select_salient(batch(texts), statistics, limit=limit)
    assert salient.offsets.tolist()[0] == 0 and len(salient.offsets) == len(texts) + 1
    for i, counts in enumerate(texts):
        alone = select_salient(terms(counts), statistics, limit=limit)
        assert salient.text(i).ids.tolist() == alone.ids.tolist()
        assert salient.text(i).counts.tolist() == alone.counts.tolist()


def test_select_salient_of_more_texts_than_one_sort_holds() -> None:
    """A batch of over 65,536 texts (the text index has 16 bits of the sort key) is ranked text by text."""
    texts = 70_000
    term_ids = np.arange(2 * texts, dtype=np.uint64) * np.uint64(7919)
    counts = np.tile(np.array([[1, 2], [2, 1]], dtype=np.uint32), (texts // 2, 1)).ravel()
    offsets = np.arange(0, 2 * texts + 1, 2)
    salient = select_salient(Terms(offsets, term_ids, counts), TermStatistics(), limit=1)
    assert salient.offsets.tolist() == list(range(texts + 1))
    # Even texts count their second term twice, odd texts their first.
    expected = term_ids.reshape(texts, 2)[np.arange(texts), (np.arange(texts) + 1) % 2]
    assert salient.ids.tolist() == expected.tolist()
    assert set(salient.counts.tolist()) == {2}


def test_select_salient_of_a_batch_with_ties_in_the_low_id_bits() -> None:
    """Terms whose weights tie and whose ids share their low 16 bits are chosen alike in a batch and alone."""
    article = terms({j * 65536 + 7: 1 for j in range(1, 51)})
    before = terms({k * 1000003: 1 for k in range(1, 301)})
    alone = select_salient(article, TermStatistics(), limit=20)
    in_batch = select_salient(concatenate_terms([before, article]), TermStatistics(), limit=20).text(1)
    assert in_batch.ids.tolist() == alone.ids.tolist()


def test_vector_of_a_text_has_float_counts() -> None:
    """vector() turns one text's terms into a TermVector with the same ids and float counts."""
    result = stories.vector(terms({3: 2, 9: 1}))
    assert result.ids.tolist() == [3, 9] and result.counts.tolist() == [2.0, 1.0]
    assert result.counts.dtype == np.float64


# --- story terms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "specific"),
    [("the", False), ("und", False), ("что", False), ("said", False), ("coalition", True), ("zelensky", True)],
    ids=["english-the", "german-und", "russian-chto", "said", "coalition", "name"],
)
def test_words_common_in_the_language_are_never_story_terms(word: str, specific: bool) -> None:
    """A word the prior puts in 1% of articles or more is never specific; a rare word is, in a fresh store."""
    statistics = TermStatistics(prior_weight=300.0, story_share=0.01)
    assert statistics.specific(ids(term_id(word)), STORY_TERM_MIN_DOCUMENTS).tolist() == [specific]


@given(st.integers(0, 60), st.integers(0, 60), st.integers(1, 100), st.sampled_from([0.05, 0.1, 0.25, 0.5]))
def test_a_term_is_specific_while_in_few_enough_articles(
    documents: int, frequency: int, min_documents: int, share: float
) -> None:
    """A term is specific while under `share` of the articles hold it, the new one included, counted as >= min."""
    frequency = min(frequency, documents)
    statistics = TermStatistics(story_share=share)
    for document in range(documents):
        statistics.add(document_buckets(ids(5) if document < frequency else ids(6)))
    expected = frequency + 1 < share * max(documents + 1, min_documents)
    assert statistics.specific(ids(5), min_documents).tolist() == [expected]


@given(st.lists(term_counts, max_size=8))
def test_story_set_keeps_each_texts_specific_terms_or_all_of_them(texts: list[dict[int, int]]) -> None:
    """Each text keeps its specific terms, or every term if none is specific, and texts stay apart."""
    statistics = TermStatistics(story_share=0.5)
    for _ in range(4):
        statistics.add(document_buckets(ids(*range(0, 201, 2))))  # even ids are in every article: not specific
    terms_batch = batch(texts)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(stories, "STORY_TERM_MIN_DOCUMENTS", 1)  # judge by the 4 articles alone
        kept, offsets = story_set(terms_batch.ids, terms_batch.offsets, statistics)
    assert offsets.tolist()[0] == 0 and len(offsets) == len(texts) + 1 and offsets[-1] == len(kept)
    for i, counts in enumerate(texts):
        odd = [t for t in sorted(counts) if t > 200 or t % 2]
        assert kept[offsets[i] : offsets[i + 1]].tolist() == (odd or sorted(counts))


# --- cosine and vector arithmetic ------------------------------------------------------------------

STATISTICS = statistics_with({t: t % 9 for t in range(61)}, documents=12)


@given(term_vectors(), term_vectors())
def test_cosine_is_symmetric_and_in_unit_interval(first: TermVector, second: TermVector) -> None:
    """Cosine similarity is the same both ways and lies in [0, 1]."""
    value = cosine(first, second, STATISTICS)
    assert value == cosine(second, first, STATISTICS)
    assert 0.0 <= value <= 1.0


@given(term_vectors(), st.lists(term_vectors(), max_size=4))
def test_cosines_of_many_vectors_are_the_textbook_cosine_of_each(article: TermVector, others: list[TermVector]) -> None:
    """Scoring a batch at once gives each vector the plain tf-idf cosine: dot product over norms."""

    def textbook(first: TermVector, second: TermVector) -> float:
        a = dict(zip(first.ids.tolist(), first.weights(STATISTICS).tolist(), strict=True))
        b = dict(zip(second.ids.tolist(), second.weights(STATISTICS).tolist(), strict=True))
        norms = np.sqrt(sum(w * w for w in a.values())) * np.sqrt(sum(w * w for w in b.values()))
        return sum(w * b.get(term, 0.0) for term, w in a.items()) / norms if norms else 0.0

    scored = stories.cosines(article, others, STATISTICS)
    assert scored.tolist() == pytest.approx([textbook(article, other) for other in others], abs=1e-12)


@given(term_vectors().filter(len), st.integers(1, 5))
def test_cosine_of_a_vector_with_itself_or_a_multiple_is_one(first: TermVector, factor: int) -> None:
    """A vector is fully similar to itself; with sublinear tf a scaled copy is merely close."""
    assert cosine(first, first, STATISTICS) == pytest.approx(1.0, abs=1e-12)
    assert cosine(first, first, STATISTICS) <= 1.0
    scaled = TermVector(first.ids, first.counts * factor)
    assert cosine(first, scaled, STATISTICS) > 0.0


def test_cosine_of_disjoint_or_empty_vectors_is_zero() -> None:
    """Vectors without a shared term, or an empty one, have similarity 0."""
    assert cosine(vector({1: 1, 2: 3}), vector({3: 1}), STATISTICS) == 0.0
    assert cosine(vector({1: 1}), vector({}), STATISTICS) == 0.0


@given(term_vectors(), term_vectors())
def test_subtracting_an_added_vector_restores_the_original(first: TermVector, second: TermVector) -> None:
    """add_vectors(first + second, second, sign=-1) gives back first, terms that fell to zero dropped."""
    restored = add_vectors(add_vectors(first, second), second, sign=-1.0)
    assert restored.ids.tolist() == first.ids.tolist()
    assert restored.counts.tolist() == first.counts.tolist()


@given(term_vectors(), term_vectors())
def test_add_vectors_sums_counts_term_by_term(first: TermVector, second: TermVector) -> None:
    """The sum holds every term of either vector with the summed count, ids sorted."""
    total = add_vectors(first, second)
    expected: dict[int, float] = {}
    for v in (first, second):
        for t, c in zip(v.ids.tolist(), v.counts.tolist(), strict=True):
            expected[t] = expected.get(t, 0.0) + c
    assert dict(zip(total.ids.tolist(), total.counts.tolist(), strict=True)) == expected
    assert total.ids.tolist() == sorted(expected)


@given(st.lists(term_vectors(), max_size=6))
def test_sum_vectors_of_concatenated_vectors_equals_adding_them_one_by_one(vectors: list[TermVector]) -> None:
    """A centroid loaded from its members (one concatenation) equals the one built by adding them in turn."""
    incremental = EMPTY_VECTOR
    for v in vectors:
        incremental = add_vectors(incremental, v)
    loaded = sum_vectors(
        np.concatenate([v.ids for v in vectors] or [np.zeros(0, dtype=np.uint64)]),
        np.concatenate([v.counts for v in vectors] or [np.zeros(0)]),
    )
    assert loaded.ids.tolist() == incremental.ids.tolist()
    assert loaded.counts.tolist() == incremental.counts.tolist()


@given(term_vectors(), st.integers(1, 40))
def test_heaviest_keeps_the_highest_counts_and_of_equal_counts_the_smaller_ids(vector: TermVector, limit: int) -> None:
    """The kept terms are the first `limit` by (count descending, id ascending), in id order."""
    kept = heaviest(vector, limit)
    ranked = sorted(zip(vector.ids.tolist(), vector.counts.tolist(), strict=True), key=lambda t: (-t[1], t[0]))
    expected = sorted(ranked[:limit])
    assert list(zip(kept.ids.tolist(), kept.counts.tolist(), strict=True)) == expected


# --- Centroids -------------------------------------------------------------------------------------


def nothing_stored(cluster: int) -> TermVector:
    return EMPTY_VECTOR


def test_a_centroid_is_compared_through_its_heaviest_terms_but_summed_in_full(monkeypatch) -> None:
    """get() shows the CENTROID_TERMS heaviest terms; the sum behind it keeps every term, so removing
    the articles that made terms heavy brings back the ones that were cut."""
    monkeypatch.setattr(stories, "CENTROID_TERMS", 3)
    centroids = Centroids(nothing_stored, capacity=10)
    light, heavy = vector({1: 1, 2: 1, 3: 1, 4: 1}), vector({3: 5, 4: 5, 5: 5})
    centroids.add(7, light)
    assert centroids.get(7).ids.tolist() == [1, 2, 3]  # equal counts: the smaller ids
    centroids.add(7, heavy)
    assert dict(zip(centroids.get(7).ids.tolist(), centroids.get(7).counts.tolist(), strict=True)) == {
        3: 6.0,
        4: 6.0,
        5: 5.0,
    }
    centroids.subtract(7, heavy)
    assert centroids.get(7).ids.tolist() == [1, 2, 3]
    centroids.subtract(7, vector({1: 1, 2: 1}))
    assert centroids.get(7).ids.tolist() == [3, 4]


def test_centroid_add_subtract_and_merge() -> None:
    """Centroids sum their articles' vectors, forget one on subtract, and fold a merged cluster in."""
    centroids = Centroids(nothing_stored, capacity=10)
    centroids.add(1, vector({10: 1, 11: 2}))
    centroids.add(1, vector({11: 1}))
    centroids.add(2, vector({12: 4}))
    assert dict(zip(centroids.get(1).ids.tolist(), centroids.get(1).counts.tolist(), strict=True)) == {10: 1, 11: 3}
    centroids.merge(1, 2)
    assert centroids.get(1).ids.tolist() == [10, 11, 12] and len(centroids) == 1
    centroids.subtract(1, vector({10: 1, 11: 3, 12: 4}))
    assert len(centroids.get(1)) == 0


def test_snapshot_restores_changed_new_and_merged_centroids() -> None:
    """restore() puts back every snapshotted centroid: changed ones, merged-away ones, and new ones empty."""
    centroids = Centroids(nothing_stored, capacity=10)
    centroids.add(1, vector({10: 1}))
    centroids.add(2, vector({20: 2}))
    centroids.add(3, vector({30: 3}))
    before = {c: centroids.get(c) for c in (1, 2, 3)}
    restore = centroids.snapshot([1, 2, 4])
    centroids.add(1, vector({11: 1}))
    centroids.merge(1, 2)
    centroids.add(4, vector({40: 1}))
    centroids.add(3, vector({31: 1}))  # not snapshotted: keeps its change
    restore()
    assert centroids.get(1) is before[1] and centroids.get(2) is before[2]
    assert len(centroids.get(4)) == 0
    assert centroids.get(3).ids.tolist() == [30, 31]


def test_centroids_beyond_the_capacity_are_reloaded_from_the_store() -> None:
    """The least recently used centroid is evicted; getting it again loads it, and recent ones stay cached."""
    stored = {cluster: vector({cluster: float(cluster)}) for cluster in range(1, 5)}
    loads: list[int] = []

    def load(cluster: int) -> TermVector:
        loads.append(cluster)
        return stored[cluster]

    centroids = Centroids(load, capacity=2)
    for cluster in (1, 2, 1, 3):  # 3 evicts 2, the least recently used
        centroids.get(cluster)
    assert loads == [1, 2, 3] and len(centroids) == 2
    assert centroids.get(1) is stored[1] and loads == [1, 2, 3]
    assert centroids.get(2) is stored[2] and loads == [1, 2, 3, 2]


# --- place -----------------------------------------------------------------------------------------

# With no stored articles every term has the same idf, so cosines are plain tf-weighted ones.
EMPTY_STATISTICS = TermStatistics()
SHARED = {t: 1 for t in range(100, 108)}


def centroids_of(clusters: dict[int, dict[int, float]]) -> Centroids:
    centroids = Centroids(nothing_stored, capacity=100)
    for cluster, counts in clusters.items():
        centroids.add(cluster, vector(counts))
    return centroids


def no_cluster(cluster: int) -> bool:
    """is_single for tests where every cluster holds several articles."""
    return False


def test_duplicate_joins_the_cluster_of_its_original() -> None:
    """A duplicate joins its original's cluster whatever the terms say, and its other duplicates' clusters merge in."""
    centroids = centroids_of({3: {1: 1}, 7: {2: 1}, 9: {3: 1}})
    placement = place(
        vector({50: 1}),
        [9],
        [7, 3, 7],
        centroids,
        EMPTY_STATISTICS,
        threshold=0.5,
        merge_threshold=0.5,
        is_single=no_cluster,
    )
    assert placement == Placement(cluster=7, merged=(3,), similarity=1.0)
    assert placement.clusters == (3, 7)


def test_article_below_threshold_starts_a_new_cluster() -> None:
    """An article no candidate centroid reaches the threshold with gets a new cluster (None)."""
    centroids = centroids_of({1: {1: 1, 2: 1, 3: 1, 4: 1}, 2: {5: 1, 6: 1}})
    placement = place(
        vector({1: 1, 9: 1, 10: 1, 11: 1}),
        [1, 2],
        [],
        centroids,
        EMPTY_STATISTICS,
        threshold=0.5,
        merge_threshold=0.5,
        is_single=no_cluster,
    )
    assert placement.cluster is None and placement.merged == () and placement.clusters == ()
    assert placement.similarity == pytest.approx(1 / (2 * 2))


def test_article_without_candidates_starts_a_new_cluster() -> None:
    """No candidates: a new cluster, similarity 0."""
    centroids = Centroids(nothing_stored, capacity=100)
    assert place(vector({1: 1}), [], [], centroids, EMPTY_STATISTICS, 0.2, 0.3, no_cluster) == Placement(None, (), 0.0)


def test_article_joins_the_most_similar_candidate() -> None:
    """Of several candidates above the threshold, the article joins the one it is most similar to."""
    centroids = centroids_of({1: {1: 1, 2: 1, 3: 1, 9: 1}, 2: {1: 1, 2: 1, 3: 1, 4: 1}, 5: {7: 1}})
    article = vector({1: 1, 2: 1, 3: 1, 4: 1})
    placement = place(
        article, [5, 1, 2, 1], [], centroids, EMPTY_STATISTICS, threshold=0.9, merge_threshold=0.9, is_single=no_cluster
    )
    assert placement.cluster == 2 and placement.merged == ()
    assert placement.similarity == pytest.approx(1.0)


def test_bridging_article_merges_clusters_whose_centroids_are_similar() -> None:
    """A bridging article joins one of two clusters that resemble each other and merges the other, oldest first."""
    centroids = centroids_of({3: {**SHARED, 1: 1, 2: 1}, 8: {**SHARED, 3: 1, 4: 1, 5: 1}})
    article = vector({**SHARED, 3: 1, 4: 1, 1: 1})  # closer to the newer cluster 8
    placement = place(
        article, [3, 8], [], centroids, EMPTY_STATISTICS, threshold=0.6, merge_threshold=0.6, is_single=no_cluster
    )
    assert placement.cluster == 8 and placement.merged == (3,)
    assert placement.clusters == (3, 8)


@pytest.mark.parametrize(("margin", "merges"), [(-0.01, True), (0.01, False)])
def test_clusters_merge_only_when_their_centroids_reach_the_merge_threshold(margin: float, merges: bool) -> None:
    """An article reaching two clusters merges them only if the grown centroid is merge_threshold-similar to the other.

    Joining asks for `threshold`; merging two existing stories asks for more,
    so an article that merely reaches both does not fuse two look-alike events.
    """
    centroids = centroids_of({3: {**SHARED, 1: 1, 2: 1}, 8: {**SHARED, 3: 1, 4: 1, 5: 1}})
    article = vector({**SHARED, 3: 1, 4: 1, 1: 1})
    grown_to_other = cosine(add_vectors(centroids.get(8), article), centroids.get(3), EMPTY_STATISTICS)
    merge_threshold = grown_to_other + margin
    placement = place(article, [3, 8], [], centroids, EMPTY_STATISTICS, 0.6, merge_threshold, no_cluster)
    assert placement.cluster == 8
    assert placement.merged == ((3,) if merges else ())


@pytest.mark.parametrize(("other_is_single", "merges"), [(True, True), (False, False)])
def test_a_single_article_cluster_merges_at_the_join_threshold(other_is_single: bool, merges: bool) -> None:
    """Below merge_threshold but at threshold, the other cluster merges only if it holds a single article."""
    centroids = centroids_of({3: {**SHARED, 1: 1, 2: 1}, 8: {**SHARED, 3: 1, 4: 1, 5: 1}})
    article = vector({**SHARED, 3: 1, 4: 1, 1: 1})
    grown_to_other = cosine(add_vectors(centroids.get(8), article), centroids.get(3), EMPTY_STATISTICS)
    placement = place(
        article,
        [3, 8],
        [],
        centroids,
        EMPTY_STATISTICS,
        0.6,
        grown_to_other + 0.01,
        lambda c: other_is_single and c == 3,
    )
    assert placement.cluster == 8
    assert placement.merged == ((3,) if merges else ())


def test_bridging_article_does_not_merge_dissimilar_clusters() -> None:
    """An article half about each of two unrelated clusters joins one and leaves the other alone."""
    first = {t: 1 for t in range(0, 10)}
    second = {t: 1 for t in range(20, 30)}
    centroids = centroids_of({1: first, 2: second})
    article = vector({**{t: 1 for t in range(0, 5)}, **{t: 1 for t in range(20, 25)}})
    placement = place(
        article, [1, 2], [], centroids, EMPTY_STATISTICS, threshold=0.4, merge_threshold=0.4, is_single=no_cluster
    )
    assert placement.cluster == 1 and placement.merged == ()
    assert placement.similarity == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        (Placement(cluster=9, merged=(4, 2), similarity=0.5), (2, 4, 9)),
        (Placement(cluster=1, merged=(5,), similarity=0.5), (1, 5)),
        (Placement(cluster=3, merged=(), similarity=0.5), (3,)),
        (Placement(cluster=None, merged=(), similarity=0.0), ()),
    ],
    ids=["survivor-newest", "survivor-oldest", "join", "new"],
)
def test_placement_clusters_lists_the_oldest_first(placement: Placement, expected: tuple[int, ...]) -> None:
    """`clusters` is every existing cluster involved, smallest sequence (oldest) first."""
    assert placement.clusters == expected


# --- memberships --------------------------------------------------------------------------------------


def test_memberships_map_articles_to_their_clusters_and_unknown_ones_to_minus_one() -> None:
    """Assigned articles map to their clusters, in the order asked; others (beyond the arrays too) to -1."""
    memberships = Memberships()
    memberships.assign(np.array([0, 5, 3000]), np.array([2, 7, 2]))
    assert memberships.clusters_of(np.array([3000, 5, 0, 1, 10**6])).tolist() == [2, 7, 2, -1, -1]
    assert memberships.clusters_of(np.array([], dtype=np.int64)).tolist() == []


def test_a_merge_forwards_the_merged_cluster_and_what_was_forwarded_to_it() -> None:
    """Merging 7 into 2 and then 2 into 1 leaves every article of 1, 2 and 7 in cluster 1; 9 is untouched."""
    memberships = Memberships()
    memberships.assign(np.arange(4), np.array([1, 2, 7, 9]))
    memberships.merge(2, 7)
    assert memberships.clusters_of(np.arange(4)).tolist() == [1, 2, 2, 9]
    memberships.merge(1, 2)
    assert memberships.clusters_of(np.arange(4)).tolist() == [1, 1, 1, 9]
    memberships.merge(5000, 9)  # a survivor beyond the arrays grows them
    assert memberships.clusters_of(np.arange(4)).tolist() == [1, 1, 1, 5000]


def test_undoing_membership_changes_in_reverse_restores_them() -> None:
    """The functions assign and merge return put things back when run newest first, as a failed write does."""
    memberships = Memberships()
    memberships.assign(np.arange(3), np.array([1, 2, 3]))
    undo = [memberships.merge(1, 2), memberships.assign(np.array([3]), np.array([1])), memberships.merge(1, 3)]
    assert memberships.clusters_of(np.arange(4)).tolist() == [1, 1, 1, 1]
    for step in reversed(undo):
        step()
    assert memberships.clusters_of(np.arange(4)).tolist() == [1, 2, 3, -1]


def test_forgotten_articles_and_clusters_map_to_nothing_and_forgetting_undoes() -> None:
    """A removed article maps to -1; a gone survivor takes the clusters forwarded to it along; undo restores both."""
    memberships = Memberships()
    memberships.assign(np.arange(3), np.array([1, 2, 3]))
    memberships.merge(1, 2)
    undo = [memberships.forget(np.array([0, 1])), memberships.forget_cluster(1)]
    assert memberships.clusters_of(np.arange(3)).tolist() == [-1, -1, 3]
    memberships.assign(np.array([1]), np.array([2]))  # cluster 2 is no longer forwarded to the gone cluster 1
    assert memberships.clusters_of(np.array([1])).tolist() == [2]
    memberships.forget(np.array([1]))
    for step in reversed(undo):
        step()
    assert memberships.clusters_of(np.arange(3)).tolist() == [1, 1, 3]


def test_membership_memory_follows_the_articles_held() -> None:
    """Articles streamed through (each forgotten, with its cluster, after 1,000 newer ones) leave no memory behind."""
    memberships = Memberships()
    sizes = {}
    for start in range(0, 200_000, 100):
        seqs = np.arange(start, start + 100)
        memberships.assign(seqs, seqs // 2)
        gone = np.arange(start - 1_000, start - 900)
        memberships.forget(gone)
        for cluster in range((start - 1_000) // 2, (start - 900) // 2):
            memberships.forget_cluster(cluster)
        if start + 100 in (10_000, 200_000):
            sizes[start + 100] = memberships.nbytes
    assert sizes[200_000] <= sizes[10_000]


@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11), st.booleans()), max_size=30))
def test_merges_and_undos_match_a_plain_reference(steps: list[tuple[int, int, bool]]) -> None:
    """Any sequence of merges (some undone at once, as a failed write does) maps articles like a plain dict would."""
    memberships = Memberships()
    memberships.assign(np.arange(12), np.arange(12))
    reference = {article: article for article in range(12)}  # article -> its cluster now
    for first, second, fails in steps:
        survivor, merged = reference[first], reference[second]
        if survivor == merged:
            continue
        survivor, merged = min(survivor, merged), max(survivor, merged)
        undo = memberships.merge(survivor, merged)
        if fails:
            undo()
        else:
            reference = {a: survivor if c == merged else c for a, c in reference.items()}
        assert memberships.clusters_of(np.arange(12)).tolist() == [reference[a] for a in range(12)]


def test_cluster_spans_reach_only_within_the_window_of_first_to_last() -> None:
    """An article may join a cluster published from `window` before its first to `window` after its last article."""
    spans = ClusterSpans()
    spans.widen(4, 100, 100)
    spans.widen(4, 150, 150)
    published = [79, 80, 125, 170, 171, 10_000]
    assert [bool(spans.reach(np.array([4]), p, 20)[0]) for p in published] == [False, True, True, True, False, False]


def test_cluster_spans_of_unknown_clusters_reach_nothing() -> None:
    """A cluster never recorded (or gone) is out of every window, even a huge one, without overflowing."""
    spans = ClusterSpans()
    spans.widen(2, 0, 10)
    limit = 36_500 * 86_400 * 10**6
    assert spans.reach(np.array([2, 3, 10**6]), 5, limit).tolist() == [True, False, False]
    assert spans.span(3) == stories.UNKNOWN_SPAN


def test_the_span_of_a_gone_cluster_is_forgotten() -> None:
    """Setting UNKNOWN_SPAN forgets a cluster's span; the undo brings it back."""
    spans = ClusterSpans()
    spans.widen(5, 10, 20)
    first, last = stories.UNKNOWN_SPAN
    undo = spans.set(np.array([5]), np.array([first]), np.array([last]))
    assert spans.span(5) == stories.UNKNOWN_SPAN
    undo()
    assert spans.span(5) == (10, 20)


def test_cluster_span_changes_undo() -> None:
    """set and widen return functions that put the spans back as they were, in reverse order."""
    spans = ClusterSpans()
    first = spans.widen(1, 50, 60)
    second = spans.widen(1, 10, 90)
    third = spans.set(np.array([1, 2000]), np.array([5, 7]), np.array([6, 8]))
    assert (spans.span(1), spans.span(2000)) == ((5, 6), (7, 8))
    third()
    assert (spans.span(1), spans.span(2000)) == ((10, 90), stories.UNKNOWN_SPAN)
    second()
    assert spans.span(1) == (50, 60)
    first()
    assert spans.span(1) == stories.UNKNOWN_SPAN
