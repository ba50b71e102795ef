"""No context the model reads ends inside a merge: the open bar of a prompt is spelled by the model
(`PromptHealing`), on a tiny BPE model (conftest's `bpe_composer`)."""

from __future__ import annotations

import pytest
import torch
from transformers import LogitsProcessorList

from cadenza.inference.composer import Composer
from cadenza.inference.constraints import GrammarLogitsProcessor, PromptHealing
from cadenza.inference.prompts import control_prompt
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.tokenizer import split_bars
from tests.conftest import make_piece


def _first_step(
    composer: Composer, forced: list[int], time_signature: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the model's distribution after `BOS Style Key`, the one sampling draws from with the open bar
    `forced` spelled under the grammar)."""
    tok = composer.tokenizer
    ids = torch.tensor([tok.merge(tok.prefix("bach", (7, "major")))])
    with torch.no_grad():
        logits = composer.model(ids).logits[:, -1, :]
    grammar = RemiGrammar(tok, composer.vocab_size, time_signature, one_meter=True)
    processors = LogitsProcessorList(
        [PromptHealing(tok, [forced]), GrammarLogitsProcessor(grammar, min_bars=1)]
    )
    return torch.softmax(logits, -1)[0], torch.softmax(processors(ids, logits.clone()), -1)[0]


def test_an_opening_is_the_model_s_own_bar_token_drawn_with_its_own_odds(bpe_composer):
    tok = bpe_composer.tokenizer
    model, healed = _first_step(bpe_composer, [tok.bar_id])
    allowed = sorted(tok.bar_starts)
    assert set(healed.nonzero().flatten().tolist()) == set(allowed)  # every bar opening, nothing else
    assert torch.allclose(healed[allowed], model[allowed] / model[allowed].sum(), atol=1e-6)
    assert any(len(tok.parts(i)) > 1 for i in allowed)  # merged openings are among them


def test_an_asked_meter_is_spelled_by_tokens_that_agree_with_it(bpe_composer):
    tok = bpe_composer.tokenizer
    forced = [tok.bar_id, tok.vocab["TimeSig_3/4"]]
    model, healed = _first_step(bpe_composer, forced, "3/4")
    allowed = healed.nonzero().flatten().tolist()
    assert allowed and all(tok.parts(i)[:2] == tuple(forced)[: len(tok.parts(i))] for i in allowed)
    assert any(tok.parts(i)[:2] == tuple(forced) for i in allowed)
    assert torch.allclose(healed[allowed], model[allowed] / model[allowed].sum(), atol=1e-6)


@pytest.mark.parametrize(
    "controls",
    [
        {},
        {"time_signature": "3/4"},
        {"tempo": 90},
        {"time_signature": "4/4", "tempo": 120},
        {"key": "D minor"},
    ],
)
def test_a_fresh_piece_reads_only_its_prefix_and_spells_its_opening(bpe_composer, draws, controls):
    tok = bpe_composer.tokenizer
    pieces = bpe_composer.generate("folk", bars=2, num=3, seed=4, **controls)
    context, forced = next(d for d in draws if len(d[0][0]) > 2)  # not the key's draw after `BOS Style`
    key = tok.key_of(context[0][2])
    assert context == [tok.merge(tok.prefix("folk", key))] * 3
    assert forced == [control_prompt(tok, controls.get("tempo"), controls.get("time_signature"))] * 3
    for piece in pieces:
        music = tok.music_ids(piece.tokens)
        assert music[: len(forced[0])] == forced[0]
        assert RemiGrammar(tok).errors(piece.tokens) == 0


def test_a_continuation_reads_whole_bars_and_spells_nothing(bpe_composer, draws, tmp_path):
    tok = bpe_composer.tokenizer
    path = tmp_path / "prompt.mid"
    make_piece(3, bars=2, voices=1).dump_midi(str(path))
    piece = bpe_composer.generate("folk", bars=1, seed=1, prompt_midi=path, prompt_bars=2)[0]
    (context,), forced = draws[0]
    assert forced == []  # no healing processor at all
    assert tok.merge(tok.unmerge(context)) == context
    read = tok.music_ids(context)
    assert all(bar[0] == tok.bar_id for bar in split_bars(read, {tok.bar_id}))
    assert tok.music_ids(piece.tokens)[: len(read)] == read  # the model goes on after the last whole bar


def test_sliding_windows_end_at_a_bar_line_and_the_open_bar_is_spelled_again(bpe_composer, draws):
    tok = bpe_composer.tokenizer
    piece = bpe_composer.generate("bach", bars=12, seed=2)[0]
    music = tok.music_ids(piece.tokens)
    assert len(draws) > 2  # the key, the opening, then windows: the piece outgrew the context

    def within(part: list[int]) -> bool:
        return any(music[i : i + len(part)] == part for i in range(len(music) - len(part) + 1))

    whole = 0
    for (context,), (open_bar,) in draws[2:]:
        assert context[3:4] == [tok.continue_id] and tok.merge(tok.unmerge(context)) == context
        assert open_bar[:1] == [tok.bar_id]
        if tok.music_ids(context):  # what the model read, then spelled, is the piece's, bar lines and all
            assert within(tok.music_ids(context) + open_bar)
            whole += 1
        else:  # one bar longer than half the context: its opening, then its most recent notes
            assert within(open_bar[-8:])
    assert whole  # the model's bars here are short enough for most windows to hold several
    assert music.count(tok.bar_id) == 12 and RemiGrammar(tok).errors(piece.tokens) == 0


def test_healing_leaves_rows_with_nothing_to_spell_alone(bpe_composer):
    tok = bpe_composer.tokenizer
    healing = PromptHealing(tok, [[], [tok.bar_id]])
    scores = torch.zeros(2, bpe_composer.vocab_size)
    out = healing(torch.zeros(2, 3, dtype=torch.long), scores)
    assert torch.isfinite(out[0]).all()
    assert set(torch.isfinite(out[1]).nonzero().flatten().tolist()) == set(tok.bar_starts)
