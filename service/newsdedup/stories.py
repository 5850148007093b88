"""The story tier: which cluster an article's coverage belongs to.

Independent reports of one event share few phrases but many rare words (the
people, places and organisations involved), so stories are compared by
salient terms, weighted by how rare each term is among the stored articles
(TF-IDF), never by a stop list: document frequencies are learned from the
stream itself, which works the same for every language.

- `TermStatistics` counts, per term, how many stored articles contain it.
- `select_salient` keeps an article's most telling terms (by TF-IDF at ingest
  time, with their counts); the story MinHash signs that set, and its LSH
  finds candidate articles (and so candidate clusters).
- `Centroids` keeps each cluster's summed term counts; an article joins the
  candidate cluster whose centroid is most similar (cosine of TF-IDF weights
  at the current document frequencies), if that similarity reaches the
  threshold. This is single-pass clustering as in topic detection and
  tracking: on ECB+ it clearly beats single-link over term sets, which chains
  look-alike events into one cluster.
- `place` decides join, merge or new cluster; a cluster that the new
  article's cluster then resembles as a whole is merged into it (the bridging
  article case).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources

import numpy as np

from newsdedup.text import Terms

# Document frequencies are counted in hashed buckets so memory stays fixed (32 MiB)
# however many distinct terms arrive; a rare term sharing a bucket with a
# frequent one (odds ~1/4000 for the thousand most frequent) merely looks common.
DF_BUCKETS = 1 << 22
_BUCKET_MASK = np.uint64(DF_BUCKETS - 1)
TERM_PRIOR_FILE = "term_prior.npz"


def _buckets(term_ids: np.ndarray) -> np.ndarray:
    return (term_ids & _BUCKET_MASK).astype(np.intp)


@functools.cache
def term_prior() -> tuple[np.ndarray, np.ndarray]:
    """(term ids, share of news articles expected to contain each), built by scripts/build_term_prior.py."""
    with resources.files("newsdedup").joinpath("data", TERM_PRIOR_FILE).open("rb") as file, np.load(file) as data:
        return data["term_ids"], data["document_share"].astype(np.float64)


class TermStatistics:
    """How many articles contain each term, for inverse document frequency.

    The counts start from a prior worth `prior_weight` imaginary articles, in
    which each common word of 42 languages occurs as often as in real text
    (`term_prior`). Without it a fresh service cannot tell "the" from
    "coalition" when both occur in its first two articles; as real articles
    arrive they outweigh the prior.
    """

    def __init__(self, prior_weight: float = 0.0) -> None:
        self._df = np.zeros(DF_BUCKETS, dtype=np.float64)
        self.documents = float(prior_weight)
        if prior_weight > 0:
            term_ids, shares = term_prior()
            np.maximum.at(self._df, _buckets(term_ids), prior_weight * shares)

    def add(self, term_ids: np.ndarray) -> None:
        """Count one more article holding these terms."""
        # A bucket counts an article once, even when two of its terms share it:
        # so a bucket's count never exceeds the number of articles.
        np.add.at(self._df, np.unique(_buckets(term_ids)), 1)
        self.documents += 1

    def remove(self, term_ids: np.ndarray) -> None:
        """Forget one article holding these terms."""
        np.subtract.at(self._df, np.unique(_buckets(term_ids)), 1)
        self.documents -= 1

    def idf(self, term_ids: np.ndarray, pending: np.ndarray | None = None) -> np.ndarray:
        """log((N + 1) / (df + 0.5)) per term; always positive.

        `pending` is the sorted term set of an article being checked but not
        stored: the result is then what it would be had it been stored, so a
        check and an ingest score alike.
        """
        buckets = _buckets(term_ids)
        df = self._df[buckets]
        documents = self.documents
        if pending is not None:
            df += np.isin(buckets, _buckets(pending))
            documents += 1
        return np.log((documents + 1.0) / (df + 0.5))


@dataclass(frozen=True)
class TermVector:
    """Term ids (sorted, distinct, uint64) with their counts: an article's salient terms or a centroid."""

    ids: np.ndarray
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def weights(self, statistics: TermStatistics, pending: np.ndarray | None = None) -> np.ndarray:
        """TF-IDF weights with sublinear term frequency: (1 + log count) * idf."""
        return (1.0 + np.log(self.counts.astype(np.float64))) * statistics.idf(self.ids, pending)


EMPTY_VECTOR = TermVector(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.float64))


def select_salient(
    terms: Terms, statistics: TermStatistics, limit: int, pending: np.ndarray | None = None
) -> TermVector:
    """The `limit` terms with the highest TF-IDF weight (ties broken by term id, for determinism)."""
    vector = TermVector(terms.ids, terms.counts)
    if len(vector) <= limit:
        return TermVector(terms.ids, terms.counts.astype(np.float64))
    order = np.lexsort((terms.ids, -vector.weights(statistics, pending)))[:limit]
    keep = np.sort(order)
    return TermVector(terms.ids[keep], terms.counts[keep].astype(np.float64))


