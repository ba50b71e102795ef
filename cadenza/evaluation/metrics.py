"""Pure metric functions on symusic Scores (ticks; any ticks-per-quarter).

Every function reads the notes of all tracks together (drum tracks included: the corpus has none) and is
defined for an empty score (it returns 0 or a zero vector). Exact definitions:

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
"""

from __future__ import annotations

import numpy as np
import symusic


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


def pitch_range(score: symusic.Score) -> int:
    _, _, pitches = note_arrays(score)
    return int(pitches.max() - pitches.min()) if len(pitches) else 0


def polyphony(score: symusic.Score) -> float:
    starts, durations, _ = note_arrays(score)
    if not len(starts):
        return 0.0
    ends = starts + np.maximum(durations, 1)
    onsets = np.unique(starts)
    started = np.searchsorted(np.sort(starts), onsets, side="right")  # notes with start <= t
    ended = np.searchsorted(np.sort(ends), onsets, side="right")  # notes with end <= t
    return float(np.mean(started - ended))


def note_density(score: symusic.Score) -> float:
    starts, durations, _ = note_arrays(score)
    if not len(starts):
        return 0.0
    span = int((starts + durations).max() - starts.min())
    return float(len(starts) * score.ticks_per_quarter / max(span, 1))


def pitch_class_histogram(score: symusic.Score) -> np.ndarray:
    _, _, pitches = note_arrays(score)
    counts = np.bincount(pitches % 12, minlength=12).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def mean_pitch(score: symusic.Score) -> float:
    _, _, pitches = note_arrays(score)
    return float(pitches.mean()) if len(pitches) else 0.0


def describe(score: symusic.Score) -> dict[str, float]:
    """The scalar metrics of one score, by name."""
    return {
        "pitch_range": float(pitch_range(score)),
        "polyphony": polyphony(score),
        "note_density": note_density(score),
        "mean_pitch": mean_pitch(score),
        "num_notes": float(sum(len(t.notes) for t in score.tracks)),
    }
