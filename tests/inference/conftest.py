"""A tiny random GPT-2 checkpoint and a prompt MIDI file, made once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cadenza.checkpoint import save_checkpoint
from cadenza.inference.composer import Composer
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
def composer(tiny_checkpoint) -> Composer:
    # One thread: a model this small only loses from a second one on a busy 2-core machine.
    torch.set_num_threads(1)
    return Composer.from_pretrained(tiny_checkpoint)


@pytest.fixture(scope="session")
def prompt_midi(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("prompt") / "prompt.mid"
    make_piece(7, bars=6, voices=2).dump_midi(str(path))
    return path
