"""SongMASS's PD, DD and MD, and the strong-beat share, on tiny melodies worked out by hand, plus one
melody checked against a plain re-derivation of the reference scripts' formulas on SongMASS tokens."""

from __future__ import annotations

import math

import numpy as np
import pytest
import symusic

from cadenza.evaluation.melody import (
    REST,
    dtw_distance,
    duration_similarity,
    ends_on,
    line_end_degree_share,
    line_end_long_share,
    melody_distance,
    melody_from_score,
    pitch_series,
    pitch_similarity,
    song_metrics,
    songmass_events,
    strong_beat_share,
    telemelody_duration_similarity,
    telemelody_pitch_similarity,
    telemelody_pitches,
    telemelody_syllable_durations,
    transposed,
    unified_shift,
)

TUNE = [(0.0, 1.0, 60), (1.0, 1.0, 62), (2.0, 0.5, 64), (2.5, 0.5, 65), (3.0, 2.0, 67)]


def test_identical_melodies_agree_fully():
    assert pitch_similarity(TUNE, TUNE) == pytest.approx(100)
    assert duration_similarity(TUNE, TUNE) == pytest.approx(100)
    assert melody_distance(TUNE, TUNE) == 0


def test_disjoint_pitches_share_nothing_but_rhythm():
    low, high = [(0.0, 1.0, 60), (1.0, 1.0, 62)], [(0.0, 1.0, 70), (1.0, 1.0, 72)]
    assert pitch_similarity(low, high) == 0
    assert duration_similarity(low, high) == pytest.approx(100)


def test_a_transposed_copy_has_no_melody_distance():
    up = [(onset, duration, pitch + 5) for onset, duration, pitch in TUNE]
    assert melody_distance(up, TUNE) == pytest.approx(0)
    assert pitch_similarity(up, TUNE) == pytest.approx(40)  # 65 and 67 are in both: 1/5 + 1/5


def test_a_rest_is_an_event_in_both_histograms():
    # gen: C, half-beat rest, D -> events (60, 1), (REST, 0.5), (62, 1); ref: C, D -> (60, 1), (62, 1)
    gen, ref = [(0.0, 1.0, 60), (1.5, 1.0, 62)], [(0.0, 1.0, 60), (1.0, 1.0, 62)]
    assert songmass_events(gen) == [(60, 1.0), (REST, 0.5), (62, 1.0)]
    # pitches: gen 60: 1/3, 62: 1/3, rest: 1/3; ref 60: 1/2, 62: 1/2 -> overlap 1/3 + 1/3
    assert pitch_similarity(gen, ref) == pytest.approx(200 / 3)
    # durations: gen 1 beat: 2/3, 0.5 beat: 1/3; ref 1 beat: 1 -> overlap 2/3
    assert duration_similarity(gen, ref) == pytest.approx(200 / 3)


def test_a_rest_holds_the_pitch_before_it_in_the_md_series():
    # sixteenth cells: 60 x4, rest x2 (held 60), 62 x4 -> every second cell of the 10
    assert pitch_series([(0.0, 1.0, 60), (1.5, 1.0, 62)]).tolist() == [60, 60, 60, 62, 62]


def test_a_gap_that_rounds_to_nothing_is_no_rest_and_nothing_comes_before_the_first_note():
    assert songmass_events([(1.0, 0.9, 60), (2.0, 1.0, 62)]) == [(60, 1.0), (62, 1.0)]


@pytest.mark.parametrize(
    ("duration", "written"),
    [
        (0.1, 0.25),  # rounds to 0 steps: a note keeps one
        (0.125, 0.25),  # half a step rounds to even (0), then one step
        (0.375, 0.5),  # 1.5 steps -> 2
        (0.625, 0.5),  # 2.5 steps -> 2 (halves to even, like Python's round)
        (1 / 3, 0.25),  # a triplet eighth
        (4.0, 4.0),
        (6.0, 4.0),  # clipped to the data script's 4 beats
    ],
)
def test_durations_round_to_quarter_beats_and_clip_at_four(duration, written):
    assert songmass_events([(0.0, duration, 60)]) == [(60, written)]


