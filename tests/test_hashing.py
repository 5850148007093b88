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

from .strategies import code_points_with_runs, token_hash_batches, uint64_arrays

MASK64 = 2**64 - 1
TOKEN_BASE = 0x9E3779B9
SHINGLE_BASE = 0x94D049BB133111EB


def fmix64_reference(k: int) -> int:
    """MurmurHash3 fmix64, as in Austin Appleby's MurmurHash3.cpp."""
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & MASK64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & MASK64
    k ^= k >> 33
    return k


def token_hash_reference(run: list[int]) -> int:
    """fmix64 of (c_0 + c_1 B + c_2 B^2 + ... modulo 2**32) in the high half and the length in the low half."""
    polynomial = sum(code * pow(TOKEN_BASE, position, 2**32) for position, code in enumerate(run)) % 2**32
    return fmix64_reference((polynomial << 32) | len(run))


def shingle_hash_reference(window: list[int]) -> int:
    combined = window[0]
    for token_hash in window[1:]:
        combined = (combined * SHINGLE_BASE + token_hash) & MASK64
    return fmix64_reference(combined)


def shingles_reference(texts: list[list[int]], size: int) -> tuple[list[int], list[int]]:
    """Each text's windows of `size` tokens (one window of all tokens if shorter), and the offsets per text."""
    hashes, offsets = [], [0]
    for tokens in texts:
        width = min(size, len(tokens))
        if tokens:
            hashes += [shingle_hash_reference(tokens[i : i + width]) for i in range(len(tokens) - width + 1)]
        offsets.append(len(hashes))
    return hashes, offsets


