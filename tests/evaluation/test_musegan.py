"""MuseGAN's measures on hand-made rolls, exact values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cadenza.data.rolls import FRAME, LOW_PITCH, ONSET
from cadenza.evaluation.musegan import (
    empty_bars,
    musegan_measures,
    pitch_classes,
    qualified_notes,
    tonal_centroid,
    tonal_distance,
)


def roll_with(notes: list[tuple[int, int, int, int]], bars: int = 2) -> np.ndarray:
    """A (2, 4, bars * 16, 84) roll from (track, start step, length, MIDI pitch) notes."""
    roll = np.zeros((2, 4, bars * 16, 84), dtype=bool)
    for track, start, length, pitch in notes:
        roll[FRAME, track, start : start + length, pitch - LOW_PITCH] = True
        roll[ONSET, track, start, pitch - LOW_PITCH] = True
    return roll


def test_empty_bars_count_only_the_voices_that_sound():
    # voice 0 sounds in bar 1 only, voice 2 in both; voices 1 and 3 never (unused slots, not empty bars)
    roll = roll_with([(0, 0, 4, 60), (2, 0, 16, 48), (2, 16, 4, 50)])
    assert empty_bars(roll) == pytest.approx(1 / 4)
    assert math.isnan(empty_bars(np.zeros((2, 4, 32, 84), dtype=bool)))


def test_pitch_classes_per_sounding_bar():
    # bar 1: C, E, G and a C an octave up (3 classes); bar 2: D only (1 class)
    roll = roll_with([(0, 0, 4, 60), (0, 4, 4, 64), (0, 8, 4, 67), (0, 12, 4, 72), (0, 16, 16, 62)])
    assert pitch_classes(roll) == pytest.approx(2.0)


def test_qualified_notes_are_those_an_eighth_or_longer():
    roll = roll_with([(0, 0, 1, 60), (0, 1, 1, 62), (0, 2, 2, 64), (0, 4, 12, 65)])
    assert qualified_notes(roll) == pytest.approx(0.5)
    assert qualified_notes(roll, min_steps=1) == 1.0


def test_tonal_distance_is_zero_for_unisons_and_larger_for_a_tritone_than_a_fifth():
    unison = roll_with([(0, 0, 16, 60), (1, 0, 16, 48)], bars=1)
    fifth = roll_with([(0, 0, 16, 67), (1, 0, 16, 48)], bars=1)
    tritone = roll_with([(0, 0, 16, 66), (1, 0, 16, 48)], bars=1)
    assert tonal_distance(unison) == pytest.approx(0.0)
    assert 0 < tonal_distance(fifth) < tonal_distance(tritone)
    # Harte et al.: C's centroid lies on the three circles at radius 1, 1 and 0.5
    c = tonal_centroid(np.eye(12)[0])
    assert np.allclose(c, [0, 1, 0, 1, 0, 0.5])
    assert math.isnan(tonal_distance(roll_with([(0, 0, 16, 60)], bars=1)))  # one voice: no pair


def test_all_four_measures_come_together():
    assert set(musegan_measures(roll_with([(0, 0, 16, 60)]))) == {
        "empty_bars", "pitch_classes", "qualified_notes", "tonal_distance"
    }  # fmt: skip
