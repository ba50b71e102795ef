"""Bar infilling: the NLL of held-out middle bars given both sides (MMM's layout) against the prefix only.

    python benchmarks/infill.py [--model checkpoints/cadenza-base] [--corpus build/corpus/embedded] \\
        [--split test] [--before 4] [--middle 4] [--after 4]

Each held-out piece with at least before + middle + after bars, tokenized by the model's tokenizer, is
cut at its first bars: `--before` bars, `--middle` bars to score, `--after` bars. The middle bars' tokens
are scored twice by `evaluation.likelihood.model_token_nll` (training's NLL):
  - prefix only: `BOS Style Key <before> <middle>`;
  - both sides:  `BOS Style Key <before> Hole x middle <after> Fill <middle>`.
Per note is the middle's total NLL over its notes (one Pitch each), so the two rows compare; a piece whose
row outgrows the model's context is skipped. A model without infilling tokens is refused.
"""

from __future__ import annotations

import argparse

import numpy as np

from cadenza.checkpoint import load_checkpoint
from cadenza.data.corpus import load_corpus
from cadenza.evaluation.likelihood import model_token_nll
from cadenza.paths import TOKENIZER_FILE
from cadenza.tokenization.tokenizer import split_bars
from cadenza.training.data import tokenize_pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="checkpoints/cadenza-base")
    parser.add_argument("--corpus", default="build/corpus/embedded")
    parser.add_argument("--split", default="test")
    parser.add_argument("--before", type=int, default=4)
    parser.add_argument("--middle", type=int, default=4)
    parser.add_argument("--after", type=int, default=4)
    args = parser.parse_args()
    model, tok = load_checkpoint(args.model)
    if not tok.has_infill:
        raise SystemExit(f"{args.model}: this model did not learn bar infilling (no infilling tokens)")
    split = load_corpus(args.corpus)[args.split]
    split = split.filter(lambda row: row["style"] in tok.styles)
    pieces = tokenize_pieces(split, f"{args.model}/{TOKENIZER_FILE}", num_proc=1)
    pitch = {i for name, i in tok.vocab.items() if name.startswith("Pitch_")}
    rows, spans, notes, styles = [], [], [], []
    for ids, style in zip(pieces["input_ids"], pieces["style"], strict=True):
        head, music = ids[: tok.prefix_len], ids[tok.prefix_len :]
        bars = [bar for bar in split_bars(music, tok.bar_starts) if bar and bar[0] in tok.bar_starts]
        if len(bars) < args.before + args.middle + args.after:
            continue
        join = lambda part: [t for bar in part for t in bar]  # noqa: E731
        before = join(bars[: args.before])
        middle = join(bars[args.before : args.before + args.middle])
        after = join(bars[args.before + args.middle : args.before + args.middle + args.after])
        both = [*head, *before, *[tok.hole_id] * args.middle, *after, tok.fill_id, *middle]
        if len(both) > model.config.n_positions:
            continue
        rows += [[*head, *before, *middle], both]
        spans += [len(middle)] * 2
        notes.append(sum(1 for t in middle for part in tok.parts(t) if part in pitch))
        styles.append(style)
    nll = model_token_nll(model, rows, tok.pad_id)
    ends = np.cumsum([len(r) - 1 for r in rows])
    totals = np.array([nll[end - span : end].sum() for end, span in zip(ends, spans, strict=True)])
    prefix_only, both_sides = totals[0::2], totals[1::2]
    count = np.array(notes)
    print(f"{args.model}, {args.split} split: {len(count)} pieces, {count.sum()} notes in the middle bars")
    print("| style | pieces | NLL/note, prefix only | NLL/note, both sides | change |")
    print("|---|---:|---:|---:|---:|")
    for style in [*sorted(set(styles)), "all"]:
        picked = np.array([style in ("all", s) for s in styles])
        a, b = prefix_only[picked].sum() / count[picked].sum(), both_sides[picked].sum() / count[picked].sum()
        print(f"| {style} | {picked.sum()} | {a:.3f} | {b:.3f} | {b / a - 1:+.1%} |")


if __name__ == "__main__":
    main()
