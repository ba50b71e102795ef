import json

import pytest
import symusic

from cadenza.errors import CadenzaError, InputFileError
from cadenza.keys import annotated_key, key_name, parse_key
from cadenza.tokenization.tokenizer import CadenzaTokenizer, note_tuples, preprocess
from tests.conftest import keyless_tokenizer, make_piece


@pytest.fixture(scope="module")
def tokenizer() -> CadenzaTokenizer:
    return CadenzaTokenizer.new(["bach", "irish_fiddle"])


def test_sequence_layout(tokenizer):
    ids = tokenizer.encode(make_piece(1), "bach", key=(9, "minor"))
    assert ids[0] == tokenizer.bos_id
    assert ids[1] == tokenizer.style_id("bach")
    assert tokenizer.token(ids[2]) == "Key_A_minor" and tokenizer.key_of(ids[2]) == (9, "minor")
    assert ids[3] == tokenizer.bar_id and tokenizer.prefix_len == 3
    assert ids[-1] == tokenizer.eos_id
    assert tokenizer.eos_id not in ids[:-1]


def test_key_tokens_name_24_keys_and_nothing_else(tokenizer):
    assert len(tokenizer.key_ids) == 24 and len(set(tokenizer.key_ids)) == 24
    assert {tokenizer.key_of(i) for i in tokenizer.key_ids} == {
        (tonic, mode) for tonic in range(12) for mode in ("major", "minor")
    }
    assert tokenizer.key_of(tokenizer.bar_id) is None and tokenizer.key_of(len(tokenizer) + 5) is None
    assert tokenizer.prefix("bach", (6, "major"), continued=True) == [
        tokenizer.bos_id, tokenizer.style_id("bach"), tokenizer.vocab["Key_F#_major"], tokenizer.continue_id,
    ]  # fmt: skip
    with pytest.raises(CadenzaError, match="give one"):
        tokenizer.prefix("bach")
    with pytest.raises(CadenzaError, match="mode must be major or minor, got 'dorian'"):
        tokenizer.key_id((2, "dorian"))


def test_a_score_without_a_given_key_is_encoded_in_its_own(tokenizer):
    score = symusic.Score(480)
    track = symusic.Track(program=0)
    for i, pitch in enumerate([62, 64, 65, 67, 69, 70, 73, 74, 69, 65, 62]):  # D minor, leading note C#
        track.notes.append(symusic.Note(i * 480, 480, pitch, 80))
    score.tracks.append(track)
    assert tokenizer.token(tokenizer.encode(score, "bach")[2]) == "Key_D_minor"
    score.key_signatures.append(symusic.KeySignature(0, -2, 0))  # a signature says Bb major
    assert tokenizer.token(tokenizer.encode(score, "bach")[2]) == "Key_Bb_major"


def test_annotations_become_major_or_minor_keys():
    assert annotated_key("G major") == (7, "major") and annotated_key("Bb minor") == (10, "minor")
    assert annotated_key("A dorian") == (9, "minor") and annotated_key("D mixolydian") == (2, "major")
    assert parse_key("B- major") == (10, "major") and key_name((6, "minor")) == "F# minor"


def test_a_tokenizer_from_before_keys_keeps_its_layout():
    old = keyless_tokenizer(["bach"])
    assert not old.has_keys and old.prefix_len == 2 and old.key_ids == []
    assert old.encode(make_piece(1), "bach")[2] == old.bar_id  # no key token, no analysis


@pytest.mark.parametrize("seed,voices,numerator", [(0, 1, 4), (1, 2, 3), (2, 3, 4), (3, 4, 2)])
def test_round_trip_is_lossless_on_quantized_pieces(tokenizer, seed, voices, numerator):
    score = make_piece(seed, bars=6, voices=voices, numerator=numerator)
    back = tokenizer.decode(tokenizer.encode(score, "irish_fiddle"))
    assert note_tuples(back) == note_tuples(preprocess(tokenizer, score))
    assert [t.program for t in back.tracks] == list(range(voices))
    assert back.time_signatures[0].numerator == numerator


def test_velocity_is_dropped_by_design(tokenizer):
    back = tokenizer.decode(tokenizer.encode(make_piece(5), "bach"))
    assert {n.velocity for t in back.tracks for n in t.notes} == {100}  # miditok's default velocity


def test_tempo_is_kept_to_its_bin(tokenizer):
    back = tokenizer.decode(tokenizer.encode(make_piece(5), "bach"))
    assert back.tempos[0].qpm == pytest.approx(100.0, rel=0.05)  # 32 bins over 40-250 qpm


def test_styles_added_later_keep_every_existing_id(tokenizer, tmp_path):
    tokenizer.save(tmp_path)
    loaded = CadenzaTokenizer.load(tmp_path)
    assert loaded.vocab == tokenizer.vocab
    loaded.add_style("my_composer")
    assert all(loaded.vocab[t] == i for t, i in tokenizer.vocab.items())
    assert loaded.style_id("my_composer") == len(tokenizer)
    loaded.save(tmp_path)
    assert CadenzaTokenizer.load(tmp_path).styles == ["bach", "irish_fiddle", "my_composer"]


def test_unknown_and_invalid_styles(tokenizer):
    with pytest.raises(CadenzaError, match="unknown style 'jazz'.*bach"):
        tokenizer.style_id("jazz")
    with pytest.raises(CadenzaError, match="invalid style name"):
        tokenizer.add_style("Bad Name!")


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(InputFileError, match="no tokenizer file"):
        CadenzaTokenizer.load(tmp_path)
    (tmp_path / "tokenizer.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(InputFileError, match="tokenizer.json: not a cadenza tokenizer"):
        CadenzaTokenizer.load(tmp_path)


def test_decode_ignores_specials_and_stops_at_eos(tokenizer):
    ids = tokenizer.encode(make_piece(7), "bach")
    garbage_after_eos = ids + [tokenizer.style_id("bach"), tokenizer.bar_id]
    assert note_tuples(tokenizer.decode(garbage_after_eos)) == note_tuples(tokenizer.decode(ids))
    assert tokenizer.decode([tokenizer.bos_id]).note_num() == 0
    assert isinstance(tokenizer.decode([]), symusic.Score)


def test_token_kinds_are_read_in_one_place(tokenizer):
    pitch = tokenizer.vocab["Pitch_60"]
    assert (tokenizer.kind(pitch), tokenizer.value(pitch)) == ("Pitch", "60")
    assert tokenizer.kind(tokenizer.bar_id) == "Bar"
    assert tokenizer.kind(tokenizer.style_id("bach")) == "Style"
    assert tokenizer.value(tokenizer.vocab["TimeSig_3/4"]) == "3/4"
    pitches = tokenizer.ids_of("Pitch")
    assert pitch in pitches and all(tokenizer.token(i).startswith("Pitch_") for i in pitches)
    assert len(pitches) == 109 - 21 + 1  # the default pitch range, both ends in
    fresh = CadenzaTokenizer.new(["bach"])
    before = fresh.ids_of("Style")
    fresh.add_style("new_style")  # a token added later joins its kind
    assert fresh.ids_of("Style") == before | {fresh.style_id("new_style")}
