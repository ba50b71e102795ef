"""Tokens per piece of a built corpus, per style: how much of a piece one context window holds.

    python benchmarks/corpus_tokens.py [--corpus build/corpus/embedded] [--tokenizer checkpoints/cadenza-base]

Counts `BOS Style <music> EOS` with the tokenizer of the shipped model (REMI, one stream over all voices),
over every split, and prints a table: pieces, tokens per piece (min / median / max), bars and tokens per bar.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from datasets import concatenate_datasets

from cadenza.data.corpus import load_corpus
from cadenza.tokenization.tokenizer import TOKENIZER_FILE, CadenzaTokenizer
from cadenza.training.data import tokenize_pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default="build/corpus/embedded")
    parser.add_argument("--tokenizer", default="checkpoints/cadenza-base")
    parser.add_argument("--num_proc", type=int, default=2)
    args = parser.parse_args()
    CadenzaTokenizer.load(args.tokenizer)  # fails here, with the path, if there is no tokenizer
    folder = Path(args.tokenizer)
    tokenizer_file = (
        folder / TOKENIZER_FILE if folder.is_dir() else folder
    )  # the file: its digest keys caches
    pieces = concatenate_datasets(list(load_corpus(args.corpus).values()))
    tokens = tokenize_pieces(pieces, str(tokenizer_file), args.num_proc)
    by_style: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for ids, style, bars in zip(tokens["input_ids"], tokens["style"], pieces["num_bars"], strict=True):
        by_style[style].append((len(ids), bars))
    by_style["all"] = [row for rows in by_style.values() for row in rows]
    print(f"corpus: {args.corpus}\n")
    print("| style | pieces | tokens min | median | max | bars median | tokens per bar |")
    print("|---|---|---|---|---|---|---|")
    for style, rows in sorted(by_style.items(), key=lambda item: (item[0] == "all", item[0])):
        lengths = [length for length, _ in rows]
        per_bar = sum(lengths) / max(1, sum(bars for _, bars in rows))
        print(
            f"| {style} | {len(rows):,} | {min(lengths):,} | {statistics.median(lengths):,.0f} | "
            f"{max(lengths):,} | {statistics.median(bars for _, bars in rows):.0f} | {per_bar:.1f} |"
        )


if __name__ == "__main__":
    main()
