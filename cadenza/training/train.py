"""`cadenza train`: pretrain a style-conditioned GPT-2 on a built corpus.

The loop follows accelerate's examples: plain Python around `prepare`, `accumulate` and `backward`, so
the same command runs on the CPU, one GPU, or many processes via `accelerate launch`. The learning rate
follows a warmup + cosine schedule over whichever budget (steps or minutes) runs out first.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cadenza.checkpoint import load_checkpoint, save_checkpoint
from cadenza.errors import CadenzaError
from cadenza.inference.profiles import save_profiles, style_profiles
from cadenza.tokenization.chunking import Transposer
from cadenza.tokenization.tokenizer import CONTINUE_TOKEN, TOKENIZER_FILE, CadenzaTokenizer
from cadenza.training.data import (
    Collator,
    StyleSampler,
    lm_datasets,
    music_of,
    style_mix_table,
    style_tokens,
    style_weights,
)
from cadenza.training.model import LOSS_TYPE, ModelArgs, build_model, token_nll

STATE_FILE = "trainer_state.json"
BAR_STEPS = 1000  # the progress bar counts thousandths of the budget
LOG_FILE = "metrics.csv"
SAVE_DTYPES = ("float32", "float16", "bfloat16")


@dataclass
class TrainArgs(ModelArgs):
    corpus: str = field(
        default="build/corpus/embedded", metadata={"help": "corpus folder (cadenza corpus build)"}
    )
    output_dir: str = field(default="runs/base", metadata={"help": "where states, logs and the model go"})
    batch_size: int = field(default=8, metadata={"help": "rows per step per process"})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps"})
    lr: float = field(default=1e-3, metadata={"help": "peak learning rate"})
    weight_decay: float = 0.1
    warmup_steps: int = 200
    max_steps: int = field(default=10_000, metadata={"help": "optimizer steps budget"})
    max_minutes: float = field(default=0.0, metadata={"help": "wall-clock budget (0 = none)"})
    eval_every: int = field(default=500, metadata={"help": "evaluate every N steps"})
    eval_batches: int = field(
        default=0,
        metadata={"help": "validation batches per periodic eval (0 = all; the final eval always uses all)"},
    )
    save_every: int = field(default=500, metadata={"help": "save the full training state every N steps"})
    resume: bool = field(default=False, metadata={"help": "continue from the last state in output_dir"})
    init_from: str | None = field(
        default=None,
        metadata={
            "help": "start from this checkpoint's weights and tokenizer (its size and context replace "
            "n_layer/n_embd/n_head/n_positions); styles new to it get tokens in its reserved rows"
        },
    )
    mixed_precision: str = field(
        default="auto",
        metadata={"help": "auto, no, bf16 or fp16; auto = bf16 where the hardware computes it natively"},
    )
    transpose: int = field(default=0, metadata={"help": "random transposition of +-N semitones"})
    bpe_vocab: int = field(
        default=0,
        metadata={"help": "learn BPE merges on the train split up to this many token ids (0 = no BPE)"},
    )
    style_alpha: float = field(
        default=0.5,
        metadata={
            "help": "each style's share of training tokens is proportional to its corpus tokens to this "
            "power: 1 = the corpus' proportions, 0 = all styles equal (see docs/training.md)"
        },
    )
    save_dtype: str = field(default="float32", metadata={"help": "dtype of the saved weights"})
    cpu: bool = field(
        default=False,
        metadata={
            "help": "run on the CPU even if a GPU is there; with several processes this gives DDP over gloo"
        },
    )
    seed: int = 0
    num_proc: int = 2


def _progress(step: int, elapsed: float, args: TrainArgs) -> float:
    by_steps = (step - args.warmup_steps) / max(1, args.max_steps - args.warmup_steps)
    by_time = elapsed / (args.max_minutes * 60) if args.max_minutes > 0 else 0.0
    return min(1.0, max(by_steps, by_time))


class _TiedWeightsNote(logging.Filter):
    """accelerate warns "Removed shared tensor {'lm_head.weight'}" at every save: GPT-2 ties its output
    layer to its embeddings, safetensors stores the tensor once and loading ties it back (the resume
    tests check the weights). Nothing a user can act on, so it is not shown."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Removed shared tensor" not in record.getMessage()


logging.getLogger("accelerate.utils.other").addFilter(_TiedWeightsNote())


