"""Composer end to end on a tiny random model: grammar, bar counts, seeds, controls, errors."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
import symusic
import torch

from cadenza.checkpoint import load_checkpoint, save_checkpoint
from cadenza.data.loading import load_pieces_limited
from cadenza.errors import CadenzaError, InputFileError, TimeLimitError
from cadenza.inference.composer import Composer
from cadenza.inference.prompts import transpose_interval
from cadenza.keys import KEY_CHOICES, analysed_key, annotated_key, key_name, parse_key
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.tokenizer import CadenzaTokenizer, note_tuples, split_bars
from cadenza.training.model import ModelArgs, build_model
from tests.conftest import keyless_tokenizer


def bar_count(piece, tokenizer) -> int:
    return tokenizer.music_ids(piece.tokens).count(tokenizer.bar_id)


def test_pieces_start_as_openings_in_a_key_without_the_mid_piece_marker(composer):
    tok = composer.tokenizer
    for piece in composer.generate("bach", bars=2, num=4, seed=9):
        assert piece.tokens[:2] == [tok.bos_id, tok.style_id("bach")] and piece.tokens[3] == tok.bar_id
        assert key_name(tok.key_of(piece.tokens[2])) == piece.key  # the model chose it
        assert tok.continue_id not in piece.tokens


def test_constrained_samples_are_grammatical_and_exactly_n_bars(composer):
    grammar = RemiGrammar(composer.tokenizer)
    pieces = composer.generate("bach", bars=1, num=10, seed=1) + composer.generate(
        "folk", bars=2, num=10, seed=2
    )
    assert len(pieces) == 20
    for piece in pieces:
        assert grammar.errors(piece.tokens) == 0
        assert composer.tokenizer.remi.tokens_errors(composer.tokenizer.music_ids(piece.tokens)) == 0
        assert bar_count(piece, composer.tokenizer) == piece.bars
        assert piece.tokens[-1] == composer.tokenizer.eos_id


def test_long_pieces_slide_past_the_context(composer):
    piece = composer.generate("bach", bars=24, seed=5)[0]
    assert len(piece.tokens) > composer.context  # several windows were needed
    assert bar_count(piece, composer.tokenizer) == 24
    assert RemiGrammar(composer.tokenizer).errors(piece.tokens) == 0


def test_same_seed_same_output_and_drawn_seed_is_reported(composer):
    a = composer.generate("bach", bars=1, num=3, seed=42)
    b = composer.generate("bach", bars=1, num=3, seed=42)
    assert [p.tokens for p in a] == [p.tokens for p in b]
    assert len({tuple(p.tokens) for p in a}) == 3  # one batch, three different pieces
    drawn = composer.generate("bach", bars=1)[0]
    assert drawn.tokens == composer.generate("bach", bars=1, seed=drawn.seed)[0].tokens


def test_tempo_and_time_signature_prompt(composer):
    piece = composer.generate("folk", bars=2, seed=3, tempo=92, time_signature="3/4")[0]
    assert piece.score.tempos[0].qpm == pytest.approx(94.19, abs=0.01)
    assert {(ts.numerator, ts.denominator) for ts in piece.score.time_signatures} == {(3, 4)}
    # the prompt opens the first bar: still exactly the bars asked for
    for controls in ({"tempo": 92}, {"time_signature": "3/4"}, {}):
        assert bar_count(composer.generate("folk", bars=2, seed=3, **controls)[0], composer.tokenizer) == 2
    with pytest.raises(CadenzaError, match="supported: .*6/8"):
        composer.generate("folk", time_signature="7/4")


def test_an_asked_key_is_the_key_token(composer):
    tok = composer.tokenizer
    for asked, token in (("D", "Key_D_major"), ("Bb minor", "Key_Bb_minor"), ("f#m", "Key_F#_minor")):
        piece = composer.generate("bach", bars=2, seed=11, key=asked)[0]
        assert tok.token(piece.tokens[2]) == token and piece.key == token[4:].replace("_", " ")
    many = composer.generate("bach", bars=1, num=16, seed=3)
    assert len({p.key for p in many}) == 1  # one key per call: the rows share their prompt
    chosen = {composer.generate("bach", bars=1, seed=s)[0].key for s in range(12)}
    assert len(chosen) > 3  # a random model's choice is spread over the keys


def test_a_model_without_key_tokens_transposes_to_the_asked_tonic(tmp_path):
    torch.manual_seed(0)
    tokenizer = keyless_tokenizer(["bach"])
    model = build_model(ModelArgs(n_layer=1, n_embd=32, n_head=2, n_positions=256), tokenizer)
    old = Composer.from_pretrained(save_checkpoint(model, tokenizer, tmp_path / "v1"))
    for tonic in ("D", "Bb"):
        piece = old.generate("bach", bars=1, seed=11, key=tonic)[0]
        assert parse_key(analysed_key(piece.score))[0] == parse_key(tonic)[0]
        assert piece.tokens[2] == tokenizer.bar_id and piece.key is None


def test_key_functions():
    assert key_name((1, "major")) == "Db major" and key_name((1, "minor")) == "C# minor"
    assert key_name((8, "minor")) == "G# minor" and key_name((3, "minor")) == "Eb minor"
    assert len(set(KEY_CHOICES)) == 24 and all(key_name(parse_key(k)) == k for k in KEY_CHOICES)
    assert (
        parse_key("F# minor") == (6, "minor")
        and parse_key("bb") == (10, None)
        and parse_key("Am")[1] == "minor"
    )
    assert transpose_interval(0, 7) == -5 and transpose_interval(0, 6) == 6 and transpose_interval(11, 0) == 1
    with pytest.raises(CadenzaError):
        parse_key("H")


def test_continuation_keeps_the_original(composer, prompt_midi):
    tokenizer = composer.tokenizer
    original = tokenizer.decode(tokenizer.encode(symusic.Score(str(prompt_midi)), "bach"))
    piece = composer.generate("bach", bars=1, seed=4, prompt_midi=prompt_midi, prompt_bars=2)[0]
    assert bar_count(piece, tokenizer) == 6 + 1
    end = original.end()
    kept = [n for n in note_tuples(piece.score) if n[1] * piece.score.ticks_per_quarter < end]
    assert kept[: len(note_tuples(original))] == note_tuples(original)
    # what is rendered by default: the 2 prompt bars the model continued, then the new one
    excerpt = piece.excerpt()
    tpq, bar = excerpt.ticks_per_quarter, 4 * piece.score.ticks_per_quarter
    assert piece.context_start == 4 * bar  # the file's 6 bars, less the 2 prompt bars
    onsets = [onset * tpq for _, onset, _, _ in note_tuples(excerpt)]
    assert min(onsets) == 0 and max(onsets) >= 2 * bar  # the new bar (its meter is the model's choice)
    shifted = [
        (p, t - 4 * bar / tpq, pitch, d) for p, t, pitch, d in note_tuples(original) if t * tpq >= 4 * bar
    ]
    assert not Counter(shifted) - Counter(note_tuples(excerpt))  # the model may add to the last bar
    fresh = composer.generate("bach", bars=1, seed=4)[0]
    assert fresh.context_start == 0 and fresh.excerpt() is fresh.score
    assert piece.key == key_name(annotated_key(load_pieces_limited(prompt_midi)[0].key))  # the file's key


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"style": "jazz"}, "knows: bach, folk"),
        ({"bars": 0}, "bars"),
        ({"bars": 257}, "bars"),
        ({"temperature": 0}, "temperature"),
        ({"temperature": 5.5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.2}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"num": 0}, "num"),
        ({"num": 17}, "num"),
        ({"tempo": -3}, "tempo"),
        ({"key": "X minor"}, "key"),
    ],
)
def test_bad_arguments(composer, kwargs, message):
    kwargs = {"style": "bach", **kwargs}
    with pytest.raises(CadenzaError, match=message):
        composer.generate(**kwargs)


def test_bad_prompt_files(composer, tmp_path):
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    silent = tmp_path / "silent.mid"
    symusic.Score(480).dump_midi(str(silent))
    endless = tmp_path / "endless.mid"  # 48 bytes whose second note starts at tick 2**30: refused at load
    score = symusic.Score(1)
    score.tracks.append(symusic.Track(program=0))
    score.tracks[0].notes.extend([symusic.Note(0, 1, 60, 80), symusic.Note(2**30, 1, 62, 80)])
    score.dump_midi(str(endless))
    for path in (tmp_path / "missing.mid", corrupt, empty, silent, endless):
        with pytest.raises(InputFileError, match=path.name):
            composer.generate("bach", prompt_midi=path)


def test_broken_checkpoints(tiny_checkpoint, tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        Composer.from_pretrained(tmp_path / "nowhere")
    partial = tmp_path / "partial"
    shutil.copytree(tiny_checkpoint, partial)
    (partial / "model.safetensors").unlink()
    with pytest.raises(InputFileError, match="missing model.safetensors"):
        load_checkpoint(partial)
    mismatched = tmp_path / "mismatched"
    shutil.copytree(tiny_checkpoint, mismatched)
    big = CadenzaTokenizer.new([f"style{i}" for i in range(200)])
    big.save(mismatched)
    with pytest.raises(InputFileError, match="do not belong together"):
        Composer.from_pretrained(mismatched)
    truncated = tmp_path / "truncated"
    shutil.copytree(tiny_checkpoint, truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(InputFileError, match="truncated: model weights could not be loaded"):
        load_checkpoint(truncated)


def test_weights_full_of_nan_are_refused_at_load(tiny_checkpoint, tmp_path):
    from safetensors.torch import load_file, save_file

    poisoned = tmp_path / "poisoned"
    shutil.copytree(tiny_checkpoint, poisoned)
    weights = load_file(poisoned / "model.safetensors")
    name = next(iter(weights))
    weights[name] = torch.full_like(weights[name], float("nan"))
    save_file(weights, poisoned / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(InputFileError, match="model.safetensors: the weights hold NaN"):
        load_checkpoint(poisoned)


def test_a_seed_out_of_range_is_a_clear_error(composer):
    with pytest.raises(CadenzaError, match="seed must be between 0 and 2147483647"):
        composer.generate("bach", bars=1, seed=18446744073709551616)
    with pytest.raises(CadenzaError, match="seed must be between"):
        composer.generate("bach", bars=1, seed=-1)


def test_a_prompt_longer_than_the_context_is_fitted_to_it(composer, tmp_path):
    # 6 voices of eighths and quarters: a bar is ~90 tokens, the 4 prompt bars ~360, the context 256
    dense = tmp_path / "dense.mid"
    from tests.conftest import make_piece

    make_piece(5, bars=6, voices=6).dump_midi(str(dense))
    tokenizer = composer.tokenizer
    bars = [b for b in split_bars(tokenizer.encode_music(symusic.Score(str(dense))), {tokenizer.bar_id}) if b]
    assert sum(len(bar) for bar in bars[-4:]) > composer.context  # this used to be an IndexError
    (piece,) = composer.generate("bach", bars=1, seed=2, prompt_midi=dense, prompt_bars=4, use_profile=False)
    assert 0 < piece.prompt_seen < 4
    assert piece.score.note_num() > 0
    # the output still holds the whole file, then the new bar
    original = note_tuples(tokenizer.decode(tokenizer.encode(symusic.Score(str(dense)), "bach")))
    assert not Counter(original) - Counter(note_tuples(piece.score))


def test_sampling_past_its_time_limit_stops_with_a_clear_error(composer):
    with pytest.raises(TimeLimitError, match="time limit before the piece was finished"):
        composer.generate("bach", bars=24, seed=5, max_time=0)
    # a limit that is not reached changes nothing
    timed = composer.generate("bach", bars=24, seed=5, max_time=600)[0]
    assert timed.tokens == composer.generate("bach", bars=24, seed=5)[0].tokens


def test_a_prompt_already_read_continues_as_its_file_does(composer, prompt_midi):
    from cadenza.data.loading import load_pieces

    (read,) = load_pieces(prompt_midi)
    from_piece = composer.generate("bach", bars=1, seed=4, prompt_midi=read, prompt_bars=2)[0]
    from_file = composer.generate("bach", bars=1, seed=4, prompt_midi=prompt_midi, prompt_bars=2)[0]
    assert from_piece.tokens == from_file.tokens
    assert from_piece.voices == from_file.voices
