import json

import pytest
import symusic
from conftest import make_piece

from cadenza.errors import CadenzaError, InputFileError
from cadenza.tokenization.tokenizer import CadenzaTokenizer, note_tuples, preprocess


@pytest.fixture(scope="module")
def tokenizer() -> CadenzaTokenizer:
    return CadenzaTokenizer.new(["bach", "irish_fiddle"])


def test_sequence_layout(tokenizer):
    ids = tokenizer.encode(make_piece(1), "bach")
    assert ids[0] == tokenizer.bos_id
    assert ids[1] == tokenizer.style_id("bach")
    assert ids[2] == tokenizer.bar_id
    assert ids[-1] == tokenizer.eos_id
    assert tokenizer.eos_id not in ids[:-1]


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
