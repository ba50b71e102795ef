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
    melody_distance,
    melody_from_score,
    pitch_series,
    pitch_similarity,
    song_metrics,
    songmass_events,
    strong_beat_share,
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
    assert metrics == {"PD": pytest.approx(50), "DD": pytest.approx(50), "MD": 0, "songs": 2, "md_songs": 1}
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
