"""Style tags: which music21 corpus folders make up each embedded style, what a user's tag may be, and the
General MIDI sound each style's voices are rendered with (`STYLE_SOUNDS`)."""

from __future__ import annotations

import re

from cadenza.errors import CadenzaError

# style tag -> music21 corpus sub-folders; the order of this mapping is the order of EMBEDDED_STYLES,
# which later stages use as token order, so it must only ever grow at the end.
STYLE_FOLDERS: dict[str, tuple[str, ...]] = {
    "bach": ("bach",),
    "palestrina": ("palestrina",),
    "monteverdi": ("monteverdi",),
    "trecento": ("trecento",),
    "josquin": ("josquin",),
    "classical": ("beethoven", "mozart", "haydn"),
    "essen_folk": ("essenFolksong",),
    "irish_fiddle": ("ryansMammoth", "oneills1850"),
}

EMBEDDED_STYLES: tuple[str, ...] = tuple(STYLE_FOLDERS)

# Roman-numeral analyses (.rntxt) and notes (.txt) sit next to the scores but are not music.
SKIPPED_SUFFIXES: frozenset[str] = frozenset({".rntxt", ".txt"})

_STYLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def validate_style_name(name: str) -> str:
    """Return `name` if it can be a style tag (it becomes a token and a folder name), else raise."""
    if not _STYLE_NAME.match(name):
        raise CadenzaError(
            f"invalid style name {name!r}: use 1-32 characters, lowercase letters, digits and _, "
            "starting with a letter"
        )
    return name


def parse_style_list(text: str) -> tuple[str, ...]:
    """Turn a comma list like "bach,irish_fiddle" into embedded style tags, in EMBEDDED_STYLES order."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STYLE_FOLDERS]
    if unknown or not names:
        raise CadenzaError(
            f"unknown style(s) {', '.join(unknown) or repr(text)}; valid: {', '.join(EMBEDDED_STYLES)}"
        )
    return tuple(style for style in EMBEDDED_STYLES if style in names)


# style tag -> the General MIDI program its voices play in rendered files (MIDI, MusicXML's midi-program,
# WAV), so a chorale sounds like a choir and not like the four pianos its voice slots are numbered as
# (`cadenza.data.voices`); `cadenza.inference.render.voice_sound` applies it. None: each voice plays the
# instrument its source named (the quartets' Violin, Viola and Cello), else OWN_SOUND_FALLBACK. A style
# missing here (a user's own, a fine-tuned one) plays its voices' own instruments, else their slot
# programs. docs/generation.md has the table with the instruments' names; every embedded style needs an
# entry (a test checks).
STYLE_SOUNDS: dict[str, int | None] = {
    "bach": 52,  # Choir Aahs: the chorales are sung
    "palestrina": 53,  # Voice Oohs: Renaissance vocal polyphony, unaccompanied
    "monteverdi": 53,
    "trecento": 53,
    "josquin": 53,
    "classical": None,  # string quartets: the source names each part's instrument
    "essen_folk": 53,  # Voice Oohs: folk songs, one sung line
    "irish_fiddle": 40,  # Violin
}

# What a None style plays for a voice whose source named no instrument: String Ensemble 1, since the one
# such style is the string quartets.
OWN_SOUND_FALLBACK = 48
