"""Likelihood: the model's NLL is training's, the n-gram baseline is cached, the breakdown by kind."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from accelerate import Accelerator
from torch.utils.data import DataLoader

from cadenza.checkpoint import load_checkpoint
from cadenza.data.corpus import load_corpus
from cadenza.errors import CadenzaError
from cadenza.evaluation.likelihood import NGramArgs, corpus_chunks, model_nll, ngram_baseline
from cadenza.training.data import Collator, lm_datasets
from cadenza.training.loop import evaluate


def test_model_nll_equals_the_training_evaluation(tiny_model, tiny_corpus_dir):
    model, tokenizer = load_checkpoint(tiny_model)
    path = f"{tiny_model}/tokenizer.json"
    corpus = load_corpus(tiny_corpus_dir)
    chunks = corpus_chunks(corpus["validation"], path, 128, num_proc=1)
    rows = lm_datasets(corpus, path, 128, num_proc=1)["validation"]
    assert [list(r) for r in rows["input_ids"]] == chunks  # the very rows training validates on
    loader = DataLoader(rows, batch_size=3, collate_fn=Collator(tokenizer.pad_id))
    expected = evaluate(model, loader, Accelerator(cpu=True))
    nll, count = model_nll(model, chunks, tokenizer.pad_id, batch_size=2)
    assert nll == pytest.approx(expected, rel=1e-5)
    assert count == sum(len(c) - 1 for c in chunks)


def test_ngram_baseline_is_cached(tiny_model, tiny_corpus_dir, tmp_path):
    corpus_dir = tmp_path / "corpus"
    shutil.copytree(tiny_corpus_dir, corpus_dir)
    corpus = load_corpus(corpus_dir)
    path = f"{tiny_model}/tokenizer.json"
    spec = NGramArgs(str(corpus_dir), order=3, max_len=128, num_proc=1)
    first = ngram_baseline(spec, corpus, path)
    again = ngram_baseline(spec, corpus, path)
    other = ngram_baseline(replace(spec, order=2), corpus, path)
    assert not first["cached"] and again["cached"] and not other["cached"]
    with pytest.raises(CadenzaError, match="chunk length must be at least 8 tokens, got 1"):
        ngram_baseline(replace(spec, max_len=1), corpus, path)
    assert again["nll"] == first["nll"] and other["nll"] != first["nll"]
    assert first["scored_tokens"] == sum(
        len(c) - 1 for c in corpus_chunks(corpus["validation"], path, 128, 1)
    )


def test_nll_breakdown_per_note_and_per_kind(tiny_model):
    import numpy as np

    from cadenza.evaluation.likelihood import nll_breakdown

    _, tokenizer = load_checkpoint(tiny_model)
    vocab = tokenizer.vocab
    pitch, duration, bar = vocab["Pitch_60"], vocab["Duration_1.0.8"], tokenizer.bar_id
    targets = np.array([bar, pitch, duration, pitch, duration])
    nll = np.array([0.5, 2.0, 1.0, 3.0, 0.5])
    result = nll_breakdown(nll, targets, tokenizer)
    assert result["per_token"] == pytest.approx(7.0 / 5)
    assert result["notes"] == 2 and result["per_note"] == pytest.approx(7.0 / 2)
    assert result["by_kind"] == {
        "Bar": {"nll": 0.5, "share": 0.2},
        "Duration": {"nll": 0.75, "share": 0.4},
        "Pitch": {"nll": 2.5, "share": 0.4},
    }


def test_a_bpe_model_is_compared_per_note_with_the_plain_ngram(tiny_corpus_dir, tmp_path):
    from cadenza.evaluation.likelihood import likelihood, nll_markdown
    from cadenza.training.train import TrainArgs, run_train
    from tests.evaluation.conftest import TINY

    corpus_dir = tmp_path / "corpus"
    shutil.copytree(tiny_corpus_dir, corpus_dir)
    model = run_train(
        TrainArgs(
            corpus=str(corpus_dir), output_dir=str(tmp_path / "bpe"), bpe_vocab=700, max_steps=2, **TINY
        )
    )
    result = likelihood(model, corpus_dir, load_corpus(corpus_dir), order=3, num_proc=1)
    merged, plain = result["breakdown"], result["ngram_remi"]["breakdown"]
    assert merged["notes"] == plain["notes"] == result["ngram"]["breakdown"]["notes"]  # the same notes
    assert "Merged" in merged["by_kind"] and "Merged" not in plain["by_kind"]
    assert result["scored_tokens"] < result["ngram_remi"]["scored_tokens"]  # fewer tokens, same music
    assert "Per note against the 3-gram on plain REMI tokens" in nll_markdown(result)
