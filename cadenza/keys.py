"""Keys and note names, in one place: how a key is read from text, spelled for a musician, offered in a
menu, and how a pitch is named. Standard library only, so the app's menus need no model stack.

A key is (tonic pitch class, "major" | "minor"). Its name takes the tonic's spelling whose signature has
the fewest accidentals (Db major, C# minor; of the ties, F# major and Eb minor, the commoner), so the menu
offers what the finished piece reports and the score is written in.
"""

from __future__ import annotations

import re

from cadenza.errors import CadenzaError

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
