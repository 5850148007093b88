"""Text normalisation and tokenisation, vectorised over the code points of many texts at once.

A token is a run of letters, combining marks and digits (Unicode categories
L*, M*, N*), except in scripts written without spaces between words (Chinese,
Japanese kana, Thai, Lao, Khmer, Myanmar), where every character is a token of
its own; word shingles over those tokens are then character shingles, which is
what such scripts need. Nothing here is specific to English or any language.

Normalisation (`normalize`) is NFKC, then Unicode case folding (plus the
Turkish dotless ı to i, see `fold`), then dropping characters that must not
make two spellings differ: optional Arabic and Hebrew vowel marks, the Arabic
elongation stroke, soft hyphens and zero-width characters, and the dot that
case folding leaves on a Turkish capital İ.

Per-token Python work caps a tokeniser near a few thousand news articles a
second (`re.findall(r"\\w+", ...)` alone manages about 3,700 on this machine),
so `tokenize_batch` never makes a Python object per token or per character:
the texts of a batch become one array of code points, one lookup in a table
gives each code point's case fold and character class, and token boundaries
and hashes come from a few array passes. The table is built from `fold`
(Python's own `str.casefold`, plus ı) and `unicodedata`, so the result is
exactly what `normalize` gives (a property test holds the two together);
texts whose folding changes their length (German ß, the Turkish İ) take the
string path. Token strings
are only rebuilt when an explanation needs them (`Tokens.strings`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
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
_IGNORABLE = "\u064b-\u0652\u0670\u0640\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7\u00ad\u200b\u2060\ufeff"
_IGNORABLE_RE = re.compile(f"[{_IGNORABLE}]")
_DOTTED_I_RE = re.compile("i\u0307+")  # what casefold() makes of İ

# Unicode case folding is language-independent: it folds I to i, so the Turkish
# capital I of an all-caps headline ("IŞIK") becomes "işik" while the same word
# in running text keeps its dotless ı ("ışık"), and the two never match. Folding
# ı to i as well makes "IŞIK", "Işık" and "ışık" one word (the dotted İ already
# ends as i: its dot is dropped). The cost is that words told apart only by ı
# and i are conflated ("kıl" hair, "kil" clay), which matters far less to
# finding duplicates and stories than missing every all-caps Turkish headline.
_EXTRA_FOLDS = str.maketrans({"\u0131": "i"})

WORD, NO_SPACE, MARK, IGNORABLE, DOT_ABOVE, MULTI_FOLD = 1, 2, 4, 8, 16, 32
# A text holding one of these needs more than the table: ignorables are dropped,
# a dot above may follow an i, some characters fold to several (ß -> ss), and
# a combining mark may compose with a folded character.
_SPECIAL = np.uint8(IGNORABLE | DOT_ABOVE | MULTI_FOLD | MARK)
_SEPARATOR = np.array([0x0A], dtype=np.uint32)  # a newline between the texts of a batch

# Most tokenising happens on chunks of about this many code points, so the
# temporary arrays stay in cache and the prefix sums' power tables stay small.
_CHUNK_CODE_POINTS = 1 << 20


def fold(text: str) -> str:
    """Case folding as `normalize` and the tables do it: `str.casefold`, plus ı to i (see `_EXTRA_FOLDS`)."""
    return text.casefold().translate(_EXTRA_FOLDS)


def normalize(text: str) -> str:
    """Fold the text so that spellings a reader sees as equal compare equal (see the module docstring).

    The steps repeat until nothing changes, so normalising twice is the same as
    once: case folding and dropping a character can leave combining marks that
    NFKC composes anew (a Greek iota subscript, a mark after a soft hyphen).
    Ordinary text is stable after the first round.
    """
    previous, current = None, text
    while current != previous:
        previous = current
        folded = unicodedata.normalize("NFKC", fold(unicodedata.normalize("NFKC", current)))
        current = _DOTTED_I_RE.sub("i", _IGNORABLE_RE.sub("", folded))
    return current


@functools.cache
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """The case-fold table and the character-class table, over every code point.

    folds[c] is fold(c) where that is one character (else c itself, and
    classes[c] has MULTI_FOLD); classes[c] holds the class of the folded
    character: WORD | NO_SPACE | MARK, or IGNORABLE. Built once per
    process (about 0.2 s).
    """
    folds = np.arange(0x110000, dtype=np.uint32)
    multiple = np.zeros(0x110000, dtype=bool)
    for code_point in range(_LAST_SCRIPT_PLANE_END):
        folded = fold(chr(code_point))
        if len(folded) == 1:
            folds[code_point] = ord(folded)
        else:
            multiple[code_point] = True
    kinds = np.zeros(0x110000, dtype=np.uint8)
    category = unicodedata.category
    for code_point in range(_LAST_SCRIPT_PLANE_END):
        major = category(chr(code_point))[0]
        if major == "L":
            kinds[code_point] = WORD
        elif major == "M":
            kinds[code_point] = WORD | MARK
        elif major == "N":
            kinds[code_point] = WORD
    for first, last in _NO_SPACE_RANGES:
        span = kinds[first : last + 1]
        span[span & WORD != 0] |= NO_SPACE
    for character in _IGNORABLE_RE.findall("".join(map(chr, range(0x10000)))):
        kinds[ord(character)] = IGNORABLE
    classes = kinds[folds]
    classes[0x307] |= DOT_ABOVE
    classes[multiple] |= MULTI_FOLD
    return folds, classes


def _code_points(text: str) -> np.ndarray:
    """The code points of the text's NFKC form (the ASCII bytes of an ASCII text)."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(unicodedata.normalize("NFKC", text).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@dataclass(frozen=True)
