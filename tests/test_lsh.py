"""The compact band table: the candidates of datasketch's MinHashLSH, in sorted uint64 runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from datasketch import MinHashLSH
from newsdedup import hashing, lsh
from newsdedup.lsh import BandTable
from newsdedup.signatures import OnePermutationHasher


@dataclass(frozen=True)
class Sketch:
    """What MinHashLSH reads of a MinHash: its hash values and their number."""

    hashvalues: np.ndarray

    def __len__(self) -> int:
        return len(self.hashvalues)


def everything_alive(seqs: np.ndarray) -> np.ndarray:
    return np.ones(len(seqs), dtype=bool)


def family_signatures(num_perm: int, families: int, per_family: int, seed: int = 0) -> np.ndarray:
    """Signatures of sets in families: members of a family overlap at Jaccard 0.05..0.9, families do not."""
    rng = np.random.default_rng(seed)
    hasher = OnePermutationHasher(num_perm, 1)
    sets = []
    for family in range(families):
        base = np.arange(1000) + family * 1_000_000
        for _ in range(per_family):
            keep = rng.random(1000) < rng.uniform(0.1, 0.95)
            sets.append(np.concatenate((base[keep], rng.integers(1 << 40, 1 << 41, size=50))))
    return np.stack([hasher.sign(hashing.fmix64(elements.astype(np.uint64))) for elements in sets])


@pytest.mark.parametrize(
    ("num_perm", "threshold", "weights"),
    [(128, 0.3, (0.5, 0.5)), (32, 0.1, (0.3, 0.7))],
    ids=["near-tier", "story-tier"],
)
def test_candidates_are_those_of_datasketchs_minhashlsh(
    num_perm: int, threshold: float, weights: tuple[float, float]
) -> None:
    """Same banding, same candidates: hashing bands to 32 bits loses none, and adds none at this size."""
    signatures = family_signatures(num_perm, families=30, per_family=20)
    reference = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
    table = BandTable(num_perm, threshold, weights, alive=everything_alive)
    assert (table.bands, table.rows) == (reference.b, reference.r)
    for seq, signature in enumerate(signatures):
        reference.insert(seq, Sketch(signature))
        table.insert(np.array([seq]), signature[None, :])
    found = 0
    for signature in signatures[::7]:
        expected = sorted(reference.query(Sketch(signature)))
        assert table.candidates(signature).tolist() == expected
        found += len(expected)
    assert found > 2 * len(signatures[::7]), "queries find other members of their family"


def test_recent_entries_become_sorted_runs_of_geometric_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the recent-entries limit, entries move into sorted runs, O(log n) of them, and are still found."""
    monkeypatch.setattr(lsh, "_RECENT_ENTRIES", 64)
    signatures = family_signatures(32, families=40, per_family=10, seed=1)
    table = BandTable(32, 0.1, (0.3, 0.7), alive=everything_alive)
    for seq, signature in enumerate(signatures):
        table.insert(np.array([seq]), signature[None, :])
    assert table.entries == len(signatures) * table.bands
    runs = [len(run) for run in table._runs]
    assert len(runs) > 1 and runs == sorted(runs, reverse=True)
    assert all(np.all(run[1:] >= run[:-1]) for run in table._runs)
    assert len(runs) <= np.log2(table.entries / 64) + 2
    for seq in range(0, len(signatures), 13):
        assert seq in table.candidates(signatures[seq]).tolist()


def test_a_bulk_load_finds_what_one_by_one_inserts_find() -> None:
    signatures = family_signatures(128, families=10, per_family=30, seed=2)
    one_by_one = BandTable(128, 0.3, (0.5, 0.5), alive=everything_alive)
    for seq, signature in enumerate(signatures):
        one_by_one.insert(np.array([seq]), signature[None, :])
    bulk = BandTable(128, 0.3, (0.5, 0.5), alive=everything_alive)
    bulk.insert(np.arange(len(signatures)), signatures)
    for signature in signatures[::11]:
        assert bulk.candidates(signature).tolist() == one_by_one.candidates(signature).tolist()


def test_merges_drop_the_entries_of_removed_articles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lsh, "_RECENT_ENTRIES", 64)
    removed: set[int] = set()
    table = BandTable(32, 0.1, (0.3, 0.7), alive=lambda seqs: ~np.isin(seqs, list(removed)))
    signatures = family_signatures(32, families=40, per_family=10, seed=3)
    table.insert(np.arange(100), signatures[:100])
    removed.update(range(50))
    for seq in range(100, len(signatures)):
        table.insert(np.array([seq]), signatures[seq][None, :])
    held = np.concatenate(table._runs) & np.uint64(0xFFFFFFFF)
    assert not np.isin(held, list(removed)).any(), "the bulk-loaded run has merged with later ones"
    assert table.entries == (len(signatures) - len(removed)) * table.bands


@pytest.mark.parametrize("limit", [1, 5, 70])
def test_a_bucket_limit_keeps_each_buckets_newest_entries(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """A bucket shared by 150 articles yields only its `limit` newest, whether they sit in runs or recent entries."""
    monkeypatch.setattr(lsh, "_RECENT_ENTRIES", 150)  # a flush every 7 inserts: 300 leave 6 recent
    signature = family_signatures(32, families=1, per_family=1)[0]
    others = family_signatures(32, families=30, per_family=1, seed=5)
    table = BandTable(32, 0.1, (0.3, 0.7), alive=everything_alive)
    for seq in range(150):  # the same signature, interleaved with unrelated ones
        table.insert(np.array([2 * seq]), signature[None, :])
        table.insert(np.array([2 * seq + 1]), others[seq % 30][None, :])
    assert len(table._runs) > 1 and table._recent, "entries in several runs and in the recent dict"
    newest = [2 * seq for seq in range(150 - limit, 150)]
    found = table.candidates(signature, bucket_limit=limit).tolist()
    assert [seq for seq in found if seq % 2 == 0] == newest
    unlimited = table.candidates(signature).tolist()
    assert [seq for seq in unlimited if seq % 2 == 0] == list(range(0, 300, 2))


def test_drop_removed_keeps_only_live_entries_and_the_same_candidates() -> None:
    """After most articles are removed, drop_removed leaves one entry per live article and band,
    and every query yields the same live candidates as before."""
    signatures = family_signatures(128, families=40, per_family=50)
    alive = np.ones(len(signatures), dtype=bool)
    table = BandTable(128, 0.3, (0.5, 0.5), alive=lambda seqs: alive[seqs.astype(np.intp)])
    half = len(signatures) // 2
    table.insert(np.arange(half), signatures[:half])  # runs: each insert is beyond the recent dict's size
    table.insert(np.arange(half, len(signatures)), signatures[half:])
    assert table.entries == len(signatures) * table.bands
    alive[np.random.default_rng(5).random(len(signatures)) < 0.8] = False

    def live_candidates() -> list[list[int]]:
        return [sorted(c for c in table.candidates(s).tolist() if alive[c]) for s in signatures[::37]]

    before = live_candidates()
    table.drop_removed()
    assert table.entries == int(alive.sum()) * table.bands
    assert live_candidates() == before