def test_durations_past_four_beats_share_the_four_beat_bin():
    assert duration_similarity([(0.0, 6.0, 60)], [(0.0, 4.0, 60)]) == pytest.approx(100)
    assert duration_similarity([(0.0, 3.75, 60)], [(0.0, 4.0, 60)]) == 0
    long_rest = [(0.0, 1.0, 60), (9.0, 1.0, 60)]  # an 8-beat rest is written as 4 beats
    assert songmass_events(long_rest)[1] == (REST, 4.0)


def test_dtw_by_hand():
    # |a_i - b_j| for a = 0, 1, 2 and b = 0, 2: rows (0, 2), (1, 1), (2, 0); accumulated:
    # (0, 2), (1, 1), (3, 1): the path (0,0) (1,0) (2,1) [or (1,1)] costs 0 + 1 + 0
    assert dtw_distance([0, 1, 2], [0, 2]) == 1
    # a late step is absorbed by warping: accumulated (0, 1, 2), (0, 1, 2), (1, 0, 0)
    assert dtw_distance([0, 0, 1], [0, 1, 1]) == 0
    assert dtw_distance([3], [1, 2, 5]) == 2 + 1 + 2  # one row: every column is visited
    with pytest.raises(ValueError):
        dtw_distance([], [1])


def test_melody_distance_by_hand_divides_by_the_generated_length():
    # gen: C for 1 beat -> series 60, 60 -> centred 0, 0
    # ref: C, D for 1 beat each -> 60, 60, 62, 62 -> centred -1, -1, 1, 1
    # every path visits the 4 reference samples at cost 1 each: DTW 4, over the generated 2 samples
    assert melody_distance([(0.0, 1.0, 60)], [(0.0, 1.0, 60), (1.0, 1.0, 62)]) == pytest.approx(2.0)
    # gen: C, E -> -2, -2, 2, 2 against a held D -> 0 x4: the diagonal costs 4 x 2, over 4 samples
    assert melody_distance([(0.0, 1.0, 60), (1.0, 1.0, 64)], [(0.0, 2.0, 62)]) == pytest.approx(2.0)


def test_empty_or_too_short_melodies():
    assert pitch_similarity([], TUNE) == 0
    assert duration_similarity([], TUNE) == 0
    assert math.isnan(melody_distance([], TUNE))
    assert math.isnan(melody_distance([(0.0, 0.25, 60)], TUNE))  # one sixteenth: no eighth-note sample


def test_song_metrics_averages_per_song_values_and_skips_songs_without_md():
    metrics = song_metrics([(TUNE, TUNE), ([], TUNE)])
    # SongMASS's empty melody scores 0 in PD and DD; TeleMelody's script skips the song
    assert metrics == {
        "PD": pytest.approx(50),
        "DD": pytest.approx(50),
        "MD": 0,
        "TM_PD": pytest.approx(100),
        "TM_DD": pytest.approx(100),
        "songs": 2,
        "md_songs": 1,
        "tm_pd_songs": 1,
        "tm_dd_songs": 1,
    }
    assert math.isnan(song_metrics([])["PD"])


def test_melody_from_score_reads_beats_in_time_order():
    score = symusic.Score(480)
    track = symusic.Track()
    track.notes.append(symusic.Note(960, 240, 64, 80))
    track.notes.append(symusic.Note(0, 480, 60, 80))
    score.tracks.append(track)
    assert melody_from_score(score) == [(0.0, 1.0, 60), (2.0, 0.5, 64)]


