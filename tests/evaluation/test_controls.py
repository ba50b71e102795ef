"""Control adherence on hand-made pieces: key, meter, bars."""

from __future__ import annotations

import math

import pytest
import symusic

from cadenza.evaluation.controls import (
    analysed_key,
    bar_meters,
    bars_written,
    is_valid,
    key_agrees,
    meter_share,
    tempo_agrees,
    validity,
)
from cadenza.tokenization.tokenizer import CadenzaTokenizer

Q = 480
A_MINOR = [57, 59, 60, 62, 64, 65, 68, 69, 64, 60, 57, 52, 57]  # harmonic minor, ending on the tonic
D_MAJOR = [62, 64, 66, 67, 69, 71, 73, 74, 69, 66, 62]


def line(pitches, quarters: int = 1, signatures=()) -> symusic.Score:
    score = symusic.Score(Q)
    for time, numerator, denominator in signatures:
        score.time_signatures.append(symusic.TimeSignature(time, numerator, denominator))
    track = symusic.Track()
    for i, pitch in enumerate(pitches):
        track.notes.append(symusic.Note(i * quarters * Q, quarters * Q, pitch, 80))
    score.tracks.append(track)
    return score


def test_the_key_of_a_scale_and_its_agreement_with_the_asked_key():
    assert analysed_key(line(A_MINOR)) == ("A", "minor")
    assert analysed_key(line(D_MAJOR)) == ("D", "major")
    assert key_agrees(line(A_MINOR), "A minor")
    assert not key_agrees(line(A_MINOR), "C major")
    shifted = line([p + 1 for p in A_MINOR])  # B-flat minor, asked as A#
    assert key_agrees(shifted, "A# minor") and key_agrees(shifted, "Bb minor")


def test_one_note_or_a_bare_fifth_has_no_key():
    assert analysed_key(line([60])) is None and analysed_key(line([60, 67, 72, 55])) is None
    assert analysed_key(line([60, 64, 67])) == ("C", "major")  # three pitch classes: a triad is enough


def test_bars_and_meters_follow_time_signature_changes():
    # 3 bars of 4/4 (12 quarters), then 3/4 from quarter 12 for the remaining 6 quarters: 2 bars
    score = line(range(60, 78), signatures=[(0, 4, 4), (12 * Q, 3, 4)])
    assert bar_meters(score) == [(4, 4)] * 3 + [(3, 4)] * 2
    assert bars_written(score) == 5
    assert meter_share(score, "3/4") == pytest.approx(2 / 5)
    assert meter_share(score, "6/8") == 0.0


def test_without_a_time_signature_bars_are_4_4_and_a_started_bar_counts():
    assert bar_meters(line([60] * 5)) == [(4, 4)] * 2


def test_an_empty_piece_has_no_key_no_bars_and_nan_meter_share():
    empty = symusic.Score(Q)
    assert analysed_key(empty) is None and not key_agrees(empty, "C major")
    assert bars_written(empty) == 0 and math.isnan(meter_share(empty, "4/4"))


def test_tempo_agrees_within_the_tokenizers_bin():
    score = line(A_MINOR)
    score.tempos.append(symusic.Tempo(0, 100.0))
    bins = [60.0, 90.0, 120.0, 150.0]
    assert tempo_agrees(score, 96, bins)  # 100 and 96 are both nearest 90
    assert not tempo_agrees(score, 130, bins)
    assert tempo_agrees(line(A_MINOR), 118, bins)  # no tempo: 120


def test_validity_of_token_sequences(piece_factory):
    tokenizer = CadenzaTokenizer.new(["bach"])
    good = tokenizer.encode(piece_factory(1), "bach")
    vocab = tokenizer.vocab
    # a Duration where a Pitch must come: miditok counts it as an error, the note would be dropped
    broken = [*good[:-1], tokenizer.bar_id, vocab["Position_0"], vocab["Duration_1.0.8"], tokenizer.eos_id]
    empty = [tokenizer.bos_id, tokenizer.style_id("bach"), tokenizer.eos_id]
    assert is_valid(good, tokenizer) and not is_valid(broken, tokenizer) and not is_valid(empty, tokenizer)
    assert validity([good, broken, empty, good], tokenizer) == 0.5
    assert math.isnan(validity([], tokenizer))
