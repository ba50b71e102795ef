"""Harmony metrics on hand-made pieces whose values are worked out by hand."""

from __future__ import annotations

import math

import pytest
import symusic

from cadenza.evaluation.harmony import (
    chord_share,
    consonance,
    is_consonant,
    melodic_moves,
    parallel_bars,
    parallel_perfects,
    segments,
    voice_crossings,
    voice_leading,
    voice_ranges,
)

Q = 480  # ticks per quarter


def voices(*lines: list[tuple[int, int]]) -> symusic.Score:
    """One track per line; a line is (pitch, quarters) notes one after another; pitch 0 is a rest."""
    score = symusic.Score(Q)
    for line in lines:
        track, time = symusic.Track(), 0
        for pitch, quarters in line:
            if pitch:
                track.notes.append(symusic.Note(time, quarters * Q, pitch, 80))
            time += quarters * Q
        score.tracks.append(track)
    return score


def test_segments_cut_where_any_voice_changes():
    score = voices([(72, 2)], [(60, 1), (64, 1)])
    assert [(s.start, s.end, s.pitches, s.voices) for s in segments(score)] == [
        (0, Q, (60, 72), (72, 60)),
        (Q, 2 * Q, (64, 72), (72, 64)),
    ]


@pytest.mark.parametrize(
    ("pitches", "consonant"),
    [
        ((60, 64, 67), True),  # C major triad
        ((60, 65), False),  # a fourth above the bass
        ((55, 60, 64), False),  # second inversion: a fourth above the bass
        ((48, 60, 65, 69), False),  # F is a fourth above the bass C
        ((48, 55, 60, 64), True),  # open C major
        ((60, 67, 71), False),  # a seventh above the bass
        ((48, 64, 67, 72), True),
        ((48, 57, 62), False),  # upper voices a fourth apart (fine) but D is a ninth above the bass
    ],
)
def test_consonance_rule(pitches, consonant):
    assert is_consonant(pitches) is consonant


def test_consonance_is_weighted_by_time():
    # 3 quarters of a C major third (consonant), 1 quarter of C against D (dissonant)
    score = voices([(64, 3), (62, 1)], [(60, 4)])
    assert consonance(score) == pytest.approx(0.75)


def test_chord_share_counts_triads_and_sevenths_only():
    # a C major triad (2 quarters), a G7 (1 quarter), a cluster C-D-E (1 quarter); an incomplete G7
    # (no D, 1 quarter) is neither for music21
    score = voices(
        [(67, 2), (65, 1), (64, 1), (65, 1)],
        [(64, 2), (62, 1), (62, 1), (59, 1)],
        [(60, 2), (59, 1), (60, 1), (55, 1)],
        [(48, 2), (43, 1), (0, 2)],
    )
    assert chord_share(score) == pytest.approx(0.6)


def test_parallel_fifths_and_octaves_per_100_steps():
    # fifths C-G -> D-A (parallel), then contrary motion to a third, then octaves moving in parallel
    upper = [(67, 1), (69, 1), (64, 1), (72, 1), (74, 1)]
    lower = [(60, 1), (62, 1), (60, 1), (60, 1), (62, 1)]
    # steps: 60/67->62/69 parallel 5th; 62/69->60/64 contrary; 60/64->60/72 one voice moves;
    # 60/72->62/74 parallel octaves -> 2 of 4 steps
    assert parallel_perfects(voices(upper, lower)) == pytest.approx(50.0)


def test_parallel_bars_name_the_bar_each_parallel_arrives_in():
    # in 2/4 (two quarters a bar): the fifths arrive on beat 2 of bar 0, the octaves on beat 1 of bar 2
    upper = [(67, 1), (69, 1), (64, 1), (72, 1), (74, 1)]
    lower = [(60, 1), (62, 1), (60, 1), (60, 1), (62, 1)]
    score = voices(upper, lower)
    score.time_signatures.append(symusic.TimeSignature(0, 2, 4))
    assert parallel_bars(score) == [0, 2]
    assert parallel_bars(voices([(67, 1), (64, 1)], [(60, 1), (60, 1)])) == []


def test_voice_leading_steps_carry_their_ticks():
    upper = [(67, 1), (69, 1), (64, 1), (72, 1), (74, 1)]
    lower = [(60, 1), (62, 1), (60, 1), (60, 1), (62, 1)]
    assert voice_leading(voices(upper, lower)) == [(Q, True), (2 * Q, False), (3 * Q, False), (4 * Q, True)]


def test_melodic_moves_per_track_between_top_notes():
    score = voices([(60, 1), (74, 1), (74, 1), (0, 1), (59, 1)], [(48, 2), (43, 2)])
    score.tracks[1].notes.append(symusic.Note(0, Q, 55, 80))  # a chord: its top note, G3, moves
    # the upper voice: up a ninth, a repeat, then across a rest down 15 semitones; the lower: G3 -> G2
    assert melodic_moves(score) == [(Q, 14), (2 * Q, 0), (2 * Q, 12), (4 * Q, 15)]


def test_voice_crossings_share_of_time():
    # the upper voice (higher on average) dips below the lower one for 1 of 4 quarters
    score = voices([(72, 1), (72, 1), (58, 1), (72, 1)], [(60, 4)])
    assert voice_crossings(score) == pytest.approx(0.25)


def test_voice_ranges():
    assert voice_ranges(voices([(72, 1), (79, 1)], [(48, 1), (60, 1)])) == [7, 12]


def test_one_voice_or_nothing_gives_nan():
    melody = voices([(60, 1), (62, 1)])
    for metric in (consonance, chord_share, parallel_perfects, voice_crossings):
        assert math.isnan(metric(melody))
        assert math.isnan(metric(symusic.Score(Q)))
    assert voice_ranges(symusic.Score(Q)) == []