def test_strong_beat_share():
    onsets = [(float(beat), 1.0, 60) for beat in range(6)]
    # 4/4: flagged onsets 0, 1, 2, 4 -> beats 1, 2, 3, 1 of their bars: three strong
    assert strong_beat_share(onsets, [True, True, True, False, True, False], 4) == pytest.approx(0.75)
    # 3/4: flagged 0, 1, 2, 3 -> beats 1, 2, 3, 1: two strong
    assert strong_beat_share(onsets[:4], [True] * 4, 3) == pytest.approx(0.5)
    assert strong_beat_share([(0.0, 1.0, 60), (0.0, 1.0, 64), (3.99999999, 1.0, 62)], [True, True], 4) == 1
    assert math.isnan(strong_beat_share(onsets[:2], [False, False], 4))
    with pytest.raises(ValueError):
        strong_beat_share(onsets, [True], 4)


# --- TeleMelody's cal_similarity.py --------------------------------------------------------------------
def test_telemelody_folds_pitches_below_61_and_above_83():
    # <= 60: 60 + p % 12 (48 -> 60, 59 -> 71, 60 -> 60); >= 84: 72 + p % 12 (84 -> 72, 97 -> 73)
    melody = [(float(i), 1.0, p) for i, p in enumerate([48, 59, 60, 61, 83, 84, 97])]
    assert telemelody_pitches(melody).tolist() == [60, 71, 60, 61, 83, 72, 73]


def test_telemelody_on_a_transposed_melody():
    # A3 C4 E4 (1, 1, 2 beats) up a fourth: D4 F4 A4. SongMASS: no pitch in common, 0.
    # TeleMelody folds A3 (57) to 60 + 9 = 69: {69, 60, 64} against {62, 65, 69} share 69: 1/3.
    ref = [(0.0, 1.0, 57), (1.0, 1.0, 60), (2.0, 2.0, 64)]
    up = [(onset, duration, pitch + 5) for onset, duration, pitch in ref]
    assert pitch_similarity(up, ref) == 0
    assert telemelody_pitch_similarity(up, ref) == pytest.approx(100 / 3)
    # same rhythm: syllables 1, 1, 2 beats in both
    assert telemelody_duration_similarity(up, ref) == pytest.approx(100)
    # TUNE up a fourth: 65 67 69 70 72 against 60 62 64 65 67, nothing folded: 65 and 67, 2/5 as SongMASS
    up_tune = [(onset, duration, pitch + 5) for onset, duration, pitch in TUNE]
    assert telemelody_pitch_similarity(up_tune, TUNE) == pytest.approx(40)
    # a bass line an octave below a tune folds onto it: C3 D3 E3 -> 60 62 64
    tune = [(0.0, 1.0, 60), (1.0, 1.0, 62), (2.0, 1.0, 64)]
    bass = [(onset, duration, pitch - 12) for onset, duration, pitch in tune]
    assert pitch_similarity(bass, tune) == 0
    assert telemelody_pitch_similarity(bass, tune) == pytest.approx(100)


def test_telemelody_counts_no_rest_pitch_and_puts_a_rest_in_the_next_syllable():
    # gen: C (1), half-beat rest, D (0.5), E (1); ref: C, D, E a beat each.
    gen, ref = (
        [(0.0, 1.0, 60), (1.5, 0.5, 62), (2.0, 1.0, 64)],
        [(0.0, 1.0, 60), (1.0, 1.0, 62), (2.0, 1.0, 64)],
    )
    # pitches 60 62 64 in both: TeleMelody 100; SongMASS counts the rest: 3 of gen's 4 events overlap, 75
    assert telemelody_pitch_similarity(gen, ref) == pytest.approx(100)
    assert pitch_similarity(gen, ref) == pytest.approx(75)
    # syllables: gen 1, rest 0.5 + 0.5 = 1, 1; ref 1, 1, 1: all in bin 1, 100 (SongMASS: 1 beat 2/4,
    # 0.5 beat 2/4 against 1 beat 3/3: 50)
    assert telemelody_syllable_durations(gen) == [1.0, 1.0, 1.0]
    assert telemelody_duration_similarity(gen, ref) == pytest.approx(100)
    assert duration_similarity(gen, ref) == pytest.approx(50)


