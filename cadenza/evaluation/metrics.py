"""Pure metric functions on symusic Scores (ticks; any ticks-per-quarter): pitch and rhythm.

Every function reads the notes of all tracks together (drum tracks included: the corpus has none); an
empty score gives NaN (a vector of NaN for the histograms). Harmony and voice leading are in `harmony`.
The measures of MusPy (Dong et al. 2020) are muspy's own functions, through `to_muspy`; the histograms
follow Yang & Lerch's mgeval. Exact definitions:

- `pitch_range`: max pitch - min pitch over all notes, in semitones.
- `polyphony`: the mean, over the distinct onset times of the score (the ticks where at least one note
  starts), of the number of notes sounding at that tick. A note sounds at tick t when
  start <= t < start + max(duration, 1), so a zero-length note still counts at its own onset, a note
  that ends exactly where another starts does not overlap it, and a held note counts at every onset
  it spans. Every onset has at least one note sounding, so polyphony >= 1 for a non-empty score;
  a monophonic line gives exactly 1.0.
- `note_density`: notes per quarter note over the span from the first onset to the last note end.
- `pitch_class_histogram`: note counts per pitch class (C=0 ... B=11), normalised to sum to 1.
- `mean_pitch`: the mean MIDI pitch of all notes.
- `pitch_classes_used`, `pitch_class_entropy` (bits), `scale_consistency` (the largest share of notes in
  one major or minor scale), `empty_beat_rate` (share of beats, quarter notes, with no note sounding),
  `groove_consistency` (1 minus the mean Hamming distance between consecutive bars' onset patterns, bars
  of the first time signature): muspy's functions of the same names. muspy counts a beat (and a bar) past
  the last note's end, and a note as sounding in the beat where it ends too, so a half note followed by a
  half rest leaves no beat empty: compare these values with each other, not with a hand count.
- `note_length_histogram`, `ioi_histogram`: notes' lengths, and the gaps between consecutive distinct
  onsets, each counted in the nearest of mgeval's 12 classes (`LENGTH_CLASSES`, in quarter notes: whole,
  half, quarter, eighth, sixteenth, their dotted forms, and half/quarter/eighth triplets); normalised.
- `pitch_interval_histogram`: semitones between consecutive notes of each track (notes ordered by onset,
  then pitch), clipped to -12..12 (25 bins, index 12 = repeated pitch); normalised.
"""

from __future__ import annotations

import math

import muspy
import numpy as np
import symusic

LENGTH_CLASSES = np.array([4, 2, 1, 1 / 2, 1 / 4, 3, 3 / 2, 3 / 4, 3 / 8, 4 / 3, 2 / 3, 1 / 3])
MAX_INTERVAL = 12
MUSPY_TPQ = 12  # sixteenths and eighth-note triplets fall on ticks


