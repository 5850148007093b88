"""One-permutation MinHash signatures, Jaccard estimates and content hashes (newsdedup.signatures)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from newsdedup import text
from newsdedup.config import Settings
from newsdedup.hashing import distinct
from newsdedup.signatures import Fingerprinter, OnePermutationHasher, article_text, estimate_jaccard, exact_jaccard

from .strategies import UINT64_MAX, hash_set_batches, hash_sets, tricky_text, unicode_text, word_text

DEFAULTS = Settings()
FINGERPRINTER = Fingerprinter(DEFAULTS.num_perm, DEFAULTS.seed, DEFAULTS.shingle_size)
EMPTY_BIN = 0xFFFFFFFF  # what an empty set's row holds


def similarity(first: str, second: str, fingerprinter: Fingerprinter = FINGERPRINTER) -> float:
    """Estimated near-duplicate similarity of two bodies, as the engine computes it."""
    a, b = fingerprinter.analyze("", first), fingerprinter.analyze("", second)
    assert a is not None and b is not None
    return float(estimate_jaccard(a.near_signature, b.near_signature[None, :])[0])


def content_hash(body: str, title: str = "") -> int:
    analysis = FINGERPRINTER.analyze(title, body)
    assert analysis is not None
    return analysis.content_hash


def as_array(values: set[int] | list[int]) -> np.ndarray:
    return np.array(sorted(values) if isinstance(values, set) else values, dtype=np.uint64)


def batch_of(sets: list[set[int]]) -> tuple[np.ndarray, np.ndarray]:
    hashes = np.array([h for values in sets for h in sorted(values)], dtype=np.uint64)
    return hashes, np.concatenate(([0], np.cumsum([len(values) for values in sets], dtype=np.int64)))


# --- one-permutation hashing -----------------------------------------------------------------------


def fmix64(value: int) -> int:
    """MurmurHash3's 64-bit finaliser on one Python int, written out independently of hashing.py."""
    for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        value ^= value >> 33
        value = (value * multiplier) % 2**64
    return value ^ (value >> 33)


def reference_signature(elements: set[int], num_perm: int, seed: int) -> list[int]:
    """The signature by its definition, one element and one bin at a time: an element's mixed hash
    picks a bin by its top bits and the bin keeps the 32 bits below them of its smallest; a bin no
    element picked keeps the top 32 bits of the smallest product of a mixed hash and its multiplier."""
    salt = fmix64(seed)
    bits = num_perm.bit_length() - 1
    mixed = [((element ^ salt) * 0xD6E8FEB86659FD93) % 2**64 for element in elements]
    smallest: dict[int, int] = {}
    for value in mixed:
        column = value >> (64 - bits)
        smallest[column] = min(smallest.get(column, value), value)
    multipliers = [fmix64((salt + column + 1) % 2**64) | 1 for column in range(num_perm)]
    return [
        (smallest[column] << bits) % 2**64 >> 32
        if column in smallest
        else min(value * multipliers[column] % 2**64 for value in mixed) >> 32
        for column in range(num_perm)
    ]


@pytest.mark.parametrize("num_perm", [2, 16, 128, 1024], ids=lambda k: f"{k}-bins")
@given(hashes=hash_sets)
def test_signature_is_one_permutation_hashing_with_each_empty_bin_hashed_on_its_own(
    num_perm: int, hashes: set[int]
) -> None:
    """Bins that elements fall into keep their minimum; every other bin gets its own MinHash of the set."""
    signature = OnePermutationHasher(num_perm, 1).sign(as_array(hashes))
    assert signature.dtype == np.uint32 and signature.shape == (num_perm,)
    assert signature.tolist() == reference_signature(hashes, num_perm, 1)


@pytest.mark.parametrize("num_perm", [2, 16, 128, 1024], ids=lambda k: f"{k}-bins")
@pytest.mark.parametrize("element", [0, 1, 2**63, UINT64_MAX], ids=["zero", "one", "top-bit", "all-ones"])
def test_a_one_element_set_fills_every_bin(num_perm: int, element: int) -> None:
    """A single element lands in one bin and hashes on its own into each of the others."""
    signature = OnePermutationHasher(num_perm, 7).sign(as_array([element]))
    assert signature.tolist() == reference_signature({element}, num_perm, 7)
    # The bins are independent draws, not copies of one value.
    assert len(set(signature.tolist())) > num_perm * 0.9


@given(hash_set_batches, st.sampled_from([16, 128]))
def test_sign_batch_equals_signing_each_set_alone(sets: list[set[int]], num_perm: int) -> None:
    """A batch gives every set the signature it gets alone; an empty set gets a row of 0xFFFFFFFF."""
    hasher = OnePermutationHasher(num_perm, 3)
    signatures = hasher.sign_batch(*batch_of(sets))
    assert signatures.shape == (len(sets), num_perm) and signatures.dtype == np.uint32
    for row, values in zip(signatures, sets, strict=True):
        expected = hasher.sign(as_array(values)) if values else np.full(num_perm, EMPTY_BIN)
        assert row.tolist() == expected.tolist()


