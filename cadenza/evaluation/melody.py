"""Lyrics-to-melody metrics of SongMASS (Sheng et al. 2021): a generated melody against the song's own.

Defined as in microsoft/muzic's `songmass/evaluate/evaluate_histo.py` (PD, DD) and
`evaluate_timeseries.py` (MD), on the melody as SongMASS's data script (`songmass/data/
generate_lmd_dataset.py`) writes it, so that a figure here means what it means in that code. Numbers
from papers that scored with TeleMelody's scripts (`telemelody/evaluation/cal_similarity.py`,
`cal_dtw.py`; ReLyMe copies them) are on another protocol (octave-folded pitches without rests,
per-syllable durations in units of the song's shortest, a grid of the shortest duration), and SongGLM's
`metrics/metric.py` on a third: do not put them in one table with these.

A melody is (onset, duration, pitch) notes, times in beats (quarter notes). It is first written as
SongMASS's *events*: the notes in onset order, each preceded by a rest event (pitch `REST` = 128) when
it starts after the previous note's end. Every duration, rests' included, is rounded on its own to the
nearest `STEP` (0.25 beat, halves to even, like Python's `round`) and clipped to `MAX_BEATS` (4 beats:
the data script's `min(x, 4.0)`); a note never rounds below one step, and a rest that rounds to 0 is
no rest (the data script writes a rest only where there is one, and its vocabulary has no 0). Nothing
comes before the first note.

- `pitch_similarity` (PD, %): per song, the overlap sum_k min(p_k, q_k) of the two songs' pitch
  histograms over 129 bins (MIDI pitches 0-127, and 128 for rests), each normalised by its number of
  *events*, rests included. An empty melody has an all-zero histogram, so it overlaps nothing (0).
- `duration_similarity` (DD, %): the same over 132 duration bins, 0.25 ... 33 beats in steps of 0.25
  (the model's duration vocabulary), counting notes' and rests' durations. With the 4-beat clip only
  the first 16 bins ever fill, as in SongMASS's data.
- `melody_distance` (MD): each song becomes a pitch series on a sixteenth-note grid (an event of d beats
  fills 4d cells with its pitch; a rest repeats the pitch before it), read every second cell from the
  first (an eighth-note grid; an odd last cell is dropped). Both series are centred on their own means;
  MD is the dynamic-time-warping cost between them (`dtw_distance`: the sum of |a_i - b_j| along the
  cheapest path of diagonal, down and right steps, unnormalised, as the `dtw` package's
  `accelerated_dtw` with dist='euclidean' gives for 1-D series), divided by the length of the
  *generated* series. NaN when either series is empty (the reference skips such songs).
- `song_metrics`: the mean over songs of the per-song values (PD and DD over every song, empty ones
  at 0; MD over songs that have one), as the reference averages.
- `strong_beat_share`: not SongMASS's: the share of flagged syllables (word-initial or stressed, one flag
  per distinct onset) that start on a strong beat: beat 1 of the bar, and its middle beat when the bar
  has an even number of beats, 4 or more (4/4: beats 1 and 3; 3/4 and 2/4: beat 1). Bars start at beat
  0 and keep one length. NaN when nothing is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import symusic

Melody = list[tuple[float, float, int]]  # (onset in beats, duration in beats, MIDI pitch)
Event = tuple[int, float]  # (MIDI pitch or REST, duration in beats on the STEP grid)

REST = 128
STEP = 0.25  # beats: SongMASS's duration vocabulary is 0.25, 0.5, ... 33 beats
MAX_BEATS = 4.0  # the data script clips every duration, rests' too, to 4 beats
N_PITCH_BINS = 129  # 128 MIDI pitches and the rest
N_DURATION_BINS = 132  # 0.25 ... 33 beats
CELLS_PER_SAMPLE = 2  # sixteenth-note cells per sample of the MD series: an eighth-note grid
_ON_BEAT = 1e-6  # beats: an onset this close to a strong beat is on it


def melody_from_score(score: symusic.Score, track: int = 0) -> Melody:
    """One track's notes as a Melody, in beats (ticks / ticks per quarter), ordered by onset then pitch."""
    notes = score.tracks[track].notes.numpy()
    order = np.lexsort((notes["pitch"], notes["time"]))
    tpq = score.ticks_per_quarter
    return [
        (float(t) / tpq, float(d) / tpq, int(p))
        for t, d, p in zip(notes["time"][order], notes["duration"][order], notes["pitch"][order], strict=True)
    ]


def _quantised(beats: float) -> float:
    return min(round(beats / STEP) * STEP, MAX_BEATS)


def songmass_events(melody: Melody) -> list[Event]:
    """The melody as SongMASS's rest-and-note events (see the module docstring)."""
    events: list[Event] = []
    previous_end: float | None = None
    for onset, duration, pitch in sorted(melody, key=lambda note: (note[0], note[2])):
        if not 0 <= pitch < REST:
            raise ValueError(f"MIDI pitch {pitch} is outside 0-127")
        if previous_end is not None and _quantised(onset - previous_end) > 0:
            events.append((REST, _quantised(onset - previous_end)))
        events.append((int(pitch), max(_quantised(duration), STEP)))
        previous_end = onset + duration
    return events


def _steps(duration: float) -> int:
    return int(round(duration / STEP))


