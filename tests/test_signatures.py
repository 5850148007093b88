"""MinHash signatures, Jaccard estimates and content hashes (newsdedup.signatures)."""

from __future__ import annotations

import itertools
import math

import datasketch
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from newsdedup.config import Settings
from newsdedup.signatures import Fingerprinter, MinHasher, estimate_jaccard, exact_jaccard

from .strategies import hash_sets, tricky_text, unicode_text, word_text

DEFAULTS = Settings()
FINGERPRINTER = Fingerprinter(DEFAULTS.num_perm, DEFAULTS.seed, DEFAULTS.shingle_size)


def similarity(first: str, second: str, fingerprinter: Fingerprinter = FINGERPRINTER) -> float:
    """Estimated near-duplicate similarity of two bodies, as the engine computes it."""
    a, b = fingerprinter.analyze("", first), fingerprinter.analyze("", second)
    assert a is not None and b is not None
    return float(estimate_jaccard(a.near_signature, b.near_signature)[0])


def content_hash(body: str, title: str = "") -> int:
    analysis = FINGERPRINTER.analyze(title, body)
    assert analysis is not None
    return analysis.content_hash


# --- MinHash ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_perm", "seed"),
    [(16, 1), (128, 1), (128, 42), (256, 7), (1024, 2**32 - 1)],
    ids=["16-perm", "default", "seed-42", "256-perm", "1024-perm-max-seed"],
)
@given(hashes=hash_sets)
def test_minhash_equals_datasketch_bit_for_bit(num_perm: int, seed: int, hashes: set[int]) -> None:
    """A signature equals datasketch's affine32 MinHash fed the same 32-bit hashes, value for value."""
    values = np.array(sorted(hashes), dtype=np.uint32)
    reference = datasketch.MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda x: x)
    reference.update_batch(values.tolist())
    signature = MinHasher(num_perm, seed).sign(values)
    assert signature.dtype == np.uint32 and signature.shape == (num_perm,)
    assert signature.tolist() == reference.hashvalues.tolist()


@given(hash_sets, st.randoms(use_true_random=False))
def test_minhash_depends_only_on_the_set(hashes: set[int], random) -> None:
    """Order and repetition of the input hashes do not change the signature."""
    values = sorted(hashes)
    shuffled = values * 2
    random.shuffle(shuffled)
    minhasher = MinHasher(64, 1)
    expected = minhasher.sign(np.array(values, dtype=np.uint32))
    assert np.array_equal(minhasher.sign(np.array(shuffled, dtype=np.uint32)), expected)


def test_minhash_refuses_an_empty_set() -> None:
    """An empty set has no signature: signing it is an error, not an all-max signature."""
    with pytest.raises(ValueError, match="empty"):
        MinHasher(128, 1).sign(np.zeros(0, dtype=np.uint32))


