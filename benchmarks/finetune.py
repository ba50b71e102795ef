"""A LoRA fine-tune on a composer the base never saw, measured: held-out NLL per note before and after,
adapter size, trainable share, minutes, and training tokens/s of LoRA against full fine-tuning.

    python benchmarks/finetune.py --input <folder of scores> --style airs [--base checkpoints/cadenza-base]
        [--out runs/finetune-airs] [--max_minutes 10] [--rank 8] [--lora_alpha 16] [--steps 20]

It runs `cadenza finetune` with the given settings (the rest are its defaults), then scores the held-out
pieces of the folder (the validation split `cadenza finetune` made) per note:
- "base, new tag": the base with the new style's token at its untrained reserved row (what LoRA starts from);
- "base, best tag": the base with whichever of its own styles fits the pieces best (what a user had before);
- "adapter": the base with the adapter.
Then `--steps` optimizer steps of LoRA and of full fine-tuning on the same batches, timed: tokens/s.

    python benchmarks/finetune.py --input <folder> --style airs --sweep true --max_steps 300

The sweep that chose `cadenza finetune`'s defaults: the same folder fine-tuned under each setting of
SWEEP for a fixed number of steps (no time budget, so a busy machine changes nothing but the minutes),
each adapter's held-out NLL per note and size in one table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from cadenza.checkpoint import load_checkpoint, peft_quietly
from cadenza.data.corpus import load_corpus
from cadenza.evaluation.likelihood import corpus_chunks, model_token_nll, nll_breakdown, scored_targets
from cadenza.paths import TOKENIZER_FILE
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from cadenza.training.data import Collator, lm_datasets
from cadenza.training.finetune import FinetuneArgs, lora_model, run_finetune
from cadenza.training.model import LOSS_TYPE


def per_note(model, chunks: list[list[int]], tokenizer: CadenzaTokenizer) -> float:
    nll = model_token_nll(model, chunks, tokenizer.pad_id)
    return nll_breakdown(nll, scored_targets(chunks), tokenizer)["per_note"]


def retagged(chunks: list[list[int]], style_id: int) -> list[list[int]]:
    return [[chunk[0], style_id, *chunk[2:]] for chunk in chunks]


def tokens_per_second(model, loader: DataLoader, steps: int) -> float:
    """Training throughput over `steps` AdamW steps (after one untimed warm-up step)."""
    model.loss_type = LOSS_TYPE
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batches = (batch for _ in range(steps + 1) for batch in loader)  # epochs again for a small folder
    tokens, started = 0, 0.0
    for step in range(steps + 1):
        batch = next(batches)
        if step == 1:
            started = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += int(batch["attention_mask"].sum()) if step else 0
    return tokens / (time.perf_counter() - started)


# (rank, lora_alpha, lr, target modules): the rank at a fixed scale alpha / rank = 2, the learning rate
# around the default, and LoRA on attention alone (the LoRA paper's choice) against attention and MLP.
SWEEP = [
    (4, 8, 1e-3, "c_attn,c_proj,c_fc"),
    (8, 16, 1e-3, "c_attn,c_proj,c_fc"),
    (16, 32, 1e-3, "c_attn,c_proj,c_fc"),
    (8, 16, 3e-4, "c_attn,c_proj,c_fc"),
    (8, 16, 3e-3, "c_attn,c_proj,c_fc"),
    (8, 16, 1e-3, "c_attn"),
]


def adapter_nll(base: str, adapter: Path, chunks: list[list[int]], tokenizer: CadenzaTokenizer) -> float:
    from peft import PeftModel

    with peft_quietly():
        adapted = PeftModel.from_pretrained(load_checkpoint(base)[0], str(adapter)).eval()
    return per_note(adapted, chunks, tokenizer)


def sweep(args: argparse.Namespace, out: Path) -> None:
    rows = []
    window = load_checkpoint(args.base)[0].config.n_positions
    for rank, alpha, lr, targets in SWEEP:
        run = out / f"r{rank}-lr{lr:g}-{targets.replace(',', '+')}"
        tune = FinetuneArgs(
            input=args.input, style=args.style, base=args.base, output_dir=str(run),
            corpus_out=str(out / "corpus"), max_minutes=0, max_steps=args.max_steps, rank=rank,
            lora_alpha=alpha, lr=lr, target_modules=targets, resume=(run / "states").is_dir(),
        )  # fmt: skip
        if not (run / "adapter_model.safetensors").is_file():
            run_finetune(tune)
        tokenizer = CadenzaTokenizer.load(run)
        chunks = corpus_chunks(
            load_corpus(out / "corpus")["validation"], str(run / TOKENIZER_FILE), window, 1
        )
        metrics = json.loads((run / "metrics.json").read_text())
        size = (run / "adapter_model.safetensors").stat().st_size / 1e6
        rows.append((rank, alpha, lr, targets, adapter_nll(args.base, run, chunks, tokenizer), size, metrics))
    print(f"{args.style}: {args.max_steps} steps each\n")
    print("| rank | alpha | lr | LoRA on | val NLL per note | adapter MB | steps kept | minutes |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|")
    for rank, alpha, lr, targets, nll, size, m in rows:
        kept = m.get("weights kept from step", m["steps"])
        print(f"| {rank} | {alpha} | {lr:g} | {targets} | {nll:.3f} | {size:.2f} | {kept} | {m['minutes']} |")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", required=True)
    parser.add_argument("--style", required=True)
    parser.add_argument("--base", default="checkpoints/cadenza-base")
    parser.add_argument("--out", default=None)
    parser.add_argument("--max_minutes", type=float, default=10.0)
    parser.add_argument("--max_steps", type=int, default=2000)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--lora_alpha", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20, help="timed steps of LoRA and of full fine-tuning")
    parser.add_argument("--sweep", type=lambda s: s.lower() == "true", default=False)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    out = Path(args.out or f"runs/finetune-{args.style}")
    if args.sweep:
        return sweep(args, out)
    corpus_dir = out.parent / f"{out.name}-corpus"
    tune = FinetuneArgs(
        input=args.input, style=args.style, base=args.base, output_dir=str(out), corpus_out=str(corpus_dir),
        max_minutes=args.max_minutes, max_steps=args.max_steps, rank=args.rank, lora_alpha=args.lora_alpha,
        resume=(out / "states").is_dir(),
    )  # fmt: skip
    if not (out / "adapter_model.safetensors").is_file():
        run_finetune(tune)
    tokenizer = CadenzaTokenizer.load(out)
    base, base_tokenizer = load_checkpoint(args.base)
    corpus = load_corpus(corpus_dir)
    chunks = corpus_chunks(corpus["validation"], str(out / TOKENIZER_FILE), base.config.n_positions, 1)
    nll = {"new tag": per_note(base, chunks, tokenizer)}
    nll |= {
        s: per_note(base, retagged(chunks, base_tokenizer.style_id(s)), tokenizer)
        for s in base_tokenizer.styles
    }
    nll["adapter"] = adapter_nll(args.base, out, chunks, tokenizer)

    data = lm_datasets(corpus, str(out / TOKENIZER_FILE), base.config.n_positions, 1)
    loader = DataLoader(
        data["train"], batch_size=tune.batch_size, shuffle=True, collate_fn=Collator(tokenizer.pad_id)
    )
    lora_speed = tokens_per_second(
        lora_model(load_checkpoint(args.base)[0].float(), tune, [tokenizer.style_id(args.style)]),
        loader,
        args.steps,
    )
    full_speed = tokens_per_second(load_checkpoint(args.base)[0].float(), loader, args.steps)
    report(args.style, out, nll, base_tokenizer.styles, (lora_speed, full_speed))


def report(
    style: str, out: Path, nll: dict[str, float], base_styles: list[str], speeds: tuple[float, float]
) -> None:
    """The table: NLL per note of the held-out pieces (the new tag, each base tag, the adapter), the
    adapter's size and training, and the tokens/s of LoRA and of full fine-tuning."""
    metrics = json.loads((out / "metrics.json").read_text())
    best = min(base_styles, key=nll.get)
    after = nll["adapter"]
    size = (out / "adapter_model.safetensors").stat().st_size
    print(f"{style}: {metrics['train pieces']} train / {metrics['validation pieces']} validation pieces\n")
    print("| | value |\n|---|---:|")
    print(f"| val NLL per note, base with the new tag | {nll['new tag']:.3f} |")
    print(f"| val NLL per note, base with its best tag ({best}) | {nll[best]:.3f} |")
    print(f"| val NLL per note, adapter | {after:.3f} |")
    print(f"| change against the best base tag | {after / nll[best] - 1:+.1%} |")
    print(f"| adapter file | {size / 1e6:.2f} MB |")
    print(f"| trainable parameters | {metrics['trainable parameters']:,} of {metrics['all parameters']:,} "
          f"({metrics['trainable parameters'] / metrics['all parameters']:.2%}) |")  # fmt: skip
    steps, minutes, early = metrics["steps"], metrics["minutes"], metrics["stopped early"]
    print(f"| training | {steps} steps, {minutes} min, stopped early: {early} |")
    print(f"| tokens/s, LoRA | {speeds[0]:,.0f} |")
    print(f"| tokens/s, full fine-tuning | {speeds[1]:,.0f} |")


if __name__ == "__main__":
    main()
