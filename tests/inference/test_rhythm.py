"""The lyrics -> rhythm model (`inference.rhythm`): training rows worked out by hand, templates drawn from a
model of real chorales, its save and load, and the template in REMI's positions."""

from __future__ import annotations

import music21
import numpy as np
import pytest
import symusic

from cadenza.data.streams import song_scores
from cadenza.data.syllables import Syllable
from cadenza.errors import CadenzaError, InputFileError
from cadenza.inference.rhythm import (
    FEATURES,
    Note,
    RhythmModel,
    bar_cells,
    fit_rhythm,
    remi_rhythm,
    song_rows,
)

Q = 480


def _texted(notes: list[tuple[float, float, str | None]]) -> symusic.Score:
    """One sung line in 4/4: (onset, length in quarters, lyric event or None for a melisma's note)."""
    score = symusic.Score(Q)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    track = symusic.Track()
    for onset, length, text in notes:
        track.notes.append(symusic.Note(int(onset * Q), int(length * Q), 67, 80))
        if text is not None:
            track.lyrics.append(symusic.TextMeta(int(onset * Q), text))
    score.tracks.append(track)
    return score


def test_song_rows_by_hand():
    # "Ky-" on a quarter carried on by a melisma quarter, "e," a quarter then a quarter's rest, "son" a
    # half on the next bar's downbeat. Steps (sixteenths): 8, 8, and the last's own length 8; sung 8, 4, 8.
    score = _texted([(0, 1, "Ky-"), (1, 1, None), (2, 1, "e,"), (4, 2, "son")])
    features, steps, breaths = song_rows(score, "la", style=2)
    column = {name: features[:, i].tolist() for i, name in enumerate(FEATURES)}
    assert steps.tolist() == [8, 8, 8] and breaths.tolist() == [0, 4, 0]
    assert column["position"] == [0, 8, 0] and column["bar_length"] == [16, 16, 16]
    assert column["to_beat"] == [4, 4, 4] and column["to_strong"] == [8, 8, 8]  # 4/4: strong on 1 and 3
    assert column["word_start"] == [1, 0, 1] and column["word_end"] == [0, 1, 1]
    assert column["line_end"] == [0, 1, 0] and column["song_end"] == [0, 0, 1]
    assert column["into_line"] == [0, 1, 0] and column["left_in_line"] == [1, 0, 0]
    assert column["previous_step"] == [0, 8, 8] and column["style"] == [2, 2, 2]
    assert column["stressed"] == [1, 0, 1]  # Latin: "KY-e" on its first, "son" a word of one


@pytest.fixture(scope="module")
def model() -> RhythmModel:
    names = ["bwv10.7", "bwv26.6", "bwv40.6", "bwv145.5", "bwv227.7", "bwv115.6"]
    songs = [song_scores(music21.corpus.parse(f"bach/{name}"))[0] for name in names]
    return fit_rhythm([{"midi": s.dumps_midi(), "language": "German", "style": "bach"} for s in songs])


SYLLABLES = [Syllable(t, e) for t, e in [("Herz", False), ("lich", True), ("tut", True), ("mich", True),
             ("ver", False), ("lan", False), ("gen,", True), ("nach", True), ("ei", False), ("nem", True),
             ("End.", True)]]  # fmt: skip


def test_a_template_gives_each_syllable_one_note_and_leaves_no_bar_empty(model):
    for meter in ((4, 4), (3, 4), (6, 8)):
        notes = model.template(SYLLABLES, "de", "bach", meter, seed=1)
        cells = bar_cells(*meter)
        assert len(notes) == len(SYLLABLES) and notes[0].onset == 0
        for note, after in zip(notes, notes[1:], strict=False):
            assert 1 <= note.length <= after.onset - note.onset
            assert after.onset // cells - note.onset // cells <= 1
    assert model.template(SYLLABLES, "de", "bach", seed=4) == model.template(SYLLABLES, "de", "bach", seed=4)
    with pytest.raises(CadenzaError, match="the rhythm model knows bach"):
        model.template(SYLLABLES, "de", "folk")


def test_the_model_learned_the_chorales_rhythm(model):
    # The chorales sing quarter notes and hold a line's end: most steps a quarter, line ends longer.
    notes = [n for seed in range(5) for n in model.template(SYLLABLES, "de", "bach", seed=seed)]
    steps = [n.length for n in notes]
    assert np.mean([s == 4 for s in steps]) > 0.5
    line_end = [
        n.length for seed in range(5) for n in model.template(SYLLABLES, "de", "bach", seed=seed)[6:7]
    ]
    assert np.mean(line_end) > 4


def test_a_saved_model_loads_and_draws_the_same(model, tmp_path):
    model.save(tmp_path / "rhythm.npz")
    loaded = RhythmModel.load(tmp_path / "rhythm.npz")
    assert loaded.template(SYLLABLES, "de", "bach", seed=2) == model.template(SYLLABLES, "de", "bach", seed=2)
    with pytest.raises(InputFileError, match="no rhythm model here"):
        RhythmModel.load(tmp_path / "missing.npz")


def test_remi_rhythm_by_hand():
    # 3/4: 12 sixteenths a bar, 2 positions a sixteenth; 6/8: 12 a bar, 4 positions a sixteenth
    assert remi_rhythm([Note(0, 4), Note(14, 6)], (3, 4), 8) == [(0, 0, 1.0), (1, 4, 1.5)]
    assert remi_rhythm([Note(5, 1)], (6, 8), 8) == [(0, 20, 0.25)]