def cosine(
    first: TermVector, second: TermVector, statistics: TermStatistics, pending: np.ndarray | None = None
) -> float:
    """Cosine similarity of two term vectors under the current TF-IDF weights."""
    if len(first) == 0 or len(second) == 0:
        return 0.0
    first_weights = first.weights(statistics, pending)
    second_weights = second.weights(statistics, pending)
    _, i, j = np.intersect1d(first.ids, second.ids, assume_unique=True, return_indices=True)
    dot = float(first_weights[i] @ second_weights[j])
    norms = float(np.linalg.norm(first_weights) * np.linalg.norm(second_weights))
    # Rounding can put the cosine of a vector with itself a hair above 1.
    return min(dot / norms, 1.0) if norms > 0 else 0.0


def add_vectors(first: TermVector, second: TermVector, sign: float = 1.0) -> TermVector:
    """first + sign * second, dropping terms whose count falls to zero."""
    ids = np.concatenate((first.ids, second.ids))
    counts = np.concatenate((first.counts, sign * second.counts))
    merged_ids, inverse = np.unique(ids, return_inverse=True)
    merged_counts = np.bincount(inverse, weights=counts, minlength=len(merged_ids))
    keep = merged_counts > 1e-9
    return TermVector(merged_ids[keep], merged_counts[keep])


class Centroids:
    """Each story cluster's summed salient-term counts, keyed by cluster sequence number."""

    def __init__(self) -> None:
        self._vectors: dict[int, TermVector] = {}

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, cluster: int) -> TermVector:
        return self._vectors.get(cluster, EMPTY_VECTOR)

    def add(self, cluster: int, vector: TermVector) -> None:
        self._vectors[cluster] = add_vectors(self.get(cluster), vector)

    def subtract(self, cluster: int, vector: TermVector) -> None:
        remaining = add_vectors(self.get(cluster), vector, sign=-1.0)
        if len(remaining):
            self._vectors[cluster] = remaining
        else:
            self._vectors.pop(cluster, None)

    def merge(self, survivor: int, merged: int) -> None:
        """Fold cluster `merged` into `survivor`."""
        self._vectors[survivor] = add_vectors(self.get(survivor), self._vectors.pop(merged, EMPTY_VECTOR))

    def drop(self, cluster: int) -> None:
        self._vectors.pop(cluster, None)

    def snapshot(self, clusters: Iterable[int]) -> Callable[[], None]:
        """A function that puts these clusters' centroids back as they are now (to undo a failed write)."""
        saved = {cluster: self._vectors.get(cluster) for cluster in clusters}

        def restore() -> None:
            for cluster, vector in saved.items():
                if vector is None:
                    self._vectors.pop(cluster, None)
                else:
                    self._vectors[cluster] = vector

        return restore


@dataclass(frozen=True)
class Placement:
    """Where an article goes: an existing cluster (None: a new one), and clusters merged into it."""

    cluster: int | None
    merged: tuple[int, ...]
    similarity: float

    @property
    def clusters(self) -> tuple[int, ...]:
        """Every existing cluster the article ends up sharing, the survivor of a merge being the oldest."""
        return tuple(sorted({*self.merged, *([self.cluster] if self.cluster is not None else [])}))


def place(
    article: TermVector,
    candidates: Iterable[int],
    duplicate_clusters: list[int],
    centroids: Centroids,
    statistics: TermStatistics,
    threshold: float,
    pending: np.ndarray | None = None,
) -> Placement:
    """Decide the cluster of an article from its candidate clusters.

    A duplicate belongs to the story of what it duplicates: it joins the
    first of `duplicate_clusters`, and clusters holding its other duplicates
    merge into that one. Otherwise it joins the candidate whose centroid it is
    most similar to, if at least `threshold`; another candidate it also
    reaches the threshold with is merged in when its centroid, too, is that
    similar to the grown cluster's centroid.
    """
    if duplicate_clusters:
        first, *others = dict.fromkeys(duplicate_clusters)
        return Placement(cluster=first, merged=tuple(c for c in others if c != first), similarity=1.0)
    scored = sorted(
        ((cosine(article, centroids.get(c), statistics, pending), c) for c in set(candidates)),
        key=lambda pair: (-pair[0], pair[1]),
    )
    if not scored or scored[0][0] < threshold:
        return Placement(cluster=None, merged=(), similarity=scored[0][0] if scored else 0.0)
    best_similarity, best = scored[0]
    grown = add_vectors(centroids.get(best), article)
    merged = tuple(
        cluster
        for similarity, cluster in scored[1:]
        if similarity >= threshold and cosine(grown, centroids.get(cluster), statistics, pending) >= threshold
    )
    return Placement(cluster=best, merged=merged, similarity=best_similarity)
