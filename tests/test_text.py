"""Normalisation, tokenisation and story terms (newsdedup.text)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from newsdedup import hashing, text

from .strategies import text_batches, tricky_text, unicode_text, word_text

TOKEN_FIELDS = ("offsets", "starts", "ends", "hashes", "no_space")


def tokens_of(raw: str) -> list[str]:
    return text.tokenize(raw).strings(text.normalize(raw))


def term_names(raw: str) -> list[str]:
    """The story terms of a text, as strings, in id order."""
    tokens = text.tokenize(raw)
    names = text.term_strings(text.normalize(raw), tokens)
    return [names[int(term_id)] for term_id in text.terms(tokens).ids]


def is_word_character(character: str) -> bool:
    return unicodedata.category(character)[0] in "LMN" and ord(character) < 0x40000


def is_no_space_character(character: str) -> bool:
    return is_word_character(character) and any(a <= ord(character) <= b for a, b in text._NO_SPACE_RANGES)


def word_runs(normalized: str) -> list[tuple[int, int]]:
    """The [start, end) spans of the maximal runs of letters, marks and digits."""
    runs: list[tuple[int, int]] = []
    for i, character in enumerate(normalized):
        if not is_word_character(character):
            continue
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def reference_tokens(normalized: str) -> list[tuple[int, int, bool]]:
    """(start, end, no_space) of each token, one character at a time, as the module docstring says.

    A token starts at a word character after a non-word character, and, unless
    it is a combining mark, at a character of a script without spaces or right
    after one.
    """
    word = [is_word_character(c) for c in normalized]
    no_space = [is_no_space_character(c) for c in normalized]
    mark = [unicodedata.category(c)[0] == "M" for c in normalized]
    starts = [
        i
        for i in range(len(normalized))
        if word[i] and (i == 0 or not word[i - 1] or ((no_space[i] or no_space[i - 1]) and not mark[i]))
    ]
    tokens = []
    for start in starts:
        end = start + 1
        while end < len(normalized) and word[end] and end not in starts:
            end += 1
        tokens.append((start, end, no_space[start]))
    return tokens


def fields(tokens: text.Tokens) -> dict[str, list]:
    return {name: getattr(tokens, name).tolist() for name in TOKEN_FIELDS}


def assert_batch_is_each_text_alone(raws: list[str], batch: text.Tokens) -> None:
    """The batch's offsets delimit the texts, and text i's tokens are those of tokenize(raws[i])."""
    assert batch.texts == len(raws)
    assert batch.offsets[0] == 0 and batch.offsets[-1] == len(batch)
    assert np.all(np.diff(batch.offsets) >= 0)
    assert all(len(getattr(batch, name)) == len(batch) for name in TOKEN_FIELDS[1:])
    for i, raw in enumerate(raws):
        assert fields(batch.text(i)) == fields(text.tokenize(raw)), (i, raw)


def terms_fields(terms: text.Terms) -> tuple[list[int], list[int], list[int]]:
    return terms.offsets.tolist(), terms.ids.tolist(), terms.counts.tolist()


def count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Wrap text.<name> so that each call appends to the returned list."""
    calls: list[int] = []
    original: Callable = getattr(text, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(text, name, counted)
    return calls


# --- normalisation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ﬁnance ministers", "finance ministers"),
        ("ＮＡＴＯ summit", "nato summit"),
        ("Caf\u00e9 owners", "Cafe\u0301 owners"),
        ("BUNDESTAG VOTE", "Bundestag vote"),
        ("STRASSE gesperrt", "Straße gesperrt"),
        ("ΝΟΜΟΣ", "νομος"),
        ("x² growth", "x2 growth"),
    ],
    ids=["ligature", "full-width", "composed-vs-decomposed", "case", "german-sharp-s", "greek-final-sigma", "super"],
)
def test_normalize_folds_compatibility_forms_and_case(first: str, second: str) -> None:
    """Spellings a reader sees as equal (NFKC forms, case, ß, final sigma) normalise to the same string."""
    assert text.normalize(first) == text.normalize(second)