@given(hash_sets, st.randoms(use_true_random=False))
def test_signature_depends_only_on_the_set(hashes: set[int], random) -> None:
    """Order and repetition of the input hashes do not change the signature, nor does a new hasher."""
    values = sorted(hashes)
    shuffled = values * 2
    random.shuffle(shuffled)
    expected = OnePermutationHasher(64, 1).sign(as_array(values))
    assert OnePermutationHasher(64, 1).sign(as_array(shuffled)).tolist() == expected.tolist()


@given(hash_sets, st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)).filter(lambda s: s[0] != s[1]))
def test_different_seeds_give_different_signatures(hashes: set[int], seeds: tuple[int, int]) -> None:
    """The seed changes the hash function, so the same set signs differently under another seed."""
    first, second = (OnePermutationHasher(128, seed).sign(as_array(hashes)) for seed in seeds)
    assert first.tolist() != second.tolist()


@given(hash_sets)
def test_equal_sets_estimate_exactly_one(hashes: set[int]) -> None:
    """Equal sets, however listed, have equal signatures, so the estimate between them is exactly 1.0."""
    hasher = OnePermutationHasher(128, 1)
    signature = hasher.sign(as_array(hashes))
    others = np.stack([signature, hasher.sign(as_array(sorted(hashes, reverse=True)))])
    assert estimate_jaccard(signature, others).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("num_perm", [0, 1, 3, 100, 129, 1000], ids=lambda k: f"{k}-bins")
def test_num_perm_must_be_a_power_of_two(num_perm: int) -> None:
    """Bins are picked by the top bits of a hash, so a count that is not a power of two (or 1) is refused."""
    with pytest.raises(ValueError, match=f"power of two, got {num_perm}"):
        OnePermutationHasher(num_perm, 1)


def test_signing_refuses_an_empty_set() -> None:
    """An empty set has no signature: signing it is an error, not an all-max signature."""
    with pytest.raises(ValueError, match="empty"):
        OnePermutationHasher(128, 1).sign(np.zeros(0, dtype=np.uint64))


def random_pairs(
    rng: np.random.Generator, count: int, jaccard: tuple[float, float], bits: int, sizes: tuple[int, int]
) -> tuple[list[np.ndarray], np.ndarray]:
    """`count` pairs of equal-sized sets of random `bits`-bit values, each of `sizes` elements (log-uniform),
    with J near uniform in the range: the sets (pair i is 2i, 2i + 1) and their exact Jaccard."""
    sets, exact = [], []
    for _ in range(count):
        target = rng.uniform(*jaccard)
        size = round(math.exp(rng.uniform(math.log(sizes[0]), math.log(sizes[1]))))
        shared = round(2 * size * target / (1 + target))  # J = shared / (2 size - shared)
        values = rng.integers(0, UINT64_MAX, size=2 * size - shared, dtype=np.uint64, endpoint=True)
        values >>= np.uint64(64 - bits)
        first, second = values[:size], np.concatenate((values[:shared], values[size:]))
        sets += [first, second]
        exact.append(exact_jaccard(distinct(first), distinct(second)))
    return sets, np.array(exact)


@pytest.mark.parametrize(
    ("num_perm", "bits"), [(128, 64), (32, 48)], ids=["near-128-bins-of-hashes", "story-32-bins-of-term-ids"]
)
@pytest.mark.parametrize("jaccard", [(0.1, 0.4), (0.4, 0.7), (0.7, 0.95)], ids=["J=0.1-0.4", "J=0.4-0.7", "J=0.7-0.95"])
@pytest.mark.parametrize("sizes", [(50, 2000), (2, 40)], ids=["articles", "short-texts"])
def test_estimate_error_is_no_worse_than_k_permutation_minhash(
    num_perm: int, bits: int, jaccard: tuple[float, float], sizes: tuple[int, int]
) -> None:
    """Mean |estimate - J| over random set pairs is within classic MinHash's binomial error, without bias,
    and no pair strays beyond six binomial standard deviations (short sets whose elements share bins did)."""
    # k-permutation MinHash counts k independent coin flips with probability J, so
    # its mean absolute error is about sqrt(J(1-J)/k) * sqrt(2/pi).
    rng = np.random.default_rng([num_perm, round(jaccard[0] * 100), sizes[0]])
    sets, exact = random_pairs(rng, 1500, jaccard, bits, sizes)
    offsets = np.concatenate(([0], np.cumsum([len(values) for values in sets])))
    signatures = OnePermutationHasher(num_perm, 1).sign_batch(np.concatenate(sets), offsets)
    estimates = np.array(
        [estimate_jaccard(a, b[None, :])[0] for a, b in zip(signatures[0::2], signatures[1::2], strict=True)]
    )
    errors = estimates - exact
    binomial = np.mean(np.sqrt(exact * (1 - exact) / num_perm)) * math.sqrt(2 / math.pi)
    # Allow for the noise of a mean over 1,500 pairs: three standard errors (about 4%).
    assert np.mean(np.abs(errors)) <= binomial + 3 * np.std(np.abs(errors)) / math.sqrt(len(errors))
    assert abs(np.mean(errors)) <= 4 * np.std(errors) / math.sqrt(len(errors))
    assert np.all(np.abs(errors) <= 6 * np.sqrt(np.maximum(exact * (1 - exact), 0.01) / num_perm))


