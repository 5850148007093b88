"""MinHash signatures and content hashes: the hot path from text to fingerprint.

The signatures are datasketch's "affine32" MinHash, reproduced bit for bit
with numpy so a whole shingle set is signed in a few array operations instead
of one Python call per shingle: each 32-bit shingle hash is pre-mixed with the
MurmurHash3 32-bit finaliser, permuted as a*h + b mod 2**32 with datasketch's
own permutation parameters for the seed, and the minimum per permutation
kept. A signature made here equals `datasketch.MinHash(num_perm, seed,
hashfunc=identity).update_batch(shingle_hashes)` (a test checks), so
datasketch's MinHashLSH indexes it as one of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xxhash
from datasketch import MinHash

from newsdedup import boilerplate, hashing, text

SCHEME = "affine32"
_U32 = np.uint32


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, as datasketch applies it before permuting."""
    h = values.astype(np.uint32, copy=True)
    h ^= h >> _U32(16)
    h *= _U32(0x85EBCA6B)
    h ^= h >> _U32(13)
    h *= _U32(0xC2B2AE35)
    h ^= h >> _U32(16)
    return h


class MinHasher:
    """Signs sets of 32-bit hashes with `num_perm` affine32 permutations drawn from `seed`."""

    def __init__(self, num_perm: int, seed: int) -> None:
        self.num_perm = num_perm
        self.seed = seed
        a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
        self._a = np.ascontiguousarray(a, dtype=np.uint32)[:, None]
        self._b = np.ascontiguousarray(b, dtype=np.uint32)[:, None]

    def sign(self, hashes32: np.ndarray) -> np.ndarray:
        """The signature (uint32[num_perm]) of a non-empty set of 32-bit hashes."""
        if hashes32.size == 0:
            raise ValueError("cannot sign an empty set")
        permuted = self._a * _fmix32(hashes32)[None, :] + self._b
        return permuted.min(axis=1)


def estimate_jaccard(signature: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of one signature against each row of `others`."""
    if others.ndim == 1:
        return np.array([np.count_nonzero(signature == others) / len(signature)])
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
    shingles: np.ndarray  # uint64, distinct, sorted
    near_signature: np.ndarray  # uint32[num_perm]
    terms: text.Terms


class Fingerprinter:
    """Turns article text into an `Analysis`: normalise, tokenise, shingle, hash, sign."""

    def __init__(self, num_perm: int, seed: int, shingle_size: int) -> None:
        self.minhasher = MinHasher(num_perm, seed)
        self.shingle_size = shingle_size

    def tokens(self, title: str, body: str) -> tuple[str, text.Tokens]:
        normalized = text.normalize(article_text(title, body))
        return normalized, text.tokenize(normalized)

    def analyze(self, title: str, body: str) -> Analysis | None:
        """The analysis of an article, or None if its text holds no words at all."""
        _, tokens = self.tokens(title, body)
        if len(tokens) == 0:
            return None
        shingles = np.unique(hashing.shingle_hashes(tokens.hashes, self.shingle_size))
        return Analysis(
            # Hashing the token sequence makes whitespace and punctuation
            # differences irrelevant: same words in the same order = same content.
            content_hash=xxhash.xxh3_64_intdigest(tokens.hashes.tobytes()),
            token_count=len(tokens),
            shingles=shingles,
            near_signature=self.minhasher.sign(hashing.fold32(shingles)),
            terms=text.terms(tokens),
        )

    def shingle_strings(self, normalized: str, tokens: text.Tokens) -> tuple[np.ndarray, list[str]]:
        """Every shingle's hash and text, in text order (for explanations)."""
        words = tokens.strings(normalized)
        hashes = hashing.shingle_hashes(tokens.hashes, self.shingle_size)
        width = min(self.shingle_size, len(words))
        return hashes, [" ".join(words[i : i + width]) for i in range(len(hashes))]
