"""`cadenza evaluate` end to end on a tiny corpus and a tiny model trained in the test."""

from __future__ import annotations

import json
import shutil

import pytest
import symusic
from accelerate import Accelerator
from torch.utils.data import DataLoader

from cadenza.checkpoint import load_checkpoint
from cadenza.cli import main
from cadenza.data.corpus import load_corpus
from cadenza.errors import CadenzaError
from cadenza.evaluation import style_control
from cadenza.evaluation.report import (
    EvaluateArgs,
    corpus_chunks,
    model_nll,
    ngram_baseline,
    run_evaluate,
    update_card,
)
from cadenza.training.data import Collator, lm_datasets
from cadenza.training.train import TrainArgs, evaluate, run_train
from tests.conftest import make_piece

TINY = dict(n_layer=1, n_embd=32, n_head=2, n_positions=128, num_proc=1)


@pytest.fixture(scope="module")
def tiny_model(tiny_corpus_dir, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("run")
    final = run_train(
        TrainArgs(
            corpus=tiny_corpus_dir,
            output_dir=str(out),
            max_steps=5,
            eval_every=5,
            save_every=5,
            warmup_steps=1,
            **TINY,
        )
    )
    return str(final)


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
    first = ngram_baseline(corpus_dir, corpus, path, 3, 128, num_proc=1)
    again = ngram_baseline(corpus_dir, corpus, path, 3, 128, num_proc=1)
    other = ngram_baseline(corpus_dir, corpus, path, 2, 128, num_proc=1)
    assert not first["cached"] and again["cached"] and not other["cached"]
    with pytest.raises(CadenzaError, match="chunk length must be at least 8 tokens, got 1"):
        ngram_baseline(corpus_dir, corpus, path, 3, 1, num_proc=1)
    assert again["nll"] == first["nll"] and other["nll"] != first["nll"]
    assert first["scored_tokens"] == sum(
        len(c) - 1 for c in corpus_chunks(corpus["validation"], path, 128, 1)
    )


def test_evaluate_writes_json_and_card(tiny_model, tiny_corpus_dir, tmp_path, monkeypatch):
    # More pieces per style than one batch may hold come in several batches.
    monkeypatch.setattr("cadenza.inference.composer.MAX_NUM", 1)
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model, model_dir)
    args = EvaluateArgs(
        model=str(model_dir), corpus=tiny_corpus_dir, pieces_per_style=2, bars=1, ngram_order=3, num_proc=1
    )
    report = run_evaluate(args)
    saved = json.loads((model_dir / "evaluation.json").read_text())
    assert saved["nll"]["model_nll"] == report["nll"]["model_nll"]
    assert saved["nll"]["passes"] == (saved["nll"]["model_nll"] <= 0.75 * saved["nll"]["ngram"]["nll"])
    for breakdown, nll in [
        (saved["nll"]["breakdown"], saved["nll"]["model_nll"]),
        (saved["nll"]["ngram"]["breakdown"], saved["nll"]["ngram"]["nll"]),
    ]:
        assert breakdown["per_token"] == pytest.approx(nll, abs=1e-3)
        assert breakdown["notes"] > 0 and "Pitch" in breakdown["by_kind"]
    rows = saved["style_control"]["rows"]
    assert [r["style"] for r in rows] == ["alpha", "beta"]
    assert all(r["generated_pieces"] == 2 for r in rows)
    # The trained checkpoint has style profiles: the table of the model alone comes beside the default one.
    alone = saved["style_control"]["model_alone"]
    assert saved["style_control"]["profile"] and [r["style"] for r in alone["rows"]] == ["alpha", "beta"]
    card = (model_dir / "README.md").read_text()
    assert card.count("## Evaluation") == 1 and "| alpha |" in card and "## Training" in card
    assert "| alpha |" in card.partition("The model alone")[2]
    run_evaluate(args)  # a second run replaces the section instead of adding one
    assert (model_dir / "README.md").read_text().count("## Evaluation") == 1
    assert main(["evaluate", "--model", str(tmp_path / "missing"), "--corpus", tiny_corpus_dir]) == 2
    args.pieces_per_style = 0
    with pytest.raises(CadenzaError, match="--pieces_per_style must be at least 1, got 0"):
        run_evaluate(args)


def test_update_card_replaces_only_its_section(tmp_path):
    card = tmp_path / "README.md"
    card.write_text("# m\n\n## Evaluation\n\nold\n\n## Configuration\n\nkeep\n")
    update_card(card, "## Evaluation\n\nnew\n")
    assert card.read_text() == "# m\n\n## Evaluation\n\nnew\n\n## Configuration\n\nkeep\n"
    fresh = tmp_path / "NEW.md"
    update_card(fresh, "## Evaluation\n\nx\n")
    assert fresh.read_text() == "## Evaluation\n\nx\n"


def test_style_table_picks_the_nearest_style():
    corpus = {"a": {"pitch_range": 10.0, "polyphony": 1.0}, "b": {"pitch_range": 30.0, "polyphony": 3.0}}
    generated = {
        "a": {"pitch_range": 12.0, "polyphony": 1.2, "pieces": 8},
        "b": {"pitch_range": 14.0, "polyphony": 1.5, "pieces": 8},
    }
    rows = style_control.style_table(corpus, generated, {"pitch_range": 10.0, "polyphony": 1.0})
    assert [(r["style"], r["nearest_style"], r["passes"]) for r in rows] == [
        ("a", "a", True),
        ("b", "a", False),
    ]
    assert rows[0]["distance_to_own"] == pytest.approx((0.2**2 + 0.2**2) ** 0.5)
    assert style_control.required_passes(8) == 6 and style_control.required_passes(2) == 2


def test_excerpt_keeps_the_first_bars(tiny_model):
    from cadenza.tokenization.tokenizer import CadenzaTokenizer

    tokenizer = CadenzaTokenizer.load(tiny_model)
    piece = make_piece(3, bars=4, voices=1)
    cut = style_control.excerpt(tokenizer, piece, 2)
    two_bars = 2 * 4  # quarters in two bars of 4/4
    onsets = [n.time / cut.ticks_per_quarter for t in cut.tracks for n in t.notes]
    assert isinstance(cut, symusic.Score) and max(onsets) < two_bars
    assert len(onsets) == sum(n.time / piece.ticks_per_quarter < two_bars for n in piece.tracks[0].notes)


def test_nll_breakdown_per_note_and_per_kind(tiny_model):
    import numpy as np

    from cadenza.evaluation.report import nll_breakdown

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
