"""BPE on a tiny corpus trained in the test: round trips, bars, and the grammar over merged tokens."""

from __future__ import annotations

import pytest
import torch

from cadenza.checkpoint import save_checkpoint
from cadenza.inference.composer import Composer
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.tokenizer import CadenzaTokenizer, note_tuples
from cadenza.training.model import ModelArgs, build_model
from tests.conftest import make_piece

VOCAB = 700


@pytest.fixture(scope="module")
def bpe() -> CadenzaTokenizer:
    tokenizer = CadenzaTokenizer.new(["bach", "folk"])
    pieces = [make_piece(seed, bars=6, voices=1 + seed % 3, numerator=3 + seed % 2) for seed in range(40)]
    tokenizer.train_bpe([tokenizer.encode_music(p) for p in pieces], VOCAB)
    return tokenizer


def test_merging_is_lossless_and_shorter(bpe):
    for seed in range(40, 46):
        piece = make_piece(seed, bars=5, voices=2)
        ids = bpe.encode(piece, "bach", key=(2, "minor"))
        merged = bpe.merge(ids)
        assert len(merged) < len(ids) and bpe.unmerge(merged) == ids
        assert merged[:3] == ids[:3] and merged[-1] == bpe.eos_id  # BOS Style Key and EOS stay themselves
        assert note_tuples(bpe.decode(merged)) == note_tuples(bpe.decode(ids))
        assert bpe.music_ids(merged) == bpe.music_ids(ids)


def test_a_merged_token_never_crosses_a_bar_line(bpe):
    assert len(bpe) == VOCAB
    for token in range(len(bpe.vocab), len(bpe)):
        parts = bpe.parts(token)
        assert bpe.bar_id not in parts[1:]
    ids = bpe.encode(make_piece(50, bars=7, voices=3), "folk", key=(0, "major"))
    merged = bpe.merge(ids)
    assert sum(token in bpe.bar_starts for token in merged) == ids.count(bpe.bar_id) == 7


def test_saved_merges_merge_the_same(bpe, tmp_path):
    ids = bpe.encode(make_piece(51, bars=4, voices=2), "bach", key=(7, "major"))
    loaded = CadenzaTokenizer.load(bpe.save(tmp_path))
    assert loaded.is_bpe and len(loaded) == VOCAB and loaded.merge(ids) == bpe.merge(ids)
    assert loaded.styles == bpe.styles and loaded.vocab == bpe.vocab


def test_a_style_added_after_the_merges_takes_the_next_id_and_moves_none(bpe, tmp_path):
    """A fine-tune's new style goes into the rows after the merged tokens (a model's reserved rows)."""
    tokenizer = CadenzaTokenizer.load(bpe.save(tmp_path / "base"))
    before = {tokenizer.token(i): i for i in range(len(tokenizer))}
    jazz = tokenizer.add_style("jazz")
    assert jazz == VOCAB and len(tokenizer) == VOCAB + 1 and tokenizer.add_style("jazz") == jazz
    assert all(tokenizer.token(i) == token for token, i in before.items())
    assert tokenizer.styles == ["bach", "folk", "jazz"] and tokenizer.token(jazz) == "Style_jazz"
    assert tokenizer.fingerprint != bpe.fingerprint

    loaded = CadenzaTokenizer.load(tokenizer.save(tmp_path / "adapter"))
    assert loaded.style_id("jazz") == jazz and len(loaded) == VOCAB + 1
    piece = make_piece(53, bars=3, voices=2)
    ids = loaded.merge(loaded.encode(piece, "jazz", key=(5, "major")))
    assert ids[1] == jazz and note_tuples(loaded.decode(ids)) == note_tuples(
        bpe.decode(bpe.encode(piece, "bach"))
    )
    grammar = RemiGrammar(loaded)
    assert grammar.errors(ids) == 0 and grammar.errors(loaded.merge(bpe.encode(piece, "bach"))) == 0
    state = grammar.advance(grammar.start_state(), loaded.bos_id)
    assert grammar.is_legal(state, jazz) and not grammar.is_legal(state, loaded.bar_id)


def test_merged_sequences_are_grammatical_and_the_mask_is_the_walk(bpe):
    grammar = RemiGrammar(bpe)
    merged = bpe.merge(bpe.encode(make_piece(52, bars=5, voices=3, numerator=3), "bach", key=(9, "minor")))
    assert grammar.errors(merged) == 0
    state = grammar.start_state()
    for step, token in enumerate(merged[:40]):
        if step % 5 == 0:  # the cached mask agrees with walking every token from scratch
            mask = grammar.allowed(state)
            brute = [grammar.is_legal(state, t) for t in range(len(bpe))]
            assert mask[: len(bpe)].tolist() == brute
        state = grammar.advance(state, token)
    assert grammar.errors([merged[0], merged[1], merged[2], merged[3], merged[3]]) >= 1  # a bar can't repeat


def test_constrained_decoding_with_merged_tokens_is_valid(bpe, tmp_path):
    torch.manual_seed(0)
    model = build_model(ModelArgs(n_layer=1, n_embd=32, n_head=2, n_positions=256), bpe)
    composer = Composer.from_pretrained(save_checkpoint(model, bpe, tmp_path / "m"))
    grammar = RemiGrammar(bpe)
    pieces = composer.generate("bach", bars=2, num=8, seed=1) + composer.generate(
        "folk", bars=3, num=4, seed=2
    )
    for piece in pieces:
        assert grammar.errors(piece.tokens) == 0  # the piece's tokens are base ids
        assert bpe.remi.tokens_errors(bpe.music_ids(piece.tokens)) == 0
        assert piece.tokens.count(bpe.bar_id) == piece.bars and piece.score.note_num() > 0
