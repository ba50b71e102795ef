"""The training loop every recipe shares: pretraining (`train.py`) and LoRA fine-tuning run it with their
own model and data.

It follows accelerate's examples (`complete_nlp_example.py`): plain Python around `prepare`,
`accumulate` and `backward`, so a recipe runs on the CPU, one GPU, or many processes via `accelerate
launch`. AdamW over the model's trainable parameters; the learning rate warms up, then follows a cosine
over whichever budget (steps or minutes) runs out first; validation every `eval_every` steps (and early
stopping when asked); the whole training state saved every `save_every` steps, renamed into place once
whole, and resumed with `--resume true`; a progress bar that counts toward the budget. With early
stopping, the weights of the best evaluation are kept on disk and are what the run returns (Keras's
`restore_best_weights`, transformers' `load_best_model_at_end`): a small folder over-fits within a few
evaluations, and the last weights are then the worst ones seen.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DataLoaderConfiguration, set_seed
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cadenza.errors import CadenzaError
from cadenza.training.model import token_nll

STATE_FILE = "trainer_state.json"
BEST_FILE = "best_trainable.safetensors"  # early stopping's best weights (trainable parameters only)
BAR_STEPS = 1000  # the progress bar counts thousandths of the budget
LOG_FILE = "metrics.csv"
A = TypeVar("A", bound="LoopArgs")  # a recipe's own LoopArgs
SAVE_DTYPES = ("float32", "float16", "bfloat16")


@dataclass
class LoopArgs:
    """The options of the loop itself, shared by every training command."""

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
    patience: int = field(
        default=0,
        metadata={"help": "stop after this many evaluations without a better val loss (0 = never)"},
    )
    save_every: int = field(default=500, metadata={"help": "save the full training state every N steps"})
    resume: bool = field(default=False, metadata={"help": "continue from the last state in output_dir"})
    mixed_precision: str = field(
        default="auto",
        metadata={"help": "auto, no, bf16 or fp16; auto = bf16 where the hardware computes it natively"},
    )
    save_dtype: str = field(default="float32", metadata={"help": "dtype of the saved weights"})
    cpu: bool = field(
        default=False,
        metadata={
            "help": "run on the CPU even if a GPU is there; with several processes this gives DDP over gloo"
        },
    )
    seed: int = 0


@dataclass
class LoopResult:
    model: torch.nn.Module  # unwrapped, still in training precision
    steps: int
    minutes: float
    tokens: int  # non-padding tokens the model was trained on
    val_loss: float  # on the whole validation set, at the end
    first_val_loss: float  # at step 0, before any training (`eval_batches` of it; NaN in an older state)
    best_val_loss: float  # the lowest periodic one (what early stopping watched)
    stopped_early: bool
    best_step: int  # the step whose weights were returned (the last step unless early stopping restored)


class _TiedWeightsNote(logging.Filter):
    """accelerate warns "Removed shared tensor {'lm_head.weight'}" at every save: GPT-2 ties its output
    layer to its embeddings, safetensors stores the tensor once and loading ties it back (the resume
    tests check the weights). Nothing a user can act on, so it is not shown."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Removed shared tensor" not in record.getMessage()


logging.getLogger("accelerate.utils.other").addFilter(_TiedWeightsNote())


def command_line(command: str) -> str:
    """How this run was started, as a user types it: "cadenza <command> <options>" when the console script
    ran `command`, else the process's own command line (`accelerate launch ...`, a benchmark)."""
    if sys.argv[1 : 1 + len(command.split())] == command.split():
        return " ".join(["cadenza", *sys.argv[1:]])
    return " ".join(sys.argv)


