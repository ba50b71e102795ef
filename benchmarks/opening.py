"""How pieces open when no meter is asked: the first bar's meter, meters held, and voices, against the
style's training pieces.

    python benchmarks/opening.py [--models checkpoints/cadenza-base] [--styles bach irish_fiddle ...] \\
        [--pieces 32] [--bars 8] [--corpus build/corpus/embedded]

For each model and style: `--pieces` pieces of `--bars` bars with nothing asked but the style (batches
of 16, seeds 0, 1, ...). "in common meters" is the share of pieces whose first bar's meter opens at least
5% of the style's training pieces (the corpus column gives the shares). "one meter" counts pieces whose
bars after the first keep one meter (a short first bar is a pickup). Voices are the pieces' tracks
(voices: pieces); the corpus column is the median of its pieces' parts. Notes per bar: the share of pieces
whose notes per bar (all voices) lie between the 5th and 95th percentiles of the style's training pieces.
"""

from __future__ import annotations

import argparse
from collections import Counter
from statistics import median

import numpy as np

from cadenza.data.corpus import load_corpus
from cadenza.inference.composer import Composer

BATCH = 16  # the most pieces `generate` makes at once
COMMON = 0.05  # a meter the style opens with this often is one of its own


def meters(composer: Composer, tokens: list[int]) -> list[str]:
    """The piece's time signatures, one per bar, in order (`TimeSig_x/y` parts of its REMI ids)."""
    tok = composer.tokenizer
    out = []
    for token in tok.music_ids(tokens):
        name = tok.token(token)
        if name.startswith("TimeSig_"):
            out.append(name.removeprefix("TimeSig_"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["checkpoints/cadenza-base"])
    parser.add_argument("--styles", nargs="+", default=None)
    parser.add_argument("--pieces", type=int, default=32)
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--corpus", default="build/corpus/embedded")
    args = parser.parse_args()
    columns = ["style", "time_signatures", "num_parts", "num_notes", "num_bars"]
    train = load_corpus(args.corpus)["train"].select_columns(columns)
    openings: dict[str, Counter] = {}
    parts: dict[str, list[int]] = {}
    density: dict[str, list[float]] = {}
    for row in train:
        openings.setdefault(row["style"], Counter())[(row["time_signatures"] or ["4/4"])[0]] += 1
        parts.setdefault(row["style"], []).append(row["num_parts"])
        density.setdefault(row["style"], []).append(row["num_notes"] / max(row["num_bars"], 1))
    print(
        "| model | style | opening meters (count) | in common meters | one meter | voices "
        "| notes per bar in the corpus's 5-95% | corpus opening meters | corpus voices |"
    )
    print("|---|---|---|---:|---:|---|---:|---|---:|")
    for folder in args.models:
        composer = Composer.from_pretrained(folder)
        for style in args.styles or composer.styles:
            pieces = [
                piece
                for seed, start in enumerate(range(0, args.pieces, BATCH))
                for piece in composer.generate(
                    style, bars=args.bars, num=min(BATCH, args.pieces - start), seed=seed
                )
            ]
            firsts, held, voices, dense = Counter(), 0, Counter(), 0
            low, high = np.quantile(density.get(style, [0.0]), [0.05, 0.95])
            for piece in pieces:
                dense += low <= piece.score.note_num() / args.bars <= high
                bars = meters(composer, piece.tokens)
                firsts[bars[0] if bars else "none"] += 1
                held += len(set(bars[1:])) <= 1
                voices[len(piece.voices)] += 1
            known = openings.get(style, Counter())
            common = {meter for meter, n in known.items() if n >= COMMON * sum(known.values())}
            inside = sum(n for meter, n in firsts.items() if meter in common)
            corpus = ", ".join(f"{m} {n / sum(known.values()):.0%}" for m, n in known.most_common(4))
            print(
                f"| {folder} | {style} | {', '.join(f'{m} ({n})' for m, n in firsts.most_common())} "
                f"| {inside / len(pieces):.0%} | {held / len(pieces):.0%} "
                f"| {', '.join(f'{v}: {n}' for v, n in sorted(voices.items()))} "
                f"| {dense / len(pieces):.0%} ({low:.1f}-{high:.1f}) | {corpus} "
                f"| {median(parts.get(style, [0])):g} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
