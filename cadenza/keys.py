"""Keys and note names, in one place: how a key is read from text, spelled for a musician, offered in a
menu, how a pitch is named, and a score's key (music21's analysis, imported when a score is analysed, so
the app's menus need no model stack).

A key is (tonic pitch class, "major" | "minor"). Its name takes the tonic's spelling whose signature has
the fewest accidentals (Db major, C# minor; of the ties, F# major and Eb minor, the commoner), so the menu
offers what the finished piece reports and the score is written in.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cadenza.errors import CadenzaError

if TYPE_CHECKING:
    from symusic import Score

Key = tuple[int, str]  # (tonic pitch class, "major" | "minor")
MODES = ("major", "minor")
# By pitch class: the names of the key tokens, and of major keys.
TONICS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_RE = re.compile(r"^\s*([A-Ga-g])([#b-]?)\s*(m|min|minor|maj|major)?\s*$")
_MINOR_MODES = ("minor", "aeolian", "dorian", "phrygian", "locrian")


def parse_key(text: str) -> tuple[int, str | None]:
    """'F#', 'Bb minor', 'B- major' (music21's flat), 'am' -> (tonic pitch class, mode or None when not
    said)."""
    match = _KEY_RE.match(text)
    if not match:
        raise CadenzaError(
            f"cannot read key {text!r}; write a tonic like C, F#, Bb, optionally 'minor'/'major'"
        )
    letter, accidental, mode = match.groups()
    pc = (_LETTER_PC[letter.upper()] + {"#": 1, "b": -1, "-": -1, "": 0}[accidental]) % 12
    return pc, None if mode is None else (
        "minor" if mode.startswith("m") and not mode.startswith("maj") else "major"
    )


def annotated_key(text: str) -> Key:
    """A corpus annotation ("G major", "A dorian", "Bb minor") as a key token's (tonic, major/minor): a
    church mode keeps its tonic and takes the mode its third gives (dorian is minor, mixolydian major)."""
    tonic, _, mode = text.strip().partition(" ")
    return parse_key(tonic)[0], "minor" if mode.strip().lower() in _MINOR_MODES else "major"


def key_name(key: Key) -> str:
    """(9, "minor") -> "A minor"; (1, "minor") -> "C# minor"; (1, "major") -> "Db major"."""
    tonic, mode = key
    return f"{(_MINOR_TONICS if mode == 'minor' else TONICS)[tonic % 12]} {mode}"


KEY_CHOICES: tuple[str, ...] = tuple(key_name((tonic, mode)) for mode in MODES for tonic in range(12))


def pitch_name(pitch: int) -> str:
    """60 -> "C4" (scientific pitch notation, middle C = C4; the tonics' spelling)."""
    return f"{TONICS[pitch % 12]}{pitch // 12 - 1}"


# --- a score's key ------------------------------------------------------------------------------
DEFAULT_KEY = "C major"  # a file without a single note has no key to hear
MIN_KEY_PITCH_CLASSES = 3  # one note or a bare fifth has no key to hear (music21 would still name one)


def music21_key_name(k) -> str:
    """music21's Key as "Eb major" (its flats are written "-")."""
    return f"{k.tonic.name.replace('-', 'b')} {k.mode}"


def has_key(score: Score) -> bool:
    """Whether the score says or shows a key: a key signature, or `MIN_KEY_PITCH_CLASSES` pitch classes."""
    pitches = {n.pitch % 12 for track in score.tracks for n in track.notes}
    return len(score.key_signatures) > 0 or len(pitches) >= MIN_KEY_PITCH_CLASSES


def score_key(score: Score) -> str:
    """The key as "G major": the score's first key signature (with its mode), else `analysed_key`."""
    from music21 import key

    if len(score.key_signatures):
        signature = score.key_signatures[0]
        mode = "minor" if signature.tonality else "major"
        return music21_key_name(key.KeySignature(int(signature.key)).asKey(mode))
    return analysed_key(score)


def analysed_key(score: Score) -> str:
    """music21's key analysis (`stream.analyze("key")`: Krumhansl-Schmuckler with Aarden-Essen's weights)
    of the score's duration-weighted pitch-class profile, given as 12 notes, so it is fast. A note of no
    length still sounds its pitch: weighed as one tick, so a file of only such notes still has a profile
    (an empty one made music21 raise DiscreteAnalysisException)."""
    from music21 import note, stream
    from music21.analysis.discrete import AardenEssen

    weights = [0.0] * 12
    for track in score.tracks:
        for n in track.notes:
            weights[n.pitch % 12] += max(n.duration, 1)
    if not any(weights):
        return DEFAULT_KEY
    # The analysis correlates shapes, so the scale is free: the heaviest class lasts 1,000 quarters and
    # the others are rounded to 1/64 (music21 reads a far shorter length as something else).
    heaviest = max(weights)
    profile = stream.Stream()
    for pitch_class, weight in enumerate(weights):
        if weight:
            length = max(round(weight / heaviest * 64_000), 1) / 64
            profile.append(note.Note(60 + pitch_class, quarterLength=length))
    # `process` gives the best (tonic, mode) alone: `analyze` also builds a Key, with its scales, for
    # each of the 23 other keys, which was 7% of reading a kern file.
    tonic, mode, _ = AardenEssen().process(profile)[0]
    return f"{tonic.name.replace('-', 'b')} {mode}"