def budget_used(step: int, elapsed: float, args: TrainArgs) -> float:
    """How much of the run's budget is spent: of its steps or of its minutes, whichever runs out first
    (what the progress bar shows, so its ETA is the run's)."""
    by_time = elapsed / (args.max_minutes * 60) if args.max_minutes > 0 else 0.0
    return min(1.0, max(step / args.max_steps, by_time))


def auto_mixed_precision(on_cpu: bool) -> str:
    """bf16 where the hardware has it, fp16 on older GPUs, else fp32 ("no").

    On a CPU without AMX/AVX512-BF16 (oneDNN reports no bf16 support) autocast emulates bf16: measured
    10x slower than fp32 on a 2-core AVX2 EPYC; on an AMX Xeon it was 2x faster. Hence no fixed default.
    """
    if not on_cpu and torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "no"


def lr_factor(step: int, elapsed: float, args: TrainArgs) -> float:
    """Linear warmup, then cosine to 10% of the peak over the budget that runs out first."""
    if step < args.warmup_steps:
        return (step + 1) / args.warmup_steps
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * _progress(step, elapsed, args)))


@torch.no_grad()
def evaluate(model, loader, accelerator: Accelerator, max_batches: int = 0) -> float:
    """Mean validation NLL per predicted token (nats), summed exactly over all processes."""
    model.eval()
    total = torch.zeros(2, device=accelerator.device)
    for i, batch in enumerate(loader):
        if max_batches and i >= max_batches:
            break
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        nll = token_nll(logits, batch["labels"]).sum()
        total += torch.stack([nll, (batch["labels"][:, 1:] != -100).sum().to(nll.dtype)])
    model.train()
    total = accelerator.reduce(total, reduction="sum")
    return (total[0] / total[1].clamp(min=1)).item()


def _tokenizer_for(args: TrainArgs, train_split, out: Path) -> Path:
    """The run's tokenizer file: kept on resume, else new (with BPE merges learned on the train split
    when --bpe_vocab is set), or the --init_from checkpoint's plus what it lacks (the mid-piece marker,
    new corpus styles), appended so known ids stay where its weights expect them."""
    path = out / TOKENIZER_FILE
    if args.resume and path.exists():
        return path
    if args.init_from is None:
        tokenizer = CadenzaTokenizer.new(sorted(set(train_split["style"])))
        if args.bpe_vocab:
            tokenizer.train_bpe(music_of(train_split, tokenizer), args.bpe_vocab)
        tokenizer.save(out)
        return path
    tokenizer = CadenzaTokenizer.load(args.init_from)
    tokenizer.add_token(CONTINUE_TOKEN)  # no-op unless the checkpoint predates the mid-piece marker
    for style in sorted(set(train_split["style"])):
        tokenizer.add_style(style)
    tokenizer.save(out)
    return path


def _initial_model(args: TrainArgs, tokenizer: CadenzaTokenizer):
    """A new model, or the --init_from checkpoint's in fp32, whose size is then written into `args` so
    the card tells the truth."""
    if args.init_from is None:
        return build_model(args, tokenizer)
    model, _ = load_checkpoint(args.init_from)
    model.loss_type = LOSS_TYPE  # see `training.model.LOSS_TYPE`
    if len(tokenizer) > model.config.vocab_size:
        raise CadenzaError(
            f"{args.init_from}: the corpus' new styles need {len(tokenizer)} tokens, more than the model's "
            f"{model.config.vocab_size} rows"
        )
    config = model.config
    args.n_layer, args.n_embd, args.n_head = config.n_layer, config.n_embd, config.n_head
    args.n_positions, args.dropout = config.n_positions, config.resid_pdrop
    return model.float().train()


