"""Degenerate prompt files (one note, a note of no length or of the longest length allowed, one chord, a
repeated pitch, the pitch range's ends) are continued and rendered, or refused in one line: never a
traceback from an analysis of them (key, meter, voices, range)."""

from __future__ import annotations

import pytest
import symusic

from cadenza.errors import CadenzaError
from cadenza.inference.composer import SHORT_PROMPT_KEY
from cadenza.inference.render import render_piece

TPQ = 480
LONGEST = 256 * TPQ  # checks.MAX_NOTE_QUARTERS
CASES = {
    "one note": [(0, TPQ, 60)],
    "a note of no length": [(0, 0, 60)],
    "the longest note allowed": [(0, LONGEST, 60)],
    "a longest note and two short ones": [(0, LONGEST, 60), (LONGEST, 1, 64), (LONGEST + 1, 1, 67)],
    "one chord": [(0, TPQ * 4, p) for p in (60, 64, 67)],
    "two notes": [(0, TPQ, 60), (TPQ, TPQ, 67)],
    "a repeated pitch": [(i * TPQ // 2, TPQ // 2, 62) for i in range(64)],
    "pitch 0 and 127": [(0, TPQ, 0), (TPQ, TPQ, 127)],
}


@pytest.mark.parametrize("case", CASES)
def test_a_degenerate_prompt_is_continued_or_refused_in_one_line(case, composer, tmp_path):
    score = symusic.Score(TPQ)
    track = symusic.Track()
    for time, duration, pitch in CASES[case]:
        track.notes.append(symusic.Note(time, duration, pitch, 80))
    score.tracks.append(track)
    path = tmp_path / "prompt.mid"
    score.dump_midi(str(path))
    try:
        (piece,) = composer.generate("bach", bars=1, seed=0, prompt_midi=path, prompt_bars=2)
    except CadenzaError as err:
        assert "\n" not in str(err) and str(path) in str(err)
        return
    assert piece.key is not None
    written = render_piece(piece, tmp_path / "out", "piece", ["mid", "musicxml"], whole=True)
    assert all(p.stat().st_size > 0 for p in written.values())


def test_a_prompt_too_short_to_have_a_key_is_continued_in_the_model_s_key_and_says_so(
    composer, prompt_midi, tmp_path
):
    score = symusic.Score(TPQ)
    track = symusic.Track()
    track.notes.append(symusic.Note(0, TPQ * 4, 60, 80))
    score.tracks.append(track)
    path = tmp_path / "one.mid"
    score.dump_midi(str(path))
    (piece,) = composer.generate("bach", bars=1, seed=0, prompt_midi=path)
    assert piece.key is not None and piece.key_note == SHORT_PROMPT_KEY
    (whole,) = composer.generate("bach", bars=1, seed=0, prompt_midi=prompt_midi)
    assert whole.key_note is None  # a real prompt keeps its own key
