"""The SQLite store: transactions, clusters and their aliases, parameters, listing."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from newsdedup.errors import IncompatibleData, StorageUnavailable
from newsdedup.models import ClusterOrder, Verdict
from newsdedup.store import NewArticle, Store

PARAMETERS = {"num_perm": 4, "seed": 1}


@pytest.fixture
def store() -> Store:
    return Store.open("", "full", PARAMETERS)


def article(article_id: str, cluster: int, published: int = 0, content_hash: int = 1) -> NewArticle:
    four = np.arange(4, dtype=np.uint32)
    seven = np.array([7], dtype=np.uint64)
    return NewArticle(
        id=article_id, title="", body="text", url="", source="", language="", published_at=published,
        ingested_at=published, content_hash=content_hash, verdict=Verdict.UNIQUE, duplicate_of=None,
        cluster_seq=cluster, near_signature=four, story_signature=four,
        salient_ids=seven, salient_counts=np.array([2.0]), term_buckets=seven.astype(np.uint32),
    )  # fmt: skip


def new_cluster(store: Store, *members: tuple[str, int]) -> int:
    seq = store.create_cluster(members[0][1], 0)
    for article_id, published in members:
        store.insert_article(article(article_id, seq, published))
        store.add_to_cluster(seq, published, 0)
    return seq


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        new_cluster(store, ("a", 1))
        raise RuntimeError("boom")
    assert store.article_by_id("a") is None
    assert store.counts().clusters == 0


def test_an_sqlite_error_becomes_storage_unavailable(store: Store) -> None:
    with pytest.raises(StorageUnavailable, match="nothing was changed"), store.transaction():
        new_cluster(store, ("a", 1))
        raise sqlite3.OperationalError("database or disk is full")
    assert store.article_by_id("a") is None


def test_content_hashes_above_2_63_round_trip(store: Store) -> None:
    """SQLite integers are signed; the full uint64 range must survive."""
    with store.transaction():
        seq = store.create_cluster(0, 0)
        store.insert_article(article("big", seq, content_hash=2**64 - 5))
    assert store.article_by_id("big").content_hash == 2**64 - 5
    assert [row.id for row in store.exact_copies(2**64 - 5, limit=10)] == ["big"]


def test_exact_copies_are_the_earliest_few_eligible_ones(store: Store) -> None:
    """Copies come earliest published first (then by seq), at most `limit`, without the excluded or later ones."""
    with store.transaction():
        cluster = store.create_cluster(0, 0)
        published = [50, 10, 30, 10, 20, 40]
        seqs = [
            store.insert_article(article(f"copy{i}", cluster, when, content_hash=7)) for i, when in enumerate(published)
        ]
        store.insert_article(article("other", cluster, 0, content_hash=8))

    def ids(rows: list) -> list[str]:
        return [row.id for row in rows]

    assert ids(store.exact_copies(7, limit=10)) == ["copy1", "copy3", "copy4", "copy2", "copy5", "copy0"]
    assert ids(store.exact_copies(7, limit=2)) == ["copy1", "copy3"]
    assert ids(store.exact_copies(7, limit=2, exclude=[seqs[1]])) == ["copy3", "copy4"]
    assert ids(store.exact_copies(7, limit=10, before=seqs[3])) == ["copy1", "copy2", "copy0"]


def test_merges_chain_aliases_to_the_final_cluster(store: Store) -> None:
    """A merged id keeps resolving after the cluster it went into is merged again."""
    with store.transaction():
        a, b, c = (new_cluster(store, (name, i)) for i, name in enumerate("abc"))
        store.merge_clusters(b, [c], now=5)
        store.merge_clusters(a, [b], now=6)
    for old in (a, b, c):
        assert store.resolve_cluster(f"story-{old}") == a
    assert store.cluster_aliases(a) == [f"story-{b}", f"story-{c}"]
    merged = store.cluster(a)
    assert (merged.size, merged.first_published_at, merged.last_published_at, merged.updated_at) == (3, 0, 2, 6)
    assert [row.id for row in store.cluster_members(a)] == ["a", "b", "c"]


def test_an_emptied_cluster_is_deleted_with_its_aliases(store: Store) -> None:
    with store.transaction():
        a, b = new_cluster(store, ("a", 1)), new_cluster(store, ("b", 2))
        store.merge_clusters(a, [b], now=3)
        for row in store.cluster_members(a):
            store.delete_article(row.seq)
        assert store.refresh_cluster(a, now=4) is None
    assert store.cluster(a) is None
    assert store.resolve_cluster(f"story-{b}") is None


def test_listing_is_keyset_paged_by_size_then_age(store: Store) -> None:
    with store.transaction():
        small = new_cluster(store, ("s", 1))
        big = new_cluster(store, ("b1", 1), ("b2", 2), ("b3", 3))
        mid = new_cluster(store, ("m1", 1), ("m2", 2))
        also_small = new_cluster(store, ("t", 1))
    first = store.list_clusters(ClusterOrder.LARGEST, 0, None, 2)
    assert [row.seq for row in first] == [big, mid]
    rest = store.list_clusters(ClusterOrder.LARGEST, 0, (first[-1].size, first[-1].seq), 10)
    assert [row.seq for row in rest] == [small, also_small]
    assert [row.seq for row in store.list_clusters(ClusterOrder.LARGEST, 2, None, 10)] == [big, mid]


def test_other_parameters_are_refused(tmp_path) -> None:
    Store.open(str(tmp_path), "full", PARAMETERS).close()
    with pytest.raises(IncompatibleData, match='"num_perm": 8'):
        Store.open(str(tmp_path), "full", {**PARAMETERS, "num_perm": 8})
    Store.open(str(tmp_path), "normal", PARAMETERS).close()


def test_counts(store: Store) -> None:
    with store.transaction():
        seq = new_cluster(store, ("a", 1), ("b", 2))
        store.set_verdict(store.article_by_id("b").seq, Verdict.EXACT_DUPLICATE, store.article_by_id("a").seq)
        new_cluster(store, ("c", 3))
    counts = store.counts()
    assert (counts.articles, counts.clusters, counts.multi_article_clusters, counts.exact_duplicates) == (3, 2, 1, 1)
    assert store.duplicates_of(store.article_by_id("a").seq)[0].id == "b"
    assert store.cluster(seq).size == 2