def _overlap_percent(gen_counts: np.ndarray, ref_counts: np.ndarray) -> float:
    """100 * sum of min(p, q), each histogram normalised by its total (an empty one stays all 0)."""
    p = gen_counts / max(gen_counts.sum(), 1)
    q = ref_counts / max(ref_counts.sum(), 1)
    return float(100 * np.minimum(p, q).sum())


def _pitch_counts(events: list[Event]) -> np.ndarray:
    pitches = np.array([pitch for pitch, _ in events], dtype=np.int64)
    return np.bincount(pitches, minlength=N_PITCH_BINS).astype(np.float64)


def _duration_counts(events: list[Event]) -> np.ndarray:
    bins = np.array([_steps(duration) - 1 for _, duration in events], dtype=np.int64)
    return np.bincount(bins, minlength=N_DURATION_BINS).astype(np.float64)


def pitch_similarity(gen: Melody, ref: Melody) -> float:
    """PD in %: pitch-histogram overlap of the two songs, rests as bin 128."""
    return _overlap_percent(_pitch_counts(songmass_events(gen)), _pitch_counts(songmass_events(ref)))


def duration_similarity(gen: Melody, ref: Melody) -> float:
    """DD in %: duration-histogram overlap of the two songs, notes and rests."""
    return _overlap_percent(_duration_counts(songmass_events(gen)), _duration_counts(songmass_events(ref)))


def pitch_series(melody: Melody) -> np.ndarray:
    """The MD series: pitches on an eighth-note grid from the first onset, rests holding the pitch before."""
    cells: list[int] = []
    for pitch, duration in songmass_events(melody):
        if pitch == REST:
            cells += cells[-1:] * _steps(duration)  # a rest always follows a note here
        else:
            cells += [pitch] * _steps(duration)
    usable = len(cells) // CELLS_PER_SAMPLE * CELLS_PER_SAMPLE
    return np.array(cells[:usable:CELLS_PER_SAMPLE], dtype=np.float64)


def dtw_distance(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """The cheapest total |a_i - b_j| over warping paths from (0, 0) to the last cell of both, by steps
    (1, 1), (1, 0) and (0, 1) of weight 1; unnormalised.

    No installed package has a DTW (scipy has none), so this is the textbook recursion, a row at a time:
    within row i, D[i, j] = min(arrive[j], D[i, j-1] + c[j]) with arrive[j] = c[j] + min(D[i-1, j-1],
    D[i-1, j]), whose solution is D[i, j] = S[j] + min over l <= j of (arrive[l] - S[l]), S the running sum
    of c; so each row is a cumulative minimum and no Python loop runs over columns.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if not len(a) or not len(b):
        raise ValueError("DTW needs two non-empty series")
    above = np.concatenate(([0.0], np.full(len(b), np.inf)))  # row -1, with column -1 in front
    for value in a:
        cost = np.abs(value - b)
        arrive = cost + np.minimum(above[:-1], above[1:])
        running = np.cumsum(cost)
        row = np.minimum.accumulate(arrive - running) + running
        above = np.concatenate(([np.inf], row))
    return float(above[-1])


def melody_distance(gen: Melody, ref: Melody) -> float:
    """MD: DTW of the mean-centred eighth-note pitch series, per sample of the generated one."""
    gen_series, ref_series = pitch_series(gen), pitch_series(ref)
    if not len(gen_series) or not len(ref_series):
        return math.nan
    return dtw_distance(ref_series - ref_series.mean(), gen_series - gen_series.mean()) / len(gen_series)


def song_metrics(pairs: Iterable[tuple[Melody, Melody]]) -> dict[str, float]:
    """PD, DD (%) and MD averaged over (generated, reference) songs, and how many songs each counted."""
    pd, dd, md = [], [], []
    for gen, ref in pairs:
        pd.append(pitch_similarity(gen, ref))
        dd.append(duration_similarity(gen, ref))
        distance = melody_distance(gen, ref)
        if not math.isnan(distance):
            md.append(distance)
    return {
        "PD": float(np.mean(pd)) if pd else math.nan,
        "DD": float(np.mean(dd)) if dd else math.nan,
        "MD": float(np.mean(md)) if md else math.nan,
        "songs": float(len(pd)),
        "md_songs": float(len(md)),
    }


def strong_beats(beats_per_bar: int) -> tuple[float, ...]:
    """Positions in the bar (beats from its start) that `strong_beat_share` counts as strong."""
    if beats_per_bar < 1:
        raise ValueError(f"a bar needs at least one beat, not {beats_per_bar}")
    if beats_per_bar >= 4 and beats_per_bar % 2 == 0:
        return (0.0, beats_per_bar / 2)
    return (0.0,)


def strong_beat_share(melody: Melody, word_initial: Sequence[bool], beats_per_bar: int) -> float:
    """The share of flagged syllables whose onset is on a strong beat; one flag per distinct onset, in
    time order (a chord is one syllable)."""
    onsets = np.unique(np.array([onset for onset, _, _ in melody], dtype=np.float64))
    if len(word_initial) != len(onsets):
        raise ValueError(f"{len(word_initial)} syllable flags for {len(onsets)} onsets")
    flagged = onsets[np.asarray(word_initial, dtype=bool)]
    if not len(flagged):
        return math.nan
    position = np.mod(flagged, beats_per_bar)
    strong = np.array(strong_beats(beats_per_bar) + (float(beats_per_bar),))  # the next bar's beat 1
    on_strong = (np.abs(position[:, None] - strong[None, :]) < _ON_BEAT).any(axis=1)
    return float(on_strong.mean())