@pytest.mark.parametrize(
    ("pointed", "plain"),
    [
        ("أَعْلَنَتِ الحُكُومَةُ المِصْرِيَّةُ خُطَّةً جَدِيدَةً", "أعلنت الحكومة المصرية خطة جديدة"),
        ("هٰذا القرار", "هذا القرار"),
        ("الكتـــاب الجديد", "الكتاب الجديد"),
        ("הַמֶּמְשָׁלָה הֶחְלִיטָה עַל הַתַּקְצִיב", "הממשלה החליטה על התקציב"),
        ("שָׁלוֹם", "שלום"),
    ],
    ids=["arabic-harakat", "arabic-superscript-alef", "arabic-tatweel", "hebrew-niqqud", "hebrew-shin-dot"],
)
def test_optional_vowel_marks_do_not_change_tokens(pointed: str, plain: str) -> None:
    """A word with and without its optional Arabic/Hebrew vowel marks tokenises the same, hash for hash."""
    pointed_tokens = text.tokenize(pointed)
    plain_tokens = text.tokenize(plain)
    assert tokens_of(pointed) == tokens_of(plain)
    assert pointed_tokens.hashes.tolist() == plain_tokens.hashes.tolist()


@pytest.mark.parametrize(
    "joined",
    ["בית־הספר", "בֵּית־הַסֵּפֶר"],
    ids=["plain", "pointed"],
)
def test_hebrew_maqaf_separates_words_like_a_hyphen(joined: str) -> None:
    """The Hebrew hyphen (maqaf) is punctuation: it splits words as '-' does, it is not dropped like a vowel mark."""
    assert tokens_of(joined) == tokens_of("בית-הספר") == ["בית", "הספר"]


@pytest.mark.parametrize(
    ("variant", "plain"),
    [
        ("İnsanlar sokağa döküldü", "insanlar sokağa döküldü"),
        ("İSTANBUL'DA SEÇİM", "istanbul'da seçim"),
        ("KÖLN", "köln"),
        ("ŁÓDŹ", "łódź"),
    ],
    ids=["turkish-dotted-capital", "turkish-all-caps", "german-umlaut", "polish"],
)
def test_capitals_with_diacritics_fold_to_the_lower_case_word(variant: str, plain: str) -> None:
    """Capitals with diacritics, the Turkish dotted İ included, fold to the same token as in running text."""
    assert tokens_of(variant) == tokens_of(plain)
    assert text.normalize(variant) == text.normalize(plain)


TURKISH_CAPITALS_AND_LOWER_CASE = [
    ("İSTANBUL", "istanbul"),
    ("IŞIK", "ışık"),
    ("Işık", "ışık"),
    ("KIRMIZI", "kırmızı"),
    ("KIRMIZI IŞIK İHLALİ", "Kırmızı ışık ihlali"),
]
TURKISH_CASE_IDS = ["dotted-capital", "dotless-all-caps", "dotless-capitalised", "kirmizi", "headline"]


@pytest.mark.parametrize(("capitals", "lower"), TURKISH_CAPITALS_AND_LOWER_CASE, ids=TURKISH_CASE_IDS)
def test_turkish_capitals_normalise_like_the_lower_case_word(capitals: str, lower: str) -> None:
    """Turkish I and İ capitalise ı and i; both fold to i, so an all-caps headline reads as running text does."""
    assert text.normalize(capitals) == text.normalize(lower)
    assert tokens_of(capitals) == tokens_of(lower)
    assert text.tokenize(capitals).hashes.tolist() == text.tokenize(lower).hashes.tolist()


