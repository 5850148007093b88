"""Hypothesis strategies shared by the property tests.

Text strategies cover what a news feed can really send: any Unicode scalar
value (control characters, combining marks, astral characters, unassigned code
points; never a lone surrogate, which a UTF-8 request cannot carry), and
word-level text in several scripts for the similarity invariants.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from newsdedup.models import ClusterOrder
from newsdedup.pagination import PagePosition
from newsdedup.stories import TermVector

UINT64_MAX = 2**64 - 1

# Every code point except surrogates: controls, format characters, marks, private use, astral planes.
any_character = st.characters(exclude_categories=("Cs",))

# Characters a tokeniser finds hardest: combining marks, no-space scripts, digits, controls, astral letters.
tricky_character = st.one_of(
    st.characters(categories=("Mn", "Mc", "Me")),
    st.characters(min_codepoint=0x0E00, max_codepoint=0x0EFF),  # Thai, Lao
    st.characters(min_codepoint=0x3040, max_codepoint=0x30FF),  # kana
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80),  # CJK ideographs
    st.characters(min_codepoint=0x0590, max_codepoint=0x06FF),  # Hebrew, Arabic
    st.characters(categories=("Nd", "Nl", "No", "Cc", "Cf", "Zs", "Zl", "Zp")),
    st.characters(min_codepoint=0x10000, exclude_categories=("Cs",)),
    st.sampled_from("aZß İı ﬁ Ａ\n\t.,-'"),
)

unicode_text = st.text(any_character, max_size=200)
tricky_text = st.text(st.one_of(any_character, tricky_character), max_size=200)

_WORDS_BY_LANGUAGE = {
    "de": ("regierung", "bundestag", "beschluss", "haushalt"),
    "es": ("gobierno", "elecciones", "presidente"),
    "fr": ("ministre", "accord", "sommet"),
    "pl": ("rząd", "ustawa", "sejm"),
    "tr": ("hükümet", "seçim", "bakan"),
    "ru": ("правительство", "выборы", "министр"),
    "ar": ("الحكومة", "الانتخابات", "الرئيس"),
    "zh": ("国务院", "会议", "经济"),
    "ja": ("東京", "政府", "発表"),
    "th": ("รัฐบาล", "ประชุม"),
    "en": ("march", "court", "ruling", "storm", "flood", "2024", "17"),
}
_WORDS = [word for words in _WORDS_BY_LANGUAGE.values() for word in words]
_SEPARATORS = (" ", "  ", "\n", ", ", ". ", " - ", "\t", "; ")


@st.composite
def word_text(draw: st.DrawFn, min_words: int = 1, max_words: int = 60) -> str:
    """Text made of real words in several scripts with assorted punctuation and whitespace between them."""
    words = draw(st.lists(st.sampled_from(_WORDS), min_size=min_words, max_size=max_words))
    separators = draw(st.lists(st.sampled_from(_SEPARATORS), min_size=len(words), max_size=len(words)))
    return "".join(word + separator for word, separator in zip(words, separators, strict=True))


# Non-empty sets of 64-bit hashes, as the one-permutation hasher signs them (shingle hashes).
hash_sets = st.sets(st.integers(0, UINT64_MAX), min_size=1, max_size=300)

# Batches of such sets as `sign_batch` takes them, empty sets included (texts without a shingle).
hash_set_batches = st.lists(st.sets(st.integers(0, UINT64_MAX), max_size=120), max_size=8)


def uint64_arrays(min_size: int = 0, max_size: int = 200) -> st.SearchStrategy[np.ndarray]:
    """Arrays of arbitrary 64-bit values (including 0 and 2**64 - 1)."""
    values = st.one_of(st.integers(0, UINT64_MAX), st.sampled_from((0, 1, 2**32 - 1, 2**32, 2**63, UINT64_MAX)))
    return st.lists(values, min_size=min_size, max_size=max_size).map(lambda xs: np.array(xs, dtype=np.uint64))


@st.composite
def code_points_with_runs(draw: st.DrawFn) -> tuple[list[int], list[tuple[int, int]]]:
    """Code points (as the tokeniser folds them) and runs [start, end) over them, in any order, overlaps allowed."""
    codes = draw(st.lists(st.integers(0, 0x10FFFF), min_size=1, max_size=300))
    run = st.integers(0, len(codes) - 1).flatmap(
        lambda start: st.tuples(st.just(start), st.integers(start + 1, min(start + 40, len(codes))))
    )
    return codes, draw(st.lists(run, min_size=1, max_size=30))


# The token hashes of a batch of texts, one list per text (empty texts included).
token_hash_batches = st.lists(
    st.lists(st.one_of(st.integers(0, UINT64_MAX), st.sampled_from((0, 1, UINT64_MAX))), max_size=25),
    max_size=8,
)

# Batches of texts as `tokenize_batch` gets them: arbitrary and word text, empty and wordless texts among them.
text_batches = st.lists(
    st.one_of(tricky_text, word_text(), st.sampled_from(("", " ", "— …!", "国务院", "42"))),
    max_size=8,
)


# One text's candidate terms: term id (below 2**48, small so texts share terms) -> count.
term_counts = st.dictionaries(
    st.one_of(st.integers(0, 200), st.integers(2**48 - 50, 2**48 - 1)), st.integers(1, 40), max_size=50
)


@st.composite
def term_vectors(draw: st.DrawFn, max_terms: int = 40, id_range: int = 60) -> TermVector:
    """A term vector over a small id range (so that vectors overlap), with whole-number counts."""
    counts = draw(st.dictionaries(st.integers(0, id_range), st.integers(1, 20), max_size=max_terms))
    ids = np.array(sorted(counts), dtype=np.uint64)
    return TermVector(ids, np.array([counts[int(i)] for i in ids], dtype=np.float64))


page_positions = st.builds(
    PagePosition,
    order=st.sampled_from([ClusterOrder.LARGEST, ClusterOrder.RECENTLY_UPDATED]),
    min_size=st.integers(0, 10**6),
    after=st.tuples(st.integers(0, 2**62), st.integers(0, 2**62)),
)
