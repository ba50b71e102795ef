"""LoRA fine-tuning on a tiny BPE base and a tiny folder of scores: the adapter, serving several adapters
over one base, merging, the CLI, resume, DDP, and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from cadenza.checkpoint import read_adapter, save_checkpoint
from cadenza.cli import main
from cadenza.errors import CadenzaError, InputFileError
from cadenza.inference.composer import Composer
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from cadenza.training.finetune import FinetuneArgs, run_finetune
from cadenza.training.model import ModelArgs, build_model
from tests.conftest import make_piece

QUICK = dict(max_steps=6, eval_every=3, save_every=3, batch_size=4, num_proc=1, max_minutes=0.0)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A tiny BPE base that knows two styles."""
    tokenizer = CadenzaTokenizer.new(["alpha", "beta"])
    tokenizer.train_bpe([tokenizer.encode_music(make_piece(s, bars=4)) for s in range(30)], 600)
    torch.manual_seed(0)
    model = build_model(ModelArgs(n_layer=1, n_embd=32, n_head=2, n_positions=256), tokenizer)
    return save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("base") / "base")


def score_folder(path: Path, offset: int, numerator: int, files: int = 16) -> Path:
    path.mkdir(parents=True)
    for i in range(files):
        make_piece(offset + i, bars=4, voices=1, numerator=numerator).dump_midi(str(path / f"piece{i}.mid"))
    return path


