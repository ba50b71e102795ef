"""Does the fast ABC reader (abc2midi) write the same notes as music21? Per ABC source of the corpus.

    python benchmarks/abc_fidelity.py [--tunes 150] [--seed 0] [--tokenizer checkpoints/cadenza-base]

For a seeded sample of tunes of each source (whole files drawn until `--tunes` tunes), both readers'
scores go through the tokenizer's quantization (miditok's preprocessing: what the model sees) and their
notes, as (onset, pitch, duration) with voices ignored, are compared. Prints per source: tunes read by
each, tunes with identical notes, the share of notes the two agree on, how the others differ (in length,
i.e. repeats played out differently; in pitch only; in rhythm only; in both), and the first differences,
to be judged against the ABC text (docs/corpus.md, "ABC: which reader, and how faithful").
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from cadenza.data.corpus import embedded_root
from cadenza.data.loading import read_pieces
from cadenza.tokenization.tokenizer import CadenzaTokenizer, preprocess

SOURCES = ("essenFolksong", "ryansMammoth", "oneills1850", "josquin")


def notes(tokenizer: CadenzaTokenizer, score) -> Counter:
    quantized = preprocess(tokenizer, score)
    tpq = quantized.ticks_per_quarter
    return Counter(
        (n.time / tpq, n.pitch, n.duration / tpq) for track in quantized.tracks for n in track.notes
    )


def difference(fast: list[tuple], slow: list[tuple]) -> str:
    """How two readings of a tune differ: "length" (repeats), "pitch", "rhythm" or "both"."""
    if len(fast) != len(slow) or sum(fast[-1][::2]) != sum(slow[-1][::2]):
        return "length"
    if [note[1] for note in fast] == [note[1] for note in slow]:
        return "rhythm"
    if [note[::2] for note in fast] == [note[::2] for note in slow]:
        return "pitch"
    return "both"


def compare_source(
    folder: str, tunes: int, rng: random.Random, tokenizer: CadenzaTokenizer
) -> tuple[Counter, Counter, list[str]]:
    """(counts, seconds per reader, the first differences) for one source folder."""
    files = sorted((embedded_root() / folder).glob("*.abc"))
    rng.shuffle(files)
    result = Counter()
    examples: list[str] = []
    seconds = Counter()
    for path in files:
        if result["compared"] >= tunes:
            break
        read = {}
        for reader in ("fast", "music21"):
            start = time.perf_counter()
            pieces, _ = read_pieces(path, reader=reader)
            seconds[reader] += time.perf_counter() - start
            read[reader] = {piece.tune: piece for piece in pieces}
            result[reader] += len(pieces)
        for tune in sorted(set(read["fast"]) & set(read["music21"]), key=lambda t: t or 0):
            fast, slow = (
                notes(tokenizer, read["fast"][tune].score),
                notes(tokenizer, read["music21"][tune].score),
            )
            result["compared"] += 1
            result["identical"] += fast == slow
            result["notes_agree"] += sum((fast & slow).values())
            result["notes"] += max(sum(fast.values()), sum(slow.values()))
            if fast != slow:
                result[difference(sorted(fast.elements()), sorted(slow.elements()))] += 1
            if fast != slow and len(examples) < 4:
                only_fast, only_slow = sorted(fast - slow)[:3], sorted(slow - fast)[:3]
                examples.append(f"{path.name}#{tune}: only abc2midi {only_fast}; only music21 {only_slow}")
    return result, seconds, examples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tunes", type=int, default=150, help="tunes compared per source (at least)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tokenizer", default="checkpoints/cadenza-base")
    args = parser.parse_args()
    tokenizer = CadenzaTokenizer.load(args.tokenizer)
    rng = random.Random(args.seed)
    print(
        "| source | tunes compared | read by abc2midi / music21 | identical notes | notes agreeing | "
        "differ in length / pitch / rhythm / both | seconds abc2midi / music21 |"
    )
    print("|---|---:|---:|---:|---:|---|---:|")
    details = []
    for folder in SOURCES:
        r, seconds, examples = compare_source(folder, args.tunes, rng, tokenizer)
        agree = r["notes_agree"] / max(r["notes"], 1)
        identical = r["identical"] / max(r["compared"], 1)
        print(
            f"| {folder} | {r['compared']} | {r['fast']} / {r['music21']} | "
            f"{r['identical']} ({identical:.1%}) | {agree:.2%} | "
            f"{r['length']} / {r['pitch']} / {r['rhythm']} / {r['both']} | "
            f"{seconds['fast']:.1f} / {seconds['music21']:.1f} |"
        )
        details += examples
    print()
    for line in details:
        print("differs:", line)


if __name__ == "__main__":
    main()
