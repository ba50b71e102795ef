"""The piano-roll view of a score (the GAN and VAE baselines' data, the MuseGAN metrics), and back.

A segment is `SEGMENT_BARS` bars of 4 quarter notes at `STEPS_PER_QUARTER` steps a quarter, for `TRACKS`
voice slots over `PITCHES` pitches from `LOW_PITCH`: an array (channels, tracks, steps, pitches) with
channel 0 the frames (a note sounds) and channel 1 the onsets (a note starts), so repeated notes stay
apart. symusic makes the roll (`Score.pianoroll` on the score resampled to sixteenths); `roll_to_score`
makes notes again, so a baseline's output goes through the same writers and evaluation as the transformer's.

A score's voices take the slots from the highest to the lowest (by mean pitch), as a chorale's soprano,
alto, tenor and bass: the corpus's tracks carry General MIDI programs (a Palestrina voice is a choir
program in the 50s), so a program says nothing about a voice's place. Beyond `TRACKS` voices the lowest
keeps the last slot and the inner voices share the one above it (the outer voices carry the harmony).

Only duple and quadruple meters (2/4, 4/4, 2/2, 4/2) cut into whole 4-quarter bars; pieces in other
meters are left out of the baselines' data (`segment_score` returns none for them).
"""

from __future__ import annotations

import numpy as np
import symusic

STEPS_PER_QUARTER = 4  # sixteenth notes
BAR_STEPS = 4 * STEPS_PER_QUARTER
SEGMENT_BARS = 4
SEGMENT_STEPS = SEGMENT_BARS * BAR_STEPS
LOW_PITCH, PITCHES = 24, 84  # C1 .. B7
TRACKS = 4
FRAME, ONSET = 0, 1
DUPLE_METERS = {(2, 4), (4, 4), (2, 2), (4, 2)}


def voice_slots(score: symusic.Score) -> dict[int, int]:
    """Track index -> voice slot, for the tracks that hold notes: highest voice first."""
    sounding = [i for i, track in enumerate(score.tracks) if len(track.notes)]
    order = sorted(sounding, key=lambda i: -float(np.mean([n.pitch for n in score.tracks[i].notes])))
    if len(order) <= TRACKS:
        return {i: rank for rank, i in enumerate(order)}
    last = len(order) - 1
    return {i: TRACKS - 1 if rank == last else min(rank, TRACKS - 2) for rank, i in enumerate(order)}


def score_roll(score: symusic.Score) -> np.ndarray:
    """The whole score as a bool roll (2, TRACKS, steps, PITCHES)."""
    grid = score.resample(STEPS_PER_QUARTER, min_dur=1)
    steps = max(grid.end(), 1)
    roll = np.zeros((2, TRACKS, steps, PITCHES), dtype=bool)
    for index, slot in voice_slots(grid).items():
        track = grid.tracks[index]
        single = symusic.Score(STEPS_PER_QUARTER)
        single.tracks.append(track)
        # symusic: (modes, tracks, pitches, time) for the modes asked, here frame then onset
        layers = single.pianoroll(modes=["frame", "onset"], pitch_range=(LOW_PITCH, LOW_PITCH + PITCHES))
        width = min(layers.shape[-1], steps)
        roll[:, slot, :width] |= layers[:, 0, :, :width].transpose(0, 2, 1).astype(bool)
    return roll


def is_duple(score: symusic.Score) -> bool:
    """Whether every meter of the score cuts into whole 4-quarter bars."""
    meters = {(ts.numerator, ts.denominator) for ts in score.time_signatures} or {(4, 4)}
    return meters <= DUPLE_METERS


def segment_score(
    score: symusic.Score, hop_bars: int = SEGMENT_BARS, bars: int = SEGMENT_BARS
) -> list[np.ndarray]:
    """The score's `bars`-bar segments, every `hop_bars` bars from the first, that hold a note; none for a
    score whose meter is not duple or quadruple."""
    if not is_duple(score):
        return []
    roll, length = score_roll(score), bars * BAR_STEPS
    starts = range(0, roll.shape[2] - length + 1, hop_bars * BAR_STEPS)
    return [roll[:, :, s : s + length] for s in starts if roll[FRAME, :, s : s + length].any()]


def roll_to_score(
    roll: np.ndarray, qpm: float = 100.0, programs: tuple[int, ...] = (0, 1, 2, 3)
) -> symusic.Score:
    """Notes from a bool roll (2, tracks, steps, pitches): a note starts at an onset, or where a frame run
    starts without one, and lasts while its frames do, up to the next onset of its pitch. Track i gets
    voice slot `programs[i]`; tracks without notes are left out."""
    score = symusic.Score(STEPS_PER_QUARTER)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    score.tempos.append(symusic.Tempo(0, qpm))
    frames, onsets = roll[FRAME].astype(bool), roll[ONSET].astype(bool) & roll[FRAME].astype(bool)
    for index in range(frames.shape[0]):
        track = symusic.Track(program=programs[index])
        for pitch in range(frames.shape[2]):
            sounding, starting = frames[index, :, pitch], onsets[index, :, pitch]
            start = None
            for step in range(len(sounding) + 1):
                on = step < len(sounding) and sounding[step]
                if start is not None and (not on or starting[step]):
                    track.notes.append(symusic.Note(start, step - start, LOW_PITCH + pitch, 80))
                    start = None
                if on and start is None:
                    start = step
        if len(track.notes):
            track.notes.sort()
            score.tracks.append(track)
    return score
