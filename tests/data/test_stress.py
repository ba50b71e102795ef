"""Stress per language on hand-picked words (`data.stress`)."""

from __future__ import annotations

import pytest

from cadenza.data.stress import stresses
from cadenza.data.syllables import Syllable


def _words(*words: str) -> list[Syllable]:
    """Syllables of hyphenated words: "Twin-kle" -> Twin (goes on), kle (word end)."""
    out = []
    for word in words:
        parts = word.split("-")
        out += [Syllable(part, i == len(parts) - 1) for i, part in enumerate(parts)]
    return out


def _marked(words: tuple[str, ...], language: str) -> str:
    syllables = _words(*words)
    flags = stresses(syllables, language)
    return " ".join(s.text.upper() if f else s.text for s, f in zip(syllables, flags, strict=True))


@pytest.mark.parametrize(
    ("words", "language", "expected"),
    [
        (("Twin-kle", "the", "a-bove", "dia-mond"), "en", "TWIN kle the a BOVE DIA mond"),
        (("Zwurk-pa",), "en", "ZWURK pa"),  # not in cmudict: the first syllable
        (("Herz-lich", "ver-lan-gen", "und", "Gott,"), "German", "HERZ lich ver LAN gen und GOTT,"),
        (("mo-ri-re,", "cit-tà", "di", "vo-le-te"), "Italian", "mo RI re, cit TÀ di vo LE te"),
        (("Do-mi-nus", "re-demp-tor", "Chri-ste", "et"), "la", "DO mi nus re DEMP tor CHRI ste et"),
        (("ai-me", "a-mour", "le"), "French", "AI me a MOUR le"),
        (("Ta-ka-ra",), "ja", "TA ka ra"),  # any other language: the first syllable
    ],
)
def test_each_language_stresses_its_words_by_its_rule(words, language, expected):
    assert _marked(words, language) == expected


def test_a_text_cut_inside_a_word_still_gets_one_flag_per_syllable():
    syllables = [Syllable("Her", False), Syllable("zlich", True), Syllable("ver", False)]
    assert len(stresses(syllables, "de")) == 3