def run_card(header: list[str], command: str, metrics: dict, args: LoopArgs) -> str:
    """A run's README: `header` (title and what it is), then the command, the figures and the options."""
    lines = [
        *header,
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


def check_loop_args(args: LoopArgs) -> None:
    """A clear error for an option out of range, before anything is written or a model is built."""
    if args.mixed_precision not in ("auto", "no", "bf16", "fp16"):
        raise CadenzaError(f"--mixed_precision must be auto, no, bf16 or fp16, not {args.mixed_precision!r}")
    if args.save_dtype not in SAVE_DTYPES:
        raise CadenzaError(f"--save_dtype must be one of {', '.join(SAVE_DTYPES)}, not {args.save_dtype!r}")
    at_least = {"batch_size": 1, "grad_accum": 1, "max_steps": 1, "eval_every": 1, "save_every": 1}
    at_least |= {"warmup_steps": 0, "eval_batches": 0, "patience": 0}
    for name, low in at_least.items():
        if getattr(args, name) < low:
            raise CadenzaError(f"--{name} must be at least {low}, got {getattr(args, name)}")
    if not args.lr > 0:
        raise CadenzaError(f"--lr must be above 0, got {args.lr}")
    for name in ("weight_decay", "max_minutes"):
        if getattr(args, name) < 0:
            raise CadenzaError(f"--{name} must be at least 0, got {getattr(args, name)}")


def auto_mixed_precision(on_cpu: bool) -> str:
    """bf16 where the hardware has it, fp16 on older GPUs, else fp32 ("no").

    On a CPU without AMX/AVX512-BF16 (oneDNN reports no bf16 support) autocast emulates bf16: measured
    10x slower than fp32 on a 2-core AVX2 EPYC; on an AMX Xeon it was 2x faster. Hence no fixed default.
    """
    if not on_cpu and torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "no"


def resolved(args: A) -> A:
    """`args` with "auto" mixed precision made what the hardware has, so the run and its card say what ran."""
    if args.mixed_precision != "auto":
        return args
    return replace(args, mixed_precision=auto_mixed_precision(args.cpu or not torch.cuda.is_available()))


def start_run(args: A) -> tuple[A, Accelerator]:
    """A run's `resolved` args and its Accelerator."""
    args = resolved(args)
    return args, make_accelerator(args)


def make_accelerator(args: LoopArgs) -> Accelerator:
    """The run's Accelerator, seeded, in `resolved(args)`'s precision."""
    # accelerate keeps one state per process and refuses a second Accelerator with another precision;
    # one process may run several trainings (the tests, a sweep, the GAN after the transformer).
    AcceleratorState._reset_state()
    accelerator = Accelerator(
        cpu=args.cpu,
        gradient_accumulation_steps=args.grad_accum,
        mixed_precision=resolved(args).mixed_precision,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    set_seed(args.seed)
    return accelerator


def check_output_dir(args: LoopArgs) -> None:
    """A fresh run refuses a folder that holds one: it would append to the old run's metrics log and save
    its states beside the old ones."""
    out = Path(args.output_dir)
    if not args.resume and ((out / "states").exists() or (out / LOG_FILE).exists()):
        raise CadenzaError(
            f"{out} already holds a training run; pass --resume true to continue it, or choose another "
            "--output_dir (or delete that one)"
        )


def budget_used(step: int, elapsed: float, args: LoopArgs, warmup: int = 0) -> float:
    """How much of the run's budget is spent: of its steps (those after `warmup`) or of its minutes,
    whichever runs out first. The one budget rule: the progress bar (so its ETA is the run's), the
    schedule's cosine and the loops' end all read it."""
    by_steps = (step - warmup) / max(1, args.max_steps - warmup)
    by_time = elapsed / (args.max_minutes * 60) if args.max_minutes > 0 else 0.0
    return min(1.0, max(by_steps, by_time))


def out_of_budget(step: int, elapsed: float, args: LoopArgs) -> bool:
    return budget_used(step, elapsed, args) >= 1.0


def lr_factor(step: int, elapsed: float, args: LoopArgs) -> float:
    """Linear warmup, then cosine to 10% of the peak over the budget that runs out first."""
    if step < args.warmup_steps:
        return (step + 1) / args.warmup_steps
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * budget_used(step, elapsed, args, args.warmup_steps)))


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


def complete_states(states: Path) -> list[Path]:
    """The saved states that were written whole, oldest first: `step_N` folders holding our counters,
    which are written last (a state folder from before the rename-into-place may lack them)."""
    return sorted((p for p in states.glob("step_*") if (p / STATE_FILE).is_file()), key=_step)


