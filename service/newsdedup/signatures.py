"""MinHash signatures and content hashes: the hot path from text to fingerprint.

Signatures use one-permutation hashing with optimal densification
(Li, Owen and Zhang 2012; Shrivastava 2017). Classic MinHash applies k hash
functions to every element, k * n operations per set; one-permutation
hashing hashes each element once, uses the top bits to pick one of k bins and
keeps the minimum of the other bits per bin, n operations in all. Bins that
no element falls into borrow the value of a non-empty bin chosen by a fixed
probe sequence (the same for every set, so equal sets stay equal and the
collision probability of a bin stays the Jaccard similarity). The estimator
is the share of equal bins, with accuracy matching k-permutation MinHash
(benchmarks/hashing.py measures it).

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

SCHEME = "oph-dens32"
_EMPTY = np.uint64(1 << 32)  # above every 32-bit value
_LOW_32 = np.uint64(0xFFFFFFFF)
# Probes per empty bin before falling back to the first non-empty bin; a set
# with one element of 128 bins needs 128 on average, and 4096 fail to find it
# with probability (127/128)**4096 ~ 1e-14.
_MAX_PROBES = 4096
# Probes tried at once: most empty bins are filled by one of the first few.
_PROBE_BLOCKS = (4, 28, 96, 384, 1536, 2048)
_MIX = np.uint64(0xD6E8FEB86659FD93)  # odd


class OnePermutationHasher:
    """Signs sets of 64-bit hashes with `num_perm` bins (a power of two), from `seed`."""

    def __init__(self, num_perm: int, seed: int) -> None:
        if num_perm < 2 or num_perm & (num_perm - 1):
            raise ValueError(f"num_perm must be a power of two, got {num_perm}")
        self.num_perm = num_perm
        self.seed = seed
        self._shift = np.uint64(64 - int(math.log2(num_perm)))
        self._salt = hashing.fmix64(np.array([seed], dtype=np.uint64))[0]
        # The inputs are already uniform 64-bit hashes (or their top 48 bits), so
        # salting and one odd multiplication suffice to spread them over the
        # bins (top bits) and values (low 32 bits): a bijection of the input.
        self._probes = np.random.default_rng(seed).integers(0, num_perm, size=(num_perm, _MAX_PROBES), dtype=np.int16)

    def sign_batch(self, hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Signatures (uint32[texts, num_perm]) of the sets hashes[offsets[i]:offsets[i+1]].

        A text with an empty set gets a row of 0xFFFFFFFF, which callers never index.
        """
        texts, k = len(offsets) - 1, self.num_perm
        mixed = (hashes ^ self._salt) * _MIX
        owners = np.repeat(np.arange(texts, dtype=np.int64), np.diff(offsets))
        cells = owners * k + (mixed >> self._shift).astype(np.int64)
        flat = np.full(texts * k, _EMPTY, dtype=np.uint64)
        np.minimum.at(flat, cells, mixed & _LOW_32)
        signatures = flat.reshape(texts, k)
        self._densify(signatures)
        return np.minimum(signatures, _LOW_32).astype(np.uint32)

    def sign(self, hashes: np.ndarray) -> np.ndarray:
        """The signature of one non-empty set."""
        if hashes.size == 0:
            raise ValueError("cannot sign an empty set")
        return self.sign_batch(hashes, np.array([0, hashes.size]))[0]

    def _densify(self, signatures: np.ndarray) -> None:
        """Fill each empty bin from the first non-empty bin on its probe sequence."""
        filled = signatures != _EMPTY
        rows, columns = np.nonzero(~filled & filled.any(axis=1)[:, None])
        start = 0
        for width in _PROBE_BLOCKS:
            if rows.size == 0:
                return
            candidates = self._probes[columns, start : start + width].astype(np.intp)
            start += width
            hits = filled[rows[:, None], candidates]
            found = hits.any(axis=1)
            chosen = candidates[found, hits[found].argmax(axis=1)]
            signatures[rows[found], columns[found]] = signatures[rows[found], chosen]
            rows, columns = rows[~found], columns[~found]
        for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
            signatures[row, column] = signatures[row, np.flatnonzero(filled[row])[0]]


def estimate_jaccard(signature: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of one signature against each row of `others` (2-D)."""
    return np.count_nonzero(others == signature[None, :], axis=1) / signature.shape[0]


def exact_jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """Exact Jaccard similarity of two sets of distinct hashes."""
    if first.size == 0 and second.size == 0:
        return 1.0
    shared = np.intersect1d(first, second, assume_unique=True).size
    return shared / (first.size + second.size - shared)


def article_text(title: str, body: str) -> str:
    """The text an article is judged by: its title and its body without site chrome."""
    stripped = boilerplate.strip_chrome(body)
    return f"{title}\n{stripped}" if title else stripped


@dataclass(frozen=True)
class Analysis:
    """Everything the engine needs from an article's text, computed without any shared state."""

    content_hash: int  # xxh3-64 of the token sequence, 0..2**64-1
    token_count: int
    near_signature: np.ndarray  # uint32[num_perm]
    terms: text.Terms


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
                )
            )
        return results

    def analyze(self, title: str, body: str) -> Analysis | None:
        """The analysis of one article, or None if its text holds no words at all."""
        return self.analyze_batch([article_text(title, body)])[0]

    def shingle_set(self, tokens: text.Tokens) -> np.ndarray:
        """The distinct shingle hashes of one text (for exact Jaccard)."""
        return hashing.distinct(hashing.shingle_hashes(tokens.hashes, tokens.offsets, self.shingle_size)[0])

    def shingle_strings(self, normalized: str, tokens: text.Tokens) -> tuple[np.ndarray, list[str]]:
        """Every shingle's hash and text, in text order (for explanations)."""
        words = tokens.strings(normalized)
        hashes = hashing.shingle_hashes(tokens.hashes, tokens.offsets, self.shingle_size)[0]
        width = min(self.shingle_size, len(words))
        return hashes, [" ".join(words[i : i + width]) for i in range(len(hashes))]