@pytest.mark.parametrize(("capitals", "lower"), TURKISH_CAPITALS_AND_LOWER_CASE, ids=TURKISH_CASE_IDS)
def test_turkish_capitals_hash_alike_on_the_table_and_string_paths(capitals: str, lower: str) -> None:
    """In a batch, the fold table and the string path (a text with ß takes it) give the same hashes to both forms."""
    raws = [capitals, lower, f"{capitals} straße", f"{lower} STRASSE"]
    batch = text.tokenize_batch(raws)
    expected = text.tokenize(lower).hashes.tolist()
    assert [batch.text(i).hashes.tolist()[: len(expected)] for i in range(len(raws))] == [expected] * len(raws)
    assert batch.text(2).hashes[-1] == batch.text(3).hashes[-1]


def test_dotless_and_dotted_i_words_are_conflated() -> None:
    """The price of folding ı to i: words that differ only there ('kıl' hair, 'kil' clay) become one token."""
    assert tokens_of("kıl") == tokens_of("kil") == ["kil"]


@pytest.mark.parametrize(
    "hidden",
    ["\u00ad", "\u200b", "\u2060", "\ufeff"],
    ids=["soft-hyphen", "zero-width-space", "word-joiner", "bom"],
)
def test_invisible_characters_inside_a_word_do_not_split_it(hidden: str) -> None:
    """A soft hyphen or zero-width character a web page put inside a word leaves it one word, as a reader sees it."""
    assert tokens_of(f"Die Bundes{hidden}regierung tagt") == ["die", "bundesregierung", "tagt"]


@given(tricky_text)
def test_normalize_is_idempotent(raw: str) -> None:
    """Normalising twice changes nothing, so stored and re-normalised text agree."""
    once = text.normalize(raw)
    assert text.normalize(once) == once


@pytest.mark.parametrize(
    "raw",
    [
        "\u0130\u0300",
        "\u0130\u0307 talks",
        "stra\u00df\u0307e",
        "i\u0307\u0307",
        "i\u00ad\u0307",
        "e\u00ad\u0301",
        "\u1f00\u0345",
        "\u0391\u0345\u0301",
    ],
    ids=[
        "dotted-capital-grave",
        "dotted-capital-dot",
        "sharp-s-dot-above",
        "double-dot-above",
        "soft-hyphen-dot",
        "soft-hyphen-acute",
        "iota-subscript",
        "capital-alpha-iota-acute",
    ],
)
def test_folding_that_leaves_composable_marks(raw: str) -> None:
    """Where folding leaves a letter and mark NFKC composes, normalize is idempotent and tokens index its result."""
    normalized = text.normalize(raw)
    assert text.normalize(normalized) == normalized
    assert fields(text.tokenize(normalized)) == fields(text.tokenize(raw))
    assert [(start, end) for start, end, *_ in reference_tokens(normalized)] == list(
        zip(text.tokenize(raw).starts.tolist(), text.tokenize(raw).ends.tolist(), strict=True)
    )


