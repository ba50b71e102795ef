"""`Composer.infill`: bars written again knowing both sides, in MMM's layout, on a tiny BPE model that
has the infilling tokens (conftest's `bpe_composer`)."""

from __future__ import annotations

import pytest

from cadenza.errors import CadenzaError
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.tokenizer import split_bars


def _bars(composer, tokens: list[int]) -> list[list[int]]:
    tok = composer.tokenizer
    return [bar for bar in split_bars(tok.music_ids(tokens), {tok.bar_id}) if bar]


def test_infilled_bars_replace_only_the_bars_asked_and_the_model_reads_both_sides(bpe_composer, draws):
    tok = bpe_composer.tokenizer
    piece = bpe_composer.generate("folk", bars=6, seed=3)[0]
    draws.clear()
    versions = bpe_composer.infill(piece, start=2, count=2, num=2, seed=5)
    old = _bars(bpe_composer, piece.tokens)
    (context, _), *_ = draws[-1:]
    row = context[0]
    assert row == context[1]  # one context for every version
    fill, holes = row.index(tok.fill_id), [i for i, t in enumerate(row) if t == tok.hole_id]
    assert row[-1] == tok.fill_id and len(holes) == 2 and holes == [holes[0], holes[0] + 1]
    # the nearest whole bars before the holes, then after them, as many as fit half the context
    before = split_bars(tok.unmerge(row[3 : holes[0]]), {tok.bar_id})
    after = split_bars(tok.unmerge(row[holes[-1] + 1 : fill]), {tok.bar_id})
    assert before and before == old[2 - len(before) : 2]
    assert after and after == old[4 : 4 + len(after)]
    for version in versions:
        new = _bars(bpe_composer, version.tokens)
        assert len(new) == 6 and new[:2] == old[:2] and new[4:] == old[4:]
        assert version.tokens[:3] == piece.tokens[:3] and version.bars == piece.bars
        assert RemiGrammar(tok).errors(version.tokens) == 0
        assert version.score.note_num() > 0
    # The filled bars hold the piece's meter (one meter per piece).
    meters = {t for v in versions for t in tok.music_ids(v.tokens) if tok.token(t).startswith("TimeSig_")}
    assert meters <= {t for t in tok.music_ids(piece.tokens) if tok.token(t).startswith("TimeSig_")}


def test_the_first_bars_are_filled_from_what_follows(bpe_composer):
    piece = bpe_composer.generate("bach", bars=4, seed=1)[0]
    (version,) = bpe_composer.infill(piece, start=0, count=1, seed=2)
    old, new = _bars(bpe_composer, piece.tokens), _bars(bpe_composer, version.tokens)
    assert len(new) == 4 and new[1:] == old[1:]


def test_infilling_is_refused_outside_the_piece_and_without_the_tokens(bpe_composer, composer):
    piece = bpe_composer.generate("folk", bars=3, seed=0)[0]
    with pytest.raises(CadenzaError, match="start must be between 0 and 2"):
        bpe_composer.infill(piece, start=3, count=1)
    with pytest.raises(CadenzaError, match="count must be between 1 and 1"):
        bpe_composer.infill(piece, start=2, count=2)
    plain = composer.generate("folk", bars=2, seed=0)[0]
    with pytest.raises(CadenzaError, match="did not learn bar infilling"):
        composer.infill(plain, start=0, count=1)