def model_card(args: TrainArgs, metrics: dict, command: str) -> str:
    lines = [
        "# cadenza model",
        "",
        f"Trained {date.today().isoformat()} by cadenza's own pipeline on `{args.corpus}`.",
        "",
        "## Command",
        "",
        f"    {command}",
        "",
        "## Training",
        "",
        *[f"- {k}: {v}" for k, v in metrics.items()],
        "",
        "## Configuration",
        "",
        "```json",
        json.dumps(asdict(args), indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def complete_states(states: Path) -> list[Path]:
    """The saved states that were written whole, oldest first: `step_N` folders holding our counters,
    which are written last (a state folder from before the rename-into-place may lack them)."""
    return sorted((p for p in states.glob("step_*") if (p / STATE_FILE).is_file()), key=_step)


def _step(path: Path) -> int:
    return int(path.name.rpartition("_")[2])


def check_args(args: TrainArgs) -> None:
    """A clear error for an option out of range, before anything is written or a model is built."""
    if args.mixed_precision not in ("auto", "no", "bf16", "fp16"):
        raise CadenzaError(f"--mixed_precision must be auto, no, bf16 or fp16, not {args.mixed_precision!r}")
    if args.save_dtype not in SAVE_DTYPES:
        raise CadenzaError(f"--save_dtype must be one of {', '.join(SAVE_DTYPES)}, not {args.save_dtype!r}")
    at_least = {"batch_size": 1, "grad_accum": 1, "max_steps": 1, "eval_every": 1, "save_every": 1}
    at_least |= {"warmup_steps": 0, "eval_batches": 0, "transpose": 0, "num_proc": 1}
    for name, low in at_least.items():
        if getattr(args, name) < low:
            raise CadenzaError(f"--{name} must be at least {low}, got {getattr(args, name)}")
    if not args.lr > 0:
        raise CadenzaError(f"--lr must be above 0, got {args.lr}")
    if not 0 <= args.style_alpha <= 1:
        raise CadenzaError(f"--style_alpha must be between 0 and 1, got {args.style_alpha}")
    for name in ("weight_decay", "max_minutes"):
        if getattr(args, name) < 0:
            raise CadenzaError(f"--{name} must be at least 0, got {getattr(args, name)}")


def run_train(args: TrainArgs) -> Path:
    from cadenza.data.corpus import load_corpus

    check_args(args)
    if args.mixed_precision == "auto":
        args.mixed_precision = auto_mixed_precision(args.cpu or not torch.cuda.is_available())
    accelerator = Accelerator(
        cpu=args.cpu,
        gradient_accumulation_steps=args.grad_accum,
        mixed_precision=args.mixed_precision,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    set_seed(args.seed)
    out = Path(args.output_dir)
    states = out / "states"
    if not args.resume and (states.exists() or (out / LOG_FILE).exists()):
        # A fresh run would append to the old run's metrics log and save its states beside the old ones.
        raise CadenzaError(
            f"{out} already holds a training run; pass --resume true to continue it, or choose another "
            "--output_dir (or delete that one)"
        )
    corpus = load_corpus(args.corpus)
    with accelerator.main_process_first():
        if accelerator.is_main_process:
            out.mkdir(parents=True, exist_ok=True)
            _tokenizer_for(args, corpus["train"], out)
    accelerator.wait_for_everyone()
    tokenizer_path = str(out / TOKENIZER_FILE)
    tokenizer = CadenzaTokenizer.load(tokenizer_path)
    model = _initial_model(args, tokenizer)
    with accelerator.main_process_first():
        data = lm_datasets(corpus, tokenizer_path, args.n_positions, args.num_proc)

    train_collate = Collator(tokenizer.pad_id, Transposer(tokenizer), args.transpose)
    styles, lengths = data["train"]["style"], [len(ids) for ids in data["train"]["input_ids"]]
    tokens = style_tokens(styles, lengths)
    weights = style_weights(tokens, args.style_alpha)
    accelerator.print(style_mix_table(tokens, weights))
    sampler = StyleSampler(styles, lengths, weights, args.seed)
    train_loader = DataLoader(
        data["train"], batch_size=args.batch_size, sampler=sampler, collate_fn=train_collate
    )
    val_loader = DataLoader(
        data["validation"], batch_size=args.batch_size, collate_fn=Collator(tokenizer.pad_id)
    )
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.95),
    )
    clock = {"step": 0, "elapsed": 0.0, "tokens": 0}
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda _: lr_factor(clock["step"], clock["elapsed"], args)
    )
    model, optimizer, train_loader, val_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, val_loader, scheduler
    )

    if args.resume:
        last = complete_states(states)
        if not last:
            raise CadenzaError(f"{states}: nothing to resume from (no complete step_* state saved yet)")
        newer = [p.name for p in states.glob("*step_*") if p not in last and _step(p) > _step(last[-1])]
        if newer:
            accelerator.print(f"skipping incomplete states {', '.join(sorted(newer))} (a save was cut off)")
        accelerator.load_state(last[-1])
        clock.update(json.loads((last[-1] / STATE_FILE).read_text()))
        accelerator.print(f"resumed from {last[-1]} at step {clock['step']}")

    tokens_per_step = args.batch_size * args.grad_accum * accelerator.num_processes
    log_path = out / LOG_FILE
    log_fields = ["step", "minutes", "lr", "train_loss", "val_loss", "val_ppl", "tokens_seen"]
    if accelerator.is_main_process and not log_path.exists():
        with log_path.open("w", newline="") as f:
            csv.writer(f).writerow(log_fields)

    def log(row: dict) -> None:
        if accelerator.is_main_process:
            with log_path.open("a", newline="") as f:
                csv.DictWriter(f, log_fields).writerow(row)

    def save_state() -> None:
        # Written under a temporary name and renamed once whole: a run killed while saving leaves a
        # `.partial-` folder, never a `step_N` that resume would trip over.
        partial = states / f".partial-step_{clock['step']}"
        if accelerator.is_main_process:
            shutil.rmtree(partial, ignore_errors=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(partial)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            (partial / STATE_FILE).write_text(json.dumps(clock))
            partial.rename(states / f"step_{clock['step']}")
            for old in complete_states(states)[:-2]:
                shutil.rmtree(old)
        accelerator.wait_for_everyone()

    model.train()
    start = time.monotonic() - clock["elapsed"]
    running = []
    val_loss = float("nan")
    bar = tqdm(
        total=BAR_STEPS,
        initial=int(BAR_STEPS * budget_used(clock["step"], clock["elapsed"], args)),
        disable=not accelerator.is_main_process,
        desc="training (share of the budget)",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
    )
    epoch = clock["step"] // max(1, len(train_loader) // args.grad_accum)
    skip = (clock["step"] * args.grad_accum) % max(1, len(train_loader))
    done = False
    while not done:
        train_loader.set_epoch(epoch)
        loader = accelerator.skip_first_batches(train_loader, skip) if skip else train_loader
        skip = 0
        for batch in loader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            clock["tokens"] += int(batch["attention_mask"].sum()) * accelerator.num_processes
            running.append(loss.item())
            if not accelerator.sync_gradients:
                continue
            clock["step"] += 1
            clock["elapsed"] = time.monotonic() - start
            step = clock["step"]
            bar.update(int(BAR_STEPS * budget_used(step, clock["elapsed"], args)) - bar.n)
            bar.set_postfix(step=step, loss=f"{sum(running[-50:]) / len(running[-50:]):.3f}")
            out_of_budget = step >= args.max_steps or (
                args.max_minutes > 0 and clock["elapsed"] >= args.max_minutes * 60
            )
            if step % args.eval_every == 0 or out_of_budget:
                val_loss = evaluate(model, val_loader, accelerator, 0 if out_of_budget else args.eval_batches)
                log(
                    {
                        "step": step,
                        "minutes": round(clock["elapsed"] / 60, 2),
                        "lr": f"{scheduler.get_last_lr()[0]:.2e}",
                        "train_loss": round(sum(running) / len(running), 4),
                        "val_loss": round(val_loss, 4),
                        "val_ppl": round(math.exp(val_loss), 3),
                        "tokens_seen": clock["tokens"],
                    }
                )
                running = []
            if step % args.save_every == 0 or out_of_budget:
                save_state()
            if out_of_budget:
                done = True
                break
        epoch += 1
    bar.close()

    accelerator.wait_for_everyone()
    final = out / "model"
    if accelerator.is_main_process:
        model = accelerator.unwrap_model(model)
        model.to(getattr(torch, args.save_dtype))
        metrics = {
            "steps": clock["step"],
            "minutes": round(clock["elapsed"] / 60, 1),
            "processes": accelerator.num_processes,
            "train rows": len(data["train"]),
            "train tokens seen": clock["tokens"],
            "tokens per step (rows)": tokens_per_step,
            "final val NLL per token (nats)": round(val_loss, 4),
            "final val perplexity": round(math.exp(val_loss), 3),
            f"style shares of train tokens (corpus -> trained on, alpha {args.style_alpha})": {
                style: f"{tokens[style] / sum(tokens.values()):.1%} -> {weights[style]:.1%}"
                for style in tokens
            },
        }
        command = (
            "cadenza train " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train"] else " ".join(sys.argv)
        )
        save_checkpoint(model, tokenizer, final, model_card(args, metrics, command))
        train = corpus["train"]
        voices = train["voices"] if "voices" in train.column_names else None
        save_profiles(style_profiles(train["midi"], train["style"], voices), final)
        (final / "metrics.json").write_text(json.dumps(metrics, indent=2))
        accelerator.print(f"model saved to {final} (val NLL {val_loss:.4f})")
    accelerator.end_training()
    return final
