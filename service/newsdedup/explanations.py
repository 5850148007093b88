"""Why two texts scored as they did, in words an editor can check.

A near-duplicate score is a share of word shingles, so its evidence is the
shingles both texts hold, in the order the query text has them. A same-story
score is a cosine of TF-IDF weighted salient terms, so its evidence is the
shared terms that add most to it: the product of their weights in the two
texts, the same products the cosine sums. Strings are rebuilt from the query
text alone, as every shared shingle and term occurs in it; term ids and
shingle hashes never reach a reader. Not on the hot path: ingest and check
never explain, CompareArticles and SearchSimilarArticles do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from newsdedup import text
from newsdedup.signatures import Fingerprinter
from newsdedup.stories import TermVector

# Shared shingles and terms shown per explanation: enough to judge a score, few enough to read.
EXPLANATION_SAMPLE = 20


@dataclass(frozen=True)
class Evidence:
    """The shared shingles (text order) and the most telling shared salient terms (heaviest first) of two texts."""

    shared_shingles: tuple[str, ...]
    shared_terms: tuple[str, ...]


@dataclass(frozen=True)
class Side:
    """One text of a pair as the explanation needs it: tokens, salient terms and their current TF-IDF weights."""

    tokens: text.Tokens
    salient: TermVector
    weights: np.ndarray


def explain(fingerprinter: Fingerprinter, query_text: str, query: Side, other: Side) -> Evidence:
    """The evidence behind the scores of `query` (whose text, chrome stripped, is `query_text`) against `other`."""
    normalized = text.normalize(query_text)
    hashes, strings = fingerprinter.shingle_strings(normalized, query.tokens)
    shared = np.isin(hashes, fingerprinter.shingle_set(other.tokens))
    shingles = list(dict.fromkeys(s for s, keep in zip(strings, shared.tolist(), strict=True) if keep))
    _, mine, theirs = np.intersect1d(query.salient.ids, other.salient.ids, assume_unique=True, return_indices=True)
    contributions = query.weights[mine] * other.weights[theirs]
    names = text.term_strings(normalized, query.tokens)
    telling = sorted(zip(contributions.tolist(), query.salient.ids[mine].tolist(), strict=True), reverse=True)
    terms = [names[term] for _, term in telling if term in names]
    return Evidence(tuple(shingles[:EXPLANATION_SAMPLE]), tuple(terms[:EXPLANATION_SAMPLE]))