def test_telemelody_durations_are_multiples_of_the_shortest_syllable():
    # gen: C 1, a beat's rest, D 1, E 0.5, F 0.5 -> syllables 1, 2, 0.5, 0.5; shortest 0.5: bins 2, 4, 1, 1
    # -> bin 1: 1/2, 2: 1/4, 4: 1/4. TUNE: 1, 1, 0.5, 0.5, 2 -> bins 2, 2, 1, 1, 4 -> 1: 2/5, 2: 2/5, 4: 1/5.
    # overlap 2/5 + 1/4 + 1/5 = 0.85
    gen = [(0.0, 1.0, 60), (2.0, 1.0, 62), (3.0, 0.5, 64), (3.5, 0.5, 65)]
    assert telemelody_syllable_durations(gen) == [1.0, 2.0, 0.5, 0.5]
    assert telemelody_duration_similarity(gen, TUNE) == pytest.approx(85)
    # TUNE in doubled note values: bins 2, 2, 1, 1, 4 again, 100 (SongMASS: 2/5 + 1/5 = 60)
    doubled = [(2 * onset, 2 * duration, pitch) for onset, duration, pitch in TUNE]
    assert telemelody_duration_similarity(doubled, TUNE) == pytest.approx(100)
    assert duration_similarity(doubled, TUNE) == pytest.approx(60)
    # int(0.75 / 0.5) = 1: a dotted note shares the shortest's bin
    dotted, even = [(0.0, 0.5, 60), (0.5, 0.75, 62)], [(0.0, 0.5, 60), (0.5, 0.5, 62)]
    assert telemelody_duration_similarity(dotted, even) == pytest.approx(100)


def test_telemelody_syllables_sum_a_melisma():
    # TUNE with its fourth note a melisma of the third syllable: 1, 1, 0.5 + 0.5, 2 -> shortest 1: bins 1,
    # 1, 1, 2 -> 1: 3/4, 2: 1/4; against TUNE one syllable a note (1: 2/5, 2: 2/5, 4: 1/5): 2/5 + 1/4
    starts = [True, True, True, False, True]
    assert telemelody_syllable_durations(TUNE, starts) == [1.0, 1.0, 1.0, 2.0]
    assert telemelody_duration_similarity(TUNE, TUNE, starts) == pytest.approx(65)
    # the notes before the second flagged onset are the first syllable's (the script skips lyric 0)
    assert telemelody_syllable_durations(TUNE[:3], [False, True, True]) == [2.0, 0.5]
    # a chord is one syllable, but its second note starts before the first ends: the script writes a
    # 33-beat rest before it, and the syllable (1 + 33 + 1 beats) drops out
    assert telemelody_syllable_durations([(0.0, 1.0, 60), (0.0, 1.0, 64), (1.0, 1.0, 62)]) == [1.0]
    with pytest.raises(ValueError):
        telemelody_syllable_durations(TUNE, [True])


@pytest.mark.parametrize(
    ("melody", "durations"),
    [
        ([(0.0, 0.49, 60)], [0.25]),  # floored to whole sixteenths, not rounded
        ([(0.0, 0.1, 60)], [0.25]),  # at least one sixteenth
        ([(0.0, 6.0, 60)], [6.0]),  # no 4-beat clip
        ([(0.0, 40.0, 60)], [33.0]),  # past the vocabulary: 33 beats
        ([(0.0, 1.0, 60), (1.01, 1.0, 62)], [1.0, 1.25]),  # any gap is a rest of at least a sixteenth
        ([(0.0, 1.0, 60), (40.0, 1.0, 62)], [1.0]),  # 33-beat rest + 1 = 34 beats: not in the vocabulary
        ([(0.0, 1.0, 60), (0.5, 1.0, 62)], [1.0]),  # an overlap is written as 33 beats: the same
    ],
)
def test_telemelody_written_lengths(melody, durations):
    assert telemelody_syllable_durations(melody) == durations


