"""The logits processor and stopping criteria on hand-made batches, without a model."""

from __future__ import annotations

import torch

from cadenza.inference.constraints import BarStoppingCriteria, GrammarLogitsProcessor
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.tokenizer import CadenzaTokenizer

HEAD = "BOS_None Style_bach Key_C_major"  # a keyed tokenizer's opening prefix


def ids(tok, text):
    return [tok.vocab[t] for t in text.split()]


def test_processor_masks_each_row_by_its_own_state():
    tok = CadenzaTokenizer.new(["bach"])
    vocab = len(tok) + 20
    processor = GrammarLogitsProcessor(RemiGrammar(tok, vocab), min_bars=2)
    rows = torch.tensor(
        [
            ids(
                tok,
                f"{HEAD} Bar_None TimeSig_4/4 Position_3 Program_0 Pitch_60 Duration_1.0.8",
            ),
            ids(
                tok,
                f"{HEAD} Bar_None TimeSig_4/4 Bar_None TimeSig_3/4 Position_0 Program_0",
            ),
            ids(
                tok,
                f"{HEAD} Bar_None TimeSig_4/4 Position_0 Tempo_40.0 Tempo_40.0 EOS_None",
            ),
        ]
    )
    out = processor(rows, torch.zeros(3, vocab))
    allowed = [set(torch.isfinite(row).nonzero().flatten().tolist()) for row in out]
    # Row 0: after a Duration at position 3 of a 4/4 bar, with one bar of the two needed: no EOS yet.
    assert tok.vocab["Position_4"] in allowed[0] and tok.vocab["Position_3"] not in allowed[0]
    assert tok.bar_id in allowed[0] and tok.eos_id not in allowed[0]
    # Row 1: after a Program only pitches.
    assert {tok.token(i).partition("_")[0] for i in allowed[1]} == {"Pitch"}
    # Row 2 ended (its second Tempo is skipped as illegal): it may only pad.
    assert allowed[2] == {tok.pad_id, tok.eos_id}
    # The next step feeds one new token per row.
    step = torch.cat([rows, torch.tensor([[tok.bar_id], [tok.vocab["Pitch_62"]], [tok.pad_id]])], dim=1)
    out = processor(step, torch.zeros(3, vocab))
    assert {tok.token(i).partition("_")[0] for i in torch.isfinite(out[0]).nonzero().flatten().tolist()} == {
        "TimeSig"
    }
    assert processor.bars == [2, 2, 1]


def test_processor_keeps_a_silent_piece_from_ending():
    tok = CadenzaTokenizer.new(["bach"])
    processor = GrammarLogitsProcessor(RemiGrammar(tok), min_bars=2)
    head = f"{HEAD} Bar_None TimeSig_4/4 Bar_None TimeSig_4/4"
    rows = torch.tensor(
        [
            ids(tok, f"{head} Position_0 Program_0 Pitch_60 Duration_1.0.8"),
            ids(tok, f"{head} Position_0 Tempo_40.0 Position_8 Tempo_40.0"),
        ]
    )
    finite = torch.isfinite(processor(rows, torch.zeros(2, len(tok))))
    # Both rows have their two bars; the one with a note may end, the silent one must write a note first.
    assert finite[0, tok.bar_id] and finite[0, tok.eos_id]
    assert not finite[1, tok.bar_id] and not finite[1, tok.eos_id]
    assert finite[1, tok.vocab["Program_0"]] and finite[1, tok.vocab["Position_16"]]


def test_processor_masks_programs_whose_run_has_ended():
    tok = CadenzaTokenizer.new(["bach"])
    processor = GrammarLogitsProcessor(RemiGrammar(tok, max_chord=1))
    head = f"{HEAD} Bar_None TimeSig_4/4 Position_0"
    rows = torch.tensor(
        [
            ids(tok, f"{head} Program_0 Pitch_60 Duration_1.0.8 Program_1 Pitch_55 Duration_1.0.8"),
            ids(tok, f"{head} Program_0 Pitch_60 Duration_1.0.8 Position_8 Program_1 Pitch_55"),
        ]
    )
    out = processor(rows, torch.zeros(2, len(tok)))
    finite = torch.isfinite(out)
    assert not finite[0, tok.vocab["Program_0"]] and not finite[0, tok.vocab["Program_1"]]
    assert finite[0, tok.vocab["Program_2"]] and finite[0, tok.vocab["Position_8"]]
    assert {tok.token(i).partition("_")[0] for i in finite[1].nonzero().flatten().tolist()} == {"Duration"}


def test_bar_stopping_waits_for_the_next_bar_or_eos():
    bar, eos = 3, 2
    stop = BarStoppingCriteria({bar}, eos, max_bars=2)
    rows = torch.tensor([[1, 9, bar, 5, bar, 6], [1, 9, bar, 5, 6, eos], [1, 9, bar, 5, 6, 7]])
    assert stop(rows, None).tolist() == [False, True, False]
    more = torch.cat([rows, torch.tensor([[bar], [0], [7]])], dim=1)
    assert stop(more, None).tolist() == [True, False, False]
