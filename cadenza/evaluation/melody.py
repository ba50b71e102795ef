"""Lyrics-to-melody metrics: a generated melody against the song's own, as SongMASS (Sheng et al. 2021)
scores it and as TeleMelody (Ju et al. 2021) scores it.

SongMASS's PD, DD and MD are defined as in microsoft/muzic's `songmass/evaluate/evaluate_histo.py` (PD,
DD) and `evaluate_timeseries.py` (MD), on the melody as SongMASS's data script (`songmass/data/
generate_lmd_dataset.py`) writes it, so that a figure here means what it means in that code.
TeleMelody's PD and DD are those of microsoft/muzic `telemelody/evaluation/cal_similarity.py`, which
ReLyMe copies with the same functions (`relyme/songmass_zh/score/pd_dd.py`, adding a per-file
`get_pd_dd`), and which TeleMelody's and ReLyMe's published PD and DD come from: pitches outside 61-83
folded in, no rests, per-syllable durations in multiples of the song's shortest syllable (below). The
two protocols give different numbers for the same pair of melodies, so a table shows them side by side,
never one for the other. SongGLM's `metrics/metric.py` is a third protocol, not implemented here.

A melody is (onset, duration, pitch) notes, times in beats (quarter notes). For SongMASS's metrics it is
first written as SongMASS's *events*: the notes in onset order, each preceded by a rest event (pitch
`REST` = 128) when it starts after the previous note's end. Every duration, rests' included, is rounded
on its own to the nearest `STEP` (0.25 beat, halves to even, like Python's `round`) and clipped to
`MAX_BEATS` (4 beats: the data script's `min(x, 4.0)`); a note never rounds below one step, and a rest
that rounds to 0 is no rest (the data script writes a rest only where there is one, and its vocabulary
has no 0). Nothing comes before the first note.

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
  at 0; MD over songs that have one), as the reference averages; and TeleMelody's PD and DD (below).

TeleMelody's `cal_similarity.py` reads each MIDI file into pitch and duration tokens (`get_melody`),
groups them by syllable (`separate`) and counts two histograms per song (`get_pitch_count`,
`get_dur_count`); here the same is done on a Melody, times in beats:

- Written lengths (`get_vocab`): a note's length, and the gap before a note that does not start where the
  previous note ended (`note.start != last_end`: any gap, however small, is a rest), is floored to whole
  sixteenths (`dur // (ticks // 4)`), at least one (`if beat == 0: beat = 1`); a length that is not in the
  vocabulary of 0.25 ... 33 beats, i.e. longer than 33 beats or negative (a note that starts before the
  previous one ends: a chord's second note), is written as 33 beats (`Duration_vocab_re.get(beat,
  MAX_DUR)`). Notes are taken in onset order (then pitch), nothing comes before the first, and there is
  no 4-beat clip.
- Syllables (`get_melody`'s `[align]` marks, `separate(use_word=True)`): a mark goes before the first
  note at the onset of each lyric event but the first (`lyric_id = 1`) and before that note's rest, so a
  syllable is its notes (melisma included) and the rest before its first note; the notes before the
  second syllable all belong to the first. A syllable's duration is the sum of its written note and rest
  lengths, kept only if that sum is in the vocabulary (`if cur_dur in Duration_vocab_re`: at most 33
  beats). A Melody carries no lyrics, so `syllable_starts` (one flag per note, in onset-then-pitch
  order, True where a syllable starts: `song_syllables` gives one) says where they start; without it
  every distinct onset starts one, i.e. one syllable per note (a chord is one).
- `telemelody_pitch_similarity` (PD, %): the overlap sum_k min(p_k, q_k) (`cal_overlap`'s (p + q -
  |p - q|) / 2) of the notes' pitch histograms, each normalised by its number of notes, rests not
  counted (`if pitch != 128`). Each pitch is first folded (`get_pitch_count`, min_pitch 60, max_pitch
  72): one at or below 60 becomes 60 + pitch % 12, one at or above 84 becomes 72 + pitch % 12, 61-83 stay
  as they are. So only notes below middle C or above B5 are octave-folded, and a transposition changes
  PD (as it changes SongMASS's).
- `telemelody_duration_similarity` (DD, %): the same overlap of the syllable-duration histograms, each
  song's durations counted in units of its own shortest syllable (`get_dur_count`: bin int(d / shortest),
  132 bins, the last taking every larger ratio). So a melody and the same one in doubled note values have
  the same histogram, and a syllable 1.5 times the shortest shares the shortest's bin.
- An empty melody makes the script raise (`notes[0]`) and the song is skipped: both are NaN here. A
  melody with no syllable of at most 33 beats makes `min(x)` raise after PD was counted: DD alone is NaN.
  `song_metrics` averages each over the songs that have it, as the script's `except ... continue` does,
  and says how many that was. The script normalises in float32; here in float64 (a difference far below
  the 0.1 % a table shows).

Of neither protocol:

- `ends_on`: whether a melody's last note is on a pitch class (a song's tonic: where it cadences).
- `line_end_long_share`: the share of lines (ended by punctuation on a syllable) whose last syllable lasts
  at least the line's median syllable: a phrase end on a held note, as a singer breathes.
- `strong_beat_share`: the share of flagged syllables (word-initial or stressed, one flag
  per distinct onset) that start on a strong beat: beat 1 of the bar, and its middle beat when the bar
  has an even number of beats, 4 or more (4/4: beats 1 and 3; 3/4 and 2/4: beat 1). Bars start at beat
  0 and keep one length. NaN when nothing is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import symusic

from cadenza.data.stress import strong_beats

Melody = list[tuple[float, float, int]]  # (onset in beats, duration in beats, MIDI pitch)
Event = tuple[int, float]  # (MIDI pitch or REST, duration in beats on the STEP grid)

REST = 128
STEP = 0.25  # beats: SongMASS's duration vocabulary is 0.25, 0.5, ... 33 beats
MAX_BEATS = 4.0  # the data script clips every duration, rests' too, to 4 beats
N_PITCH_BINS = 129  # 128 MIDI pitches and the rest
N_DURATION_BINS = 132  # 0.25 ... 33 beats
CELLS_PER_SAMPLE = 2  # sixteenth-note cells per sample of the MD series: an eighth-note grid
_ON_BEAT = 1e-6  # beats: an onset this close to a strong beat is on it

# TeleMelody's cal_similarity.py
TM_LOW_PITCH, TM_HIGH_PITCH = 60, 72  # its min_pitch, max_pitch: <= 60 folds into 60-71, >= 84 into 72-83
TM_STEP = 0.25  # beats: its lengths are whole sixteenths
TM_MAX_BEATS = 33.0  # the longest length in its vocabulary, and what it writes for any length outside it
TM_DURATION_BINS = 132  # one per vocabulary entry, read as multiples of the song's shortest syllable
_SAME_TIME = 1e-9  # beats: float noise, not a gap (the script compares integer ticks)


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


def telemelody_pitches(melody: Melody) -> np.ndarray:
    """The notes' pitches as TeleMelody's `get_pitch_count` bins them: <= 60 and >= 84 folded into 60-83."""
    pitches = np.array([pitch for _, _, pitch in melody], dtype=np.int64)
    if ((pitches < 0) | (pitches >= REST)).any():
        raise ValueError("MIDI pitches are 0-127")
    low, high = pitches <= TM_LOW_PITCH, pitches >= TM_HIGH_PITCH + 12
    folded = np.where(low, TM_LOW_PITCH + pitches % 12, pitches)
    return np.where(high, TM_HIGH_PITCH + pitches % 12, folded)


def _tm_written(beats: float) -> float:
    """A note's or a gap's length as TeleMelody's `get_vocab` writes it: floored to whole sixteenths, at
    least one; anything outside 0.25-33 beats (longer, or negative: an overlap) becomes 33."""
    sixteenths = math.floor(beats / TM_STEP + _SAME_TIME)
    written = max(sixteenths, 1) * TM_STEP if sixteenths >= 0 else -1.0
    return written if 0 < written <= TM_MAX_BEATS else TM_MAX_BEATS


def telemelody_syllable_durations(
    melody: Melody, syllable_starts: Sequence[bool] | None = None
) -> list[float]:
    """Per syllable, its notes' and the rest before it, in TeleMelody's written lengths (beats), dropping
    sums past 33 beats; `syllable_starts` flags the notes (in onset-then-pitch order) that start one,
    None: every distinct onset does. See the module docstring."""
    if syllable_starts is not None and len(syllable_starts) != len(melody):
        raise ValueError(f"{len(syllable_starts)} syllable flags for {len(melody)} notes")
    order = sorted(range(len(melody)), key=lambda i: (melody[i][0], melody[i][2]))
    flagged = sorted({melody[i][0] for i in order if syllable_starts is None or syllable_starts[i]})
    # The script marks every lyric but the first: the notes before the second syllable are the first's.
    opens = set(flagged[1:])
    sums: list[float] = []
    current, previous_end = 0.0, None
    for i in order:
        onset, duration, _ = melody[i]
        if onset in opens:  # the first note at a syllable's onset opens it, before its rest
            opens.discard(onset)
            sums.append(current)
            current = 0.0
        if previous_end is not None and abs(onset - previous_end) > _SAME_TIME:
            current += _tm_written(onset - previous_end)
        current += _tm_written(duration)
        previous_end = onset + duration
    if order:
        sums.append(current)
    # Sums of whole sixteenths are exact in floating point, as the script's `cur_dur in Duration_vocab_re`
    # needs: that test fails only past 33 beats.
    return [total for total in sums if total <= TM_MAX_BEATS]


def telemelody_pitch_similarity(gen: Melody, ref: Melody) -> float:
    """TeleMelody's PD in %: overlap of the folded pitch histograms of the notes; NaN if either is empty
    (the script skips the song)."""
    if not gen or not ref:
        return math.nan
    gen_counts = np.bincount(telemelody_pitches(gen), minlength=N_PITCH_BINS).astype(np.float64)
    ref_counts = np.bincount(telemelody_pitches(ref), minlength=N_PITCH_BINS).astype(np.float64)
    return _overlap_percent(gen_counts, ref_counts)


def _tm_duration_counts(durations: list[float]) -> np.ndarray:
    ratios = np.array(durations, dtype=np.float64) / min(durations)
    # int() of the ratio, as the script: bin 0 stays empty and 1.5 shortest shares bin 1 with the shortest
    bins = np.minimum(np.floor(ratios).astype(np.int64), TM_DURATION_BINS - 1)
    return np.bincount(bins, minlength=TM_DURATION_BINS).astype(np.float64)


def telemelody_duration_similarity(
    gen: Melody,
    ref: Melody,
    gen_syllable_starts: Sequence[bool] | None = None,
    ref_syllable_starts: Sequence[bool] | None = None,
) -> float:
    """TeleMelody's DD in %: overlap of the syllable-duration histograms, each in units of its own
    shortest syllable; NaN if either melody has no syllable to count (the script skips the song)."""
    gen_durations = telemelody_syllable_durations(gen, gen_syllable_starts)
    ref_durations = telemelody_syllable_durations(ref, ref_syllable_starts)
    if not gen_durations or not ref_durations:
        return math.nan
    return _overlap_percent(_tm_duration_counts(gen_durations), _tm_duration_counts(ref_durations))


def _mean_or_nan(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def unified_shift(tonic: int, mode: str | None) -> int:
    """Semitones that move a song in the key of pitch class `tonic` to C major (A minor when `mode` is
    "minor"), the nearer way (-5 ... +6): TeleMelody's data pipeline unifies every song's tonality so
    before training and scoring (microsoft/muzic's `tonality_nomalization_job`, which writes the marker
    `keymode_C_major` or `keymode_A_minor`), so its PD compares scale degrees."""
    shift = ((9 if mode == "minor" else 0) - tonic) % 12
    return shift - 12 if shift > 6 else shift


def transposed(melody: Melody, semitones: int) -> Melody:
    return [(onset, duration, pitch + semitones) for onset, duration, pitch in melody]


def song_metrics(
    pairs: Iterable[tuple[Melody, Melody]],
    syllable_starts: Iterable[tuple[Sequence[bool] | None, Sequence[bool] | None]] | None = None,
    shifts: Iterable[tuple[int, int]] | None = None,
) -> dict[str, float]:
    """Over (generated, reference) songs: SongMASS's PD, DD (%) and MD averaged, TeleMelody's PD and DD
    (%, keys "TM_PD", "TM_DD") averaged over the songs its script scores, and how many songs each counted.
    `syllable_starts`, one (generated, reference) pair of flag lists per song, only TeleMelody's DD reads;
    None: one syllable per onset in every song. `shifts` (per song, the (generated, reference) melodies'
    `unified_shift`s, each of its own key) move them before TeleMelody's measures, as its pipeline does;
    None: as they are."""
    pairs = list(pairs)
    starts = list(syllable_starts) if syllable_starts is not None else [(None, None)] * len(pairs)
    moves = list(shifts) if shifts is not None else [(0, 0)] * len(pairs)
    pd, dd, md, tm_pd, tm_dd = [], [], [], [], []
    for (gen, ref), (gen_starts, ref_starts), (gen_move, ref_move) in zip(pairs, starts, moves, strict=True):
        pd.append(pitch_similarity(gen, ref))
        dd.append(duration_similarity(gen, ref))
        md.append(melody_distance(gen, ref))
        tm_pd.append(telemelody_pitch_similarity(transposed(gen, gen_move), transposed(ref, ref_move)))
        tm_dd.append(telemelody_duration_similarity(gen, ref, gen_starts, ref_starts))
    md, tm_pd, tm_dd = ([v for v in values if not math.isnan(v)] for values in (md, tm_pd, tm_dd))
    return {
        "PD": _mean_or_nan(pd),
        "DD": _mean_or_nan(dd),
        "MD": _mean_or_nan(md),
        "TM_PD": _mean_or_nan(tm_pd),
        "TM_DD": _mean_or_nan(tm_dd),
        "songs": float(len(pd)),
        "md_songs": float(len(md)),
        "tm_pd_songs": float(len(tm_pd)),
        "tm_dd_songs": float(len(tm_dd)),
    }


def ends_on(melody: Melody, pitch_class: int) -> bool:
    """Does the melody's last note (the latest onset; of a chord, the lowest) have this pitch class?"""
    if not melody:
        return False
    last = max(onset for onset, _, _ in melody)
    return min(pitch for onset, _, pitch in melody if onset == last) % 12 == pitch_class % 12