def test_telemelody_skips_what_its_script_cannot_read():
    assert math.isnan(telemelody_pitch_similarity([], TUNE))
    assert math.isnan(telemelody_duration_similarity(TUNE, []))
    # a lone chord: its one syllable sums 1 + 33 + 1 beats, so no duration is left to count; PD still is
    # (60 and 64 against TUNE's 60 62 64 65 67: 1/5 + 1/5)
    chord = [(0.0, 1.0, 60), (0.0, 1.0, 64)]
    assert math.isnan(telemelody_duration_similarity(chord, TUNE))
    assert telemelody_pitch_similarity(chord, TUNE) == pytest.approx(40)


# --- the reference's formulas, re-derived on SongMASS's tokens ---------------------------------------
def _tokens(events: list[tuple[int, float]]) -> list[tuple[int, int]]:
    """Events as SongMASS tokens: pitch 0-128, duration token 129 + (quarter beats - 1)."""
    return [(pitch, 129 + round(beats * 4) - 1) for pitch, beats in events]


def _reference_overlap(gen, ref, field, bins, offset):
    def histogram(tokens):
        counts = [0] * bins
        for token in tokens:
            counts[token[field] - offset] += 1
        total = sum(counts) or 1
        return [c / total for c in counts]

    g, r = histogram(gen), histogram(ref)
    return sum((a + b - abs(a - b)) / 2 for a, b in zip(g, r, strict=True))


