import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from datasets import Dataset, load_from_disk
from miditok import REMI
from safetensors.torch import load_file

from cadenza.checkpoint import load_checkpoint
from cadenza.cli import main
from cadenza.data.corpus import load_corpus
from cadenza.data.profiles import load_profiles
from cadenza.errors import CadenzaError
from cadenza.tokenization.tokenizer import CadenzaTokenizer, default_config
from cadenza.training.data import lm_datasets
from cadenza.training.loop import BEST_FILE, auto_mixed_precision, budget_used, complete_states, lr_factor
from cadenza.training.train import TrainArgs, _tokenizer_for, run_train

TINY = dict(n_layer=1, n_embd=32, n_head=2, n_positions=128, batch_size=4, warmup_steps=2, num_proc=1)


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_lr_schedule_warms_up_then_decays_over_the_tighter_budget():
    args = TrainArgs(warmup_steps=10, max_steps=100, max_minutes=1.0)
    assert lr_factor(0, 0, args) == pytest.approx(0.1)
    assert lr_factor(10, 0, args) == pytest.approx(1.0)
    assert lr_factor(55, 0, args) == pytest.approx(0.55)
    assert lr_factor(20, 30.0, args) == pytest.approx(0.55)  # half the time budget is gone
    assert lr_factor(100, 0, args) == pytest.approx(0.1)


def test_the_progress_bar_measures_the_budget_that_runs_out_first():
    args = TrainArgs(max_steps=100_000, max_minutes=10.0)
    assert budget_used(50, 300.0, args) == pytest.approx(0.5)  # half the minutes, few of the steps
    assert budget_used(80_000, 60.0, args) == pytest.approx(0.8)
    assert budget_used(100_001, 0.0, args) == 1.0
    assert budget_used(10, 10_000.0, TrainArgs(max_steps=100)) == pytest.approx(0.1)  # no time budget


@pytest.mark.parametrize(
    ("cuda", "cuda_bf16", "cpu_bf16", "on_cpu", "expected"),
    [
        (False, False, False, True, "no"),  # AVX2-only CPU: emulated bf16 is 10x slower than fp32
        (False, False, True, True, "bf16"),  # AMX / AVX512-BF16 CPU
        (True, True, False, False, "bf16"),
        (True, False, False, False, "fp16"),  # pre-Ampere GPU
        (True, True, False, True, "no"),  # --cpu true on a GPU machine follows the CPU
    ],
)
def test_auto_mixed_precision_follows_the_hardware(monkeypatch, cuda, cuda_bf16, cpu_bf16, on_cpu, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: cuda_bf16)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: cpu_bf16)
    assert auto_mixed_precision(on_cpu) == expected


def test_train_learns_saves_a_loadable_checkpoint_and_resumes(tiny_corpus_dir, tmp_path):
    out = tmp_path / "run"
    args = TrainArgs(
        corpus=tiny_corpus_dir,
        output_dir=str(out),
        max_steps=30,
        eval_every=10,
        save_every=10,
        lr=3e-3,
        transpose=2,
        **TINY,
    )
    final = run_train(args)
    rows = _rows(out / "metrics.csv")
    assert [int(r["step"]) for r in rows] == [0, 10, 20, 30]  # step 0: before any training
    assert float(rows[-1]["val_loss"]) < float(rows[1]["val_loss"]) - 0.3 < float(rows[0]["val_loss"])

    model, tokenizer = load_checkpoint(final)
    assert tokenizer.styles == ["alpha", "beta"]
    assert model.config.vocab_size >= len(tokenizer)
    card = (final / "README.md").read_text()
    assert "final val NLL per token" in card and "steps: 30" in card
    assert load_profiles(final)["beta"].programs == [0, 1]  # the corpus' duets, profiled beside the model

    # A killed run continues from its last state: steps and tokens carry on, no step is logged twice.
    # Saves cut off by the kill are skipped, whether written the way saves are now (a ".partial-" folder
    # renamed into place when whole) or by an older version (a step folder without our counters).
    states = out / "states"
    assert sorted(p.name for p in states.iterdir()) == ["step_20", "step_30"]
    (states / ".partial-step_40").mkdir()
    (states / "step_50").mkdir()
    (states / "step_50" / "model.safetensors").write_bytes(b"half")
    args.resume, args.max_steps = True, 35
    run_train(args)
    rows = _rows(out / "metrics.csv")
    assert [int(r["step"]) for r in rows] == [0, 10, 20, 30, 35]
    assert int(rows[-1]["tokens_seen"]) > int(rows[-2]["tokens_seen"])
    assert [p.name for p in complete_states(states)] == ["step_30", "step_35"]


