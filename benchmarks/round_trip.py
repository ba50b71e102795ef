"""Round trips over a whole built corpus: how many pieces come back exactly, per style.

    python benchmarks/round_trip.py [--corpus build/corpus/embedded] [--tokenizer checkpoints/cadenza-base]

For every piece (all splits): decode(encode(score)) against miditok's preprocessed score, comparing every
note's (program, onset, pitch, duration). Prints a table and the first mismatches, if any.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import symusic
from tqdm import tqdm

from cadenza.data.corpus import load_corpus
from cadenza.tokenization.tokenizer import CadenzaTokenizer, note_tuples, preprocess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default="build/corpus/embedded")
    parser.add_argument("--tokenizer", default="checkpoints/cadenza-base")
    args = parser.parse_args()
    tokenizer = CadenzaTokenizer.load(args.tokenizer)
    corpus = load_corpus(args.corpus)
    pieces, exact, notes = Counter(), Counter(), Counter()
    mismatches: list[str] = []
    start = time.perf_counter()
    total = sum(len(split) for split in corpus.values())
    with tqdm(total=total, unit="piece") as progress:
        for split in corpus.values():
            for row in split.select_columns(["id", "style", "midi"]):
                score = symusic.Score.from_midi(row["midi"])
                style = row["style"] if row["style"] in tokenizer.styles else tokenizer.styles[0]
                back = note_tuples(tokenizer.decode(tokenizer.encode(score, style)))
                want = note_tuples(preprocess(tokenizer, score))
                pieces[row["style"]] += 1
                notes[row["style"]] += len(want)
                if back == want:
                    exact[row["style"]] += 1
                elif len(mismatches) < 10:
                    mismatches.append(f"{row['id']}: {len(back)} notes back, {len(want)} expected")
                progress.update()
    print(f"\n{total} pieces in {time.perf_counter() - start:.0f} s\n")
    print("| style | pieces | notes | exact round trips |")
    print("|---|---:|---:|---:|")
    for style in pieces:
        print(f"| {style} | {pieces[style]:,} | {notes[style]:,} | {exact[style]:,} |")
    print(f"| all | {sum(pieces.values()):,} | {sum(notes.values()):,} | {sum(exact.values()):,} |")
    for line in mismatches:
        print("mismatch:", line)


if __name__ == "__main__":
    main()
