"""MinHash signatures and content hashes: the hot path from text to fingerprint.

Signatures use one-permutation hashing (Li, Owen and Zhang 2012). Classic
MinHash applies k hash functions to every element, k * n operations per set;
one-permutation hashing hashes each element once, uses the top bits to pick one
of k bins and keeps the minimum of the other bits per bin, n operations in all.
A bin that no element falls into gets its own classic MinHash value instead:
the minimum over the whole set of a hash salted with the bin. Either way a bin
of two sets is equal with probability their Jaccard similarity: if some
element of the union falls into the bin, it is equal exactly when the union's
minimum there is shared; if none does, the bin's own hash decides.

The fill costs n operations per empty bin, about k * n * exp(-n / k) per set:
almost nothing for an article of hundreds of shingles, and for a short text
it buys independent bins. Densification by copying a non-empty bin
(Shrivastava 2017), which this replaced, ties every empty bin to a handful of
elements; when two of a short text's shingles shared a bin, one of them was
never seen and the estimate could miss by 0.2.

For a whole batch, signing is one `np.minimum.at` over (text, bin) cells; the
LSH bands of lsh.py index the signatures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xxhash

from newsdedup import boilerplate, hashing, text

SCHEME = "oph-binfill32"
_EMPTY = np.uint64(2**64 - 1)  # a bin no element fell into (or one whose element mixed to all ones, p = 2**-64)
_LOW_32 = np.uint64(0xFFFFFFFF)
_HIGH_32 = np.uint64(32)
_MIX = np.uint64(0xD6E8FEB86659FD93)  # odd


class OnePermutationHasher:
    """Signs sets of 64-bit hashes with `num_perm` bins (a power of two), from `seed`."""

    def __init__(self, num_perm: int, seed: int) -> None:
        if num_perm < 2 or num_perm & (num_perm - 1):
            raise ValueError(f"num_perm must be a power of two, got {num_perm}")
        self.num_perm = num_perm
        self.seed = seed
        self._value_shift = np.uint64(int(math.log2(num_perm)))
        self._bin_shift = np.uint64(64) - self._value_shift
        # The inputs are already uniform 64-bit hashes (or their top 48 bits), so
        # salting and one odd multiplication (a bijection) suffice to spread them
        # over the bins (top bits) and values (the bits below).
        self._salt = hashing.fmix64(np.array([seed], dtype=np.uint64))[0]
        # An empty bin hashes every element again by multiply-shift: the top 32
        # bits of mixed * a, with a random odd multiplier a per bin. Any fixed
        # function keeps the bin's collision probability at J (elements are
        # exchangeable); a multiplier per bin makes the bins independent draws.
        self._bin_multipliers = hashing.fmix64(self._salt + np.arange(1, num_perm + 1, dtype=np.uint64)) | np.uint64(1)

    def sign_batch(self, hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Signatures (uint32[texts, num_perm]) of the sets hashes[offsets[i]:offsets[i+1]].

        A text with an empty set gets a row of 0xFFFFFFFF, which callers never index.
        """
        texts, k = len(offsets) - 1, self.num_perm
        sizes = np.diff(offsets)
        mixed = hashes ^ self._salt
        mixed *= _MIX
        cells = np.repeat(np.arange(0, texts * k, k, dtype=np.int64), sizes)
        cells += (mixed >> self._bin_shift).view(np.int64)
        # The elements of a bin share its top bits, so the smallest mixed value is
        # the one smallest in the bits below them: keep it, take 32 of those bits.
        smallest = np.full((texts, k), _EMPTY, dtype=np.uint64)
        np.minimum.at(smallest.reshape(-1), cells, mixed)
        signatures = (smallest << self._value_shift) >> _HIGH_32
        self._fill_empty_bins(signatures, smallest == _EMPTY, mixed, offsets)
        signatures[sizes == 0] = _LOW_32
        return signatures.astype(np.uint32)

    def sign(self, hashes: np.ndarray) -> np.ndarray:
        """The signature of one non-empty set."""
        if hashes.size == 0:
            raise ValueError("cannot sign an empty set")
        return self.sign_batch(hashes, np.array([0, hashes.size]))[0]

    def _fill_empty_bins(
        self, signatures: np.ndarray, empty: np.ndarray, mixed: np.ndarray, offsets: np.ndarray
    ) -> None:
        """Give each empty bin of a non-empty set the top 32 bits of the smallest (mixed * its multiplier)."""
        sizes = np.diff(offsets)
        rows, columns = np.nonzero(empty & (sizes > 0)[:, None])
        if rows.size == 0:
            return
        # One entry per (empty bin, element of its set), grouped by bin.
        counts = sizes[rows]
        group_starts = np.cumsum(counts) - counts
        elements = np.arange(group_starts[-1] + counts[-1])
        elements += np.repeat(offsets[rows] - group_starts, counts)
        products = mixed[elements]
        products *= np.repeat(self._bin_multipliers[columns], counts)
        signatures[rows, columns] = np.minimum.reduceat(products, group_starts) >> _HIGH_32


