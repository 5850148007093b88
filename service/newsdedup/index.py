"""One tier of the in-memory similarity index: a datasketch MinHashLSH for
candidates and a signature matrix to verify them.

The LSH finds keys whose signatures probably collide with a query's in at
least one band; the stored signatures then give each candidate's estimated
Jaccard similarity in one vectorised comparison. Keys are the articles'
integer sequence numbers, which keep the LSH's buckets small.

Not thread-safe, like the MinHashLSH inside it (concurrent insert and remove
leave keys half-indexed, and a query during an insert can raise "Set changed
size during iteration"): the engine holds its lock around every call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from datasketch import MinHashLSH

from newsdedup.signatures import SCHEME, estimate_jaccard


@dataclass(frozen=True)
class Sketch:
    """What MinHashLSH needs of a MinHash: its hash values, their number and the scheme that made them.

    MinHashLSH checks that every sketch it indexes has the same scheme, so a
    signature made some other way can never be mixed into an index.
    """

    hashvalues: np.ndarray
    scheme: str = SCHEME

    def __len__(self) -> int:
        return len(self.hashvalues)


class SignatureIndex:
    """MinHash LSH over integer keys, with the signatures kept for verification."""

    def __init__(self, *, num_perm: int, lsh_threshold: float, weights: tuple[float, float] = (0.5, 0.5)) -> None:
        self.num_perm = num_perm
        # datasketch's optimiser picks bands and rows for the threshold, weighing
        # false positives against false negatives as `weights` says.
        self._lsh = MinHashLSH(threshold=lsh_threshold, num_perm=num_perm, weights=weights)
        self._signatures = np.zeros((1024, num_perm), dtype=np.uint32)
        self._slot_of: dict[int, int] = {}
        self._free_slots: list[int] = []

    @property
    def bands(self) -> int:
        return int(self._lsh.b)

    @property
    def rows(self) -> int:
        return int(self._lsh.r)

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, key: int) -> bool:
        return key in self._slot_of

    def insert(self, key: int, signature: np.ndarray) -> None:
        """Index `signature` under `key`; the key must not be indexed yet."""
        if key in self._slot_of:
            raise KeyError(f"key {key} is already indexed")
        self._lsh.insert(key, Sketch(signature), check_duplication=False)
        slot = self._free_slots.pop() if self._free_slots else len(self._slot_of)
        if slot >= len(self._signatures):
            grown = np.zeros((2 * len(self._signatures), self.num_perm), dtype=np.uint32)
            grown[: len(self._signatures)] = self._signatures
            self._signatures = grown
        self._signatures[slot] = signature
        self._slot_of[key] = slot

    def remove(self, key: int) -> None:
        """Forget `key`; a key that is not indexed is ignored."""
        slot = self._slot_of.pop(key, None)
        if slot is None:
            return
        self._lsh.remove(key)
        self._free_slots.append(slot)

    def signature(self, key: int) -> np.ndarray:
        return self._signatures[self._slot_of[key]].copy()

    def query(
        self, signature: np.ndarray, min_similarity: float, exclude: int | None = None
    ) -> list[tuple[int, float]]:
        """Candidates at least `min_similarity` similar (estimated), best first, as (key, similarity)."""
        keys = [key for key in self._lsh.query(Sketch(signature)) if key != exclude]
        if not keys:
            return []
        similarities = self.similarities(signature, keys)
        ranked = sorted(
            ((key, float(sim)) for key, sim in zip(keys, similarities, strict=True) if sim >= min_similarity),
            key=lambda pair: (-pair[1], pair[0]),
        )
        return ranked

    def similarities(self, signature: np.ndarray, keys: list[int]) -> np.ndarray:
        """Estimated Jaccard similarity of `signature` against each indexed key."""
        rows = self._signatures[[self._slot_of[key] for key in keys]]
        return estimate_jaccard(signature, rows)
