"""Vectorised 64-bit hashing of tokens and shingles.

Everything works on numpy uint64 arrays, whose multiplication wraps modulo
2**64 (the intended arithmetic). Hashes are stable across processes and
machines (unlike Python's `hash()`), because they are stored with signatures.
The mixing step is the MurmurHash3 64-bit finaliser, a bijection with full
avalanche, so polynomial combinations of structured inputs come out uniform.
"""

from __future__ import annotations

import numpy as np

_U64 = np.uint64
# Odd multipliers: the golden-ratio constant and two from splitmix64.
_TOKEN_BASE = _U64(0x9E3779B97F4A7C15)
_LENGTH_SALT = _U64(0xBF58476D1CE4E5B9)
_SHINGLE_BASE = _U64(0x94D049BB133111EB)
_powers = np.ones(1, dtype=np.uint64)


def fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, element-wise (returns a new array)."""
    h = values.astype(np.uint64, copy=True)
    h ^= h >> _U64(33)
    h *= _U64(0xFF51AFD7ED558CCD)
    h ^= h >> _U64(33)
    h *= _U64(0xC4CEB9FE1A85EC53)
    h ^= h >> _U64(33)
    return h


def _token_powers(length: int) -> np.ndarray:
    """_TOKEN_BASE ** k for k < length, grown on demand and kept between calls."""
    global _powers
    # Read the global once: another thread may replace it (even with a shorter table) meanwhile.
    powers = _powers
    if len(powers) < length:
        size = max(length, 2 * len(powers), 64)
        # Array arithmetic wraps modulo 2**64 without warnings (scalar arithmetic warns).
        powers = np.concatenate(
            (np.ones(1, dtype=np.uint64), np.cumprod(np.full(size - 1, _TOKEN_BASE, dtype=np.uint64), dtype=np.uint64))
        )
        _powers = powers
    return powers


def hash_runs(values: np.ndarray, positions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Hash consecutive runs of `values` (one run per entry of `lengths`) to one uint64 each.

    `positions` gives each value's offset inside its run. A run hashes as the
    polynomial sum of (value + 1) * BASE**position, salted with its length and
    mixed, which is computed for all runs at once with np.add.reduceat.
    """
    weighted = (values.astype(np.uint64) + _U64(1)) * _token_powers(int(lengths.max()))[positions]
    run_offsets = np.cumsum(lengths) - lengths
    sums = np.add.reduceat(weighted, run_offsets)
    return fmix64(sums ^ (lengths.astype(np.uint64) * _LENGTH_SALT))


def shingle_hashes(token_hashes: np.ndarray, size: int) -> np.ndarray:
    """Hash every run of `size` consecutive tokens; a text shorter than `size` tokens is one shingle."""
    count = len(token_hashes)
    if count == 0:
        return np.zeros(0, dtype=np.uint64)
    width = min(size, count)
    stop = count - width + 1
    combined = token_hashes[:stop].copy()
    for offset in range(1, width):
        combined *= _SHINGLE_BASE
        combined += token_hashes[offset : offset + stop]
    return fmix64(combined)


def combine(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Hash pairs element-wise, the same way a two-token shingle is hashed."""
    return fmix64(first * _SHINGLE_BASE + second)


def fold32(values: np.ndarray) -> np.ndarray:
    """Fold uint64 hashes to uint32 by xor-ing the halves (the input width of the affine32 MinHash)."""
    return ((values >> _U64(32)) ^ values).astype(np.uint32)