class Tokens:
    """The tokens of a batch of texts, as parallel arrays (one entry per token).

    Text i owns tokens offsets[i]:offsets[i+1]. `starts`/`ends` index code
    points of that text's normalised string (`normalize(text)`, which is what
    Python's str indexing counts), `hashes` are 64-bit token hashes and
    `no_space` marks single characters of scripts written without spaces.
    """

    offsets: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    hashes: np.ndarray
    no_space: np.ndarray

    def __len__(self) -> int:
        """The number of tokens (of all texts)."""
        return len(self.hashes)

    @property
    def texts(self) -> int:
        return len(self.offsets) - 1

    def text(self, i: int) -> Tokens:
        """The tokens of text i alone."""
        span = slice(int(self.offsets[i]), int(self.offsets[i + 1]))
        return Tokens(
            np.array([0, span.stop - span.start]),
            self.starts[span],
            self.ends[span],
            self.hashes[span],
            self.no_space[span],
        )

    def strings(self, normalized: str) -> list[str]:
        """The token strings of a single text; for explanations only, never on the hot path."""
        return [normalized[start:end] for start, end in zip(self.starts.tolist(), self.ends.tolist(), strict=True)]


def _tokenize_chunk(texts: Sequence[str]) -> Tokens:
    folds, class_table = _tables()
    pieces: list[np.ndarray] = []
    for text in texts:
        pieces += (_code_points(text), _SEPARATOR)
    if not pieces:
        return _EMPTY_TOKENS
    lengths = np.array([len(piece) for piece in pieces[::2]], dtype=np.int64)
    raw = np.concatenate(pieces)
    classes = class_table.take(raw)
    text_starts = np.concatenate(([0], np.cumsum(lengths + 1)))
    present = int(np.bitwise_or.reduce(classes))  # every class that occurs, in one pass
    if present & _SPECIAL:
        raw, classes, text_starts = _special_characters(texts, raw, classes, text_starts, folds, class_table)
    codes = folds.take(raw)
    in_word = (classes & WORD).view(bool)
    if present & NO_SPACE:
        no_space = (classes & NO_SPACE) != 0
        starts, ends = _boundaries_with_no_space(in_word, no_space, (classes & MARK) == 0)
        token_no_space = no_space[starts]
    else:
        # Runs of word characters: starts and ends are where the run flag flips.
        flips = np.flatnonzero(in_word[1:] != in_word[:-1]) + 1
        if in_word[0]:
            flips = np.concatenate(([0], flips))
        starts, ends = flips[0::2], flips[1::2]
        token_no_space = np.zeros(len(starts), dtype=bool)
    hashes = hashing.token_hashes(codes, starts, ends)
    offsets = np.searchsorted(starts, text_starts)
    local = np.repeat(text_starts[:-1], np.diff(offsets))
    return Tokens(
        offsets=offsets,
        starts=starts - local,
        ends=ends - local,
        hashes=hashes,
        no_space=token_no_space,
    )


