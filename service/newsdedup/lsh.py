"""Locality-sensitive hashing over MinHash bands, stored compactly.

datasketch's `MinHashLSH` keeps a Python dict per band mapping the band's
bytes to a Python set of keys: about 100 bytes per (article, band), 3.6 KB
per article at 37 bands. Here every (article, band) is one uint64: the band
hashed to 32 bits (the band's index mixed in) above the article's 32-bit
sequence number. Entries live in sorted numpy runs, looked up by binary
search, plus a dict of the most recent ones; runs merge as they grow, a log-
structured merge in memory, so an insert costs amortised O(log n) numpy work
and a query one `searchsorted` per run.

Hashing a band to 32 bits can only add candidates (two different bands that
collide, odds about n / 2**32 per band), never lose one; the caller verifies
every candidate against its stored signature anyway. Bands and rows come from
datasketch's optimiser, so this index finds the same candidates as
`MinHashLSH` with the same threshold and weights (a test compares them).

Entries of removed articles stay until a merge drops them, or until the owner
has them all dropped (`drop_removed`); the owner says which sequence numbers
are alive and filters candidates by it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from datasketch.lsh import _optimal_param

from newsdedup import hashing

_LOW_32 = np.uint64(0xFFFFFFFF)
_SHIFT_32 = np.uint64(32)
# Recent entries are kept in a dict until there are this many; then they become a sorted run.
_RECENT_ENTRIES = 1 << 16
_UNLIMITED = np.iinfo(np.int64).max

Alive = Callable[[np.ndarray], np.ndarray]


class BandTable:
    """Maps the bands of MinHash signatures to the sequence numbers (< 2**32) of the articles holding them."""

    def __init__(self, num_perm: int, threshold: float, weights: tuple[float, float], alive: Alive) -> None:
        # datasketch's optimiser weighs false positives against false negatives as `weights` says.
        self.bands, self.rows = _optimal_param(threshold, num_perm, *weights)
        rng = np.random.default_rng(0x5EED)
        self._multipliers = rng.integers(1, 1 << 63, size=self.rows, dtype=np.uint64) | np.uint64(1)
        self._band_salts = rng.integers(0, 1 << 63, size=self.bands, dtype=np.uint64)
        self._alive = alive
        self._runs: list[np.ndarray] = []  # sorted uint64 entries, largest first
        self._recent: dict[int, list[int]] = {}  # band key -> sequence numbers
        self._recent_entries: list[np.ndarray] = []
        self._recent_count = 0

    @property
    def entries(self) -> int:
        """Entries held, those of removed articles not yet merged away included."""
        return sum(len(run) for run in self._runs) + self._recent_count

    @property
    def recent_limit(self) -> int:
        """Entries kept in the dict of recent ones before they become a run."""
        return _RECENT_ENTRIES

    @property
    def nbytes(self) -> int:
        """Bytes held by the runs and the recent entries (the recent dict's overhead not counted)."""
        return sum(run.nbytes for run in self._runs) + sum(entries.nbytes for entries in self._recent_entries)

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """The 32-bit key of every band of each signature: uint64[len(signatures), bands]."""
        used = signatures[:, : self.bands * self.rows].astype(np.uint64)
        banded = used.reshape(len(signatures), self.bands, self.rows)
        combined = (banded * self._multipliers).sum(axis=2, dtype=np.uint64) + self._band_salts
        return hashing.fmix64(combined) >> _SHIFT_32

    def insert(self, seqs: np.ndarray, signatures: np.ndarray) -> None:
        """Index the bands of signatures[i] under seqs[i]."""
        keys = self.band_keys(signatures)
        seqs = np.asarray(seqs, dtype=np.uint64)
        entries = ((keys << _SHIFT_32) | seqs[:, None]).ravel()
        if len(entries) >= _RECENT_ENTRIES:  # a bulk load: straight to a run
            self._add_run(np.sort(entries))
            return
        for key, seq in zip(keys.ravel().tolist(), np.repeat(seqs, self.bands).tolist(), strict=True):
            self._recent.setdefault(key, []).append(seq)
        self._recent_entries.append(entries)
        self._recent_count += len(entries)
        if self._recent_count >= _RECENT_ENTRIES:
            self._add_run(np.sort(np.concatenate(self._recent_entries)))
            self._recent.clear()
            self._recent_entries.clear()
            self._recent_count = 0

    def candidates(self, signature: np.ndarray, bucket_limit: int | None = None) -> np.ndarray:
        """Sequence numbers sharing at least one band with `signature` (removed ones included), sorted, distinct.

        With `bucket_limit`, each band's bucket yields only its newest that
        many (the highest sequence numbers): a bucket shared by thousands of
        articles (a common story term) costs no more than a small one.
        Entries are sorted by (key, seq), so a bucket's newest entries close
        its range in each run, and newer runs come later in the list.
        """
        keys = self.band_keys(signature[None, :])[0]
        low = np.sort(keys << _SHIFT_32)
        high = low | _LOW_32
        room = np.full(len(low), _UNLIMITED if bucket_limit is None else bucket_limit, dtype=np.int64)
        found = [np.zeros(0, dtype=np.uint64)]
        for band, key in enumerate((low >> _SHIFT_32).tolist()):
            seqs = self._recent.get(key, [])[-room[band] :] if room[band] > 0 else []
            if seqs:
                found.append(np.array(seqs, dtype=np.uint64))
                room[band] -= len(seqs)
        for run in reversed(self._runs):
            if not room.any():
                break
            stops = np.searchsorted(run, high, side="right")
            starts = np.maximum(np.searchsorted(run, low), stops - room)
            for band in np.flatnonzero(stops > starts).tolist():
                found.append(run[starts[band] : stops[band]] & _LOW_32)
            room -= np.maximum(stops - starts, 0)
        return hashing.distinct(np.concatenate(found))

    def drop_removed(self) -> None:
        """Merge every run into one without the entries of removed articles."""
        if self._runs:
            self._runs = [self._merged(self._runs)]

    def _add_run(self, run: np.ndarray) -> None:
        """Add a sorted run; merge runs of similar size so there are O(log n) of them."""
        self._runs.append(run)
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            self._runs.append(self._merged([self._runs.pop(-2), self._runs.pop()]))

    def _merged(self, runs: list[np.ndarray]) -> np.ndarray:
        """One sorted run of the entries of `runs` (which it empties) whose articles are alive."""
        merged = np.concatenate(runs)
        runs.clear()  # the runs' memory goes as soon as the merged copy exists
        alive = self._alive(merged & _LOW_32)
        if not alive.all():
            merged = merged[alive]
        # In place (no third copy at the peak); timsort finds the sorted runs and merges them in linear time.
        merged.sort(kind="stable")
        return merged
