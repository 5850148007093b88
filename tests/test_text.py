"""Normalisation, tokenisation and story terms (newsdedup.text)."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given
from newsdedup import text

from .strategies import tricky_text, unicode_text, word_text


def tokens_of(raw: str) -> list[str]:
    normalized = text.normalize(raw)
    return text.tokenize(normalized).strings(normalized)


def term_names(raw: str) -> list[str]:
    """The story terms of a text, as strings, in id order."""
    normalized = text.normalize(raw)
    tokens = text.tokenize(normalized)
    names = text.term_strings(normalized, tokens)
    return [names[int(term_id)] for term_id in text.terms(tokens).ids]


def is_word_character(character: str) -> bool:
    return unicodedata.category(character)[0] in "LMN" and ord(character) < 0x40000


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
    pointed_tokens = text.tokenize(text.normalize(pointed))
    plain_tokens = text.tokenize(text.normalize(plain))
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
            ["türkiye", "büyük", "millet", "meclisi", "bütçe", "görüşmelerine", "başladı"],
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
    ("sentence", "expected_numeric"),
    [
        ("Inflation hit 3.5 percent in 2024", {"3": True, "5": True, "2024": True, "inflation": False}),
        ("بلغ التضخم في عام ٢٠٢٤", {"٢٠٢٤": True, "عام": False}),
        ("２０２４年３月", {"2024": True, "年": False, "3": True, "月": False}),
        ("Covid19 und G7-Gipfel", {"covid19": False, "g7": False, "gipfel": False}),
    ],
    ids=["ascii-digits", "arabic-indic-digits", "full-width-digits-with-kanji", "letters-and-digits"],
)
def test_numeric_marks_tokens_made_only_of_digits(sentence: str, expected_numeric: dict[str, bool]) -> None:
    """`numeric` is set for tokens made only of digits in any script, not for words that contain digits."""
    normalized = text.normalize(sentence)
    tokens = text.tokenize(normalized)
    numeric = dict(zip(tokens.strings(normalized), tokens.numeric.tolist(), strict=True))
    assert {word: numeric[word] for word in expected_numeric} == expected_numeric


@pytest.mark.parametrize(
    "raw",
    ["", "   \n\t ", "— … «» ¡¿ !?,.;: () [] {}", "。、「」『』・！？", "\x00\x07\x1b\u200b\u200d\ufeff", "😀🇺🇦✅"],
    ids=["empty", "whitespace", "latin-punctuation", "cjk-punctuation", "controls-and-format", "emoji"],
)
def test_punctuation_whitespace_and_symbols_make_no_tokens(raw: str) -> None:
    """Text without letters or digits has no tokens at all."""
    tokens = text.tokenize(text.normalize(raw))
    assert len(tokens) == 0
    assert tokens.hashes.dtype == np.uint64


def test_token_offsets_count_code_points_past_astral_characters() -> None:
    """Offsets index the Python string, so astral characters (emoji, CJK extension B) do not shift them."""
    assert tokens_of("😀 Kyiv 𠀋𠀌 talks\x00resume") == ["kyiv", "𠀋", "𠀌", "talks", "resume"]


@given(tricky_text)
def test_tokens_cover_exactly_the_word_characters(raw: str) -> None:
    """Every letter, mark and digit lies in exactly one token, and tokens hold nothing else."""
    normalized = text.normalize(raw)
    tokens = text.tokenize(normalized)
    strings = tokens.strings(normalized)
    assert all(strings) and all(is_word_character(c) for token in strings for c in token)
    assert sum(len(token) for token in strings) == sum(is_word_character(c) for c in normalized)
    assert np.all(tokens.starts[1:] >= tokens.ends[:-1])
    assert tokens.numeric.tolist() == [all(unicodedata.category(c)[0] == "N" for c in s) for s in strings]


@given(word_text())
def test_equal_tokens_hash_equal_and_different_tokens_hash_differently(raw: str) -> None:
    """Token hashes are a function of the token string, and distinct tokens get distinct hashes."""
    normalized = text.normalize(raw)
    tokens = text.tokenize(normalized)
    pairs = set(zip(tokens.strings(normalized), tokens.hashes.tolist(), strict=True))
    by_string = {string for string, _ in pairs}
    by_hash = {token_hash for _, token_hash in pairs}
    assert len(pairs) == len(by_string) == len(by_hash)


def test_token_hash_does_not_depend_on_context() -> None:
    """The same word hashes alike in different texts, positions and surrounding punctuation."""
    first = text.tokenize(text.normalize("Zelensky met Starmer"))
    second = text.tokenize(text.normalize("«Starmer» (and Zelensky)"))
    assert first.hashes[0] == second.hashes[-1]
    assert first.hashes[2] == second.hashes[0]
    assert first.hashes[0] != first.hashes[2]


@given(unicode_text)
def test_tokenize_never_fails_on_arbitrary_unicode(raw: str) -> None:
    """Any text, including controls, unassigned and astral code points, tokenises into consistent arrays."""
    tokens = text.tokenize(text.normalize(raw))
    assert len(tokens.starts) == len(tokens.ends) == len(tokens.hashes) == len(tokens.numeric) == len(tokens.no_space)
    assert np.all(tokens.ends > tokens.starts)


# --- story terms -----------------------------------------------------------------------------------


def test_terms_exclude_numbers_and_one_character_words() -> None:
    """Numbers and single-character words are never story terms; longer words are."""
    assert sorted(term_names("Putin met Xi in 2024: a 3-hour talk, 1 deal")) == sorted(
        ["putin", "met", "xi", "in", "hour", "talk", "deal"]
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
    [("42", ["42"]), ("a b a", ["a", "b"]), ("国 务", ["国", "务"]), ("2026 x", ["2026", "x"])],
    ids=["number", "letters", "separated-characters", "number-and-letter"],
)
def test_a_text_without_terms_falls_back_to_its_tokens(raw: str, expected: list[str]) -> None:
    """Every text with a token has terms, so every stored article has a story signature."""
    assert sorted(term_names(raw)) == sorted(expected)


def test_terms_count_occurrences() -> None:
    """Each distinct term appears once in `ids` with the number of times it occurs."""
    normalized = text.normalize("Flood warnings: FLOOD, flood and storm. 洪水洪水")
    tokens = text.tokenize(normalized)
    terms = text.terms(tokens)
    names = text.term_strings(normalized, tokens)
    counts = {names[int(i)]: int(c) for i, c in zip(terms.ids, terms.counts, strict=True)}
    assert counts == {"flood": 3, "warnings": 1, "and": 1, "storm": 1, "洪水": 2, "水洪": 1}
    assert terms.ids.tolist() == sorted(set(terms.ids.tolist()))


@given(tricky_text)
def test_term_strings_name_every_term(raw: str) -> None:
    """`term_strings` has a readable string for every term id `terms` produces."""
    normalized = text.normalize(raw)
    tokens = text.tokenize(normalized)
    names = text.term_strings(normalized, tokens)
    assert all(int(term_id) in names for term_id in text.terms(tokens).ids)


def test_no_terms_in_a_text_without_words() -> None:
    """A text without tokens has no terms (and empty, well-typed arrays)."""
    terms = text.terms(text.tokenize(text.normalize("… — !? «» ·")))
    assert len(terms.ids) == 0 and len(terms.counts) == 0
