"""BPE vocabulary sizes compared: merged tokens per bar per style, and how long learning and merging take.

    python benchmarks/bpe_vocab.py [--corpus build/corpus/embedded] [--sizes 1000 2000 4000 8000]

Learns miditok's BPE (inside bars) on the train split's pieces for each size and merges the validation
pieces with it; prints tokens per bar per style, plain REMI first.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import symusic
from tqdm.auto import tqdm

from cadenza.data.corpus import load_corpus
from cadenza.tokenization.tokenizer import CadenzaTokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="build/corpus/embedded")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000])
    args = parser.parse_args()
    corpus = load_corpus(args.corpus)
    tokenizer = CadenzaTokenizer.new(sorted(set(corpus["train"]["style"])))

    def base_ids(split) -> list[list[int]]:
        return [
            tokenizer.encode_music(symusic.Score.from_midi(m))
            for m in tqdm(split["midi"], desc="encoding", unit="piece")
        ]

    train, held_out = base_ids(corpus["train"]), base_ids(corpus["validation"])
    styles, bars = corpus["validation"]["style"], [ids.count(tokenizer.bar_id) for ids in held_out]
    columns = {"REMI": [len(ids) for ids in held_out]}
    seconds = {}
    for size in args.sizes:
        trained = CadenzaTokenizer.new(tokenizer.styles)
        start = time.perf_counter()
        trained.train_bpe(train, size)
        learned = time.perf_counter() - start
        start = time.perf_counter()
        columns[f"BPE {size}"] = [len(trained.merge(ids)) for ids in held_out]
        seconds[f"BPE {size}"] = (learned, time.perf_counter() - start)
    per_style: dict[str, list[int]] = defaultdict(list)
    for i, style in enumerate(styles):
        per_style[style].append(i)
    per_style["all"] = list(range(len(styles)))
    print("| style | pieces | " + " | ".join(f"{name} tokens/bar" for name in columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    for style, rows in sorted(per_style.items(), key=lambda item: (item[0] == "all", item[0])):
        total_bars = max(1, sum(bars[i] for i in rows))
        cells = [f"{sum(lengths[i] for i in rows) / total_bars:.1f}" for lengths in columns.values()]
        print(f"| {style} | {len(rows)} | " + " | ".join(cells) + " |")
    print()
    for name, (learned, merged) in seconds.items():
        pieces = f"{len(train):,} pieces; merged {len(held_out)}"
        print(f"{name}: learned in {learned:.1f} s on {pieces} in {merged:.1f} s")


if __name__ == "__main__":
    main()