def test_estimate_jaccard_is_the_share_of_equal_bins() -> None:
    """One signature is compared with each row of a matrix: the share of positions holding the same value."""
    signature = np.array([1, 2, 3, 4], dtype=np.uint32)
    others = np.array([[1, 2, 3, 4], [1, 2, 0, 0], [9, 9, 9, 9], [4, 3, 2, 1], [1, 9, 9, 9]], dtype=np.uint32)
    assert estimate_jaccard(signature, others).tolist() == [1.0, 0.5, 0.0, 0.0, 0.25]
    assert estimate_jaccard(signature, others[:0]).tolist() == []


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
    assert FINGERPRINTER.shingle_set(text.tokenize(article_text("Kyiv", "talks"))).size == 1
    assert analysis.near_signature.shape == (DEFAULTS.num_perm,)
    shingle = FINGERPRINTER.shingle_set(text.tokenize(article_text("Kyiv", "talks")))
    assert analysis.near_signature.tolist() == FINGERPRINTER.hasher.sign(shingle).tolist()
    assert analysis.terms.ids.size == 2 and analysis.terms.offsets.tolist() == [0, 2]


@given(st.lists(st.tuples(st.one_of(st.just(""), unicode_text), st.one_of(tricky_text, word_text())), max_size=6))
def test_analyze_batch_equals_analyzing_each_article_alone(articles: list[tuple[str, str]]) -> None:
    """Analysing article texts as one batch gives each the analysis it gets alone (None for a wordless one)."""
    batch = FINGERPRINTER.analyze_batch([article_text(title, body) for title, body in articles])
    assert len(batch) == len(articles)
    for analysis, (title, body) in zip(batch, articles, strict=True):
        alone = FINGERPRINTER.analyze(title, body)
        if alone is None:
            assert analysis is None
            continue
        assert analysis is not None
        assert analysis.content_hash == alone.content_hash
        assert analysis.token_count == alone.token_count
        assert analysis.near_signature.tolist() == alone.near_signature.tolist()
        assert analysis.terms.offsets.tolist() == alone.terms.offsets.tolist()
        assert analysis.terms.ids.tolist() == alone.terms.ids.tolist()
        assert analysis.terms.counts.tolist() == alone.terms.counts.tolist()


@given(word_text(), st.integers(1, 5))
def test_shingle_strings_name_each_shingle(body: str, shingle_size: int) -> None:
    """Each shingle string re-tokenises to the tokens its hash was made from, in text order."""
    fingerprinter = Fingerprinter(16, 1, shingle_size)
    tokens = text.tokenize(body)
    hashes, strings = fingerprinter.shingle_strings(text.normalize(body), tokens)
    assert len(strings) == len(hashes) == max(len(tokens) - shingle_size + 1, min(len(tokens), 1))
    for shingle_hash, string in zip(hashes.tolist(), strings, strict=True):
        assert fingerprinter.shingle_set(text.tokenize(string)).tolist() == [shingle_hash]
    assert fingerprinter.shingle_set(tokens).tolist() == sorted(set(hashes.tolist()))


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
    tokens = text.tokenize(article_text(title, body))
    if first is None:
        assert second is None
        assert len(tokens) == 0
        return
    assert second is not None
    assert first.content_hash == second.content_hash
    assert first.token_count == second.token_count == len(tokens)
    assert np.array_equal(first.near_signature, second.near_signature)
    assert EMPTY_BIN not in first.near_signature
    assert np.array_equal(first.terms.ids, second.terms.ids)
    assert np.array_equal(first.terms.counts, second.terms.counts)
    shingles = FINGERPRINTER.shingle_set(tokens)
    assert shingles.size >= 1 and shingles.tolist() == sorted(set(shingles.tolist()))


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
    exact = exact_jaccard(
        fingerprinter.shingle_set(text.tokenize(first)), fingerprinter.shingle_set(text.tokenize(second))
    )
    estimate = float(estimate_jaccard(a.near_signature, b.near_signature[None, :])[0])
    assert abs(estimate - exact) <= 6 * math.sqrt(max(exact * (1 - exact), 0.01) / 256)