def _step(path: Path) -> int:
    return int(path.name.rpartition("_")[2])


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters' values, copied to the CPU (all weights when pretraining, the adapter's
    when fine-tuning: a few hundred KB)."""
    return {n: p.detach().float().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def restore_trainable(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


def save_state(accelerator: Accelerator, states: Path, clock: dict) -> None:
    """The whole training state (models, optimizers, schedulers, RNGs, via accelerate) and `clock`, the
    run's own counters, as `states/step_N`; the two newest are kept. Written under a temporary name and
    renamed once whole: a run killed while saving leaves a `.partial-` folder, never a `step_N` that
    resume would trip over."""
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


def resume_state(accelerator: Accelerator, states: Path, clock: dict) -> None:
    """Load the newest complete state into what `accelerator` prepared, and its counters into `clock`."""
    last = complete_states(states)
    if not last:
        raise CadenzaError(f"{states}: nothing to resume from (no complete step_* state saved yet)")
    newer = [p.name for p in states.glob("*step_*") if p not in last and _step(p) > _step(last[-1])]
    if newer:
        accelerator.print(f"skipping incomplete states {', '.join(sorted(newer))} (a save was cut off)")
    accelerator.load_state(last[-1])
    clock.update(json.loads((last[-1] / STATE_FILE).read_text()))
    accelerator.print(f"resumed from {last[-1]} at step {clock['step']}")


def budget_bar(accelerator: Accelerator, clock: dict, args: LoopArgs) -> tqdm:
    """The progress bar of a run: thousandths of its budget (`budget_used`), so its ETA is the run's."""
    return tqdm(
        total=BAR_STEPS,
        initial=int(BAR_STEPS * budget_used(clock["step"], clock["elapsed"], args)),
        disable=not accelerator.is_main_process,
        desc="training (share of the budget)",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
    )


def resumed_batches(accelerator: Accelerator, loader: DataLoader, done: int) -> Iterator:
    """`loader`'s batches epoch after epoch, without end, from batch number `done` (a resumed run's place:
    its epoch, then the batches of that epoch it had seen are skipped)."""
    epoch, skip = divmod(done, max(1, len(loader)))
    while True:
        loader.set_epoch(epoch)
        yield from accelerator.skip_first_batches(loader, skip) if skip else loader
        epoch, skip = epoch + 1, 0


class MetricsLog:
    """The run's metrics.csv: its header written once, a row per evaluation (main process only)."""

    def __init__(self, accelerator: Accelerator, out: Path, fields: list[str]) -> None:
        self.path, self.fields, self.main = out / LOG_FILE, fields, accelerator.is_main_process
        if self.main and not self.path.exists():
            out.mkdir(parents=True, exist_ok=True)
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(fields)

    def write(self, row: dict) -> None:
        if self.main:
            with self.path.open("a", newline="") as f:
                csv.DictWriter(f, self.fields, extrasaction="ignore").writerow(row)


def _optimizer(model: torch.nn.Module, args: LoopArgs) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters, without weight decay on biases and norms."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.dim() >= 2], "weight_decay": args.weight_decay},
        {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95))


@dataclass
class _Run:
    """One `run_loop`'s prepared parts and its clock: what a resumed run must get back besides the
    weights are the clock's counters and its early-stopping record."""

    accelerator: Accelerator
    model: torch.nn.Module
    val_loader: DataLoader
    args: LoopArgs
    states: Path
    log: MetricsLog
    clock: dict

    def evaluate(self, max_batches: int) -> float:
        return evaluate(self.model, self.val_loader, self.accelerator, max_batches)

    def periodic_eval(self, step: int) -> tuple[float, bool]:
        """A periodic evaluation: its val loss, the best weights kept (with patience), and whether the run
        should stop early."""
        args, clock = self.args, self.clock
        val_loss = self.evaluate(args.eval_batches)
        clock["stale"] = 0 if val_loss < clock["best"] else clock["stale"] + 1
        if val_loss < clock["best"]:
            clock["best"], clock["best_step"] = val_loss, step
            if args.patience and self.accelerator.is_main_process:
                self.states.mkdir(parents=True, exist_ok=True)
                save_file(trainable_state(self.accelerator.unwrap_model(self.model)), self.states / BEST_FILE)
        return val_loss, bool(args.patience) and clock["stale"] >= args.patience

    def best_weights(self, val_loss: float) -> tuple[float, int]:
        """(val loss, step) of the weights the run ends with: the best evaluation's, with patience, when
        the last weights are worse."""
        clock, states = self.clock, self.states
        if self.args.patience and val_loss > clock["best"] and (states / BEST_FILE).is_file():
            restore_trainable(self.accelerator.unwrap_model(self.model), load_file(states / BEST_FILE))
            val_loss = self.evaluate(0)
            self.accelerator.print(
                f"kept the weights of step {clock['best_step']}, the best evaluation "
                f"(val loss {val_loss:.4f})"
            )
            return val_loss, clock["best_step"]
        return val_loss, clock["step"]


