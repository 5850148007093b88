"""One tier of the in-memory similarity index: LSH bands for candidates and a
signature matrix to verify them.

The band table (lsh.py) finds articles whose signatures probably collide with
a query's in at least one band; the stored signatures then give each
candidate's estimated Jaccard similarity in one vectorised comparison. Keys
are the articles' sequence numbers, which the store never reuses for another
article, so the signatures live in a matrix indexed by them (`SeqRows`): 4
bytes per bin per article and no per-article Python object. Removed articles
give their memory back: their rows as the matrix moves on, their band entries
when they outnumber the live ones.

Not thread-safe: the engine holds its lock around every call.
"""

from __future__ import annotations

import numpy as np

from newsdedup import hashing
from newsdedup.lsh import BandTable
from newsdedup.seqarrays import SeqRows
from newsdedup.signatures import estimate_jaccard


class SignatureIndex:
    """MinHash LSH over sequence numbers, with the signatures kept for verification."""

    def __init__(
        self,
        *,
        num_perm: int,
        lsh_threshold: float,
        weights: tuple[float, float] = (0.5, 0.5),
        bucket_limit: int | None = None,
    ) -> None:
        """`bucket_limit`: query each LSH bucket for its newest that many keys only (see BandTable.candidates)."""
        self.num_perm = num_perm
        self.bucket_limit = bucket_limit
        self._signatures = SeqRows(np.zeros(num_perm, dtype=np.uint32))
        self._bands = BandTable(num_perm, lsh_threshold, weights, alive=self._signatures.held)

    @property
    def bands(self) -> int:
        return self._bands.bands

    @property
    def rows(self) -> int:
        return self._bands.rows

    def __len__(self) -> int:
        return len(self._signatures)

    def __contains__(self, key: int) -> bool:
        return key >= 0 and key in self._signatures

    @property
    def nbytes(self) -> int:
        """Bytes held by the signatures and the band table."""
        return self._signatures.nbytes + self._bands.nbytes

    def insert(self, key: int, signature: np.ndarray) -> None:
        """Index `signature` under `key` (a non-negative integer below 2**32); the key must not be indexed yet."""
        self.insert_many(np.array([key], dtype=np.int64), signature[None, :])

    def insert_many(self, keys: np.ndarray, signatures: np.ndarray) -> None:
        """Index signatures[i] under keys[i]; a bulk load (one sorted run) when there are many."""
        keys = np.asarray(keys, dtype=np.int64)
        if len(keys) == 0:
            return
        if keys.min() < 0 or keys.max() >= 1 << 32:
            raise ValueError("keys must be in 0..2**32-1")
        if len(hashing.distinct(keys)) != len(keys) or self._signatures.held(keys).any():
            raise KeyError("a key is already indexed")
        self._signatures.put(keys, signatures)
        self._bands.insert(keys, signatures)

    def remove(self, key: int) -> None:
        """Forget `key`; a key that is not indexed is ignored."""
        self._signatures.drop(np.array([key]))
        # A removed article's band entries stay until a merge drops them; once they would be most of the
        # table (after a long run of evictions, say), they are dropped all at once, in time linear in the table.
        if self._bands.entries > 2 * self._bands.bands * len(self) + self._bands.recent_limit:
            self._bands.drop_removed()

    def signature(self, key: int) -> np.ndarray:
        if key not in self:
            raise KeyError(key)
        return self._signatures.get(np.array([key]))[0]

    def query(
        self, signature: np.ndarray, min_similarity: float, exclude: int | None = None, limit: int | None = None
    ) -> list[tuple[int, float]]:
        """Candidates at least `min_similarity` similar (estimated), best first, as (key, similarity).

        Ties go to the larger key, the newer article: with few bins many
        candidates tie, and for news the recent ones are the likelier story.
        With `limit`, only the best `limit`: a loose LSH returns thousands of
        candidates, ranked here without a Python object each.
        """
        keys = self._bands.candidates(signature, self.bucket_limit)
        keys = keys[self._signatures.held(keys)].astype(np.int64)
        if exclude is not None:
            keys = keys[keys != exclude]
        if len(keys) == 0:
            return []
        similarities = estimate_jaccard(signature, self._signatures.get(keys))
        keep = similarities >= min_similarity
        keys, similarities = keys[keep], similarities[keep]
        order = np.lexsort((-keys, -similarities))[:limit]
        return [(int(key), float(sim)) for key, sim in zip(keys[order], similarities[order], strict=True)]
