"""The GAN and VAE baselines against their data: MuseGAN's measures, the VAE's reconstruction, KL and
interpolations.

    python benchmarks/baselines.py --gan checkpoints/gan --vae checkpoints/vae --rolls build/rolls
        [--per_style 64] [--seed 0] [--out docs/baselines-benchmark.md]

- MuseGAN's measures (`evaluation.musegan`: EB, UPC, QN, TD) per style and over all styles (each style
  weighed alike) on `--per_style` 4-bar segments of the train split, the GAN's samples and the VAE's
  (two 2-bar segments on its latent walk), each asked for that style; the targets: within 10% of the
  train split's value.
- The VAE on held-out 2-bar segments (validation and test splits): teacher-forced accuracy per step and
  track and on note onsets only, greedy reconstruction accuracy from the posterior mean, and the KL per
  latent dimension (how many dimensions carry information, and the mean).
- Interpolations: pairs of held-out segments of one style, 8 steps from one to the other; a style
  classifier (the evaluation's, trained here on 2-bar train segments) names the style of the middle
  steps (3 to 6) against its accuracy on held-out real segments.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from cadenza.data.rolls import roll_to_score, score_roll
from cadenza.evaluation.classifier import StyleClassifier, feature_matrix
from cadenza.evaluation.musegan import NAMES, musegan_measures
from cadenza.evaluation.report_text import mean_defined
from cadenza.gan_vae.composer import GanComposer, VaeComposer, slerp
from cadenza.gan_vae.segments import SegmentDataset, Segments, load_segments, roll_events
from cadenza.gan_vae.train import BAR_STEPS
from cadenza.gan_vae.vae import vae_loss
from cadenza.inference.request import MAX_NUM

FORMS = {
    "empty_bars": "{:.1%}",
    "pitch_classes": "{:.2f}",
    "qualified_notes": "{:.1%}",
    "tonal_distance": "{:.3f}",
}
TOLERANCE = 0.10


def pick(segments: Segments, style: int, count: int, rng: np.random.Generator) -> list[int]:
    own = np.flatnonzero(segments.styles == style)
    return sorted(rng.choice(own, min(count, len(own)), replace=False).tolist()) if len(own) else []


def segment_roll(score, steps: int) -> np.ndarray:
    """A generated 4-bar piece's roll, padded to the segment's length (a piece that falls silent before
    its last bar ends early, and that silence is an empty bar)."""
    roll = score_roll(score)[:, :, :steps]
    return np.pad(roll, ((0, 0), (0, 0), (0, steps - roll.shape[2]), (0, 0)))


def measures(rolls: list[np.ndarray]) -> dict[str, float]:
    rows = [musegan_measures(roll) for roll in rolls]
    return {name: mean_defined([r[name] for r in rows]) for name in NAMES}


def musegan_table(train: Segments, gan: GanComposer, vae: VaeComposer, per_style: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    sets: dict[str, dict[str, dict[str, float]]] = {"train": {}, "GAN": {}, "VAE": {}}
    for index, style in enumerate(train.style_names):
        rolls = train.rolls(pick(train, index, per_style, rng)).numpy().astype(bool)
        sets["train"][style] = measures(list(rolls))
        for name, composer in (("GAN", gan), ("VAE", vae)):
            pieces = [
                piece
                for start in range(0, per_style, MAX_NUM)
                for piece in composer.generate(
                    style, bars=4, num=min(MAX_NUM, per_style - start), seed=seed + index + start
                )
            ]
            sets[name][style] = measures([segment_roll(piece.score, rolls.shape[3]) for piece in pieces])
    styles = train.style_names
    for name in sets:
        sets[name]["all styles"] = {m: mean_defined([sets[name][s][m] for s in styles]) for m in NAMES}
    lines = ["| style | set | EB | UPC | QN | TD |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for style in [*styles, "all styles"]:
        for name in sets:
            cells = []
            for m in NAMES:
                value, ref = sets[name][style][m], sets["train"][style][m]
                cell = "n/a" if math.isnan(value) else FORMS[m].format(value)
                if name == "train" or math.isnan(value) or math.isnan(ref):
                    pass
                elif m == "empty_bars":  # near 0 in the data: a relative change says nothing
                    cell += f" ({100 * (value - ref):+.1f} pts)"
                elif ref:
                    cell += f" ({(value - ref) / ref:+.0%})"
                cells.append(cell)
            lines.append(f"| {style} | {name} | " + " | ".join(cells) + " |")
    within = {
        name: sum(
            abs(sets[name]["all styles"][m] - sets["train"]["all styles"][m])
            <= TOLERANCE * abs(sets["train"]["all styles"][m])
            for m in NAMES
        )
        for name in ("GAN", "VAE")
    }
    lines += [
        "",
        f"Within 10% of the train split over all styles: GAN {within['GAN']}/4, VAE {within['VAE']}/4.",
    ]
    return "\n".join(lines)


@torch.no_grad()
def vae_table(vae: VaeComposer, held_out: list[Segments], seed: int) -> str:
    torch.manual_seed(seed)
    model = vae.model
    sums, kl_dims, count, greedy = np.zeros(2), torch.zeros(model.latent), 0, []
    for segments in held_out:
        loader = torch.utils.data.DataLoader(SegmentDataset(segments, model.bars, BAR_STEPS), batch_size=256)
        for roll, style in loader:
            events = roll_events(roll)
            _, parts = vae_loss(model, events, style, 0.0, 0.0)
            sums += np.array([parts["accuracy"].item(), parts["onset_accuracy"].item()]) * len(roll)
            kl_dims += parts["kl_dims"] * len(roll)
            count += len(roll)
            mean, _ = model.encode(events, style)
            greedy.append((model.decode(mean, style, 0.0) == events).float().mean().item() * len(roll))
    accuracy, onsets = sums / count
    kl = kl_dims / count
    rows = [
        ("held-out 2-bar segments", f"{count}"),
        ("teacher-forced accuracy (per step and track; target >= 0.90)", f"{accuracy:.3f}"),
        ("teacher-forced accuracy on note onsets", f"{onsets:.3f}"),
        ("greedy reconstruction accuracy from the posterior mean", f"{sum(greedy) / count:.3f}"),
        ("KL per dimension: mean / max (nats)", f"{kl.mean():.3f} / {kl.max():.3f}"),
        ("dimensions with KL > 0.01 nats (not collapsed)", f"{int((kl > 0.01).sum())} of {model.latent}"),
    ]
    return "\n".join(["| measure | value |", "| --- | ---: |", *(f"| {a} | {b} |" for a, b in rows)])


def interpolation_table(
    vae: VaeComposer, train: Segments, held_out: Segments, per_style: int, seed: int
) -> str:
    """The classifier's style for held-out real 2-bar segments and for interpolation midpoints."""
    rng = np.random.default_rng(seed)
    steps, half = 8, vae.model.bars * BAR_STEPS

    def two_bar(segments: Segments, index: list[int]) -> list:
        return [roll_to_score(r[:, :, :half]) for r in segments.rolls(index).numpy().astype(bool)]

    train_scores, train_styles = [], []
    for i, style in enumerate(train.style_names):
        chosen = pick(train, i, 3 * per_style, rng)
        train_scores += two_bar(train, chosen)
        train_styles += [style] * len(chosen)
    classifier = StyleClassifier(feature_matrix(train_scores), train_styles, seed)
    lines = ["| style | real held-out 2-bar segments as their style | interpolation midpoints as the style |",
             "| --- | ---: | ---: |"]  # fmt: skip
    totals = np.zeros(4)
    for i, style in enumerate(train.style_names):
        chosen = pick(held_out, i, per_style, rng)
        if len(chosen) < 2:
            continue
        real = two_bar(held_out, chosen)
        real_ok = sum(g == style for g in classifier.predict(real))
        rolls = torch.from_numpy(held_out.rolls(chosen).numpy()[:, :, :, :half])
        style_ids = torch.full((len(rolls),), i, dtype=torch.long)
        with torch.no_grad():
            mean, _ = vae.model.encode(roll_events(rolls), style_ids)
        middles = []
        for a, b in zip(range(0, len(mean) - 1, 2), range(1, len(mean), 2), strict=False):
            z = torch.stack([slerp(mean[a], mean[b], t) for t in np.linspace(0, 1, steps)])[2:6]
            roll = vae._decode(z, style, 0.0, seed)
            middles += [roll_to_score(roll[:, :, k * half : (k + 1) * half]) for k in range(len(z))]
        mid_ok = sum(g == style for g in classifier.predict(middles))
        totals += [real_ok, len(real), mid_ok, len(middles)]
        lines.append(
            f"| {style} | {real_ok / len(real):.0%} ({len(real)}) "
            f"| {mid_ok / len(middles):.0%} ({len(middles)}) |"
        )
    lines.append(f"| all | {totals[0] / totals[1]:.0%} | {totals[2] / totals[3]:.0%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gan", default="checkpoints/gan")
    parser.add_argument("--vae", default="checkpoints/vae")
    parser.add_argument("--rolls", default="build/rolls")
    parser.add_argument("--per_style", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="also write the tables to this markdown file")
    args = parser.parse_args()
    start = time.monotonic()
    gan, vae = GanComposer.from_pretrained(args.gan), VaeComposer.from_pretrained(args.vae)
    train = load_segments(args.rolls, "train")
    held_out = [load_segments(args.rolls, split) for split in ("validation", "test")]
    merged = Segments(
        np.concatenate([s.cells for s in held_out]),
        np.concatenate([held_out[0].offsets, held_out[1].offsets[1:] + held_out[0].offsets[-1]]),
        np.concatenate([s.styles for s in held_out]),
        train.style_names,
        train.shape,
    )
    sections = [
        "## MuseGAN's measures: train segments, GAN and VAE samples",
        "",
        musegan_table(train, gan, vae, args.per_style, args.seed),
        "",
        "## The VAE on held-out segments",
        "",
        vae_table(vae, held_out, args.seed),
        "",
        "## Interpolations: do the midpoints stay in style?",
        "",
        interpolation_table(vae, train, merged, args.per_style, args.seed),
        "",
        f"`python benchmarks/baselines.py --gan {args.gan} --vae {args.vae} --rolls {args.rolls} "
        f"--per_style {args.per_style} --seed {args.seed}`: {time.monotonic() - start:.0f} s on this "
        "machine.",
    ]
    text = "\n".join(sections)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
