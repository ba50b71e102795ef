"""Where real phrases end (`inference.cadence`): line ends and song ends counted by hand, the log ratio,
save and load, and the guidance reading lyric items as they are written."""

from __future__ import annotations

import math

import numpy as np
import pytest
import symusic
import torch

from cadenza.errors import InputFileError
from cadenza.inference.cadence import CadenceGuidance, CadenceModel, fit_cadence, line_end_notes
from cadenza.tokenization.lyrics import syllable_ids
from cadenza.tokenization.tokenizer import CadenzaTokenizer

Q = 480


def _line(notes: list[tuple[int, str | None]], track_count: int = 1) -> symusic.Score:
    """One line of quarter notes: (pitch, lyric event or None for a melisma's note)."""
    score = symusic.Score(Q)
    track = symusic.Track()
    for i, (pitch, text) in enumerate(notes):
        track.notes.append(symusic.Note(i * Q, Q, pitch, 80))
        if text is not None:
            track.lyrics.append(symusic.TextMeta(i * Q, text))
    score.tracks.append(track)
    return score


def test_a_line_ends_on_its_last_syllables_last_note():
    # "Ky-ri-e," ends its line on its melisma's B (71); "e-lei-son." on D (74); "Chri" does not end one
    score = _line([(67, "Ky-"), (69, "ri-"), (72, "e,"), (71, None), (72, "e-"), (74, "lei-"), (74, "son."),
                   (76, "Chri")])  # fmt: skip
    assert line_end_notes(score) == [71, 74]
    assert line_end_notes(_line([(60, "Herr")])) == []
    assert line_end_notes(_line([(60, "Herr,"), (62, None)])) == [62]


def test_counts_by_hand_and_the_ratio_favours_what_ends_phrases():
    # In G major: a melody G A B C D C B A G (ends on the tonic); a song "Herr, Gott." on D then G (two
    # line ends).
    melody = _line([(p, None) for p in (67, 69, 71, 72, 74, 72, 71, 69, 67)])
    song = _line([(74, "Herr,"), (67, "Gott.")])
    model = fit_cadence(
        [{"midi": melody.dumps_midi(), "key": "G major"}], [{"midi": song.dumps_midi(), "key": "G major"}]
    )
    major = model.counts["major"]
    assert major["song"] == [1] + [0] * 11 and major["melody notes"][:8] == [2, 0, 2, 0, 2, 2, 0, 1]
    assert major["line"][0] == 1 and major["line"][7] == 1 and major["song notes"][7] == 1
    assert sum(sum(c) for c in model.counts["minor"].values()) == 0
    ratio = model.log_ratio("major", "song")  # add-one: tonic (1+1)/13 against (2+1)/21
    assert ratio[0] == pytest.approx(math.log(2 / 13) - math.log(3 / 21))
    assert ratio[0] > 0 > ratio[4] and ratio[1] == pytest.approx(math.log(1 / 13) - math.log(1 / 21))
    assert model.share("major", "line", (0, 4, 7)) == 1.0


def test_a_saved_model_loads_and_a_bad_one_is_refused_in_one_line(tmp_path):
    model = CadenceModel({m: {n: list(range(12)) for n in ("line", "song notes", "song", "melody notes")}
                          for m in ("major", "minor")})  # fmt: skip
    model.save(tmp_path / "cadence.json")
    assert CadenceModel.load(tmp_path / "cadence.json") == model
    (tmp_path / "bad.json").write_text('{"counts": {"major": {"song": [1, 2]}}}')
    for path in (tmp_path / "bad.json", tmp_path / "missing.json"):
        with pytest.raises(InputFileError, match="cadenza cadence"):
            CadenceModel.load(path)


def test_the_guidance_adds_the_ratio_to_pitches_at_a_line_end_and_the_song_end_only():
    tok = CadenzaTokenizer.new(["bach"])
    tok.add_lyrics()
    counts = {n: np.arange(1, 13).tolist() for n in ("line", "song notes", "song", "melody notes")}
    counts["line"] = [10] + [1] * 11
    counts["song"] = [1, 1, 30] + [1] * 9
    model = CadenceModel({"major": counts, "minor": counts})
    d_major = (2, "major")
    pitch = {p: tok.vocab[f"Pitch_{p}"] for p in (62, 64, 66)}  # D, E, F#: degrees 0, 2, 4

    def bias_after(ids: list[int]) -> torch.Tensor:
        guide = CadenceGuidance(tok, model, d_major, syllables=3)
        return guide(torch.tensor([[tok.bos_id, *ids]]), torch.zeros(1, len(tok)))[0]

    herr = syllable_ids(tok, "Herr,", True)
    assert bias_after(herr)[pitch[62]] == pytest.approx(float(model.log_ratio("major", "line")[0]))
    assert bias_after(herr)[tok.bar_id] == 0  # only pitches move
    after_note = [*herr, tok.vocab["Position_0"], pitch[62]]
    assert not bias_after(after_note).any()  # its note has its pitch: nothing until the next line end
    within = [*after_note, *syllable_ids(tok, "mein", False)]
    assert not bias_after(within).any()
    last = [*within, pitch[64], *syllable_ids(tok, "Gott", True)]  # the third syllable: the song's end
    song = model.log_ratio("major", "song")
    assert bias_after(last)[pitch[64]] == pytest.approx(float(song[2]))
    assert bias_after(last)[pitch[66]] == pytest.approx(float(song[4]))
