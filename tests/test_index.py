"""The signature index: LSH candidates verified against stored signatures."""

from __future__ import annotations

import numpy as np
import pytest
from newsdedup import hashing
from newsdedup.index import SignatureIndex
from newsdedup.signatures import OnePermutationHasher

HASHER = OnePermutationHasher(128, 1)


def signature(elements: range | list[int]) -> np.ndarray:
    """The signature of a set of small integers, hashed to uniform 64-bit values first as shingles are."""
    return HASHER.sign(hashing.fmix64(np.array(list(elements), dtype=np.uint64)))


@pytest.fixture
def index() -> SignatureIndex:
    return SignatureIndex(num_perm=128, lsh_threshold=0.3)


def test_query_finds_similar_sets_with_their_estimated_similarity(index: SignatureIndex) -> None:
    """A set sharing 90% of its elements is found; an unrelated set is not."""
    index.insert(1, signature(range(0, 1000)))
    index.insert(2, signature(range(100, 1100)))
    index.insert(3, signature(range(50_000, 51_000)))
    hits = index.query(signature(range(0, 1000)), min_similarity=0.5)
    assert [key for key, _ in hits] == [1, 2]
    assert hits[0][1] == 1.0
    assert 0.7 < hits[1][1] < 0.95, "true Jaccard is 900/1100 = 0.82"


def test_remove_forgets_a_key_and_frees_its_slot(index: SignatureIndex) -> None:
    for key in range(5):
        index.insert(key, signature(range(key * 10_000, key * 10_000 + 500)))
    index.remove(2)
    index.remove(2)  # removing twice is harmless
    assert 2 not in index and len(index) == 4
    assert index.query(signature(range(20_000, 20_500)), 0.5) == []
    index.insert(7, signature(range(70_000, 70_500)))
    for key in (0, 1, 3, 4):
        assert np.array_equal(index.signature(key), signature(range(key * 10_000, key * 10_000 + 500)))
    assert index.query(signature(range(70_000, 70_500)), 0.9) == [(7, 1.0)]


def test_grows_past_its_initial_capacity(index: SignatureIndex) -> None:
    for key in range(2500):
        index.insert(key, signature([key * 7 + i for i in range(20)]))
    assert len(index) == 2500
    assert index.query(signature([2499 * 7 + i for i in range(20)]), 0.99) == [(2499, 1.0)]
    assert np.array_equal(index.signature(3), signature([21 + i for i in range(20)]))


def test_a_key_cannot_be_indexed_twice(index: SignatureIndex) -> None:
    index.insert(1, signature(range(10)))
    with pytest.raises(KeyError):
        index.insert(1, signature(range(10)))


def test_banding_comes_from_datasketchs_optimiser(index: SignatureIndex) -> None:
    """At an LSH threshold of 0.3, a pair at Jaccard 0.5 is a candidate with probability above 0.95."""
    assert index.bands * index.rows <= 128
    assert 1 - (1 - 0.5**index.rows) ** index.bands > 0.95


def test_a_limited_query_keeps_the_best_ties_to_the_newer_key(index: SignatureIndex) -> None:
    """limit=k returns the first k of the unlimited ranking: most similar first, equal similarity newest first."""
    for key in range(30):
        index.insert(key, signature(range(key % 7 * 10, 1000)))
    full = index.query(signature(range(0, 1000)), 0.0)
    assert len(full) == 30 and len({sim for _, sim in full}) < 30, "the ranking has ties"
    assert full == sorted(full, key=lambda hit: (-hit[1], -hit[0]))
    for limit in (1, 5, 12, 30, 40):
        assert index.query(signature(range(0, 1000)), 0.0, limit=limit) == full[:limit]


def test_memory_stays_flat_when_the_oldest_keys_leave_as_new_ones_arrive(index: SignatureIndex) -> None:
    """Streaming 60,000 keys of which the newest 2,000 stay: memory does not grow past what 8,000 took,
    and the keys still held are found while the removed ones are not."""
    rng = np.random.default_rng(3)
    signatures = rng.integers(0, 2**32, size=(500, 128), dtype=np.uint32)  # reused: keys differ, rows may repeat
    sizes = {}
    for start in range(0, 60_000, 100):
        keys = np.arange(start, start + 100)
        index.insert_many(keys, signatures[keys % 500])
        for key in range(max(0, start - 2_000), start - 1_900):
            index.remove(key)
        if start + 100 in (8_000, 60_000):
            sizes[start + 100] = index.nbytes
    assert len(index) == 2_000
    assert sizes[60_000] <= sizes[8_000]
    found = {key for key, _ in index.query(signatures[7], min_similarity=0.99)}
    assert found == {key for key in range(58_000, 60_000) if key % 500 == 7}


def test_removing_most_keys_gives_their_band_entries_back(index: SignatureIndex) -> None:
    """When nine keys in ten are removed, their LSH band entries go (8 bytes each), not only their signatures."""
    rng = np.random.default_rng(4)
    index.insert_many(np.arange(10_000), rng.integers(0, 2**32, size=(10_000, 128), dtype=np.uint32))
    before = index.nbytes
    for key in range(9_000):
        index.remove(key)
    assert before - index.nbytes >= 0.9 * 9_000 * index.bands * 8
    assert [key for key, _ in index.query(index.signature(9_500), 0.99)] == [9_500]
