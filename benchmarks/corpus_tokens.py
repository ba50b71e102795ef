"""Tokens per bar of a built corpus, per style, for one or several tokenizers side by side (BPE against
plain REMI): how much of a piece one context window holds.

    python benchmarks/corpus_tokens.py [--corpus build/corpus/embedded] \\
        [--tokenizers checkpoints/cadenza-base runs/v2/tokenizer.json] [--context 512]

Counts each piece's `BOS Style [Key] <music> EOS` in the ids a model reads (merged with BPE) over every
split, and prints per style: pieces, median bars, and per tokenizer the tokens per bar and how many bars
of that style a `--context` window holds.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from datasets import concatenate_datasets

from cadenza.data.corpus import load_corpus
from cadenza.paths import TOKENIZER_FILE
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from cadenza.training.data import tokenize_pieces


def tokens_per_piece(pieces, tokenizer: str, num_proc: int) -> list[int]:
    CadenzaTokenizer.load(tokenizer)  # fails here, with the path, if there is no tokenizer
    folder = Path(tokenizer)
    file = folder / TOKENIZER_FILE if folder.is_dir() else folder  # the file: its digest keys caches
    return [len(ids) for ids in tokenize_pieces(pieces, str(file), num_proc)["input_ids"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="build/corpus/embedded")
    parser.add_argument("--tokenizers", nargs="+", default=["checkpoints/cadenza-base"])
    parser.add_argument("--context", type=int, default=512, help="a model's window, in its tokens")
    parser.add_argument("--num_proc", type=int, default=2)
    args = parser.parse_args()
    pieces = concatenate_datasets(list(load_corpus(args.corpus).values()))
    lengths = [tokens_per_piece(pieces, t, args.num_proc) for t in args.tokenizers]
    rows: dict[str, list[tuple[int, list[int]]]] = defaultdict(list)
    for i, (style, bars) in enumerate(zip(pieces["style"], pieces["num_bars"], strict=True)):
        rows[style].append((bars, [per[i] for per in lengths]))
    rows["all"] = [row for style_rows in rows.values() for row in style_rows]
    print(f"corpus: {args.corpus}; context {args.context} tokens\n")
    names = [Path(t).parent.name if Path(t).suffix == ".json" else Path(t).name for t in args.tokenizers]
    head = " | ".join(f"{n}: tokens/bar | {n}: bars in context" for n in names)
    print(f"| style | pieces | bars median | {head} |")
    print("|---|---:|---:|" + "---:|---:|" * len(names))
    for style, style_rows in sorted(rows.items(), key=lambda item: (item[0] == "all", item[0])):
        bars = sum(b for b, _ in style_rows)
        cells = []
        for k in range(len(names)):
            per_bar = sum(lengths[k] for _, lengths in style_rows) / max(1, bars)
            cells.append(f"{per_bar:.1f} | {args.context / per_bar:.1f}")
        median = statistics.median(b for b, _ in style_rows)
        print(f"| {style} | {len(style_rows):,} | {median:.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