def estimate_jaccard(signature: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of one signature against each row of `others` (2-D)."""
    return np.count_nonzero(others == signature[None, :], axis=1) / signature.shape[0]


def exact_jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """Exact Jaccard similarity of two sets of distinct hashes."""
    if first.size == 0 and second.size == 0:
        return 1.0
    shared = np.intersect1d(first, second, assume_unique=True).size
    return shared / (first.size + second.size - shared)


def article_text(title: str, body: str, learned: frozenset[int] = frozenset()) -> str:
    """The text an article is judged by: its title and its body without site chrome.

    `learned`: the keys of the lines learned as its source's chrome (`boilerplate.RecurringLines`).
    """
    stripped = boilerplate.strip_chrome(body, learned)
    return f"{title}\n{stripped}" if title else stripped


@dataclass(frozen=True)
class Analysis:
    """Everything the engine needs from an article's text, computed without any shared state."""

    content_hash: int  # xxh3-64 of the token sequence, 0..2**64-1
    token_count: int
    near_signature: np.ndarray  # uint32[num_perm]
    terms: text.Terms
    shingles: np.ndarray  # uint64 shingle hashes in text order, repeats kept: `exact_jaccard` wants them distinct

    def shingle_set(self) -> np.ndarray:
        """The distinct shingle hashes (sorted), for exact Jaccard."""
        return hashing.distinct(self.shingles)


class Fingerprinter:
    """Turns article texts into `Analysis` values: normalise, tokenise, shingle, hash, sign."""

    def __init__(self, num_perm: int, seed: int, shingle_size: int) -> None:
        self.hasher = OnePermutationHasher(num_perm, seed)
        self.shingle_size = shingle_size

    def analyze_batch(self, texts: Sequence[str]) -> list[Analysis | None]:
        """The analysis of each text (None for a text without a single word), all in a few array passes."""
        tokens = text.tokenize_batch(texts)
        shingles, shingle_offsets = hashing.shingle_hashes(tokens.hashes, tokens.offsets, self.shingle_size)
        signatures = self.hasher.sign_batch(shingles, shingle_offsets)
        terms = text.terms(tokens)
        results: list[Analysis | None] = []
        for i, (start, stop) in enumerate(zip(tokens.offsets[:-1].tolist(), tokens.offsets[1:].tolist(), strict=True)):
            if start == stop:
                results.append(None)
                continue
            results.append(
                Analysis(
                    # Hashing the token sequence makes whitespace and punctuation
                    # differences irrelevant: same words in the same order = same content.
                    content_hash=xxhash.xxh3_64_intdigest(tokens.hashes[start:stop].tobytes()),
                    token_count=stop - start,
                    near_signature=signatures[i],
                    terms=terms.text(i),
                    shingles=shingles[shingle_offsets[i] : shingle_offsets[i + 1]],
                )
            )
        return results

    def analyze(self, title: str, body: str) -> Analysis | None:
        """The analysis of one article, or None if its text holds no words at all."""
        return self.analyze_batch([article_text(title, body)])[0]

    def shingle_set(self, tokens: text.Tokens) -> np.ndarray:
        """The distinct shingle hashes of one text (for exact Jaccard)."""
        return hashing.distinct(hashing.shingle_hashes(tokens.hashes, tokens.offsets, self.shingle_size)[0])

    def shingle_sets(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The distinct shingle hashes of each text, tokenised and shingled as one batch."""
        tokens = text.tokenize_batch(texts)
        shingles, offsets = hashing.shingle_hashes(tokens.hashes, tokens.offsets, self.shingle_size)
        return [hashing.distinct(shingles[offsets[i] : offsets[i + 1]]) for i in range(len(texts))]

    def shingle_strings(self, normalized: str, tokens: text.Tokens) -> tuple[np.ndarray, list[str]]:
        """Every shingle's hash and text, in text order (for explanations)."""
        words = tokens.strings(normalized)
        hashes = hashing.shingle_hashes(tokens.hashes, tokens.offsets, self.shingle_size)[0]
        width = min(self.shingle_size, len(words))
        return hashes, [" ".join(words[i : i + width]) for i in range(len(hashes))]
