"""Exact values of the metric functions on tiny hand-made pieces."""

from __future__ import annotations

import numpy as np
import pytest
import symusic

from cadenza.evaluation.metrics import (
    describe,
    mean_pitch,
    note_density,
    pitch_class_histogram,
    pitch_range,
    polyphony,
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


def test_empty_score_gives_zeros():
    empty = score_of([])
    assert pitch_range(empty) == 0
    assert polyphony(empty) == 0.0
    assert note_density(empty) == 0.0
    assert mean_pitch(empty) == 0.0
    assert pitch_class_histogram(empty).tolist() == [0.0] * 12


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
