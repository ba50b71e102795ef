"""Fixtures shared across test folders: tiny pieces and a tiny corpus made in the test."""

from __future__ import annotations

import os
import random

import pytest
import symusic
from datasets import Dataset, DatasetDict

# The suite decodes eager: the default ONNX decoder exports each new set of weights (seconds apiece, and the
# suite trains dozens of tiny models). tests/inference/test_sampling.py tests the ONNX path itself.
os.environ.setdefault("CADENZA_DECODER", "eager")


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory) -> None:
    """Exported decoding steps go to a folder of the session's, not the user's cache."""
    os.environ["CADENZA_CACHE"] = str(tmp_path_factory.mktemp("cadenza-cache"))


def make_piece(seed: int, bars: int = 4, voices: int = 2, numerator: int = 4) -> symusic.Score:
    """A quantized multi-voice piece: each voice plays random eighths/quarters inside a 2-octave band."""
    rng = random.Random(seed)
    tpq = 480
    score = symusic.Score(tpq)
    score.time_signatures.append(symusic.TimeSignature(0, numerator, 4))
    score.tempos.append(symusic.Tempo(0, 100.0))
    for v in range(voices):
        track = symusic.Track(program=v, name=f"voice{v}")
        t = 0
        while t < bars * numerator * tpq:
            dur = rng.choice([tpq // 2, tpq])
            track.notes.append(symusic.Note(t, dur, 72 - 12 * v + rng.randint(-5, 5), 90))
            t += dur
        score.tracks.append(track)
    return score


def short_bar_model(tokenizer, bar_logit: float = 3.0):
    """A random 1-layer GPT-2 whose bars hold a few notes: a random model closes a bar once in ~200 notes,
    which makes tests slow. Pinning the final hidden state near the Bar embedding gives Bar a logit about
    `bar_logit` above the rest."""
    import torch

    from cadenza.training.model import ModelArgs, build_model

    model = build_model(ModelArgs(n_layer=1, n_embd=32, n_head=2, n_positions=256), tokenizer)
    with torch.no_grad():
        bar = model.transformer.wte.weight[tokenizer.bar_id]
        model.transformer.ln_f.weight.mul_(0.1)
        model.transformer.ln_f.bias.copy_(bar * bar_logit / bar.dot(bar))
    return model


def keyless_tokenizer(styles: list[str]):
    """A tokenizer laid out as before key tokens existed (the shipped cadenza-base v1 has one)."""
    from miditok import REMI

    from cadenza.tokenization.tokenizer import CONTINUE_TOKEN, CadenzaTokenizer, default_config

    tokenizer = CadenzaTokenizer(REMI(default_config()))
    tokenizer.add_token(CONTINUE_TOKEN)
    for style in styles:
        tokenizer.add_style(style)
    return tokenizer


@pytest.fixture(scope="session")
def piece_factory():
    """`make_piece`, for test folders whose own conftest.py shadows this module's name."""
    return make_piece


@pytest.fixture(scope="session")
def tiny_corpus_dir(tmp_path_factory) -> str:
    """A corpus on disk with the columns training and evaluation read, two styles, three splits."""
    path = tmp_path_factory.mktemp("corpus")

    def split(n: int, offset: int) -> Dataset:
        rows = [
            {
                "id": f"piece{offset + i}",
                "style": ["alpha", "beta"][i % 2],
                "key": "C major",  # as the corpus builder annotates (make_piece's notes are random)
                "time_signatures": ["4/4"],
                "midi": make_piece(offset + i, bars=4 + i % 3, voices=1 + i % 2).dumps_midi(),
            }
            for i in range(n)
        ]
        return Dataset.from_list(rows)

    DatasetDict(train=split(24, 0), validation=split(4, 100), test=split(4, 200)).save_to_disk(path)
    return str(path)