# --- tokenisation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Die Bundesregierung hat am Mittwoch das Klimaschutzgesetz beschlossen.",
            ["die", "bundesregierung", "hat", "am", "mittwoch", "das", "klimaschutzgesetz", "beschlossen"],
        ),
        (
            "El Gobierno aprobó ayer la reforma. ¿Qué pasará ahora?",
            ["el", "gobierno", "aprobó", "ayer", "la", "reforma", "qué", "pasará", "ahora"],
        ),
        (
            "L’Assemblée nationale a adopté jeudi le projet de loi.",
            ["l", "assemblée", "nationale", "a", "adopté", "jeudi", "le", "projet", "de", "loi"],
        ),
        (
            "Sejm uchwalił w piątek nowelizację ustawy o podatku dochodowym.",
            ["sejm", "uchwalił", "w", "piątek", "nowelizację", "ustawy", "o", "podatku", "dochodowym"],
        ),
        (
            "Türkiye Büyük Millet Meclisi, bütçe görüşmelerine başladı.",
            ["türkiye", "büyük", "millet", "meclisi", "bütçe", "görüşmelerine", "başladi"],  # the ı folds to i
        ),
        (
            "أعلنت الحكومة المصرية اليوم عن خطة جديدة لدعم الاقتصاد.",
            ["أعلنت", "الحكومة", "المصرية", "اليوم", "عن", "خطة", "جديدة", "لدعم", "الاقتصاد"],
        ),
        (
            "Правительство России в понедельник одобрило проект бюджета на 2025 год.",
            ["правительство", "россии", "в", "понедельник", "одобрило", "проект", "бюджета", "на", "2025", "год"],
        ),
        (
            "国务院总理今天主持召开常务会议。",
            ["国", "务", "院", "总", "理", "今", "天", "主", "持", "召", "开", "常", "务", "会", "议"],
        ),
        (
            "NHKによると、東京で地震があった。",
            ["nhk", "に", "よ", "る", "と", "東", "京", "で", "地", "震", "が", "あ", "っ", "た"],
        ),
        (
            "นายกรัฐมนตรีเดินทาง",
            ["น", "า", "ย", "ก", "รั", "ฐ", "ม", "น", "ต", "รี", "เ", "ดิ", "น", "ท", "า", "ง"],
        ),
    ],
    ids=["german", "spanish", "french", "polish", "turkish", "arabic", "russian", "chinese", "japanese", "thai"],
)
def test_tokenize_real_sentences(sentence: str, expected: list[str]) -> None:
    """Words split at spaces and punctuation; Chinese, kana and Thai become one token per character."""
    assert tokens_of(sentence) == expected


def test_german_compounds_stay_whole() -> None:
    """A German compound is one token: nothing here splits words it cannot see a boundary in."""
    assert tokens_of("Bundesverfassungsgerichtsentscheidung") == ["bundesverfassungsgerichtsentscheidung"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [("ที่สุด", ["ที่", "สุ", "ด"]), ("ญี่ปุ่น", ["ญี่", "ปุ่", "น"]), ("แล้ว", ["แ", "ล้", "ว"])],
    ids=["thi-sut", "yipun", "laeo"],
)
def test_thai_combining_vowels_and_tones_stay_with_their_consonant(word: str, expected: list[str]) -> None:
    """Thai vowel signs and tone marks above or below a consonant never become tokens of their own."""
    assert tokens_of(word) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   \n\t ", "— … «» ¡¿ !?,.;: () [] {}", "。、「」『』・！？", "\x00\x07\x1b\u200b\u200d\ufeff", "😀🇺🇦✅"],
    ids=["empty", "whitespace", "latin-punctuation", "cjk-punctuation", "controls-and-format", "emoji"],
)
def test_punctuation_whitespace_and_symbols_make_no_tokens(raw: str) -> None:
    """Text without letters or digits has no tokens at all (one text, with an empty span)."""
    tokens = text.tokenize(raw)
    assert len(tokens) == 0 and tokens.offsets.tolist() == [0, 0]
    assert tokens.hashes.dtype == np.uint64


def test_token_offsets_count_code_points_past_astral_characters() -> None:
    """Offsets index the Python string, so astral characters (emoji, CJK extension B) do not shift them."""
    assert tokens_of("😀 Kyiv 𠀋𠀌 talks\x00resume") == ["kyiv", "𠀋", "𠀌", "talks", "resume"]


@given(tricky_text)
def test_tokens_cover_exactly_the_word_characters(raw: str) -> None:
    """Tokens of the raw text, sliced from normalize(text), tile exactly its runs of letters, marks and digits."""
    normalized = text.normalize(raw)
    tokens = text.tokenize(raw)
    strings = tokens.strings(normalized)
    assert all(strings) and all(is_word_character(c) for token in strings for c in token)
    assert sum(len(token) for token in strings) == sum(is_word_character(c) for c in normalized)
    assert np.all(tokens.starts[1:] >= tokens.ends[:-1])
    # Tokens that touch make up one run; a gap between tokens is a gap between runs.
    joined: list[tuple[int, int]] = []
    for start, end in zip(tokens.starts.tolist(), tokens.ends.tolist(), strict=True):
        if joined and joined[-1][1] == start:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    assert joined == word_runs(normalized)


