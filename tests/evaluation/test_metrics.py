"""Exact values of the metric functions on tiny hand-made pieces."""

from __future__ import annotations

import numpy as np
import pytest
import symusic

from cadenza.evaluation.metrics import (
    LENGTH_CLASSES,
    describe,
    empty_beat_rate,
    groove_consistency,
    ioi_histogram,
    mean_pitch,
    note_density,
    note_length_histogram,
    notes_key,
    pitch_class_entropy,
    pitch_class_histogram,
    pitch_classes_used,
    pitch_interval_histogram,
    pitch_range,
    polyphony,
    scale_consistency,
)


def score_of(*tracks: list[tuple[int, int, int]], tpq: int = 4) -> symusic.Score:
    """A score from tracks of (start, duration, pitch) notes."""
    score = symusic.Score(tpq)
    for i, notes in enumerate(tracks):
        track = symusic.Track(program=i)
        for start, duration, pitch in notes:
            track.notes.append(symusic.Note(start, duration, pitch, 80))
        score.tracks.append(track)
    return score


SCALARS = [
    pitch_range, polyphony, note_density, mean_pitch, pitch_classes_used, pitch_class_entropy,
    scale_consistency, empty_beat_rate, groove_consistency,
]  # fmt: skip
HISTOGRAMS = [pitch_class_histogram, note_length_histogram, ioi_histogram, pitch_interval_histogram]


@pytest.mark.parametrize("metric", SCALARS + HISTOGRAMS)
def test_an_empty_score_gives_nan(metric):
    assert np.isnan(metric(score_of([]))).all()
    assert np.isnan(metric(symusic.Score(4))).all()


def test_monophonic_line():
    line = score_of([(0, 4, 60), (4, 4, 62), (8, 4, 67)])  # three quarter notes
    assert pitch_range(line) == 7
    assert polyphony(line) == 1.0  # a note ending where the next starts does not overlap it
    assert note_density(line) == 1.0  # 3 notes in 3 quarters
    assert mean_pitch(line) == pytest.approx(63.0)


def test_polyphony_counts_held_notes_and_zero_length_notes():
    # onsets 0, 4, 8: at 0 two notes start; at 4 the half note is still held; at 8 only a zero-length note
    piece = score_of([(0, 4, 60), (0, 8, 64), (4, 4, 67), (8, 0, 72)])
    assert polyphony(piece) == pytest.approx((2 + 2 + 1) / 3)
    assert pitch_range(piece) == 12
    assert note_density(piece) == 2.0  # 4 notes over 8 ticks = 2 quarters


def test_metrics_read_all_tracks_together():
    chords = score_of([(0, 8, 48)], [(0, 4, 64), (4, 4, 65)], [(2, 2, 79)])
    assert pitch_range(chords) == 31
    # onsets 0 (48, 64), 2 (48, 64, 79), 4 (48, 65)
    assert polyphony(chords) == pytest.approx((2 + 3 + 2) / 3)
    assert note_density(chords) == 2.0  # 4 notes over 2 quarters


def test_pitch_class_histogram_counts_notes_not_durations():
    piece = score_of([(0, 16, 60), (0, 1, 72), (1, 1, 64), (2, 1, 67)])
    expected = np.zeros(12)
    expected[[0, 4, 7]] = [0.5, 0.25, 0.25]
    assert pitch_class_histogram(piece).tolist() == expected.tolist()


def test_describe_collects_the_scalars():
    line = score_of([(0, 4, 60), (4, 4, 62)])
    assert describe(line) == {
        "pitch_range": 2.0,
        "polyphony": 1.0,
        "note_density": 1.0,
        "mean_pitch": 61.0,
        "num_notes": 2.0,
    }


def one_hot_share(*pairs: tuple[int, float], size: int) -> list[float]:
    out = [0.0] * size
    for index, share in pairs:
        out[index] = share
    return out


# C quarter, D and E eighths, G half: one 4/4 bar at 4 ticks per quarter
TUNE = [(0, 4, 60), (4, 2, 62), (6, 2, 64), (8, 8, 67)]


def test_muspy_pitch_measures():
    tune = score_of(TUNE)
    assert pitch_classes_used(tune) == 4.0
    assert pitch_class_entropy(tune) == pytest.approx(2.0)  # four classes, one note each: log2(4) bits
    assert scale_consistency(tune) == 1.0  # all in C major
    chromatic = score_of([(i, 1, 60 + i) for i in range(12)])
    assert scale_consistency(chromatic) == pytest.approx(7 / 12)


def test_muspy_rhythm_measures():
    tune = score_of(TUNE)
    assert empty_beat_rate(tune) == 0.0  # every beat has a note sounding (muspy adds the beat at the end)
    # beats 0 and 3 played; muspy marks a note's end beat too (1 and 4), so only beat 2 of 0-4 is empty
    gappy = score_of([(0, 4, 60), (12, 4, 60)])
    assert empty_beat_rate(gappy) == pytest.approx(1 / 5)
    # two bars with the same onsets, then muspy's empty bar after the end: at 12 ticks a quarter (48 a
    # bar) the 4 onsets of bar 2 are the only positions that differ, of 2 x 48 compared
    twice = score_of(TUNE + [(16 + s, d, p) for s, d, p in TUNE])
    assert groove_consistency(twice) == pytest.approx(1 - 4 / 96)
    # the same music at the corpus' resolution gives the same value
    assert groove_consistency(twice.resample(10080, min_dur=1)) == groove_consistency(twice)


def test_note_length_and_ioi_histograms():
    tune = score_of(TUNE)
    classes = list(LENGTH_CLASSES)
    quarter, eighth, half = classes.index(1), classes.index(1 / 2), classes.index(2)
    assert note_length_histogram(tune).tolist() == one_hot_share(
        (half, 0.25), (quarter, 0.25), (eighth, 0.5), size=12
    )
    # onsets 0, 4, 6, 8: gaps of a quarter, an eighth, an eighth
    assert ioi_histogram(tune).tolist() == pytest.approx(
        one_hot_share((quarter, 1 / 3), (eighth, 2 / 3), size=12)
    )
    triplets = score_of([(0, 1, 60), (1, 1, 62), (2, 1, 64)], tpq=3)  # eighth-note triplets
    assert note_length_histogram(triplets)[classes.index(1 / 3)] == 1.0


def test_pitch_interval_histogram_is_per_track():
    # up 2, up 2, up 3 in one track; a second track's leap of an octave and a half is clipped to +12
    piece = score_of(TUNE, [(0, 4, 40), (4, 4, 58)])
    assert pitch_interval_histogram(piece).tolist() == one_hot_share(
        (14, 0.5), (15, 0.25), (24, 0.25), size=25
    )


def test_notes_key_is_the_set_of_onsets_and_pitches_whatever_the_tracks():
    def score(tracks: list[list[tuple[int, int]]]) -> symusic.Score:
        s = symusic.Score(480)
        for notes in tracks:
            track = symusic.Track()
            for time, pitch in notes:
                track.notes.append(symusic.Note(time, 480, pitch, 80))
            s.tracks.append(track)
        return s

    a = score([[(0, 60), (480, 62)], [(0, 48)]])
    assert notes_key(a) == notes_key(score([[(0, 48)], [(480, 62), (0, 60)]]))  # other tracks, same notes
    assert notes_key(a) != notes_key(score([[(0, 60), (480, 64)], [(0, 48)]]))