def _reference_series(tokens):
    cells = []
    for pitch, duration_token in tokens:
        sixteenths = duration_token - 128  # token 129 is 0.25 beat = 1 sixteenth
        if pitch == 128:
            if cells:
                cells.extend([cells[-1]] * sixteenths)
        else:
            cells.extend([pitch] * sixteenths)
    return [cells[2 * i] for i in range(len(cells) // 2)]


def _reference_dtw(x, y):
    inf = float("inf")
    acc = [[inf] * (len(y) + 1) for _ in range(len(x) + 1)]
    acc[0][0] = 0.0
    for i in range(1, len(x) + 1):
        for j in range(1, len(y) + 1):
            acc[i][j] = abs(x[i - 1] - y[j - 1]) + min(acc[i - 1][j - 1], acc[i - 1][j], acc[i][j - 1])
    return acc[-1][-1]


def test_against_the_reference_formulas_on_tokens():
    rng = np.random.default_rng(7)
    gen = [
        (2.0 * i + rng.choice([0, 0.5]), float(rng.choice([0.5, 1, 1.5])), int(rng.integers(55, 70)))
        for i in range(40)
    ]
    ref = [(1.5 * i, float(rng.choice([0.25, 0.75, 1.25])), int(rng.integers(58, 74))) for i in range(50)]
    gen_tokens, ref_tokens = _tokens(songmass_events(gen)), _tokens(songmass_events(ref))
    assert any(pitch == 128 for pitch, _ in gen_tokens) and any(pitch == 128 for pitch, _ in ref_tokens)

    assert pitch_similarity(gen, ref) == pytest.approx(
        100 * _reference_overlap(gen_tokens, ref_tokens, 0, 129, 0)
    )
    assert duration_similarity(gen, ref) == pytest.approx(
        100 * _reference_overlap(gen_tokens, ref_tokens, 1, 132, 129)
    )
    g, r = _reference_series(gen_tokens), _reference_series(ref_tokens)
    g_mean, r_mean = sum(g) / len(g), sum(r) / len(r)
    expected = _reference_dtw([v - r_mean for v in r], [v - g_mean for v in g]) / len(g)
    assert melody_distance(gen, ref) == pytest.approx(expected)


# --- TeleMelody's pipeline, re-derived on MIDI ticks and its token stream ------------------------------
def _telemelody_reference(notes, lyric_ticks, tpq=480):
    """(pitch tokens, syllable durations in beats) as cal_similarity.py's get_melody + separate would
    read notes (start, end, pitch) in ticks with lyric events at `lyric_ticks`."""

    def written(ticks):  # get_vocab: floor to sixteenths, at least one, else 33 beats outside 0.25-33
        beats = max(ticks // (tpq // 4), 1) / 4 if ticks >= 0 else -1
        return beats if 0.25 <= beats <= 33 else 33.0

    stream, next_lyric, last_end = [], 1, notes[0][0]
    for start, end, pitch in notes:
        if next_lyric < len(lyric_ticks) and lyric_ticks[next_lyric] == start:
            stream.append("align")
            next_lyric += 1
        if start != last_end:
            stream.append((128, written(start - last_end)))
        stream.append((pitch, written(end - start)))
        last_end = end
    stream.append("align")
    pitches = [token[0] for token in stream if token != "align"]
    sums, total = [], 0.0
    for token in stream:
        if token == "align":
            sums.append(total)
            total = 0.0
        else:
            total += token[1]
    return pitches, [d for d in sums if d <= 33]


def _reference_histogram_overlap(gen_values, ref_values):
    g, r = np.asarray(gen_values, dtype=np.float64), np.asarray(ref_values, dtype=np.float64)
    return 100 * sum(min(np.mean(g == v), np.mean(r == v)) for v in set(g.tolist()) | set(r.tolist()))


def test_telemelody_against_its_pipeline_on_ticks():
    rng = np.random.default_rng(11)
    tpq = 480

    def song(n):  # monophonic, gaps of 0 to 2 beats (some under a sixteenth), about one melisma in four
        notes, lyrics, t = [], [], 0
        for _ in range(n):
            t += int(rng.choice([0, 0, 0, 30, 240, 480, 960]))
            length = int(rng.choice([120, 240, 360, 480, 720, 960, 1100]))
            if not notes or rng.random() > 0.25:
                lyrics.append(t)
            notes.append((t, t + length, int(rng.integers(45, 90))))
            t += length
        return notes, lyrics

    for _ in range(20):
        (gen_notes, gen_lyrics), (ref_notes, ref_lyrics) = song(30), song(25)
        gen, ref = ([(s / tpq, (e - s) / tpq, p) for s, e, p in notes] for notes in (gen_notes, ref_notes))
        gen_starts = [s in set(gen_lyrics) for s, _, _ in gen_notes]
        ref_starts = [s in set(ref_lyrics) for s, _, _ in ref_notes]
        gen_pitches, gen_durations = _telemelody_reference(gen_notes, gen_lyrics)
        ref_pitches, ref_durations = _telemelody_reference(ref_notes, ref_lyrics)
        assert telemelody_syllable_durations(gen, gen_starts) == gen_durations

        def fold(pitches):
            return [60 + p % 12 if p <= 60 else 72 + p % 12 if p >= 84 else p for p in pitches if p != 128]

        assert telemelody_pitch_similarity(gen, ref) == pytest.approx(
            _reference_histogram_overlap(fold(gen_pitches), fold(ref_pitches))
        )
        gen_bins = [min(int(d / min(gen_durations)), 131) for d in gen_durations]
        ref_bins = [min(int(d / min(ref_durations)), 131) for d in ref_durations]
        assert telemelody_duration_similarity(gen, ref, gen_starts, ref_starts) == pytest.approx(
            _reference_histogram_overlap(gen_bins, ref_bins)
        )


def test_telemelody_compares_scale_degrees_once_each_melody_is_in_c_major_or_a_minor():
    assert unified_shift(7, "major") == 5  # G major up a fourth to C (nearer than down a fifth)
    assert unified_shift(2, "major") == -2  # D major down to C
    assert unified_shift(4, "minor") == 5  # E minor up to A minor
    assert unified_shift(9, None) == 3  # A, mode unsaid, read as major
    g_major = [(0.0, 1.0, 67), (1.0, 1.0, 71), (2.0, 1.0, 74)]  # G B D
    a_major = transposed(g_major, 2)  # A C# E: the same degrees in A
    # Left as they are, TeleMelody's PD sees other pitches; each moved from its own key (G up 5, A up 3),
    # the same ones: C5 E5 G5. (Its fold leaves 61-83 alone, so the octave a shift lands in still counts.)
    assert song_metrics([(a_major, g_major)])["TM_PD"] == pytest.approx(0.0)
    moved = [(unified_shift(9, "major"), unified_shift(7, "major"))]
    assert song_metrics([(a_major, g_major)], shifts=moved)["TM_PD"] == pytest.approx(100.0)
    assert song_metrics([(a_major, g_major)], shifts=moved)["PD"] == pytest.approx(0.0)  # SongMASS's: raw


def test_a_line_ends_long_when_its_last_syllable_holds_at_least_the_lines_median():
    # line 1: syllables of 1, 1 and 2 beats, the last closing it (2 >= median 1);
    # line 2: a 2-beat syllable, then a closing one of 0.5 beat carried on by a melisma note of 2 beats:
    # 2.5 from its onset to its last note's end (the rest before bar 3 not counted), median 2.25.
    melody = [(0.0, 1.0, 60), (1.0, 1.0, 62), (2.0, 2.0, 64), (4.0, 2.0, 65), (6.0, 0.5, 67), (6.5, 2.0, 65)]
    starts = [True, True, True, True, True, False]
    ends = [False, False, True, False, True, False]
    assert line_end_long_share(melody, starts, ends) == pytest.approx(1.0)
    # without the melisma the closing syllable lasts 0.5 against the line's median 1.25: one line of two
    assert line_end_long_share(melody[:5], starts[:5], ends[:5]) == pytest.approx(0.5)
    assert math.isnan(line_end_long_share(melody, starts, [False] * 6))


def test_a_line_comes_to_rest_when_its_last_syllables_last_note_is_in_the_triad():
    # the same two lines: line 1 ends on E (64), line 2's closing syllable ends on its melisma's F (65)
    melody = [(0.0, 1.0, 60), (1.0, 1.0, 62), (2.0, 2.0, 64), (4.0, 2.0, 65), (6.0, 0.5, 67), (6.5, 2.0, 65)]
    starts = [True, True, True, True, True, False]
    ends = [False, False, True, False, True, False]
    c_major = {0, 4, 7}
    assert line_end_degree_share(melody, starts, ends, c_major) == pytest.approx(0.5)
    # without the melisma line 2 ends on its syllable's own G
    assert line_end_degree_share(melody[:5], starts[:5], ends[:5], c_major) == pytest.approx(1.0)
    assert math.isnan(line_end_degree_share(melody, starts, [False] * 6, c_major))


def test_punctuation_after_a_word_ends_a_line():
    from cadenza.data.syllables import Syllable, ends_line

    assert ends_line("Herr,") and ends_line("son!") and ends_line("dir.”") and ends_line("End;")
    assert not ends_line("Ky") and not ends_line("lei") and not ends_line("don't")
    assert Syllable("Gott,", True).ends_line and not Syllable("Gott", True).ends_line


def test_a_melody_ends_on_the_pitch_class_of_its_last_note():
    tune = [(0.0, 1.0, 62), (1.0, 1.0, 64), (2.0, 2.0, 67)]  # ... G
    assert ends_on(tune, 7) and ends_on(tune, 19) and not ends_on(tune, 0)
    assert ends_on([(0.0, 1.0, 60), (3.0, 1.0, 67), (3.0, 1.0, 55)], 7)  # a last chord: its lowest, G3
    assert not ends_on([], 0)