def test_init_from_a_checkpoint_keeps_its_weights_and_ids_and_adds_new_styles(tiny_corpus_dir, tmp_path):
    def val_nll(folder: Path) -> float:
        return json.loads((folder / "metrics.json").read_text())["final val NLL per token (nats)"]

    # A learning rate of ~0 leaves the starting weights as they were.
    frozen = {"max_steps": 1, "lr": 1e-12}
    fresh = run_train(TrainArgs(corpus=tiny_corpus_dir, output_dir=str(tmp_path / "fresh"), **frozen, **TINY))
    base = run_train(
        TrainArgs(corpus=tiny_corpus_dir, output_dir=str(tmp_path / "base"), max_steps=20, lr=3e-3, **TINY)
    )
    assert val_nll(base) < val_nll(fresh) - 0.3
    same = TINY | {"n_layer": 3, "n_positions": 64}  # ignored: size and context come from the checkpoint
    again = run_train(
        TrainArgs(
            corpus=tiny_corpus_dir, output_dir=str(tmp_path / "again"), init_from=str(base), **frozen, **same
        )
    )
    assert val_nll(again) == pytest.approx(val_nll(base), abs=1e-3)
    model, _ = load_checkpoint(again)
    assert model.config.n_layer == TINY["n_layer"] and model.config.n_positions == TINY["n_positions"]

    # A corpus with a style the checkpoint never saw: its token goes after the known ones.
    renamed = tmp_path / "gamma_corpus"
    load_from_disk(tiny_corpus_dir).map(
        lambda row: {"style": "gamma" if row["style"] == "beta" else row["style"]}
    ).save_to_disk(renamed)
    grown = run_train(
        TrainArgs(
            corpus=str(renamed), output_dir=str(tmp_path / "grown"), init_from=str(base), max_steps=2, **TINY
        )
    )
    old, new = CadenzaTokenizer.load(base), CadenzaTokenizer.load(grown)
    assert new.styles == ["alpha", "beta", "gamma"]
    assert all(new.vocab[token] == i for token, i in old.vocab.items())


def test_init_from_an_older_tokenizer_appends_the_mid_piece_marker(tmp_path):
    old = CadenzaTokenizer(REMI(default_config()))  # as saved before the marker existed
    old.add_style("alpha")
    old.save(tmp_path / "old")
    split = Dataset.from_dict({"style": ["alpha", "beta"]})
    path = _tokenizer_for(TrainArgs(init_from=str(tmp_path / "old")), split, tmp_path)
    grown = CadenzaTokenizer.load(path)
    assert grown.continue_id == len(old) and grown.style_id("alpha") == old.style_id("alpha")
    assert grown.styles == ["alpha", "beta"]


def test_a_bpe_run_learns_merges_and_trains_on_merged_rows(tiny_corpus_dir, tmp_path):
    final = run_train(
        TrainArgs(
            corpus=tiny_corpus_dir, output_dir=str(tmp_path / "bpe"), bpe_vocab=700, max_steps=2, **TINY
        )
    )
    model, tokenizer = load_checkpoint(final)
    assert tokenizer.is_bpe and len(tokenizer) == 700 and model.config.vocab_size >= 700
    corpus = load_corpus(tiny_corpus_dir)
    rows = lm_datasets(corpus, str(final / "tokenizer.json"), 128, num_proc=1)["validation"]
    base = lm_datasets(corpus, str(_plain_tokenizer(tmp_path, tokenizer)), 128, num_proc=1)["validation"]
    merged_tokens = sum(len(r) for r in rows["input_ids"])
    assert merged_tokens < sum(len(r) for r in base["input_ids"])  # more music per token
    assert max(max(r) for r in rows["input_ids"]) >= len(tokenizer.vocab)  # merged ids are used
    for row in rows["input_ids"]:
        assert tokenizer.unmerge(tokenizer.merge(tokenizer.unmerge(row))) == tokenizer.unmerge(row)


def _plain_tokenizer(folder, tokenizer) -> Path:
    """The same tokens without the BPE merges."""
    plain = CadenzaTokenizer.new(tokenizer.styles)
    return plain.save(folder / "plain")


def test_saved_dtype_is_honoured(tiny_corpus_dir, tmp_path):
    final = run_train(
        TrainArgs(
            corpus=tiny_corpus_dir,
            output_dir=str(tmp_path),
            max_steps=2,
            eval_every=2,
            save_every=2,
            save_dtype="float16",
            **TINY,
        )
    )
    model, _ = load_checkpoint(final, dtype=torch.float16)
    assert next(model.parameters()).dtype == torch.float16