def _sung_syllables(
    melody: Melody, syllable_starts: Sequence[bool], line_ends: Sequence[bool]
) -> list[tuple[float, bool, int]]:
    """Per syllable, in time order: (how long it lasts, does it close a line, the pitch of its last note).
    Per note (onset-then-pitch order), `syllable_starts` flags the first note of a syllable and `line_ends`
    the first note of a syllable that closes a line (`syllables.ends_line`). A syllable lasts from its
    onset to the end of its last note (melisma included, the rest after it not)."""
    if not len(melody) == len(syllable_starts) == len(line_ends):
        raise ValueError("one syllable flag and one line flag per note")
    out: list[list] = []
    for i in sorted(range(len(melody)), key=lambda i: (melody[i][0], melody[i][2])):
        onset, duration, pitch = melody[i]
        if syllable_starts[i] or not out:
            out.append([0.0, bool(line_ends[i]), pitch, onset])
        out[-1][0] = max(out[-1][0], onset + duration - out[-1][3])
        out[-1][2] = pitch
    return [(length, closes, pitch) for length, closes, pitch, _ in out]


def line_end_long_share(melody: Melody, syllable_starts: Sequence[bool], line_ends: Sequence[bool]) -> float:
    """The share of lines whose last syllable lasts at least as long as the line's median syllable (a
    line is the syllables after the previous line's end up to its own; flags as `_sung_syllables`). NaN
    without a line end."""
    hits, line = [], []
    for length, closes, _ in _sung_syllables(melody, syllable_starts, line_ends):
        line.append(length)
        if closes:
            hits.append(length >= float(np.median(line)))
            line = []
    return float(np.mean(hits)) if hits else math.nan


def line_end_degree_share(
    melody: Melody, syllable_starts: Sequence[bool], line_ends: Sequence[bool], pitch_classes: set[int]
) -> float:
    """The share of lines whose last syllable's last note has one of `pitch_classes` (a key's tonic
    triad: the line comes to rest); flags as `_sung_syllables`. NaN without a line end."""
    syllables = _sung_syllables(melody, syllable_starts, line_ends)
    ends = [pitch % 12 in pitch_classes for _, closes, pitch in syllables if closes]
    return float(np.mean(ends)) if ends else math.nan


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
