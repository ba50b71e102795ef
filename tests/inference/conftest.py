"""Tiny random GPT-2 checkpoints (base tokens; BPE with infilling tokens) and a prompt MIDI file, made once
per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cadenza.checkpoint import save_checkpoint
from cadenza.inference.composer import Composer
from cadenza.inference.constraints import PromptHealing
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from cadenza.training.model import ModelArgs, build_model
from tests.conftest import make_piece

STYLES = ["bach", "folk"]


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    tokenizer = CadenzaTokenizer.new(STYLES)
    model = build_model(ModelArgs(n_layer=1, n_embd=32, n_head=2, n_positions=256), tokenizer)
    # A random model closes a bar once in ~200 notes, which makes tests slow. Pinning the final hidden
    # state near the Bar embedding gives Bar a logit ~3 above the rest: bars of a few notes.
    with torch.no_grad():
        bar = model.transformer.wte.weight[tokenizer.bar_id]
        model.transformer.ln_f.weight.mul_(0.1)
        model.transformer.ln_f.bias.copy_(bar * 3.0 / bar.dot(bar))
    return save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="session")
def bpe_composer(tmp_path_factory) -> Composer:
    """A BPE model (merged bar openings, as the shipped one has) that also knows bar infilling's tokens."""
    torch.manual_seed(0)
    tokenizer = CadenzaTokenizer.new(STYLES)
    pieces = [make_piece(seed, bars=6, voices=1 + seed % 3, numerator=3 + seed % 2) for seed in range(40)]
    tokenizer.train_bpe([tokenizer.encode_music(p) for p in pieces], 700)
    tokenizer.add_infill()
    model = build_model(ModelArgs(n_layer=1, n_embd=32, n_head=2, n_positions=256), tokenizer)
    with torch.no_grad():  # short bars, as in `tiny_checkpoint`
        bar = model.transformer.wte.weight[tokenizer.bar_id]
        model.transformer.ln_f.weight.mul_(0.1)
        model.transformer.ln_f.bias.copy_(bar * 2.0 / bar.dot(bar))
    folder = save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("bpe") / "model")
    torch.set_num_threads(1)
    return Composer.from_pretrained(folder)


@pytest.fixture
def draws(bpe_composer, monkeypatch) -> list[tuple[list[int], list[list[int]]]]:
    """Each sampling run's context rows as the model reads them, and the open bars it must spell."""
    seen = []
    draw = Composer.draw  # one sampling run (the key's choice after `BOS Style` is one too)

    def spy(self, ids, processors, sampling, stop, max_new):
        healing = [p for p in processors if isinstance(p, PromptHealing)]
        seen.append((ids.tolist(), [list(left) for left in healing[0].left] if healing else []))
        return draw(self, ids, processors, sampling, stop, max_new)

    monkeypatch.setattr(Composer, "draw", spy)
    return seen


@pytest.fixture(scope="session")
def composer(tiny_checkpoint) -> Composer:
    # One thread: a model this small only loses from a second one on a busy 2-core machine.
    torch.set_num_threads(1)
    return Composer.from_pretrained(tiny_checkpoint)


@pytest.fixture(scope="session")
def prompt_midi(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("prompt") / "prompt.mid"
    make_piece(7, bars=6, voices=2).dump_midi(str(path))
    return path
