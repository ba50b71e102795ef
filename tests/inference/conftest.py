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
from tests.conftest import make_piece, short_bar_model

STYLES = ["bach", "folk"]


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    tokenizer = CadenzaTokenizer.new(STYLES)
    return save_checkpoint(short_bar_model(tokenizer), tokenizer, tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="session")
def bpe_composer(tmp_path_factory) -> Composer:
    """A BPE model (merged bar openings, as the shipped one has) that also knows bar infilling's tokens."""
    torch.manual_seed(0)
    tokenizer = CadenzaTokenizer.new(STYLES)
    pieces = [make_piece(seed, bars=6, voices=1 + seed % 3, numerator=3 + seed % 2) for seed in range(40)]
    tokenizer.train_bpe([tokenizer.encode_music(p) for p in pieces], 700)
    tokenizer.add_infill()
    folder = save_checkpoint(
        short_bar_model(tokenizer, bar_logit=2.0), tokenizer, tmp_path_factory.mktemp("bpe") / "model"
    )
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
