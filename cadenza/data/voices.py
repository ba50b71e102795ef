"""A voice's one identity: its slot, and the part name and instrument the source gave it.

The token stream tells voices apart by miditok's Program tokens, so the corpus gives every track of a
piece its own program (`cadenza.data.loading.normalize_score`): that program is the voice's **slot**.
A slot is an identity, not a sound: four chorale voices are slots 0-3, which General MIDI would play as
four kinds of piano. What the source said about the voice is kept beside it as data: its part name
("Soprano", "Violin I", "Cantus") and its instrument (a General MIDI program, when the source names one).
Lyrics, style profiles and rendering all refer to a voice by its slot.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Voice:
    slot: int  # the track's program in the normalized score (the Program token)
    name: str = ""  # the source's part name; "" when it has none
    program: int | None = None  # the source's General MIDI instrument; None when it names none


def voices_to_json(voices: list[Voice]) -> str:
    return json.dumps([asdict(voice) for voice in voices], ensure_ascii=False)


def voices_from_json(text: str) -> list[Voice]:
    return [Voice(**item) for item in json.loads(text or "[]")]