@given(tricky_text)
def test_tokens_match_the_character_by_character_reference(raw: str) -> None:
    """Token boundaries and `no_space` are what a plain loop over normalize(text) finds."""
    tokens = text.tokenize(raw)
    found = zip(tokens.starts.tolist(), tokens.ends.tolist(), tokens.no_space.tolist(), strict=True)
    assert list(found) == reference_tokens(text.normalize(raw))


@given(st.one_of(tricky_text, unicode_text))
def test_tokenize_of_normalized_text_is_the_same(raw: str) -> None:
    """Raw text and its normalize() tokenise identically, field for field (normalisation is idempotent)."""
    assert fields(text.tokenize(text.normalize(raw))) == fields(text.tokenize(raw))


@given(tricky_text)
def test_token_hash_is_the_hash_of_the_folded_token_string(raw: str) -> None:
    """Each token hash is hashing.token_hashes of its own code points in normalize(text), wherever it sits."""
    tokens = text.tokenize(raw)
    for string, token_hash in zip(tokens.strings(text.normalize(raw)), tokens.hashes.tolist(), strict=True):
        codes = np.array([ord(c) for c in string], dtype=np.uint32)
        assert hashing.token_hashes(codes, np.array([0]), np.array([len(codes)])).tolist() == [token_hash]


@given(word_text())
def test_equal_tokens_hash_equal_and_different_tokens_hash_differently(raw: str) -> None:
    """Token hashes are a function of the token string, and distinct tokens get distinct hashes."""
    normalized = text.normalize(raw)
    tokens = text.tokenize(raw)
    pairs = set(zip(tokens.strings(normalized), tokens.hashes.tolist(), strict=True))
    by_string = {string for string, _ in pairs}
    by_hash = {token_hash for _, token_hash in pairs}
    assert len(pairs) == len(by_string) == len(by_hash)


def test_token_hash_does_not_depend_on_context() -> None:
    """The same word hashes alike in different texts, positions, case and surrounding punctuation."""
    first = text.tokenize("Zelensky met Starmer")
    second = text.tokenize("«STARMER» (and Zelensky)")
    assert first.hashes[0] == second.hashes[-1]
    assert first.hashes[2] == second.hashes[0]
    assert first.hashes[0] != first.hashes[2]


@given(unicode_text)
def test_tokenize_never_fails_on_arbitrary_unicode(raw: str) -> None:
    """Any text, including controls, unassigned and astral code points, tokenises into consistent arrays."""
    tokens = text.tokenize(raw)
    assert len(tokens.starts) == len(tokens.ends) == len(tokens.hashes) == len(tokens.no_space)
    assert tokens.texts == 1 and tokens.offsets.tolist() == [0, len(tokens)]
    assert np.all(tokens.ends > tokens.starts)
    assert tokens.hashes.dtype == np.uint64
    assert np.all(tokens.ends <= len(text.normalize(raw)))


# --- batches ---------------------------------------------------------------------------------------


@given(text_batches)
def test_tokenize_batch_equals_tokenizing_each_text_alone(raws: list[str]) -> None:
    """A batch gives every text the tokens it gets alone (hashes, positions, flags), empty texts included."""
    assert_batch_is_each_text_alone(raws, text.tokenize_batch(raws))