def random_pair(rng: np.random.Generator, jaccard: float, union: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Two sets of distinct random 32-bit hashes with the given Jaccard similarity (returned exactly)."""
    shared = round(jaccard * union)
    values = rng.choice(2**32, size=union, replace=False).astype(np.uint32)
    only_first = (union - shared) // 2
    first = values[: shared + only_first]
    second = np.concatenate((values[:shared], values[shared + only_first :]))
    return first, second, shared / union


@pytest.mark.parametrize("jaccard", [0.1, 0.25, 0.5, 0.75, 0.9, 0.95], ids=lambda j: f"J={j}")
def test_estimate_error_is_within_binomial_sampling_error(jaccard: float) -> None:
    """Mean |estimate - J| over random pairs stays near the binomial error sqrt(J(1-J)/k), without bias."""
    rng = np.random.default_rng(int(jaccard * 1000))
    num_perm, trials = 128, 60
    minhasher = MinHasher(num_perm, 1)
    errors = []
    for _ in range(trials):
        first, second, exact = random_pair(rng, jaccard, union=400)
        estimate = estimate_jaccard(minhasher.sign(first), minhasher.sign(second))[0]
        errors.append(estimate - exact)
    sigma = math.sqrt(jaccard * (1 - jaccard) / num_perm)
    # For a binomial estimate the mean absolute error is about 0.8 sigma; allow for 60 trials' noise.
    assert np.mean(np.abs(errors)) <= 1.2 * sigma
    assert abs(np.mean(errors)) <= 4 * sigma / math.sqrt(trials)


def test_estimate_jaccard_against_one_row_or_many() -> None:
    """One signature is compared against a single signature or each row of a matrix."""
    signature = np.array([1, 2, 3, 4], dtype=np.uint32)
    others = np.array([[1, 2, 3, 4], [1, 2, 0, 0], [9, 9, 9, 9]], dtype=np.uint32)
    assert estimate_jaccard(signature, others).tolist() == [1.0, 0.5, 0.0]
    assert estimate_jaccard(signature, others[1]).tolist() == [0.5]


# --- exact Jaccard ---------------------------------------------------------------------------------

small_sets = st.sets(st.integers(0, 50), max_size=30).map(lambda s: np.array(sorted(s), dtype=np.uint64))


@given(small_sets, small_sets)
def test_exact_jaccard_is_symmetric_and_bounded(first: np.ndarray, second: np.ndarray) -> None:
    """Exact Jaccard is |A n B| / |A u B|: symmetric and in [0, 1]."""
    value = exact_jaccard(first, second)
    union = set(first.tolist()) | set(second.tolist())
    expected = len(set(first.tolist()) & set(second.tolist())) / len(union) if union else 1.0
    assert value == exact_jaccard(second, first) == pytest.approx(expected)
    assert 0.0 <= value <= 1.0


@given(small_sets)
def test_exact_jaccard_of_a_set_with_itself_is_one(values: np.ndarray) -> None:
    """A set is identical to itself (the empty set included)."""
    assert exact_jaccard(values, values.copy()) == 1.0


@given(small_sets.filter(len), small_sets.filter(len))
def test_exact_jaccard_of_disjoint_sets_is_zero(first: np.ndarray, second: np.ndarray) -> None:
    """Sets with nothing in common have Jaccard 0."""
    assert exact_jaccard(first, second + np.uint64(100)) == 0.0


# --- content hash ----------------------------------------------------------------------------------

STATEMENT = "The minister said on Monday that the plan, approved in March, would cost 2.5 billion euros."


@pytest.mark.parametrize(
    "variant",
    [
        "The minister said on Monday that the plan approved in March would cost 2.5 billion euros",
        "The  minister said\non Monday that the plan,\tapproved in March, would cost 2.5 billion euros.",
        "The minister said — on Monday — that the plan (approved in March) would cost “2.5” billion euros!",
        "THE MINISTER SAID ON MONDAY THAT THE PLAN, APPROVED IN MARCH, WOULD COST 2.5 BILLION EUROS.",
        "  The minister said on Monday that the plan, approved in March, would cost 2.5 billion euros.  \n\n",
    ],
    ids=["no-punctuation", "whitespace", "dashes-and-quotes", "upper-case", "padding"],
)
def test_content_hash_ignores_whitespace_punctuation_and_case(variant: str) -> None:
    """Same words in the same order give the same content hash, however they are spaced and punctuated."""
    assert content_hash(variant) == content_hash(STATEMENT)


@pytest.mark.parametrize(
    "variant",
    [
        "The minister said on Tuesday that the plan, approved in March, would cost 2.5 billion euros.",
        "The minister said on Monday that the plan, approved in March, would cost 3.5 billion euros.",
        "The minister said on Monday that the plan, approved in March, would cost 25 billion euros.",
        "The minister said on Monday that the plan, approved in March, would cost 2.5 billion.",
        "On Monday the minister said that the plan, approved in March, would cost 2.5 billion euros.",
    ],
    ids=["word-changed", "number-changed", "digits-joined", "word-dropped", "words-reordered"],
)
def test_content_hash_changes_with_the_words(variant: str) -> None:
    """Changing, dropping or reordering a word changes the content hash."""
    assert content_hash(variant) != content_hash(STATEMENT)


def test_chrome_lines_do_not_change_the_content_hash(seeds) -> None:
    """A wire copy with a site's chrome around it hashes like the copy without it."""
    body = seeds[0].body
    dressed = (
        "Home » World » Europe\n"
        + body
        + "\n\nShare this article\nYou may also like\nLeave a Comment\n"
        + "This site uses Akismet to reduce spam. Learn how your comment data is processed.\n"
        + "Prev Article\nTrump Defends Tariffs as Markets Plunge\nComments (0)\n"
    )
    assert content_hash(dressed) == content_hash(body)


def test_title_and_body_are_judged_together() -> None:
    """The title counts as text: a different title gives a different content hash."""
    assert content_hash(STATEMENT, title="Budget plan") != content_hash(STATEMENT, title="Pension plan")
    assert content_hash(STATEMENT, title="Budget plan") == content_hash("Budget plan. " + STATEMENT)


@pytest.mark.parametrize(
    ("title", "body"),
    [("", ""), ("", "   \n\t"), ("—", "!!! ... ???"), ("", "Leave a Comment\nComments (0)\nShare this article")],
    ids=["empty", "whitespace", "punctuation", "only-chrome"],
)
def test_analyze_returns_none_without_words(title: str, body: str) -> None:
    """A text without any word (after chrome is stripped) has no analysis."""
    assert FINGERPRINTER.analyze(title, body) is None


def test_analysis_of_a_short_text() -> None:
    """A text shorter than a shingle is one shingle with a full signature and its terms."""
    analysis = FINGERPRINTER.analyze("Kyiv", "talks")
    assert analysis is not None
    assert analysis.token_count == 2
    assert analysis.shingles.size == 1
    assert analysis.near_signature.shape == (DEFAULTS.num_perm,)
    assert analysis.terms.ids.size == 2


# --- the real seed articles ------------------------------------------------------------------------


def test_independent_reports_are_not_near_duplicates(seeds) -> None:
    """Five outlets' independent reports of one story are far below the near-duplicate threshold."""
    for first, second in itertools.combinations(seeds, 2):
        assert similarity(first.body, second.body) < 0.1, (first.id, second.id)


@pytest.mark.parametrize("changes", [1, 3, 6], ids=lambda n: f"{n}-words-changed")
def test_lightly_edited_copy_is_a_near_duplicate(seeds, changes: int) -> None:
    """A copy of a real article with a few words changed stays above the near-duplicate threshold."""
    for seed in seeds:
        words = seed.body.split(" ")
        edited = list(words)
        for i in range(changes):
            edited[(i + 1) * len(words) // (changes + 1)] = "edited"
        assert similarity(seed.body, " ".join(edited)) > DEFAULTS.near_threshold, seed.id
        assert content_hash(seed.body) != content_hash(" ".join(edited))


# --- properties of the whole pipeline --------------------------------------------------------------


@given(unicode_text, tricky_text)
def test_pipeline_never_fails_and_is_deterministic(title: str, body: str) -> None:
    """Any text analyses without error, to None only when it has no words, and twice to the same result."""
    first = FINGERPRINTER.analyze(title, body)
    second = Fingerprinter(DEFAULTS.num_perm, DEFAULTS.seed, DEFAULTS.shingle_size).analyze(title, body)
    if first is None:
        assert second is None
        assert len(FINGERPRINTER.tokens(title, body)[1]) == 0
        return
    assert second is not None
    assert first.content_hash == second.content_hash
    assert first.token_count == second.token_count
    assert np.array_equal(first.shingles, second.shingles)
    assert np.array_equal(first.near_signature, second.near_signature)
    assert np.array_equal(first.terms.ids, second.terms.ids)
    assert np.array_equal(first.terms.counts, second.terms.counts)
    assert first.shingles.tolist() == sorted(set(first.shingles.tolist()))


@given(word_text(), word_text())
def test_similarity_is_in_unit_interval_and_symmetric(first: str, second: str) -> None:
    """Estimated similarity of any two texts is in [0, 1] and the same both ways."""
    value = similarity(first, second)
    assert 0.0 <= value <= 1.0
    assert value == similarity(second, first)


@given(word_text())
def test_identical_text_has_similarity_one(body: str) -> None:
    """A text compared with itself, even re-spaced, has estimated similarity exactly 1.0."""
    assert similarity(body, body) == 1.0
    assert similarity(body, "  " + body.replace(" ", "\n") + " .") == 1.0


@given(st.sampled_from([(3, 1), (5, 17)]), word_text(min_words=3), word_text(min_words=3))
def test_estimate_tracks_exact_shingle_jaccard(params: tuple[int, int], first: str, second: str) -> None:
    """The estimate stays within a generous sampling error of the exact shingle Jaccard."""
    shingle_size, seed = params
    fingerprinter = Fingerprinter(256, seed, shingle_size)
    a, b = fingerprinter.analyze("", first), fingerprinter.analyze("", second)
    assert a is not None and b is not None
    exact = exact_jaccard(a.shingles, b.shingles)
    estimate = float(estimate_jaccard(a.near_signature, b.near_signature)[0])
    assert abs(estimate - exact) <= 6 * math.sqrt(max(exact * (1 - exact), 0.01) / 256)
