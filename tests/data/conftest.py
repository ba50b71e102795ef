"""Score files made in the test: symusic for MIDI, music21 and ABC text for the other formats."""

from __future__ import annotations

from pathlib import Path

import pytest
from symusic import Note, Score, Track

ABC_TWO_TUNES = """X:1
T:First Tune
M:3/4
L:1/8
K:G
GABc d2|e2 d2 B2|GABc d2|B2 A2 G2|]

X:2
T:Second Tune
M:4/4
L:1/8
K:Dm
DEFG A2 d2|c2 A2 F2 D2|]
"""


def make_score(tracks: list[tuple[int, bool, list[tuple[int, int, int]]]], tpq: int = 480) -> Score:
    """tracks: (program, is_drum, [(time, duration, pitch)]) in ticks."""
    score = Score(tpq)
    for index, (program, is_drum, notes) in enumerate(tracks):
        track = Track(f"t{index}", program, is_drum)
        for time, duration, pitch in notes:
            track.notes.append(Note(time, duration, pitch, 80))
        score.tracks.append(track)
    return score


@pytest.fixture
def two_voice_midi(tmp_path: Path) -> Path:
    score = make_score(
        [
            (0, False, [(0, 480, 72), (480, 480, 74), (960, 960, 76)]),
            (0, False, [(0, 960, 60), (960, 960, 55)]),
            (0, True, [(0, 240, 36)]),
        ]
    )
    path = tmp_path / "two_voices.mid"
    score.dump_midi(path)
    return path


@pytest.fixture
def chorale_mxl(tmp_path: Path) -> Path:
    from music21 import key, meter, note, stream

    part = stream.Part()
    part.append(meter.TimeSignature("3/4"))
    part.append(key.Key("D"))
    for pitch, text, syllabic in [("D4", "Hal", "begin"), ("F#4", "le", "middle"), ("A4", "lu", "end")]:
        n = note.Note(pitch, quarterLength=1)
        n.addLyric(text)
        n.lyrics[0].syllabic = syllabic
        part.append(n)
    score = stream.Score([part])
    path = tmp_path / "hallelu.mxl"
    score.write("mxl", fp=path)
    return path


@pytest.fixture
def abc_collection(tmp_path: Path) -> Path:
    path = tmp_path / "tunes.abc"
    path.write_text(ABC_TWO_TUNES)
    return path
