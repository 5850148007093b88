"""Text normalisation and tokenisation, vectorised over code points.

A token is a run of letters, combining marks and digits (Unicode categories
L*, M*, N*), except in scripts written without spaces between words (Chinese,
Japanese kana, Thai, Lao, Khmer, Myanmar), where every character is a token of
its own; word shingles over those tokens are then character shingles, which is
what such scripts need. Nothing here is specific to English or any language.

Per-token Python work caps a tokeniser near a few thousand news articles a
second (`re.findall(r"\\w+", ...)` alone manages about 3,700 on this machine),
so this module never makes a Python object per token on the hot path: the text
becomes an array of code points, a lookup table classifies them, and token
hashes are computed with numpy in one pass. Token strings are only rebuilt when
an explanation needs them (`Tokens.strings`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from newsdedup import hashing

# Code points at and above this are unassigned, private use or tags: never word characters.
_LAST_SCRIPT_PLANE_END = 0x40000

# Scripts written without spaces between words; their characters are single tokens.
_NO_SPACE_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3005, 0x3007),  # CJK iteration marks and the ideographic zero
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)

# Optional vowel marks of Arabic and Hebrew and the Arabic elongation stroke:
# writers use them inconsistently, so they must not make two spellings differ.
# The Hebrew block's punctuation (maqaf U+05BE, paseq U+05C0, sof pasuq U+05C3,
# nun hafukha U+05C6) is not a mark: dropping the maqaf would fuse two words.
# Invisible characters that web pages put inside words (soft hyphen, zero-width
# space, word joiner, BOM) go too: a reader sees "Bundes\u00adregierung" as one word.
_OPTIONAL_MARKS = re.compile(
    "[\u064b-\u0652\u0670\u0640\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7\u00ad\u200b\u2060\ufeff]"
)

WORD, NO_SPACE, DIGIT, MARK = 1, 2, 4, 8


@functools.cache
def _char_classes() -> np.ndarray:
    """A uint8 table over all code points: WORD | NO_SPACE | DIGIT flags. Built once per process (~0.1 s)."""
    table = np.zeros(0x110000, dtype=np.uint8)
    category = unicodedata.category
    for code_point in range(_LAST_SCRIPT_PLANE_END):
        major = category(chr(code_point))[0]
        if major == "L":
            table[code_point] = WORD
        elif major == "M":
            table[code_point] = WORD | MARK
        elif major == "N":
            table[code_point] = WORD | DIGIT
    for first, last in _NO_SPACE_RANGES:
        span = table[first : last + 1]
        span[span & WORD != 0] |= NO_SPACE
    return table


def normalize(text: str) -> str:
    """Fold the text so that spellings a reader sees as equal compare equal.

    NFKC unifies compatibility forms (full-width letters, ligatures, composed
    and decomposed accents), casefold() removes case (including German ß and
    Greek final sigma), and optional Arabic/Hebrew vowel marks are dropped.
    casefold() turns the Turkish capital İ into i plus a combining dot above;
    that dot is dropped, so "İnsanlar" at the start of a sentence folds to the
    "insanlar" of running text.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().replace("i\u0307", "i")
    return _OPTIONAL_MARKS.sub("", folded)


@dataclass(frozen=True)
class Tokens:
    """The tokens of a normalised text, as parallel arrays (one entry per token).

    `starts`/`ends` index code points of the normalised string (which is what
    Python's str indexing counts), `hashes` are 64-bit token hashes,
    `numeric` marks tokens made only of digits and `no_space` marks single
    characters of scripts written without spaces.
    """

    starts: np.ndarray
    ends: np.ndarray
    hashes: np.ndarray
    numeric: np.ndarray
    no_space: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)

    def strings(self, normalized: str) -> list[str]:
        """The token strings; for explanations only, never on the hot path."""
        return [normalized[start:end] for start, end in zip(self.starts.tolist(), self.ends.tolist(), strict=True)]