def test_resume_without_state_overwriting_a_run_and_bad_precision_are_clear_errors(tiny_corpus_dir, tmp_path):
    with pytest.raises(CadenzaError, match="nothing to resume"):
        run_train(
            TrainArgs(corpus=tiny_corpus_dir, output_dir=str(tmp_path), resume=True, max_steps=1, **TINY)
        )
    (tmp_path / "states").mkdir()
    with pytest.raises(CadenzaError, match="already holds a training run; pass --resume true"):
        run_train(TrainArgs(corpus=tiny_corpus_dir, output_dir=str(tmp_path), max_steps=1, **TINY))
    assert main(["train", "--corpus", tiny_corpus_dir, "--mixed_precision", "fp8"]) == 2
    for option, value, message in [
        ("batch_size", 0, "--batch_size must be at least 1, got 0"),
        ("grad_accum", 0, "--grad_accum must be at least 1, got 0"),
        ("transpose", -2, "--transpose must be at least 0, got -2"),
        ("lr", -1.0, "--lr must be above 0, got -1.0"),
        ("save_dtype", "int3", "--save_dtype must be one of float32, float16, bfloat16, not 'int3'"),
    ]:
        args = TrainArgs(corpus=tiny_corpus_dir, output_dir=str(tmp_path / option), **TINY)
        setattr(args, option, value)
        with pytest.raises(CadenzaError, match=re.escape(message)):
            run_train(args)
        assert not (tmp_path / option).exists()  # refused before anything is written
    assert main(["train", "--corpus", str(tmp_path / "missing")]) == 2


def test_bad_model_sizes_are_clear_errors_and_do_not_block_a_retry(tiny_corpus_dir, tmp_path):
    args = TrainArgs(corpus=tiny_corpus_dir, output_dir=str(tmp_path), max_steps=1, **TINY)
    args.n_head = 3
    with pytest.raises(CadenzaError, match="--n_embd 32 must be a multiple of --n_head 3"):
        run_train(args)
    args.n_head, args.n_layer = 2, 0
    with pytest.raises(CadenzaError, match="model sizes must be at least 1, got --n_layer 0"):
        run_train(args)
    args.n_layer = 1
    assert (run_train(args) / "model.safetensors").is_file()  # the failed starts left nothing in the way


def test_two_process_ddp_on_cpu(tiny_corpus_dir, tmp_path):
    """Real DDP over gloo through `accelerate launch` (torchrun underneath), as on several GPUs."""
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "-m",
        "cadenza.cli",
        "train",
        "--cpu",
        "true",
        "--corpus",
        tiny_corpus_dir,
        "--output_dir",
        str(tmp_path),
        "--max_steps",
        "6",
        "--eval_every",
        "3",
        "--save_every",
        "3",
        *[x for k, v in TINY.items() for x in (f"--{k}", str(v))],
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "processes: 2" in (tmp_path / "model" / "README.md").read_text()
    load_checkpoint(tmp_path / "model")


def test_training_says_nothing_a_user_cannot_act_on(tiny_corpus_dir, tmp_path, capsys, caplog):
    run_train(
        TrainArgs(
            corpus=tiny_corpus_dir, output_dir=str(tmp_path / "quiet"), max_steps=2, save_every=1, **TINY
        )
    )
    said = capsys.readouterr().err + caplog.text
    assert "loss_type=None" not in said and "Removed shared tensor" not in said


def test_early_stopping_ends_a_run_whose_val_loss_stops_improving(tiny_corpus_dir, tmp_path, monkeypatch):
    from cadenza.training import loop

    evals = iter([3.0, 2.0, 1.5, 1.6, 1.7, 1.9, 9.0])  # step 0, best at the 2nd eval, then 2 worse ones
    monkeypatch.setattr(loop, "evaluate", lambda *args: next(evals))
    out = tmp_path / "run"
    args = TrainArgs(
        corpus=tiny_corpus_dir, output_dir=str(out), max_steps=100, eval_every=2, save_every=100, patience=2,
        **TINY,
    )  # fmt: skip
    run_train(args)
    rows = _rows(out / "metrics.csv")
    assert [int(r["step"]) for r in rows] == [0, 2, 4, 6, 8]  # stopped at the 2nd eval without a better loss
    assert float(rows[-1]["val_loss"]) == 1.9  # the last row is the whole validation set's
    (state,) = complete_states(out / "states")
    assert json.loads((state / "trainer_state.json").read_text())["best"] == 1.5  # kept for a resume
    # The run returns the weights of step 4, the best evaluation, not the last (over-fitted) ones.
    best = load_file(out / "states" / BEST_FILE)
    saved = load_checkpoint(out / "model")[0].state_dict()
    assert best and all(torch.equal(saved[name], value) for name, value in best.items())
    last = load_file(state / "model.safetensors")
    assert not all(torch.equal(last[name], value) for name, value in best.items() if name in last)
    assert "weights kept from step: 4" in (out / "model" / "README.md").read_text()
