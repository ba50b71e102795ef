"""Piano-roll segments of the GAN/VAE baselines: to a roll and back, on hand-made scores."""

from __future__ import annotations

import numpy as np
import symusic

from cadenza.data.rolls import (
    FRAME,
    LOW_PITCH,
    ONSET,
    SEGMENT_STEPS,
    TRACKS,
    roll_to_score,
    score_roll,
    segment_score,
    voice_slots,
)
from tests.conftest import make_piece


def notes_of(score: symusic.Score) -> list[tuple[int, int, int, int]]:
    """(slot, start, duration, pitch) in sixteenths."""
    grid = score.resample(4, min_dur=1)
    return sorted((t.program, n.time, n.duration, n.pitch) for t in grid.tracks for n in t.notes)


def test_a_roll_holds_frames_and_onsets_so_repeated_notes_stay_apart():
    score = symusic.Score(480)
    track = symusic.Track(program=1)
    for start in (0, 480):  # two quarter-note Cs in a row
        track.notes.append(symusic.Note(start, 480, 60, 80))
    score.tracks.append(track)
    roll = score_roll(score)
    assert roll.shape == (2, TRACKS, 8, 84)
    assert roll[FRAME, 0, :, 60 - LOW_PITCH].tolist() == [True] * 8  # one voice: the first slot
    assert np.flatnonzero(roll[ONSET, 0, :, 60 - LOW_PITCH]).tolist() == [0, 4]
    assert notes_of(roll_to_score(roll)) == [(0, 0, 4, 60), (0, 4, 4, 60)]


def test_voices_take_slots_from_the_highest_down_whatever_their_programs():
    score = symusic.Score(480)
    for program, pitch in ((53, 55), (48, 72), (54, 50), (52, 40), (49, 64)):  # choir programs, any order
        track = symusic.Track(program=program)
        track.notes.append(symusic.Note(0, 480, pitch, 80))
        score.tracks.append(track)
    assert voice_slots(score) == {1: 0, 4: 1, 0: 2, 2: 2, 3: 3}  # 5 voices: the inner two share slot 2
    roll = score_roll(score)
    sounding = [sorted(LOW_PITCH + p for p in np.flatnonzero(roll[FRAME, slot, 0])) for slot in range(TRACKS)]
    assert sounding == [[72], [64], [50, 55], [40]]


def test_piece_to_segments_and_back_keeps_every_note_on_the_grid():
    piece = make_piece(3, bars=8, voices=3)  # eighths and quarters: on the sixteenth grid
    segments = segment_score(piece)
    assert len(segments) == 2 and all(s.shape == (2, TRACKS, SEGMENT_STEPS, 84) for s in segments)
    whole = np.concatenate(segments, axis=2)
    end = 2 * SEGMENT_STEPS  # a note held past the last bar is cut at the segment's end
    expected = [
        (slot, start, min(start + length, end) - start, pitch)
        for slot, start, length, pitch in notes_of(piece)
    ]
    assert notes_of(roll_to_score(whole)) == expected


def test_other_meters_and_empty_segments_are_left_out():
    assert segment_score(make_piece(4, bars=8, voices=1, numerator=3)) == []
    piece = make_piece(5, bars=4, voices=1)
    silent = piece.shift_time(16 * 480)  # four empty bars first
    assert len(segment_score(silent)) == 1
    assert len(roll_to_score(np.zeros((2, TRACKS, SEGMENT_STEPS, 84), dtype=bool)).tracks) == 0