def batch(texts: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token hashes and offsets of a batch of texts, as `Tokens` holds them."""
    hashes = np.array([h for tokens in texts for h in tokens], dtype=np.uint64)
    offsets = np.concatenate(([0], np.cumsum([len(tokens) for tokens in texts], dtype=np.int64)))
    return hashes, offsets


def token_hashes_of(runs: list[list[int]], gap: int = 0) -> np.ndarray:
    """token_hashes of runs laid out one after another in one code point array, `gap` code points apart."""
    codes: list[int] = []
    starts, ends = [], []
    for run in runs:
        codes += [0x20] * gap
        starts.append(len(codes))
        codes += run
        ends.append(len(codes))
    return hashing.token_hashes(np.array(codes, dtype=np.uint32), np.array(starts), np.array(ends))


# --- fmix64 ----------------------------------------------------------------------------------------


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


# --- token hashes ----------------------------------------------------------------------------------


@given(code_points_with_runs())
def test_token_hashes_match_the_polynomial_reference(case: tuple[list[int], list[tuple[int, int]]]) -> None:
    """Each run codes[s:e] hashes to fmix64(sum c_i B^i mod 2**32, length), whatever runs surround it."""
    codes, runs = case
    starts, ends = (np.array(column, dtype=np.int64) for column in zip(*runs, strict=True))
    hashes = hashing.token_hashes(np.array(codes, dtype=np.uint32), starts, ends)
    assert hashes.dtype == np.uint64
    assert hashes.tolist() == [token_hash_reference(codes[start:end]) for start, end in runs]


@pytest.mark.parametrize("gap", [0, 1, 70_000, 300_000], ids=["adjacent", "spaced", "past-64k", "past-256k"])
def test_token_hash_does_not_depend_on_where_the_run_sits(gap: int) -> None:
    """A run hashes alike at the start of the array and far into it, past any cached table of powers."""
    runs = [[104, 105], [0x10FFFF, 0, 7], [104, 105]]
    expected = [token_hash_reference(run) for run in runs]
    assert token_hashes_of(runs, gap=gap).tolist() == expected


def test_token_hashes_of_a_very_long_token() -> None:
    """A 100,000-character token (longer than the first table of powers) hashes like the reference."""
    runs = [[104, 105], [(7 * i) % 0x110000 for i in range(100_000)], [1]]
    assert token_hashes_of(runs).tolist() == [token_hash_reference(run) for run in runs]


@pytest.mark.parametrize(
    ("first", "second"),
    [([1, 2], [2, 1]), ([0], [0, 0]), ([5, 0], [5]), ([0x10FFFF], [0x10FFFE]), ([97, 98], [98, 97])],
    ids=["order", "length", "trailing-zero", "adjacent-values", "swapped-letters"],
)
def test_token_hashes_tell_similar_runs_apart(first: list[int], second: list[int]) -> None:
    """Runs that differ in order, length or one value hash differently (zeros included, thanks to the length)."""
    first_hash, second_hash = token_hashes_of([first, second]).tolist()
    assert first_hash != second_hash


def test_no_runs_no_hashes() -> None:
    """Without runs the result is an empty uint64 array."""
    hashes = hashing.token_hashes(np.array([97, 98], dtype=np.uint32), np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert hashes.size == 0 and hashes.dtype == np.uint64


# --- shingle hashes --------------------------------------------------------------------------------


@given(token_hash_batches, st.integers(1, 10))
def test_shingle_hashes_match_the_reference(texts: list[list[int]], size: int) -> None:
    """Every window of `size` tokens inside one text hashes like the plain-Python polynomial, text by text."""
    hashes, offsets = batch(texts)
    shingles, shingle_offsets = hashing.shingle_hashes(hashes, offsets, size)
    expected, expected_offsets = shingles_reference(texts, size)
    assert shingles.dtype == np.uint64
    assert shingles.tolist() == expected
    assert shingle_offsets.tolist() == expected_offsets


@given(token_hash_batches, st.integers(1, 6))
def test_shingles_never_cross_texts(texts: list[list[int]], size: int) -> None:
    """A batch gives each text exactly the shingles it gets alone: no window spans two texts."""
    shingles, offsets = hashing.shingle_hashes(*batch(texts), size)
    for i, tokens in enumerate(texts):
        alone, alone_offsets = hashing.shingle_hashes(*batch([tokens]), size)
        assert shingles[offsets[i] : offsets[i + 1]].tolist() == alone.tolist()
        assert alone_offsets.tolist() == [0, offsets[i + 1] - offsets[i]]


@pytest.mark.parametrize("count", [1, 2, 3, 4], ids=lambda count: f"{count}-tokens")
def test_text_shorter_than_a_shingle_is_one_shingle(count: int) -> None:
    """A text with fewer tokens than the shingle size gives exactly one shingle, of all its tokens."""
    short = list(range(11, 11 + count))
    shingles, offsets = hashing.shingle_hashes(*batch([[1, 2, 3, 4, 5, 6], short, []]), 5)
    assert shingles[offsets[1] : offsets[2]].tolist() == [shingle_hash_reference(short)]
    assert offsets.tolist() == [0, 2, 3, 3]


@pytest.mark.parametrize("texts", [[], [[]], [[], [], []]], ids=["no-texts", "one-empty", "three-empty"])
def test_no_tokens_no_shingles(texts: list[list[int]]) -> None:
    """Texts without tokens have no shingles, and each still has its (empty) span of offsets."""
    shingles, offsets = hashing.shingle_hashes(*batch(texts), 3)
    assert shingles.size == 0 and shingles.dtype == np.uint64
    assert offsets.tolist() == [0] * (len(texts) + 1)


def test_shingle_hashes_leave_the_token_hashes_alone() -> None:
    """Shingling does not modify the caller's token hashes."""
    token_hashes = np.arange(1, 9, dtype=np.uint64)
    hashing.shingle_hashes(token_hashes, np.array([0, 3, 8]), 3)
    assert token_hashes.tolist() == list(range(1, 9))


@given(uint64_arrays(min_size=1, max_size=50), uint64_arrays(min_size=1, max_size=50))
def test_combine_hashes_a_pair_like_a_two_token_shingle(first: np.ndarray, second: np.ndarray) -> None:
    """combine(a, b) equals the hash of the two-token shingle (a, b)."""
    n = min(len(first), len(second))
    first, second = first[:n], second[:n]
    expected = [shingle_hash_reference([a, b]) for a, b in zip(first.tolist(), second.tolist(), strict=True)]
    assert hashing.combine(first, second).tolist() == expected


@given(uint64_arrays())
def test_distinct_sorts_and_drops_repeats(values: np.ndarray) -> None:
    """distinct() gives each value once, in increasing order, as uint64."""
    result = hashing.distinct(np.concatenate((values, values[::-1])))
    assert result.dtype == np.uint64
    assert result.tolist() == sorted(set(values.tolist()))


@given(st.lists(st.integers(0, 50), max_size=30), st.lists(st.integers(0, 60), max_size=30))
def test_contains_is_set_membership(values: list[int], probes: list[int]) -> None:
    """contains() answers, for each probe, whether it is among the sorted values, as np.isin does."""
    sorted_values = np.array(sorted(values), dtype=np.int64)
    probe_array = np.array(probes, dtype=np.int64)
    assert hashing.contains(sorted_values, probe_array).tolist() == [probe in values for probe in probes]