@given(text_batches, st.integers(1, 64))
def test_chunked_batch_equals_tokenizing_each_text_alone(raws: list[str], chunk: int) -> None:
    """However a batch is cut into chunks of code points, each text gets the tokens it gets alone."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(text, "_CHUNK_CODE_POINTS", chunk)
        batch = text.tokenize_batch(raws)
    assert_batch_is_each_text_alone(raws, batch)


def test_texts_longer_than_a_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch with a text of more code points than a chunk is tokenised in several chunks, each text as alone."""
    long_text = "Die Bundesregierung 国务院会议 İstanbul 2024, " * (text._CHUNK_CODE_POINTS // 40)
    raws = ["Kyiv talks", long_text, "", "— …", "東京で", long_text[:5000], "x"]
    chunks = count_calls(monkeypatch, "_tokenize_chunk")
    batch = text.tokenize_batch(raws)
    assert len(chunks) >= 2
    assert_batch_is_each_text_alone(raws, batch)


@pytest.mark.parametrize(
    "raws", [[], [""], ["", "", ""], ["!?", "…"]], ids=["none", "one-empty", "empties", "wordless"]
)
def test_batch_without_tokens(raws: list[str]) -> None:
    """A batch without a single token has one empty span per text and empty, well-typed arrays."""
    batch = text.tokenize_batch(raws)
    assert batch.texts == len(raws) and len(batch) == 0
    assert batch.offsets.tolist() == [0] * (len(raws) + 1)
    assert batch.hashes.dtype == np.uint64
    terms = text.terms(batch)
    assert terms.offsets.tolist() == [0] * (len(raws) + 1) and terms.ids.size == 0


# --- story terms -----------------------------------------------------------------------------------


def test_terms_are_words_and_numbers_of_two_characters_or_more() -> None:
    """Numbers (a year, an age, a toll) are story terms like words; single characters never are."""
    assert sorted(term_names("Putin, 71, met Xi in 2024: a 3-hour talk, 1 deal, ٢٠٢٤")) == sorted(
        ["putin", "71", "met", "xi", "in", "2024", "hour", "talk", "deal", "٢٠٢٤"]
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("国务院会议", ["国务", "务院", "院会", "会议"]),
        ("東京で", ["東京", "京で"]),
        ("ที่สุด", ["ที่สุ", "สุด"]),
        ("国 务 Kyiv", ["kyiv"]),
        ("国务 Kyiv", ["国务", "kyiv"]),
    ],
    ids=["chinese", "japanese", "thai", "separated-by-space", "mixed"],
)
def test_terms_of_no_space_scripts_are_adjacent_character_pairs(raw: str, expected: list[str]) -> None:
    """In scripts without spaces, terms are pairs of touching characters, never single characters."""
    assert sorted(term_names(raw)) == sorted(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("4", ["4"]), ("a b a", ["a", "b"]), ("国 务", ["国", "务"]), ("4 x", ["4", "x"])],
    ids=["digit", "letters", "separated-characters", "digit-and-letter"],
)
def test_a_text_without_terms_falls_back_to_its_tokens(raw: str, expected: list[str]) -> None:
    """Every text with a token has terms, so every stored article has a story signature."""
    assert sorted(term_names(raw)) == sorted(expected)


def test_terms_count_occurrences() -> None:
    """Each distinct term appears once in `ids` with the number of times it occurs."""
    raw = "Flood warnings: FLOOD, flood and storm. 洪水洪水"
    tokens = text.tokenize(raw)
    terms = text.terms(tokens)
    names = text.term_strings(text.normalize(raw), tokens)
    counts = {names[int(i)]: int(c) for i, c in zip(terms.ids, terms.counts, strict=True)}
    assert counts == {"flood": 3, "warnings": 1, "and": 1, "storm": 1, "洪水": 2, "水洪": 1}
    assert terms.ids.tolist() == sorted(set(terms.ids.tolist()))


@given(tricky_text)
def test_term_strings_name_every_term(raw: str) -> None:
    """`term_strings` has a readable string for every term id `terms` produces."""
    tokens = text.tokenize(raw)
    names = text.term_strings(text.normalize(raw), tokens)
    assert all(int(term_id) in names for term_id in text.terms(tokens).ids)


def test_no_terms_in_a_text_without_words() -> None:
    """A text without tokens has no terms (and empty, well-typed arrays)."""
    terms = text.terms(text.tokenize("… — !? «» ·"))
    assert len(terms.ids) == 0 and len(terms.counts) == 0
    assert terms.offsets.tolist() == [0, 0]