_EMPTY = np.zeros(0, dtype=np.int64)


def tokenize(normalized: str) -> Tokens:
    """Split a normalised text into tokens and hash each one, without a Python loop over tokens."""
    if not normalized:
        return Tokens(_EMPTY, _EMPTY, np.zeros(0, np.uint64), np.zeros(0, bool), np.zeros(0, bool))
    codes = np.frombuffer(normalized.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    classes = _char_classes()[np.minimum(codes, 0x10FFFF)]
    in_word = (classes & WORD) != 0
    no_space = (classes & NO_SPACE) != 0
    previous_in_word = np.concatenate(([False], in_word[:-1]))
    previous_no_space = np.concatenate(([False], no_space[:-1]))
    mark = (classes & MARK) != 0
    # A token starts at a word character after a non-word character, at every
    # no-space character, and at the first word character after one; a
    # combining mark (a Thai vowel sign, say) stays with the character before it.
    is_start = in_word & (~previous_in_word | ((no_space | previous_no_space) & ~mark))
    starts = np.flatnonzero(is_start)
    if starts.size == 0:
        return tokenize("")
    word_positions = np.flatnonzero(in_word)
    # Each word character belongs to the latest token start at or before it.
    token_of_char = np.cumsum(is_start)[word_positions] - 1
    lengths = np.bincount(token_of_char, minlength=starts.size)
    ends = starts + lengths
    position_in_token = word_positions - starts[token_of_char]
    hashes = hashing.hash_runs(codes[word_positions], position_in_token, lengths)
    digit_counts = np.bincount(token_of_char, weights=(classes[word_positions] & DIGIT) != 0, minlength=starts.size)
    return Tokens(
        starts=starts,
        ends=ends,
        hashes=hashes,
        numeric=digit_counts == lengths,
        no_space=no_space[starts],
    )


@dataclass(frozen=True)
class Terms:
    """The distinct candidate terms of a text for the story tier, with their counts.

    Terms are word tokens of two characters or more that are not numbers, and,
    in scripts without spaces, pairs of adjacent characters (single Chinese
    characters are too ambiguous to stand for a story). A text with no such
    term but some tokens ("42", "a b c") uses all its tokens instead.
    """

    ids: np.ndarray  # uint64, sorted, distinct
    counts: np.ndarray  # uint32, occurrences in the text


def terms(tokens: Tokens) -> Terms:
    """Count the candidate story terms of a text."""
    lengths = tokens.ends - tokens.starts
    words = tokens.hashes[~tokens.numeric & ~tokens.no_space & (lengths >= 2)]
    # Adjacent no-space characters form bigram terms (only where both are no-space tokens and touch).
    adjacent = tokens.no_space[:-1] & tokens.no_space[1:] & (tokens.ends[:-1] == tokens.starts[1:])
    bigrams = hashing.combine(tokens.hashes[:-1][adjacent], tokens.hashes[1:][adjacent])
    candidates = np.concatenate((words, bigrams))
    if candidates.size == 0:
        # A text of numbers and single letters still has tokens: use them all, so
        # that every text with a token has terms (and a story signature).
        candidates = tokens.hashes
    ids, counts = np.unique(candidates, return_counts=True)
    return Terms(ids=ids, counts=counts.astype(np.uint32))


def term_strings(normalized: str, tokens: Tokens) -> dict[int, str]:
    """Map term ids back to readable terms, for explanations (bigrams are shown as the two characters)."""
    strings = tokens.strings(normalized)
    names = {int(h): s for h, s in zip(tokens.hashes.tolist(), strings, strict=True)}
    for i in np.flatnonzero(tokens.no_space[:-1] & tokens.no_space[1:] & (tokens.ends[:-1] == tokens.starts[1:])):
        pair = hashing.combine(tokens.hashes[i : i + 1], tokens.hashes[i + 1 : i + 2])
        names[int(pair[0])] = strings[i] + strings[i + 1]
    return names
