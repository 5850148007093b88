"""Vectorised 64-bit hashing of tokens and shingles, for whole batches of texts at once.

Everything works on numpy uint64 arrays, whose multiplication wraps modulo
2**64 (the intended arithmetic). Hashes are stable across processes and
machines (unlike Python's `hash()`), because they are stored with signatures.
Mixing uses the MurmurHash3 64-bit finaliser, a bijection with full
avalanche, so polynomial combinations of structured inputs come out uniform.

A token's hash starts as the polynomial sum of its code points modulo 2**32,
c_0 + c_1*B + c_2*B^2 + ..., computed for every token of a batch from one
prefix sum over the code points: sum(c_i B^i for i in [s, e)) =
(P[e] - P[s]) * B^-s, with B odd and so invertible. Then the sum and the
token's length go through the 64-bit finaliser. 32-bit arithmetic makes the
two passes over every character three times faster than 64-bit; two different
tokens of the same length collide with probability 2**-32 (a few hundred word
pairs in a vocabulary of millions: harmless for Jaccard estimates), and the
known weakness of polynomial hashing modulo a power of two needs tokens of
256 characters or more, which only junk produces.
"""

from __future__ import annotations

import numpy as np

_U64 = np.uint64
# Odd multipliers: a 32-bit golden-ratio constant for tokens, one from splitmix64 for shingles.
_TOKEN_BASE = np.uint32(0x9E3779B9)
_TOKEN_BASE_INVERSE = np.uint32(pow(0x9E3779B9, -1, 1 << 32))
_SHINGLE_BASE = _U64(0x94D049BB133111EB)
_EMPTY_U64 = np.zeros(0, dtype=np.uint64)


def fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, element-wise (returns a new array)."""
    h = values.astype(np.uint64, copy=True)
    h ^= h >> _U64(33)
    h *= _U64(0xFF51AFD7ED558CCD)
    h ^= h >> _U64(33)
    h *= _U64(0xC4CEB9FE1A85EC53)
    h ^= h >> _U64(33)
    return h


class _Powers:
    """B^i and B^-i modulo 2**32 for i < n, grown on demand and shared by every call (read-only once made)."""

    def __init__(self) -> None:
        self._tables = (np.ones(1, dtype=np.uint32), np.ones(1, dtype=np.uint32))

    def get(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        # Read the attribute once: another thread may replace it meanwhile (never with a shorter table).
        tables = self._tables
        if len(tables[0]) < length:
            size = max(length, 2 * len(tables[0]), 1 << 16)
            # Array arithmetic wraps modulo 2**32 without warnings (scalar arithmetic warns).
            forward = np.cumprod(np.full(size - 1, _TOKEN_BASE, dtype=np.uint32), dtype=np.uint32)
            backward = np.cumprod(np.full(size - 1, _TOKEN_BASE_INVERSE, dtype=np.uint32), dtype=np.uint32)
            one = np.ones(1, dtype=np.uint32)
            tables = (np.concatenate((one, forward)), np.concatenate((one, backward)))
            self._tables = tables
        return tables


_powers = _Powers()


def token_hashes(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Hash each run codes[starts[i]:ends[i]] of code points to one uint64.

    The hash of a run depends only on its code points (not on where it sits),
    so equal tokens hash equally in any text.
    """
    if len(starts) == 0:
        return _EMPTY_U64
    forward, backward = _powers.get(len(codes) + 1)
    prefix = np.empty(len(codes) + 1, dtype=np.uint32)
    prefix[0] = 0
    np.cumsum(np.multiply(codes, forward[: len(codes)], dtype=np.uint32), out=prefix[1:])
    sums = (prefix[ends] - prefix[starts]) * backward[starts]
    return fmix64((sums.astype(np.uint64) << _U64(32)) | (ends - starts).astype(np.uint64))


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (np.unique is several times slower for uint64 on current numpy)."""
    ordered = np.sort(values)
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def locate(sorted_values: np.ndarray, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each probe is or would go in `sorted_values`, and whether it is there."""
    positions = np.searchsorted(sorted_values, probes)
    found = positions < len(sorted_values)
    found[found] = sorted_values[positions[found]] == probes[found]
    return positions, found


def contains(sorted_values: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Which probes occur in `sorted_values` (np.isin sorts and hashes both sides: ten times slower here)."""
    return locate(sorted_values, probes)[1]


def combine(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Hash pairs element-wise, the same way a two-token shingle is hashed."""
    return fmix64(first * _SHINGLE_BASE + second)


def shingle_hashes(hashes: np.ndarray, offsets: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash every run of `size` consecutive tokens within each text of a batch.

    `offsets` delimits the texts (text i has tokens offsets[i]:offsets[i+1]).
    A text with fewer than `size` tokens (but some) is one shingle of all of
    them. Returns the shingle hashes and their offsets per text.
    """
    counts = np.diff(offsets)
    shingle_counts = np.where(counts >= size, counts - size + 1, np.minimum(counts, 1))
    shingle_offsets = np.concatenate(([0], np.cumsum(shingle_counts)))
    stop = max(len(hashes) - size + 1, 0)
    combined = hashes[:stop].copy()
    for offset in range(1, size):
        combined *= _SHINGLE_BASE
        combined += hashes[offset : offset + stop]
    short = np.flatnonzero((counts > 0) & (counts < size))
    if short.size == 0:
        # Drop the windows that run past the end of their text: the last size-1 starts of each.
        crossing = np.zeros(stop + size, dtype=bool)
        ends = offsets[1:][counts >= size]
        for back in range(1, size):
            crossing[ends - back] = True
        return fmix64(combined[~crossing[:stop]]), shingle_offsets
    # Some text is shorter than a shingle: place every text's shingles explicitly.
    out = np.empty(shingle_offsets[-1], dtype=np.uint64)
    full = np.repeat(counts >= size, shingle_counts)
    starts = np.repeat(offsets[:-1] - shingle_offsets[:-1], shingle_counts) + np.arange(shingle_offsets[-1])
    out[full] = combined[starts[full]]
    for text in short.tolist():
        # A short text: one shingle over its tokens (rare, so a small Python loop).
        window = hashes[offsets[text] : offsets[text + 1]]
        value = window[:1].copy()
        for item in window[1:]:
            value = value * _SHINGLE_BASE + item
        out[shingle_offsets[text]] = value[0]
    return fmix64(out), shingle_offsets
