"""Preference tuning: the DPO-Positive loss by hand, the pairing rule, batches, a tiny round, best of N."""

from __future__ import annotations

import json
import math
import re
import shutil

import pytest
import symusic
import torch

from cadenza.checkpoint import load_checkpoint, save_checkpoint
from cadenza.cli import main
from cadenza.errors import CadenzaError
from cadenza.tokenization.tokenizer import CadenzaTokenizer, split_bars
from cadenza.training.dpo import PairCollator, dpo_loss
from cadenza.training.prefer import (
    PAIRS,
    REGENERATED,
    SAMPLES,
    SCORES,
    PreferArgs,
    choose_pairs,
    fault_window,
    regenerated_pair,
    run_prefer,
)
from tests.conftest import short_bar_model


def test_dpo_loss_by_hand():
    chosen, rejected = torch.tensor([-10.0]), torch.tensor([-12.0])
    ref_chosen, ref_rejected = torch.tensor([-11.0]), torch.tensor([-11.0])
    # margin = (-10 + 11) - (-12 + 11) = 2; the chosen piece grew more likely: no penalty.
    expected = -math.log(1 / (1 + math.exp(-0.1 * 2)))
    assert dpo_loss(chosen, rejected, ref_chosen, ref_rejected, 0.1, 10.0).item() == pytest.approx(expected)
    # The chosen piece fell by 1 nat under the reference: DPO-Positive subtracts lambda * 1 inside.
    fell = dpo_loss(torch.tensor([-12.0]), torch.tensor([-15.0]), ref_chosen, ref_rejected, 0.1, 10.0)
    margin = (-12 + 11) - (-15 + 11)  # 3: plain DPO would call this pair well learned
    assert fell.item() == pytest.approx(-math.log(1 / (1 + math.exp(-0.1 * (margin - 10.0)))))
    plain = dpo_loss(torch.tensor([-12.0]), torch.tensor([-15.0]), ref_chosen, ref_rejected, 0.1, 0.0)
    assert plain.item() < fell.item()


def test_pairs_are_the_top_against_the_bottom_of_each_style_without_copies_or_invalid_pieces():
    styles = ["a"] * 6 + ["b"] * 4
    samples = [{"style": s} for s in styles]
    # style a: scores 5..0, piece 1 repeats piece 0's notes, piece 5 is invalid.
    scores = [{"valid": True, "score": 5.0 - i, "notes": i} for i in range(6)]
    scores[1]["notes"] = 0
    scores[5] = {"valid": False, "score": None, "notes": None}
    scores += [{"valid": True, "score": float(i), "notes": 100 + i} for i in range(4)]  # style b: 0..3
    # a ranks 0, 2, 3, 4 (1 a copy of 0, 5 invalid): top half 0, 2 against bottom 4, 3, best with worst.
    assert choose_pairs(samples, scores, 0.5) == [(0, 4), (2, 3), (9, 6), (8, 7)]
    assert choose_pairs(samples, scores, 0.1) == [(0, 4), (9, 6)]  # at least one pair a style


def test_the_bars_regenerated_are_those_holding_most_faults():
    assert fault_window([5, 2, 6, 6], bars=8, count=2) == 5  # bars 5-6 hold three
    assert fault_window([1, 4], bars=8, count=2) == 0  # a tie: the earliest window holding one
    assert fault_window([8, 7], bars=8, count=3) == 5  # one on the final bar line counts in the last bar


def test_a_regenerated_piece_pairs_its_best_version_against_its_worst():
    samples = [{"ids": [1, 2, 3]}]
    scores = [{"valid": True, "score": 2.0, "notes": "piece"}]
    versions = [
        {"ids": [1, 2, 4], "valid": True, "score": 3.0, "notes": "better"},
        {"ids": [1, 2, 5], "valid": False, "score": None, "notes": None},
        {"ids": [1, 2, 6], "valid": True, "score": 1.0, "notes": "worse"},
    ]
    group = {"source": 0, "start": 1, "versions": versions}
    chosen, rejected = regenerated_pair(samples, scores, group, margin=0.5)
    assert (chosen["ids"], rejected["ids"]) == ([1, 2, 4], [1, 2, 6])
    assert regenerated_pair(samples, scores, group, margin=2.5) is None  # not far enough apart
    versions[2]["notes"] = "better"  # the same notes as the best: the next worst is rejected
    assert regenerated_pair(samples, scores, group, margin=0.5)[1]["ids"] == [1, 2, 3]


def test_pair_batches_learn_only_what_the_model_wrote():
    pairs = [
        {"prompt": [1, 5, 9], "chosen": [1, 5, 9, 20, 21], "rejected": [1, 5, 9, 30], "ref_chosen": -1.0,
         "ref_rejected": -2.0},
        {"prompt": [1, 6, 9], "chosen": [1, 6, 9, 22], "rejected": [1, 6, 9, 31, 32, 33], "ref_chosen": -3.0,
         "ref_rejected": -4.0},
    ]  # fmt: skip
    batch = PairCollator(pad_id=0)(pairs)
    assert batch["labels"].tolist() == [[-100, -100, -100, 20, 21], [-100, -100, -100, 22, -100]]
    assert batch["rejected_labels"].tolist()[1] == [-100, -100, -100, 31, 32, 33]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]
    assert batch["ref_rejected"].tolist() == [-2.0, -4.0]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A random model of the tiny corpus's two styles, bars kept short (as in tests/inference)."""
    torch.manual_seed(0)
    tokenizer = CadenzaTokenizer.new(["alpha", "beta"])
    tokenizer.add_infill()
    return save_checkpoint(short_bar_model(tokenizer), tokenizer, tmp_path_factory.mktemp("prefer") / "tiny")


