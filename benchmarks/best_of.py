"""What best of N buys a user: one pass against the critic's best of N, same asks, same run.

    python benchmarks/best_of.py [--model checkpoints/cadenza-base] [--corpus build/corpus/embedded]
                                 [--styles bach irish_fiddle] [--pieces 16] [--candidates 4]

Per style, `--pieces` pieces of 8 bars, each asked for a held-out piece's key and meter (as `cadenza
evaluate` asks); each is written once (the first candidate) and as the critic's best of `--candidates`
(what `cadenza generate --candidates` keeps). Prints the critic's score, the key heard as asked, the
classifier's style, consonance, parallels and the seconds per kept piece.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from cadenza.data.corpus import load_corpus
from cadenza.evaluation import critic
from cadenza.evaluation.judge import Judge
from cadenza.evaluation.report import asks, draw_real
from cadenza.inference.composer import Composer


def mean(values: list[float]) -> float:
    defined = [v for v in values if not math.isnan(v)]
    return float(np.mean(defined)) if defined else math.nan


def measure(judge: Judge, kept: list[tuple], style: str) -> dict[str, float]:
    """Means over (piece, asked meter) pairs."""
    rows = {"critic": [], "key": [], "style": [], "consonance": [], "parallels": []}
    for piece, meter in kept:
        judged = critic.critique(judge, piece.score, style, piece.key, meter)
        features = {row.name: row.value for row in judge.judge(piece.score, style).features}
        rows["critic"].append(judged.score)
        rows["key"].append(judged.parts.get("key", math.nan))
        rows["style"].append(judged.parts["style"])
        rows["consonance"].append(features["consonance"])
        rows["parallels"].append(features["parallel_perfects"])
    return {name: mean(values) for name, values in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="checkpoints/cadenza-base")
    parser.add_argument("--corpus", default="build/corpus/embedded")
    parser.add_argument("--styles", nargs="+", default=["bach", "irish_fiddle"])
    parser.add_argument("--pieces", type=int, default=16)
    parser.add_argument("--candidates", type=int, default=4)
    args = parser.parse_args()
    composer, judge, corpus = (
        Composer.from_pretrained(args.model),
        Judge(args.corpus),
        load_corpus(args.corpus),
    )
    real = draw_real(
        [corpus["validation"], corpus["test"]], args.styles, args.pieces, 0, composer.tokenizer, 1
    )
    print("| style | kept | critic | key as asked | style prob. | consonance | parallels /100 | s a piece |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for style in args.styles:
        kept: dict[str, list] = {"one pass": [], f"best of {args.candidates}": []}
        seconds = dict.fromkeys(kept, 0.0)
        for seed, (key, meter) in enumerate(asks(real, style, args.pieces, composer.tokenizer)):
            start = time.perf_counter()
            (one,) = composer.generate(style, bars=8, seed=seed, key=key, time_signature=meter)
            seconds["one pass"] += time.perf_counter() - start
            start = time.perf_counter()
            group = composer.generate(
                style, bars=8, num=args.candidates, seed=seed, key=key, time_signature=meter
            )
            best, _ = critic.best_of(judge, group, meter)
            seconds[f"best of {args.candidates}"] += time.perf_counter() - start
            kept["one pass"].append((one, meter))
            kept[f"best of {args.candidates}"].append((group[best], meter))
        for name, pieces in kept.items():
            m = measure(judge, pieces, style)
            print(
                f"| {style} | {name} | {m['critic']:.2f} | {m['key']:.0%} | {m['style']:.2f} | "
                f"{m['consonance']:.2f} | {m['parallels']:.1f} | {seconds[name] / len(pieces):.2f} |"
            )


if __name__ == "__main__":
    main()
