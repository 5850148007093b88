"""Vectorised token and shingle hashing (newsdedup.hashing), checked against plain-Python references.

The references spell out the constants, so a change to any of them (which would
silently orphan every stored signature) fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from newsdedup import hashing

from .strategies import code_point_runs, uint64_arrays

MASK64 = 2**64 - 1
TOKEN_BASE = 0x9E3779B97F4A7C15
LENGTH_SALT = 0xBF58476D1CE4E5B9
SHINGLE_BASE = 0x94D049BB133111EB


def fmix64_reference(k: int) -> int:
    """MurmurHash3 fmix64, as in Austin Appleby's MurmurHash3.cpp."""
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & MASK64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & MASK64
    k ^= k >> 33
    return k


def run_hash_reference(run: list[int]) -> int:
    polynomial = sum((value + 1) * pow(TOKEN_BASE, position, 2**64) for position, value in enumerate(run)) & MASK64
    return fmix64_reference(polynomial ^ ((len(run) * LENGTH_SALT) & MASK64))


def shingle_hash_reference(window: list[int]) -> int:
    combined = window[0]
    for token_hash in window[1:]:
        combined = (combined * SHINGLE_BASE + token_hash) & MASK64
    return fmix64_reference(combined)


def hash_runs_of(runs: list[list[int]]) -> np.ndarray:
    values = np.array([value for run in runs for value in run], dtype=np.uint32)
    positions = np.array([position for run in runs for position in range(len(run))], dtype=np.int64)
    lengths = np.array([len(run) for run in runs], dtype=np.int64)
    return hashing.hash_runs(values, positions, lengths)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (1, 0xB456BCFC34C2CB2C), (MASK64, 0x64B5720B4B825F21)],
    ids=["zero", "one", "all-ones"],
)
def test_fmix64_known_values(value: int, expected: int) -> None:
    """fmix64 gives MurmurHash3's published finaliser outputs (fmix64(0) = 0)."""
    assert fmix64_reference(value) == expected
    assert int(hashing.fmix64(np.array([value], dtype=np.uint64))[0]) == expected


@given(uint64_arrays(min_size=1))
def test_fmix64_matches_the_reference(values: np.ndarray) -> None:
    """The numpy finaliser equals MurmurHash3's fmix64 on any 64-bit input."""
    assert hashing.fmix64(values).tolist() == [fmix64_reference(v) for v in values.tolist()]


@pytest.mark.parametrize(
    "inputs",
    [
        np.arange(200_000, dtype=np.uint64),
        np.arange(200_000, dtype=np.uint64) << np.uint64(32),
        np.unique(np.random.default_rng(7).integers(0, MASK64, 200_000, dtype=np.uint64, endpoint=True)),
    ],
    ids=["sequential", "high-bits-only", "random"],
)
def test_fmix64_has_no_collisions(inputs: np.ndarray) -> None:
    """fmix64 is a bijection: distinct inputs (even highly structured ones) never collide."""
    assert np.unique(hashing.fmix64(inputs)).size == inputs.size


def test_fmix64_leaves_its_input_alone() -> None:
    """fmix64 returns a new array and never mixes the caller's array in place."""
    values = np.arange(10, dtype=np.uint64)
    hashing.fmix64(values)
    assert values.tolist() == list(range(10))


@given(code_point_runs)
def test_hash_runs_matches_the_polynomial_reference(runs: list[list[int]]) -> None:
    """Each run hashes to fmix64(sum (v + 1) * BASE**i  xor  length * SALT), all runs at once."""
    assert hash_runs_of(runs).tolist() == [run_hash_reference(run) for run in runs]


def test_hash_runs_handles_runs_longer_than_any_seen_before() -> None:
    """A run longer than the cached table of powers (a 5,000-character token) still hashes correctly."""
    runs = [[104, 105], list(range(5000)), [7] * 70, [1]]
    assert hash_runs_of(runs).tolist() == [run_hash_reference(run) for run in runs]


@pytest.mark.parametrize(
    ("first", "second"),
    [([1, 2], [2, 1]), ([0], [0, 0]), ([5, 0], [5]), ([0x10FFFF], [0x10FFFE])],
    ids=["order", "length", "trailing-zero", "adjacent-values"],
)
def test_hash_runs_tells_similar_runs_apart(first: list[int], second: list[int]) -> None:
    """Runs that differ in order, length or one value hash differently."""
    first_hash, second_hash = hash_runs_of([first, second]).tolist()
    assert first_hash != second_hash


@given(uint64_arrays(min_size=1, max_size=60), st.integers(1, 10))
def test_shingle_hashes_match_the_reference(token_hashes: np.ndarray, size: int) -> None:
    """Every window of `size` tokens hashes like the plain-Python polynomial; a short text is one window."""
    tokens = token_hashes.tolist()
    width = min(size, len(tokens))
    expected = [shingle_hash_reference(tokens[i : i + width]) for i in range(len(tokens) - width + 1)]
    assert hashing.shingle_hashes(token_hashes, size).tolist() == expected


@pytest.mark.parametrize("count", [1, 2, 3, 4], ids=lambda count: f"{count}-tokens")
def test_text_shorter_than_a_shingle_is_one_shingle(count: int) -> None:
    """A text with fewer tokens than the shingle size gives exactly one shingle, of all its tokens."""
    token_hashes = np.arange(11, 11 + count, dtype=np.uint64)
    shingles = hashing.shingle_hashes(token_hashes, 5)
    assert shingles.tolist() == [shingle_hash_reference(token_hashes.tolist())]


def test_no_tokens_no_shingles() -> None:
    """An empty token sequence has no shingles."""
    shingles = hashing.shingle_hashes(np.zeros(0, dtype=np.uint64), 3)
    assert shingles.size == 0 and shingles.dtype == np.uint64


def test_shingle_hashes_leave_the_token_hashes_alone() -> None:
    """Shingling does not modify the caller's token hashes."""
    token_hashes = np.arange(1, 9, dtype=np.uint64)
    hashing.shingle_hashes(token_hashes, 3)
    assert token_hashes.tolist() == list(range(1, 9))


@given(uint64_arrays(min_size=1, max_size=50), uint64_arrays(min_size=1, max_size=50))
def test_combine_hashes_a_pair_like_a_two_token_shingle(first: np.ndarray, second: np.ndarray) -> None:
    """combine(a, b) equals the hash of the two-token shingle (a, b)."""
    n = min(len(first), len(second))
    first, second = first[:n], second[:n]
    expected = [shingle_hash_reference([a, b]) for a, b in zip(first.tolist(), second.tolist(), strict=True)]
    assert hashing.combine(first, second).tolist() == expected


@given(uint64_arrays(min_size=1))
def test_fold32_xors_the_halves_into_32_bits(values: np.ndarray) -> None:
    """fold32 gives uint32 values in [0, 2**32): the high half xor the low half."""
    folded = hashing.fold32(values)
    assert folded.dtype == np.uint32
    assert folded.tolist() == [((v >> 32) ^ v) & 0xFFFFFFFF for v in values.tolist()]