def test_a_round_samples_scores_pairs_trains_and_resumes(tiny_model, tiny_corpus_dir, tmp_path):
    out = tmp_path / "round"
    args = PreferArgs(
        model=str(tiny_model), corpus=tiny_corpus_dir, output_dir=str(out), pieces_per_style=4, num=2, bars=2,
        share=0.5, batch_size=2, max_steps=2, warmup_steps=0, eval_every=1, save_every=1, num_proc=1,
        regenerate_bars=1, regenerated_per_style=2, variants=2, margin=0.0,
    )  # fmt: skip
    folder = run_prefer(args)
    samples, scores, regenerated, pairs = (
        [json.loads(line) for line in (out / name).read_text().splitlines()]
        for name in (SAMPLES, SCORES, REGENERATED, PAIRS)
    )
    assert len(samples) == len(scores) == 8 and {s["style"] for s in samples} == {"alpha", "beta"}
    assert all(s["meter"] == "4/4" and s["key"] == "C major" for s in samples)  # the held-out pieces' asks
    # Two pieces a style regenerated in one bar, two versions each, every other bar kept note for note.
    tokenizer = CadenzaTokenizer.load(tiny_model)
    assert len(regenerated) == 4 and {samples[g["source"]]["style"] for g in regenerated} == {"alpha", "beta"}

    def bars(ids: list[int]) -> list[list[int]]:
        return [
            bar for bar in split_bars(tokenizer.music_ids(tokenizer.unmerge(ids)), {tokenizer.bar_id}) if bar
        ]

    for group in regenerated:
        old = bars(samples[group["source"]]["ids"])
        for version in group["versions"]:
            new = bars(version["ids"])
            assert len(new) == len(old) == 2 and new[1 - group["start"]] == old[1 - group["start"]]
            assert version["valid"] and version["score"] is not None
    assert pairs and all(p["scores"][0] >= p["scores"][1] and p["ref_chosen"] < 0 for p in pairs)
    local = [p for p in pairs if p["regenerated"]]
    assert local and len(local) < len(pairs)  # whole pieces and regenerated bars
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["pairs"] == len(pairs)
    assert metrics["pairs of regenerated bars"] == len(local)
    tuned, _ = load_checkpoint(folder)
    before, _ = load_checkpoint(tiny_model)
    assert not torch.equal(tuned.lm_head.weight, before.lm_head.weight)  # trained
    assert "DPO-Positive" in (folder / "README.md").read_text()
    with pytest.raises(CadenzaError, match="already holds a round; pass --resume true"):
        run_prefer(args)
    # Resumed with every stage done, nothing is sampled or scored again.
    (out / SAMPLES).write_text((out / SAMPLES).read_text() + '{"cut')  # a line an interruption cut
    run_prefer(PreferArgs(**{**args.__dict__, "resume": True, "max_steps": 3}))
    assert len((out / SAMPLES).read_text().splitlines()) == 8
    assert json.loads((folder / "metrics.json").read_text())["steps"] == 3


def test_generate_keeps_the_critics_best_of_n_candidates(tiny_model, tiny_corpus_dir, tmp_path, capsys):
    corpus = tmp_path / "corpus"  # the judge writes its indexes beside the corpus
    shutil.copytree(tiny_corpus_dir, corpus)
    argv = ["generate", "--model", str(tiny_model), "--style", "beta", "--bars", "2", "--formats", "mid"]
    assert (
        main(
            [*argv, "--num", "2", "--candidates", "3", "--corpus", str(corpus), "--out", str(tmp_path / "o")]
        )
        == 0
    )
    err = capsys.readouterr().err
    kept = re.findall(r"kept candidate (\d) of 3 \(critic scores ([-\d., ]+)\)", err)
    assert len(kept) == 2 and len(list((tmp_path / "o").glob("*.mid"))) == 2
    for index, scores in kept:  # the one kept has the highest score
        values = [float(s) for s in scores.split(", ")]
        assert values[int(index) - 1] == max(values)
    assert main([*argv, "--num", "8", "--candidates", "3", "--out", str(tmp_path / "x")]) == 2
    assert "--num 8 x --candidates 3: at most 16 pieces in one batch" in capsys.readouterr().err
    assert (
        main([*argv, "--candidates", "2", "--corpus", str(tmp_path / "none"), "--out", str(tmp_path / "y")])
        == 2
    )
    assert "no corpus at" in capsys.readouterr().err and not list(
        (tmp_path / "y").iterdir()
    )  # nothing sampled


def test_the_compose_tab_keeps_the_critics_best_of_its_candidates(tiny_model, tiny_corpus_dir, tmp_path):
    from cadenza import ui
    from cadenza.evaluation.critic import critique
    from cadenza.evaluation.judge import Judge
    from cadenza.inference.composer import Composer
    from cadenza.inference.request import Request

    shutil.copytree(tiny_corpus_dir, tmp_path / "corpus")
    composer, judge = Composer.from_pretrained(tiny_model), Judge(tmp_path / "corpus", num_proc=1)
    form = ui.ComposeForm("beta", bars=2, seed=11, random_seed=False, candidates=3)
    (variation,) = ui.compose(composer, form, out_dir=tmp_path / "out", judge=lambda: judge)
    candidates = composer.generate(Request("beta", bars=2, seed=11, num=3))
    scores = [critique(judge, p.score, "beta", p.key).score for p in candidates]
    best = candidates[scores.index(max(scores))]
    assert symusic.Score(str(variation.midi)).note_num() == best.score.note_num()
    with pytest.raises(CadenzaError, match="needs the corpus the critic judges against"):
        ui.compose(composer, form, out_dir=tmp_path / "again")
    with pytest.raises(CadenzaError, match="candidates"):
        ui.compose(composer, ui.ComposeForm("beta", candidates=9), judge=lambda: judge)
