"""The critic on hand-made pieces: each part alone (pure functions), then pieces against a tiny corpus."""

from __future__ import annotations

import math
import shutil

import pytest
import symusic

from cadenza.evaluation import critic
from cadenza.evaluation.critic import WEIGHTS, Critique
from cadenza.evaluation.judge import FeatureRow, Judge, Judgement


def line(
    pitches: list[int | None], quarters: int = 1, track_of: symusic.Score | None = None
) -> symusic.Score:
    """One voice of quarter notes (None: a rest) in 4/4, added to `track_of` when given."""
    score = track_of or symusic.Score(480)
    if track_of is None:
        score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    track = symusic.Track(program=len(score.tracks))
    for i, pitch in enumerate(pitches):
        if pitch is not None:
            track.notes.append(symusic.Note(i * 480 * quarters, 480 * quarters, pitch, 80))
    score.tracks.append(track)
    return score


def test_empty_bars_are_counted_by_the_bar():
    notes = [60, 62, 64, 65] + [None] * 8 + [67, 65, 64, 62]  # bars 2 and 3 of 4 are silent
    assert critic.empty_bar_share(line(notes)) == 0.5
    assert critic.empty_bar_share(line([60, 62, 64, 65, 67, 65, 64, 62])) == 0.0
    held = line([60], quarters=8)  # one note sounding through two bars leaves neither empty
    assert critic.empty_bar_share(line([60, 62, 64, 65], track_of=held)) == 0.0


def test_one_sonority_filling_half_the_piece_is_degenerate():
    assert critic.dominant_sonority(line([60] * 8)) == 1.0
    assert critic.degenerate(line([60] * 8)) == 1.0
    scale = line([60, 62, 64, 65, 67, 69, 71, 72])
    assert critic.dominant_sonority(scale) == 1 / 8 and critic.degenerate(scale) == 0.0
    # Three voices holding one C major chord (in changing voicings) for two bars: one sonority.
    chord = line([64, 76, 64, 76, 64, 76, 64, 76])
    for pitches in ([55, 67] * 4, [48] * 8):
        chord = line(pitches, track_of=chord)
    assert critic.dominant_sonority(chord) == 1.0


def _judgement(values: dict[str, float]) -> Judgement:
    rows = [FeatureRow(name, value, 0.0, 1.0) for name, value in values.items()]
    return Judgement("s", False, {"s": 1.0}, None, rows, None, None, None, [])


def test_harmony_closeness_by_hand():
    medians = {"consonance": 0.7, "chord_share": 0.8, "parallel_perfects": 0.5, "voice_crossings": 10.0}
    spreads = {"consonance": 0.2, "chord_share": 0.4, "parallel_perfects": 2.0, "voice_crossings": 20.0}
    piece = {"consonance": 0.6, "chord_share": 0.8, "parallel_perfects": 0.0, "voice_crossings": 20.0}
    # consonance 0.1 / 0.2 away: 0.5; chords at the median: 1; crossings 10 above the median of a 20
    # spread: 0.5. Parallels are a part of their own.
    assert critic.harmony_closeness(_judgement(piece), medians, spreads) == pytest.approx(2 / 3)
    far = {**piece, "consonance": 0.1}  # 0.6 away from 0.7 with a 0.2 spread: capped at 0
    assert critic.harmony_closeness(_judgement(far), medians, spreads) == pytest.approx(0.5)
    no_harmony = dict.fromkeys(medians, math.nan)
    assert math.isnan(critic.harmony_closeness(_judgement(piece), no_harmony, spreads))
    one_line = dict.fromkeys(piece, math.nan)  # a single line defines none of the shares
    assert math.isnan(critic.harmony_closeness(_judgement(one_line), {**medians, "num_tracks": 1.0}, spreads))
    assert critic.harmony_closeness(_judgement(one_line), {**medians, "num_tracks": 4.0}, spreads) == 0.0


def test_each_parallel_per_100_steps_above_the_median_halves_the_parallels_part():
    medians = {"parallel_perfects": 0.5}
    for parallels, part in ((0.0, 1.0), (0.5, 1.0), (1.5, 0.5), (3.5, 0.25)):
        judged = _judgement({"parallel_perfects": parallels})
        assert critic.parallels_part(judged, medians) == pytest.approx(part)
    assert critic.parallels_part(_judgement({"parallel_perfects": math.nan}), medians) == 0.0


def test_the_score_is_the_weighted_sum_of_the_parts_that_apply():
    parts = {"style": 0.9, "ranges": 0.5, "key": 1.0, "degenerate": 0.25}
    assert Critique(parts).score == pytest.approx(0.9 + 0.5 + 0.5 * 1.0 - 2.0 * 0.25)
    assert WEIGHTS["copying"] < 0 and WEIGHTS["degenerate"] < 0


@pytest.fixture(scope="module")
def judge(tiny_corpus_dir, tmp_path_factory) -> Judge:
    folder = tmp_path_factory.mktemp("critic") / "corpus"  # the judge writes its indexes beside the corpus
    shutil.copytree(tiny_corpus_dir, folder)
    return Judge(folder, num_proc=1)


def test_a_piece_is_critiqued_as_the_style_asked(judge, piece_factory):
    two_voices = piece_factory(500, bars=4, voices=2)  # the tiny corpus's "beta" pieces have two voices
    as_beta = critic.critique(judge, two_voices, "beta", key="C major", meter="4/4")
    assert set(as_beta.parts) == {
        "style", "ranges", "harmony", "parallels", "key", "meter", "copying", "degenerate",
    }  # fmt: skip
    assert as_beta.parts["meter"] == 1.0 and as_beta.parts["degenerate"] == 0.0
    assert as_beta.score == pytest.approx(sum(WEIGHTS[p] * v for p, v in as_beta.parts.items()))
    as_alpha = critic.critique(judge, two_voices, "alpha")  # one-voice pieces: no harmony, nothing asked
    assert set(as_alpha.parts) == {"style", "ranges", "copying", "degenerate"}


def test_a_drone_scores_below_music_of_the_style(judge, piece_factory):
    music = piece_factory(501, bars=4, voices=2)
    drone = line([60] * 16)
    drone = line([48] * 16, track_of=drone)
    assert critic.critique(judge, drone, "beta").score < critic.critique(judge, music, "beta").score - 1.0


def test_copying_is_judged_against_the_baseline_given(judge, piece_factory):
    piece = piece_factory(502, bars=4, voices=2)
    strict = {"beta": {"share": -1.0, "longest": 0.0}}  # any shared note is too many
    lenient = {"beta": {"share": 2.0, "longest": 1e9}}
    assert critic.critique(judge, piece, "beta", human=strict).parts["copying"] == 1.0
    assert critic.critique(judge, piece, "beta", human=lenient).parts["copying"] == 0.0
    assert critic.critique(judge, piece, "alpha", human=strict).parts["copying"] == float(
        bool(judge.judge(piece, "alpha").flagged)
    )  # a style the baseline lacks: the judge's own