@pytest.fixture(scope="module")
def adapters(base, tmp_path_factory) -> dict[str, Path]:
    """Two adapters on the base: waltzes (3/4 tunes, with a broken file among them) and marches."""
    root = tmp_path_factory.mktemp("adapters")
    waltzes = score_folder(root / "waltzes", 1000, 3)
    (waltzes / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    made = {}
    for style, folder in (("waltz", waltzes), ("march", score_folder(root / "marches", 2000, 2))):
        args = FinetuneArgs(
            input=str(folder), style=style, base=str(base), output_dir=str(root / style),
            corpus_out=str(root / f"corpus-{style}"), merge=style == "waltz", **QUICK,
        )  # fmt: skip
        made[style] = run_finetune(args)
    return made


def test_an_adapter_folder_holds_what_it_needs_and_is_small(base, adapters):
    folder = adapters["waltz"]
    info = read_adapter(folder)
    assert info.style == "waltz" and info.base == str(base)
    tokenizer = CadenzaTokenizer.load(folder)
    assert tokenizer.style_id("waltz") == len(CadenzaTokenizer.load(base))  # the first reserved row
    weights = load_file(folder / "adapter_model.safetensors")
    assert any("lora_A" in name for name in weights) and any("trainable_tokens" in name for name in weights)
    assert (folder / "adapter_model.safetensors").stat().st_size < (
        base / "model.safetensors"
    ).stat().st_size / 3
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["train pieces"] + metrics["validation pieces"] <= 16  # the broken file was skipped
    assert 0 < metrics["trainable parameters"] < metrics["all parameters"] / 5
    card = (folder / "README.md").read_text()
    assert "cadenza generate --adapter" in card and "val NLL per token before" in card
    assert json.loads((folder / "style_profiles.json").read_text())["waltz"]["programs"] == [0]


def test_one_base_serves_several_adapters_and_switches_without_reloading(base, adapters):
    composer = Composer.from_pretrained(base)
    plain = composer.generate("alpha", bars=2, seed=4)[0].tokens
    assert [composer.load_adapter(adapters[s]) for s in ("waltz", "march")] == ["waltz", "march"]
    assert composer.styles == ["alpha", "beta", "waltz", "march"]
    model = composer.model
    alone = {s: Composer.from_pretrained(base) for s in ("waltz", "march")}  # one adapter each
    for style, single in alone.items():
        single.load_adapter(adapters[style])
    for style in ("waltz", "march", "waltz"):
        (piece,) = composer.generate(style, bars=2, seed=5)
        style_id = CadenzaTokenizer.load(adapters[style]).style_id(style)
        assert piece.style == style and piece.tokens[1] == style_id
        assert piece.tokens == alone[style].generate(style, bars=2, seed=5)[0].tokens
    assert composer.model is model  # nothing reloaded
    assert composer.generate("alpha", bars=2, seed=4)[0].tokens == plain  # the base plays without adapters


def test_merge_writes_a_checkpoint_that_generates_as_the_adapter(base, adapters, tmp_path):
    merged = adapters["waltz"] / "merged"
    served = Composer.from_pretrained(base)
    served.load_adapter(adapters["waltz"])
    assert Composer.from_pretrained(merged).generate("waltz", bars=2, seed=6)[0].tokens == (
        served.generate("waltz", bars=2, seed=6)[0].tokens
    )
    assert (
        main(
            [
                "generate",
                "--model",
                str(merged),
                "--style",
                "waltz",
                "--out",
                str(tmp_path),
                "--formats",
                "mid",
            ]
        )
        == 0
    )


def test_cli_generates_with_an_adapter_in_its_style(base, adapters, tmp_path, capsys):
    argv = [
        "generate",
        "--model",
        str(base),
        "--adapter",
        str(adapters["march"]),
        "--bars",
        "2",
        "--seed",
        "3",
    ]
    assert main([*argv, "--out", str(tmp_path), "--formats", "mid"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["march_3_0.mid"]


def test_an_adapter_refuses_another_base(base, adapters, tmp_path):
    other = shutil.copytree(base, tmp_path / "retrained")
    weights = load_file(other / "model.safetensors")
    name = next(iter(weights))
    weights[name] = weights[name] + 0.01
    save_file(weights, other / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(InputFileError, match="made for another base model"):
        Composer.from_pretrained(other).load_adapter(adapters["waltz"])
    with pytest.raises(InputFileError, match="not a cadenza adapter: missing"):
        Composer.from_pretrained(base).load_adapter(tmp_path)


def test_bad_input_is_refused_in_one_line(base, tmp_path, tiny_corpus_dir):
    from datasets import Dataset, DatasetDict

    empty = tmp_path / "empty"
    empty.mkdir()
    other = str(tmp_path / "gamma-corpus")  # a corpus in a style the base does not know
    rows = Dataset.from_dict({"style": ["gamma"], "midi": [make_piece(0).dumps_midi()]})
    DatasetDict({"train": rows, "validation": rows, "test": rows}).save_to_disk(other)
    (empty / "notes.txt").write_text("not music")
    cases = [
        (dict(input=str(empty), style="new"), "empty: no score files in this folder"),
        (dict(input=str(tmp_path / "nowhere"), style="new"), "folder not found"),
        (dict(input=str(empty), style="alpha"), "one of the base's"),
        (dict(input=str(empty), style="Bad Name"), "invalid style name 'Bad Name'"),
        (dict(input=str(empty)), "needs --style NAME and one of --input FOLDER or --corpus"),
        (dict(input=str(empty), corpus=tiny_corpus_dir, style="new"), "one of --input FOLDER or --corpus"),
        (dict(corpus=other, style="songs", lyrics=True), "styles the base does not know: gamma"),
    ]
    for i, (options, message) in enumerate(cases):
        args = FinetuneArgs(base=str(base), output_dir=str(tmp_path / f"out{i}"), **options, **QUICK)
        with pytest.raises(CadenzaError, match=message):
            run_finetune(args)
        assert not (tmp_path / f"out{i}").exists()  # nothing half-made left behind


def test_a_killed_fine_tune_resumes(base, tmp_path):
    folder = score_folder(tmp_path / "airs", 3000, 3, files=12)
    options = dict(input=str(folder), style="air", base=str(base), output_dir=str(tmp_path / "air"), **QUICK)
    run_finetune(FinetuneArgs(**{**options, "max_steps": 3}))
    with pytest.raises(CadenzaError, match="already holds a training run"):
        run_finetune(FinetuneArgs(**options))
    out = run_finetune(FinetuneArgs(**options, resume=True))
    assert json.loads((out / "metrics.json").read_text())["steps"] == 6
    assert read_adapter(out).style == "air"


def test_two_process_fine_tune_on_cpu(base, tmp_path):
    """DDP over gloo through `accelerate launch`, as on several GPUs."""
    folder = score_folder(tmp_path / "airs", 4000, 3, files=12)
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "-m", "cadenza.cli", "finetune", "--cpu", "true", "--input", str(folder), "--style", "air",
        "--base", str(base), "--output_dir", str(tmp_path / "air"), "--corpus_out", str(tmp_path / "corpus"),
        *[x for k, v in QUICK.items() for x in (f"--{k}", str(v))],
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert read_adapter(tmp_path / "air").style == "air"