def note_arrays(score: symusic.Score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start ticks, durations, pitches) of every note of every track, as int64 arrays."""
    starts, durations, pitches = [], [], []
    for track in score.tracks:
        if not len(track.notes):
            continue
        notes = track.notes.numpy()
        starts.append(notes["time"])
        durations.append(notes["duration"])
        pitches.append(notes["pitch"])
    if not starts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return (
        np.concatenate(starts).astype(np.int64),
        np.concatenate(durations).astype(np.int64),
        np.concatenate(pitches).astype(np.int64),
    )


def notes_key(score: symusic.Score) -> int:
    """One number per set of notes (onset and pitch, every track): pieces with the same notes share it, in
    every process (the hash of a tuple of ints is not salted)."""
    return hash(tuple(sorted((n.time, n.pitch) for track in score.tracks for n in track.notes)))


def pitch_range(score: symusic.Score) -> float:
    _, _, pitches = note_arrays(score)
    return int(pitches.max() - pitches.min()) if len(pitches) else math.nan


def polyphony(score: symusic.Score) -> float:
    starts, durations, _ = note_arrays(score)
    if not len(starts):
        return math.nan
    ends = starts + np.maximum(durations, 1)
    onsets = np.unique(starts)
    started = np.searchsorted(np.sort(starts), onsets, side="right")  # notes with start <= t
    ended = np.searchsorted(np.sort(ends), onsets, side="right")  # notes with end <= t
    return float(np.mean(started - ended))


def note_density(score: symusic.Score) -> float:
    starts, durations, _ = note_arrays(score)
    if not len(starts):
        return math.nan
    span = int((starts + durations).max() - starts.min())
    return float(len(starts) * score.ticks_per_quarter / max(span, 1))


def pitch_class_histogram(score: symusic.Score) -> np.ndarray:
    _, _, pitches = note_arrays(score)
    return _normalised(np.bincount(pitches % 12, minlength=12))


def mean_pitch(score: symusic.Score) -> float:
    _, _, pitches = note_arrays(score)
    return float(pitches.mean()) if len(pitches) else math.nan


def _normalised(counts: np.ndarray) -> np.ndarray:
    counts = counts.astype(np.float64)
    return counts / counts.sum() if counts.sum() else np.full(len(counts), math.nan)


# --- MusPy's measures ------------------------------------------------------------------------------
def to_muspy(score: symusic.Score) -> muspy.Music:
    """The score's notes as a muspy Music at `MUSPY_TPQ` ticks per quarter: groove consistency compares
    bars position by position, so at a file's own resolution (the corpus' 10,080) two bars almost never
    share an onset position and every piece scored ~0.999."""
    score = score.resample(MUSPY_TPQ, min_dur=1)
    tracks = []
    for track in score.tracks:
        notes = track.notes.numpy()
        tracks.append(
            muspy.Track(
                program=int(track.program),
                is_drum=bool(track.is_drum),
                notes=[
                    muspy.Note(time=int(t), pitch=int(p), duration=int(d), velocity=int(v))
                    for t, p, d, v in zip(
                        notes["time"], notes["pitch"], notes["duration"], notes["velocity"], strict=True
                    )
                ],
            )
        )
    return muspy.Music(resolution=MUSPY_TPQ, tracks=tracks)


def _muspy_measure(measure, score: symusic.Score, *args) -> float:
    return float(measure(to_muspy(score), *args)) if score.note_num() else math.nan


def pitch_classes_used(score: symusic.Score) -> float:
    return _muspy_measure(muspy.n_pitch_classes_used, score)


def pitch_class_entropy(score: symusic.Score) -> float:
    return _muspy_measure(muspy.pitch_class_entropy, score)


def scale_consistency(score: symusic.Score) -> float:
    return _muspy_measure(muspy.scale_consistency, score)


def empty_beat_rate(score: symusic.Score) -> float:
    return _muspy_measure(muspy.empty_beat_rate, score)


def groove_consistency(score: symusic.Score) -> float:
    return _muspy_measure(muspy.groove_consistency, score, bar_ticks(score, MUSPY_TPQ))


def bar_ticks(score: symusic.Score, tpq: int | None = None) -> int:
    """Ticks per bar of the score's first time signature (4/4 without one), at `tpq` ticks per quarter
    (default: the score's)."""
    numerator, denominator = 4, 4
    if len(score.time_signatures):
        first = score.time_signatures[0]
        numerator, denominator = first.numerator, first.denominator
    return (tpq or score.ticks_per_quarter) * 4 * numerator // denominator


# --- mgeval's histograms ---------------------------------------------------------------------------
def _length_classes(ticks: np.ndarray, tpq: int) -> np.ndarray:
    nearest = np.abs(ticks[:, None] / tpq - LENGTH_CLASSES[None, :]).argmin(axis=1)
    return _normalised(np.bincount(nearest, minlength=len(LENGTH_CLASSES)))


def note_length_histogram(score: symusic.Score) -> np.ndarray:
    _, durations, _ = note_arrays(score)
    return _length_classes(durations, score.ticks_per_quarter)


def ioi_histogram(score: symusic.Score) -> np.ndarray:
    starts, _, _ = note_arrays(score)
    return _length_classes(np.diff(np.unique(starts)), score.ticks_per_quarter)


def pitch_interval_histogram(score: symusic.Score) -> np.ndarray:
    intervals = []
    for track in score.tracks:
        notes = track.notes.numpy()
        pitches = notes["pitch"][np.lexsort((notes["pitch"], notes["time"]))]
        intervals.append(np.diff(pitches.astype(np.int64)))
    steps = np.clip(np.concatenate(intervals or [np.zeros(0, np.int64)]), -MAX_INTERVAL, MAX_INTERVAL)
    return _normalised(np.bincount(steps + MAX_INTERVAL, minlength=2 * MAX_INTERVAL + 1))


def describe(score: symusic.Score) -> dict[str, float]:
    """The scalar metrics of one score, by name."""
    return {
        "pitch_range": float(pitch_range(score)),
        "polyphony": polyphony(score),
        "note_density": note_density(score),
        "mean_pitch": mean_pitch(score),
        "num_notes": float(sum(len(t.notes) for t in score.tracks)),
    }
