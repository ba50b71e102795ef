"""`cadenza gan train` and `cadenza vae train`: the baselines' training, on `cadenza rolls` segments.

One loop serves both (`train_baseline`), built from the pieces of the transformer's loop that are the
same: the accelerator and its mixed precision, the budget in steps or minutes with the progress bar that
counts it, the warmup-then-cosine learning rate, the whole state saved into `states/step_N` and resumed
with `--resume true`, the metrics log and the run's card. What differs is a model family's step and its
validation, which a `Recipe` brings: the GAN's step is a critic update, and every `critic_steps`-th one a
generator update too (WGAN-GP); the VAE's is one ELBO step with beta annealed up over `kl_warmup` steps.

Only torch, accelerate and safetensors are needed here (no symusic, no corpus): the same command trains
on a lent GPU from a copied segments folder.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from cadenza.errors import CadenzaError
from cadenza.gan_vae.gan import GanCritic, GanGenerator, binarize, gradient_penalty
from cadenza.gan_vae.segments import SegmentDataset, load_segments, roll_events
from cadenza.gan_vae.vae import Vae, vae_loss
from cadenza.paths import ROLLS
from cadenza.training.loop import (
    LoopArgs,
    MetricsLog,
    budget_bar,
    budget_used,
    check_loop_args,
    check_output_dir,
    command_line,
    lr_factor,
    out_of_budget,
    resume_state,
    resumed_batches,
    run_card,
    save_state,
    start_run,
)

BAR_STEPS = 16  # steps of a bar in the segments (sixteenths of 4/4)


@dataclass
class GanTrainArgs(LoopArgs):
    rolls: str = field(default=ROLLS, metadata={"help": "segments folder (cadenza rolls)"})
    output_dir: str = field(default="runs/gan", metadata={"help": "where states, logs and the model go"})
    batch_size: int = 64
    lr: float = field(default=2e-4, metadata={"help": "Adam's learning rate, generator and critic"})
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_steps: int = field(default=20_000, metadata={"help": "critic steps budget"})
    eval_every: int = 500
    save_every: int = 500
    mixed_precision: str = field(default="no", metadata={"help": "no or bf16 (the penalty's gradients)"})
    critic_steps: int = field(default=5, metadata={"help": "critic updates per generator update"})
    gp_weight: float = field(default=10.0, metadata={"help": "weight of WGAN-GP's gradient penalty"})
    latent: int = 128
    width: int = field(default=256, metadata={"help": "channels of the widest convolution"})


@dataclass
class VaeTrainArgs(LoopArgs):
    rolls: str = field(default=ROLLS, metadata={"help": "segments folder (cadenza rolls)"})
    output_dir: str = field(default="runs/vae", metadata={"help": "where states, logs and the model go"})
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    max_steps: int = 20_000
    eval_every: int = 500
    save_every: int = 500
    mixed_precision: str = field(default="no", metadata={"help": "no or bf16"})
    bars: int = field(default=2, metadata={"help": "bars per VAE segment (the 4-bar segments cut up)"})
    latent: int = 128
    beta: float = field(default=0.2, metadata={"help": "the KL weight once annealed"})
    kl_warmup: int = field(default=2000, metadata={"help": "steps over which beta rises from 0"})
    free_bits: float = field(default=0.1, metadata={"help": "nats of KL per latent dimension not penalised"})
    decoder_width: int = 384


class GanRecipe:
    def __init__(self, args: GanTrainArgs, styles: list[str], shape: tuple[int, ...]):
        _, tracks, steps, pitches = shape
        self.args = args
        generator = GanGenerator(styles, tracks, steps, pitches, args.latent, width=args.width)
        critic = GanCritic(len(styles), tracks, steps, pitches, args.width)
        adam = lambda m: torch.optim.Adam(m.parameters(), lr=args.lr, betas=(0.5, 0.9))  # noqa: E731
        # `train_baseline` swaps these for what accelerate prepares
        self.models, self.optimizers = [generator, critic], [adam(generator), adam(critic)]
        self.fields = ["critic_loss", "generator_loss", "val_wasserstein", "val_occupancy", "real_occupancy"]

    @property
    def generator(self) -> GanGenerator:
        return self.models[0]

    @property
    def critic(self) -> GanCritic:
        return self.models[1]

    def step(self, accelerator, batch, step: int) -> dict[str, float]:
        real, style = batch
        g_opt, c_opt = self.optimizers
        z = torch.randn(len(real), self.args.latent, device=real.device)
        with accelerator.autocast():
            fake = self.generator(z, style).detach()
            wasserstein = self.critic(real, style).mean() - self.critic(fake, style).mean()
        penalty = gradient_penalty(self.critic, real, fake, style)
        c_loss = -wasserstein + self.args.gp_weight * penalty
        c_opt.zero_grad()
        accelerator.backward(c_loss)
        c_opt.step()
        out = {"critic_loss": c_loss.item()}
        if (step - 1) % self.args.critic_steps == 0:  # the first step updates both
            with accelerator.autocast():
                g_loss = -self.critic(self.generator(z, style), style).mean()
            g_opt.zero_grad()
            accelerator.backward(g_loss)
            g_opt.step()
            out["generator_loss"] = g_loss.item()
        return out

    @torch.no_grad()
    def validate(self, accelerator, loader, max_batches: int) -> dict[str, float]:
        """The critic's Wasserstein estimate on held-out segments, and the share of cells sounding in
        generated vs held-out frames (a GAN gone silent or saturated shows here first)."""
        self.generator.eval()
        sums, count = torch.zeros(3, device=accelerator.device), 0
        for i, (real, style) in enumerate(loader):
            if max_batches and i >= max_batches:
                break
            z = torch.randn(len(real), self.args.latent, device=real.device)
            fake = self.generator(z, style)
            w = self.critic(real, style).mean() - self.critic(fake, style).mean()
            sums += torch.stack([w, binarize(fake)[:, 0].float().mean(), real[:, 0].mean()]) * len(real)
            count += len(real)
        self.generator.train()
        sums = accelerator.reduce(sums, reduction="sum") / accelerator.reduce(
            torch.tensor(float(count), device=accelerator.device), reduction="sum"
        )
        w, fake_on, real_on = sums.tolist()
        return {"val_loss": w, "val_wasserstein": w, "val_occupancy": fake_on, "real_occupancy": real_on}

    def saved(self) -> torch.nn.Module:
        return self.generator


class VaeRecipe:
    def __init__(self, args: VaeTrainArgs, styles: list[str], shape: tuple[int, ...]):
        _, tracks, _, pitches = shape
        self.args = args
        vae = Vae(
            styles, tracks, args.bars, BAR_STEPS, pitches, args.latent, decoder_width=args.decoder_width
        )
        self.models = [vae]  # `train_baseline` swaps these for what accelerate prepares
        self.optimizers = [torch.optim.AdamW(vae.parameters(), lr=args.lr, weight_decay=args.weight_decay)]
        self.fields = [
            "recon",
            "kl",
            "beta",
            "accuracy",
            "val_recon",
            "val_kl",
            "val_accuracy",
            "val_onset_accuracy",
            "active_dims",
        ]

    @property
    def vae(self) -> Vae:
        return self.models[0]

    def beta(self, step: int) -> float:
        return self.args.beta * min(1.0, step / max(1, self.args.kl_warmup))

    def step(self, accelerator, batch, step: int) -> dict[str, float]:
        roll, style = batch
        (optimizer,) = self.optimizers
        with accelerator.autocast():
            loss, parts = vae_loss(self.vae, roll_events(roll), style, self.beta(step), self.args.free_bits)
        optimizer.zero_grad()
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(self.vae.parameters(), 1.0)
        optimizer.step()
        return {"loss": loss.item(), "recon": parts["recon"].item(), "kl": parts["kl"].item(),
                "accuracy": parts["accuracy"].item(), "beta": self.beta(step)}  # fmt: skip

    @torch.no_grad()
    def validate(self, accelerator, loader, max_batches: int) -> dict[str, float]:
        """Held-out negative ELBO at the full beta, reconstruction, KL, teacher-forced accuracy, and how
        many latent dimensions carry more than 0.01 nats (the rest have collapsed to the prior)."""
        self.vae.eval()
        sums, kl_dims, count = torch.zeros(5, device=accelerator.device), 0.0, 0
        for i, (roll, style) in enumerate(loader):
            if max_batches and i >= max_batches:
                break
            loss, parts = vae_loss(self.vae, roll_events(roll), style, self.args.beta, self.args.free_bits)
            values = [loss, parts["recon"], parts["kl"], parts["accuracy"], parts["onset_accuracy"]]
            sums += torch.stack(values) * len(roll)
            kl_dims = kl_dims + parts["kl_dims"] * len(roll)
            count += len(roll)
        self.vae.train()
        total = accelerator.reduce(torch.tensor(float(count), device=accelerator.device), reduction="sum")
        loss, recon, kl, accuracy, onsets = (accelerator.reduce(sums, reduction="sum") / total).tolist()
        active = int((accelerator.reduce(kl_dims, reduction="sum") / total > 0.01).sum())
        return {"val_loss": loss, "val_recon": recon, "val_kl": kl, "val_accuracy": accuracy,
                "val_onset_accuracy": onsets, "active_dims": active}  # fmt: skip

    def saved(self) -> torch.nn.Module:
        return self.vae


def train_baseline(recipe, args: LoopArgs, name: str) -> dict:
    """Train `recipe`'s models on `args.rolls` within `args`' budget; saves `output_dir/model` and its
    card and returns the final figures."""
    check_loop_args(args)
    check_output_dir(args)
    args, accelerator = start_run(args)  # the card says the precision that ran
    train_loader, val_loader = _loaders(args)
    out, clock = Path(args.output_dir), {"step": 0, "elapsed": 0.0}
    schedulers = [
        torch.optim.lr_scheduler.LambdaLR(opt, lambda _: lr_factor(clock["step"], clock["elapsed"], args))
        for opt in recipe.optimizers
    ]
    prepared = accelerator.prepare(*recipe.models, *recipe.optimizers, *schedulers, train_loader, val_loader)
    n = len(recipe.models)
    recipe.models[:], recipe.optimizers[:] = prepared[:n], prepared[n : 2 * n]
    train_loader, val_loader = prepared[-2:]
    if args.resume:
        resume_state(accelerator, out / "states", clock)

    fields = ["step", "minutes", "lr", "train_loss", "val_loss", *recipe.fields]
    log = MetricsLog(accelerator, out, fields)
    start, running, val = time.monotonic() - clock["elapsed"], {}, {}
    bar = budget_bar(accelerator, clock, args)
    for batch in resumed_batches(accelerator, train_loader, clock["step"]):
        clock["step"] += 1
        for key, value in recipe.step(accelerator, batch, clock["step"]).items():
            running.setdefault(key, []).append(value)
        for scheduler in schedulers:
            scheduler.step()
        clock["elapsed"] = time.monotonic() - start
        step = clock["step"]
        bar.update(int(bar.total * budget_used(step, clock["elapsed"], args)) - bar.n)
        done = out_of_budget(step, clock["elapsed"], args)
        if step % args.eval_every == 0 or done:
            val = recipe.validate(accelerator, val_loader, 0 if done else args.eval_batches)
            train_loss = running.get("loss", running.get("critic_loss", [math.nan]))
            row = {"step": step, "minutes": round(clock["elapsed"] / 60, 2),
                   "lr": f"{schedulers[0].get_last_lr()[0]:.2e}",
                   "train_loss": round(_mean(train_loss), 4),
                   **{k: round(_mean(v), 4) for k, v in running.items() if k in fields},
                   **{k: round(v, 4) for k, v in val.items()}}  # fmt: skip
            bar.set_postfix(step=step, val=f"{val['val_loss']:.3f}")
            log.write(row)
            running = {}
        if step % args.save_every == 0 or done:
            save_state(accelerator, out / "states", clock)
        if done:
            break
    bar.close()
    figures = {"steps": clock["step"], "minutes": round(clock["elapsed"] / 60, 1),
               "train segments": len(train_loader.dataset), "device": str(accelerator.device),
               **{k: round(v, 4) for k, v in val.items()}}  # fmt: skip
    if accelerator.is_main_process:
        _save_model(accelerator.unwrap_model(recipe.saved()), args, name, figures)
    accelerator.wait_for_everyone()
    return figures


def _loaders(args: LoopArgs) -> tuple[DataLoader, DataLoader]:
    """The segments of `args.rolls`' train and validation splits, cut to the model's bars."""
    train, val = (load_segments(args.rolls, split) for split in ("train", "validation"))
    if len(train) == 0 or len(val) == 0:
        raise CadenzaError(f"{args.rolls}: the train or validation split holds no segments")
    bars = getattr(args, "bars", train.shape[2] // BAR_STEPS)
    train_loader = DataLoader(
        SegmentDataset(train, bars, BAR_STEPS), args.batch_size, shuffle=True, drop_last=True
    )
    if len(train_loader) == 0:
        raise CadenzaError(f"{args.rolls}: fewer train segments than one batch of {args.batch_size}")
    return train_loader, DataLoader(SegmentDataset(val, bars, BAR_STEPS), args.batch_size)


def _save_model(model, args: LoopArgs, name: str, figures: dict) -> None:
    """The trained model (a copy, in `save_dtype`) and its card in `output_dir/model`."""
    folder = Path(args.output_dir) / "model"
    model = copy.deepcopy(model).cpu().to(getattr(torch, args.save_dtype))
    model.save_pretrained(folder)
    header = [f"# cadenza {name} baseline", "", f"Styles: {', '.join(model.styles)}. Data: {args.rolls}."]
    (folder / "README.md").write_text(run_card(header, command_line(f"{name} train"), figures, args))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def run_gan_train(args: GanTrainArgs) -> dict:
    if args.critic_steps < 1:
        raise CadenzaError(f"--critic_steps must be at least 1, got {args.critic_steps}")
    train = load_segments(args.rolls, "train")
    return train_baseline(GanRecipe(args, train.style_names, train.shape), args, "gan")


def run_vae_train(args: VaeTrainArgs) -> dict:
    train = load_segments(args.rolls, "train")
    if args.bars < 1 or train.shape[2] % (args.bars * BAR_STEPS):
        raise CadenzaError(
            f"--bars must divide the segments' {train.shape[2] // BAR_STEPS} bars, got {args.bars}"
        )
    return train_baseline(VaeRecipe(args, train.style_names, train.shape), args, "vae")


if __name__ == "__main__":  # for a machine where the console script is not installed (a lent GPU)
    import sys

    from transformers import HfArgumentParser

    family, rest = sys.argv[1], sys.argv[2:]
    arg_type, run = {"gan": (GanTrainArgs, run_gan_train), "vae": (VaeTrainArgs, run_vae_train)}[family]
    print(json.dumps(run(HfArgumentParser(arg_type).parse_args_into_dataclasses(rest)[0]), indent=1))