def run_loop(
    accelerator: Accelerator,
    model: torch.nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader,
    args: LoopArgs,
) -> LoopResult:
    """Train `model`'s trainable parameters on `train_loader` within `args`' budget, from the last saved
    state in `args.output_dir` with `args.resume`; returns the unwrapped model and the run's figures."""
    out = Path(args.output_dir)
    log = MetricsLog(
        accelerator, out, ["step", "minutes", "lr", "train_loss", "val_loss", "val_ppl", "tokens_seen"]
    )
    clock = {"step": 0, "elapsed": 0.0, "tokens": 0, "best": math.inf, "stale": 0, "first": math.nan}
    clock["best_step"] = 0
    optimizer = _optimizer(model, args)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda _: lr_factor(clock["step"], clock["elapsed"], args)
    )
    model, optimizer, train_loader, val_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, val_loader, scheduler
    )
    run = _Run(accelerator, model, val_loader, args, out / "states", log, clock)
    if args.resume:
        resume_state(accelerator, run.states, clock)
    if clock["step"] == 0:  # where a fresh run starts from: a fine-tune's "before"
        clock["first"] = run.evaluate(args.eval_batches)
        first = clock["first"]
        log.write({"step": 0, "minutes": 0.0, "lr": "", "train_loss": "", "val_loss": round(first, 4),
                   "val_ppl": round(math.exp(first), 3), "tokens_seen": 0})  # fmt: skip
    val_loss, stopped_early = _train(run, train_loader, optimizer, scheduler)
    if stopped_early:
        accelerator.print(
            f"stopped early at step {clock['step']}: no better val loss in {args.patience} evals"
        )
    accelerator.wait_for_everyone()
    val_loss, best_step = run.best_weights(val_loss)
    return LoopResult(
        model=accelerator.unwrap_model(model),
        steps=clock["step"],
        minutes=round(clock["elapsed"] / 60, 1),
        tokens=clock["tokens"],
        val_loss=val_loss,
        first_val_loss=clock["first"],
        best_val_loss=min(clock["best"], val_loss),
        stopped_early=stopped_early,
        best_step=best_step,
    )


def _train(run: _Run, train_loader: DataLoader, optimizer, scheduler) -> tuple[float, bool]:
    """The steps until the budget is spent or the run stops early: (the last val loss, stopped early)."""
    accelerator, model, args, clock = run.accelerator, run.model, run.args, run.clock
    model.train()
    start = time.monotonic() - clock["elapsed"]
    running: list[float] = []
    val_loss, stopped_early = float("nan"), False
    bar = budget_bar(accelerator, clock, args)
    for batch in resumed_batches(accelerator, train_loader, clock["step"] * args.grad_accum):
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
        spent = out_of_budget(step, clock["elapsed"], args)
        if step % args.eval_every == 0 and not spent:
            val_loss, stopped_early = run.periodic_eval(step)
        ending = spent or stopped_early
        if ending:
            val_loss = run.evaluate(0)  # the whole validation set
        if step % args.eval_every == 0 or ending:
            run.log.write(
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
        if step % args.save_every == 0 or ending:
            save_state(accelerator, run.states, clock)
        if ending:
            break
    bar.close()
    return val_loss, stopped_early