def _boundaries_with_no_space(
    in_word: np.ndarray, no_space: np.ndarray, unmarked: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Token starts and ends when some characters are tokens of their own.

    A token starts at a word character after a non-word character, at every
    no-space character, and at the first word character after one; a
    combining mark (a Thai vowel sign, say) stays with the character before it.
    """
    is_start = np.empty_like(in_word)
    is_start[0] = in_word[0]
    is_start[1:] = in_word[1:] & (~in_word[:-1] | ((no_space[1:] | no_space[:-1]) & unmarked[1:]))
    # A token's last character is followed by a non-word character or by another token's start.
    continues = np.zeros_like(in_word)
    continues[:-1] = in_word[1:] & ~is_start[1:]
    return np.flatnonzero(is_start), np.flatnonzero(in_word & ~continues) + 1


def _special_characters(
    texts: Sequence[str],
    raw: np.ndarray,
    classes: np.ndarray,
    text_starts: np.ndarray,
    folds: np.ndarray,
    class_table: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply what the tables alone cannot: drop ignorables and the dot after an i, and hand
    Python's `normalize` every text whose folding changes its length (ß -> ss) or that holds a
    combining mark beside a character that folding or dropping changes (NFKC may compose them)."""

    def owners(positions: np.ndarray) -> set[int]:
        return set((np.searchsorted(text_starts, positions, side="right") - 1).tolist())

    redo = owners(np.flatnonzero((classes & MULTI_FOLD) != 0))
    marks = np.flatnonzero((classes & MARK) != 0)
    if marks.size:
        changing = (folds.take(raw) != raw) | ((classes & (IGNORABLE | DOT_ABOVE)) != 0)
        redo |= owners(marks) & owners(np.flatnonzero(changing))
    if redo:
        pieces = []
        for i, text in enumerate(texts):
            span = raw[text_starts[i] : text_starts[i + 1]]
            if i in redo:
                # normalize() folds it exactly; the tables then map it to itself.
                span = np.frombuffer((normalize(text) + "\n").encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            pieces.append(span)
        raw = np.concatenate(pieces)
        text_starts = np.concatenate(([0], np.cumsum([len(piece) for piece in pieces])))
        classes = class_table.take(raw)
    for drop in (_ignorable, _dot_after_i):
        keep = ~drop(raw, classes, folds)
        if not keep.all():
            kept_before = np.concatenate(([0], np.cumsum(keep)))
            raw, classes, text_starts = raw[keep], classes[keep], kept_before[text_starts]
    return raw, classes, text_starts


def _ignorable(raw: np.ndarray, classes: np.ndarray, folds: np.ndarray) -> np.ndarray:
    return (classes & IGNORABLE) != 0


def _dot_after_i(raw: np.ndarray, classes: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Combining dots above that follow an i (what casefold() leaves of a Turkish İ), as in i + dots."""
    dotted = (classes & DOT_ABOVE) != 0
    drop = np.zeros(len(raw), dtype=bool)
    runs = np.flatnonzero(dotted[1:] & ~dotted[:-1]) + 1  # first dot of each run of dots
    for start in runs[folds.take(raw[runs - 1]) == ord("i")].tolist():
        stop = start
        while stop < len(raw) and dotted[stop]:
            stop += 1
        drop[start:stop] = True
    return drop


def tokenize_batch(texts: Sequence[str]) -> Tokens:
    """Normalise and tokenise many texts at once (see the module docstring)."""
    chunks: list[Tokens] = []
    start, size = 0, 0
    for i, text in enumerate(texts):
        size += len(text)
        if size >= _CHUNK_CODE_POINTS:
            chunks.append(_tokenize_chunk(texts[start : i + 1]))
            start, size = i + 1, 0
    if start < len(texts) or not chunks:
        chunks.append(_tokenize_chunk(texts[start:]))
    return chunks[0] if len(chunks) == 1 else _concatenate_tokens(chunks)


def tokenize(text: str) -> Tokens:
    """Normalise and tokenise one text."""
    return tokenize_batch([text])


def _concatenate_tokens(chunks: list[Tokens]) -> Tokens:
    bases = np.cumsum([0] + [len(chunk) for chunk in chunks[:-1]])
    offsets = np.concatenate([chunks[0].offsets[:1]] + [c.offsets[1:] + b for c, b in zip(chunks, bases, strict=True)])
    return Tokens(
        offsets=offsets,
        starts=np.concatenate([c.starts for c in chunks]),
        ends=np.concatenate([c.ends for c in chunks]),
        hashes=np.concatenate([c.hashes for c in chunks]),
        no_space=np.concatenate([c.no_space for c in chunks]),
    )


_EMPTY_TOKENS = Tokens(
    np.zeros(1, dtype=np.int64),
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=np.uint64),
    np.zeros(0, dtype=bool),
)

# Term ids keep the top 48 bits of a token hash, so (text, term) fits one uint64 sort key.
TERM_BITS = 48
_TERM_SHIFT = np.uint64(64 - TERM_BITS)


@dataclass(frozen=True)
class Terms:
    """The distinct candidate terms of each text of a batch, for the story tier, with their counts.

    Terms are word and number tokens of two characters or more, and, in
    scripts without spaces, pairs of adjacent characters (single Chinese
    characters are too ambiguous to stand for a story). Numbers count: an age,
    a year, a death toll or a magnitude is often what tells two look-alike
    events apart (on ECB+ they lift subtopic B-cubed F1 from 0.843 to 0.851),
    and idf learns which numbers are everywhere. A text with no such
    term but some tokens ("4 a b c") uses all its tokens instead, so every
    text with a token has terms. Text i owns entries offsets[i]:offsets[i+1];
    ids are sorted within a text.
    """

    offsets: np.ndarray
    ids: np.ndarray  # uint64 values below 2**48
    counts: np.ndarray  # uint32, occurrences in the text

    def text(self, i: int) -> Terms:
        """The terms of text i alone."""
        return self.slice(i, i + 1)

    def slice(self, first: int, stop: int) -> Terms:
        """Texts first..stop-1, as a batch of their own."""
        span = slice(int(self.offsets[first]), int(self.offsets[stop]))
        return Terms(self.offsets[first : stop + 1] - self.offsets[first], self.ids[span], self.counts[span])


def _adjacent_no_space(tokens: Tokens) -> np.ndarray:
    """Index i where tokens i and i+1 are touching no-space characters of the same text."""
    if not tokens.no_space.any():
        return np.zeros(0, dtype=np.intp)
    touching = tokens.no_space[:-1] & tokens.no_space[1:] & (tokens.ends[:-1] == tokens.starts[1:])
    first_of_text = np.zeros(len(tokens) + 1, dtype=bool)
    first_of_text[tokens.offsets] = True
    touching &= ~first_of_text[1:-1]
    return np.flatnonzero(touching)


# Texts per sort in `terms`: the text index takes the 16 bits above a 48-bit term id.
_TERMS_PER_SORT = 1 << (64 - TERM_BITS)


def term_occurrences(tokens: Tokens) -> tuple[np.ndarray, np.ndarray]:
    """Every occurrence of a candidate story term, text by text: (term ids, offsets per text).

    Occurrences keep text order and repeats; `terms` counts them. A set of
    occurrences is all a MinHash needs, so the story signature can be made
    without sorting anything.
    """
    is_term = ~tokens.no_space & ((tokens.ends - tokens.starts) >= 2)
    pairs = _adjacent_no_space(tokens)
    terms_before = np.concatenate(([0], np.cumsum(is_term)))[tokens.offsets]
    if pairs.size == 0 and (np.diff(terms_before) > 0).all():
        # The usual case: words only, and every text has some; they are already in text order.
        return tokens.hashes[is_term] >> _TERM_SHIFT, terms_before
    text_of_token = np.repeat(np.arange(tokens.texts), np.diff(tokens.offsets))
    groups = [(tokens.hashes[is_term], text_of_token[is_term])]
    if pairs.size:
        groups.append((hashing.combine(tokens.hashes[pairs], tokens.hashes[pairs + 1]), text_of_token[pairs]))
    counts = np.zeros(tokens.texts, dtype=np.int64)
    for _, owners in groups:
        counts += np.bincount(owners, minlength=tokens.texts)
    fallback = (counts == 0)[text_of_token]
    if fallback.any():
        groups.append((tokens.hashes[fallback], text_of_token[fallback]))
        counts = counts + np.bincount(text_of_token[fallback], minlength=tokens.texts)
    ids = np.concatenate([hashes for hashes, _ in groups]) >> _TERM_SHIFT
    if len(groups) > 1:  # each group is in text order; interleave them by text
        ids = ids[np.argsort(np.concatenate([owners for _, owners in groups]), kind="stable")]
    return ids, np.concatenate(([0], np.cumsum(counts)))


def terms(tokens: Tokens) -> Terms:
    """Count the candidate story terms of every text in a batch (see `Terms`)."""
    if tokens.texts > _TERMS_PER_SORT:
        parts = [
            _slice(tokens, i, min(i + _TERMS_PER_SORT, tokens.texts)) for i in range(0, tokens.texts, _TERMS_PER_SORT)
        ]
        return concatenate_terms([terms(part) for part in parts])
    ids, offsets = term_occurrences(tokens)
    owners = np.repeat(np.arange(tokens.texts, dtype=np.uint64), np.diff(offsets))
    keys = np.sort((owners << np.uint64(TERM_BITS)) | ids)
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    distinct = keys[first]
    counts = np.diff(np.append(np.flatnonzero(first), len(keys))).astype(np.uint32)
    owner_of_distinct = (distinct >> np.uint64(TERM_BITS)).astype(np.int64)
    return Terms(
        np.searchsorted(owner_of_distinct, np.arange(tokens.texts + 1)),
        distinct & np.uint64((1 << TERM_BITS) - 1),
        counts,
    )


def _slice(tokens: Tokens, first: int, stop: int) -> Tokens:
    """Texts first..stop-1 of a batch, as a batch of their own."""
    span = slice(int(tokens.offsets[first]), int(tokens.offsets[stop]))
    return Tokens(
        tokens.offsets[first : stop + 1] - tokens.offsets[first],
        tokens.starts[span],
        tokens.ends[span],
        tokens.hashes[span],
        tokens.no_space[span],
    )


def concatenate_terms(parts: Sequence[Terms]) -> Terms:
    """One batch of the texts of several batches, in order."""
    bases = np.cumsum([0] + [len(part.ids) for part in parts[:-1]])
    offsets = np.concatenate([parts[0].offsets[:1]] + [p.offsets[1:] + b for p, b in zip(parts, bases, strict=True)])
    return Terms(offsets, np.concatenate([p.ids for p in parts]), np.concatenate([p.counts for p in parts]))


def term_id(token_hash: int) -> int:
    """The term id of a token hash (its top 48 bits)."""
    return token_hash >> (64 - TERM_BITS)


def term_strings(normalized: str, tokens: Tokens) -> dict[int, str]:
    """Map the term ids of one text back to readable terms, for explanations (bigrams as the two characters)."""
    strings = tokens.strings(normalized)
    names = {term_id(h): s for h, s in zip(tokens.hashes.tolist(), strings, strict=True)}
    for i in _adjacent_no_space(tokens).tolist():
        pair = hashing.combine(tokens.hashes[i : i + 1], tokens.hashes[i + 1 : i + 2])
        names[term_id(int(pair[0]))] = strings[i] + strings[i + 1]
    return names