@given(word_text())
def test_term_ids_are_the_top_bits_of_token_hashes(raw: str) -> None:
    """A word's term id is term_id(its token hash), the hash's top TERM_BITS bits."""
    tokens = text.tokenize(raw)
    words = tokens.hashes[~tokens.no_space & (tokens.ends - tokens.starts >= 2)].tolist()
    ids = set(text.terms(tokens).ids.tolist())
    assert {text.term_id(h) for h in words} <= ids
    assert all(0 <= i < 2**text.TERM_BITS for i in ids)
    assert all(text.term_id(h) == h >> (64 - text.TERM_BITS) for h in words)


@given(text_batches)
def test_terms_of_a_batch_equal_terms_of_each_text_alone(raws: list[str]) -> None:
    """A batch's terms are, text by text, the terms each text has alone: ids sorted, counts per text."""
    batch = text.terms(text.tokenize_batch(raws))
    assert len(batch.offsets) == len(raws) + 1 and batch.offsets[0] == 0 and batch.offsets[-1] == len(batch.ids)
    for i, raw in enumerate(raws):
        alone = text.terms(text.tokenize(raw))
        assert terms_fields(batch.text(i)) == terms_fields(alone), (i, raw)
        assert alone.ids.tolist() == sorted(set(alone.ids.tolist()))


@pytest.mark.parametrize(
    ("raws", "crossing"),
    [
        (["国务", "院会"], "务院"),
        (["国务", "  院会"], "务院"),
        (["東京", "", "\n\nで"], "京で"),
        (["会议", "。", "。。议会"], "议议"),
        (["ประชุม", "      รัฐบาล"], "มรั"),
    ],
    ids=[
        "chinese",
        "chinese-touching-offsets",
        "japanese-with-empty-text",
        "chinese-with-wordless-text",
        "thai-touching-offsets",
    ],
)
def test_terms_never_cross_text_boundaries(raws: list[str], crossing: str) -> None:
    """No bigram joins the last character of one text to the first of the next, even at equal local offsets."""
    batch = text.terms(text.tokenize_batch(raws))
    crossing_id = text.terms(text.tokenize(crossing)).ids.tolist()
    assert len(crossing_id) == 1
    assert crossing_id[0] not in batch.ids.tolist()
    assert [batch.text(i).ids.tolist() for i in range(len(raws))] == [
        text.terms(text.tokenize(raw)).ids.tolist() for raw in raws
    ]


@given(text_batches, st.integers(1, 3))
def test_terms_of_more_texts_than_one_sort_holds(raws: list[str], per_sort: int) -> None:
    """A batch of more texts than one sort key can number is split, and each text still gets its own terms."""
    tokens = text.tokenize_batch(raws)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(text, "_TERMS_PER_SORT", per_sort)
        split = text.terms(tokens)
    assert terms_fields(split) == terms_fields(text.terms(tokens))


@given(text_batches, text_batches)
def test_concatenate_terms_joins_batches_in_order(first: list[str], second: list[str]) -> None:
    """Concatenating the terms of two batches gives the terms of the two batches tokenised as one."""
    joined = text.concatenate_terms([text.terms(text.tokenize_batch(first)), text.terms(text.tokenize_batch(second))])
    assert terms_fields(joined) == terms_fields(text.terms(text.tokenize_batch(first + second)))


@given(text_batches.filter(len), st.data())
def test_a_slice_of_terms_is_its_texts_as_a_batch(raws: list[str], data: st.DataObject) -> None:
    """Terms.slice(first, stop) is the batch of texts first..stop-1, offsets starting again at 0."""
    terms = text.terms(text.tokenize_batch(raws))
    first = data.draw(st.integers(0, len(raws) - 1))
    stop = data.draw(st.integers(first + 1, len(raws)))
    expected = text.concatenate_terms([terms.text(i) for i in range(first, stop)])
    assert terms_fields(terms.slice(first, stop)) == terms_fields(expected)
