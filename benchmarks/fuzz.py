"""Fuzzing at scale: many mutated copies of the test fixtures (byte flips, truncation, a duplicated chunk)
through the loader that every entry uses (corpus builds, `generate --prompt`, the app's uploads).

    PYTHONPATH=. python benchmarks/fuzz.py [--per_kind 60] [--seed 1]

Then the degenerate MIDI files (one note, a note of no length, of the longest length allowed and far
past it at several resolutions, one chord, ...). Prints, per format: files tried, kept, refused with a
one-line error, tracebacks (anything else raised), files over 10 s (hangs), the slowest file, and the
process's peak memory. The mutations are those of
tests/inference/test_fuzz.py, which runs a few of them through a corpus build and `generate --prompt`.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path

import symusic

import tests.inference.test_fuzz as fuzz
from cadenza.data.loading import read_pieces
from cadenza.errors import CadenzaError
from tests.inference.test_degenerate_prompts import CASES, TPQ

HANG_SECONDS = 10


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per_kind", type=int, default=60, help="mutants per base file and mutation kind")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    fuzz.MUTANTS_PER_KIND = args.per_kind
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="cadenza-fuzz-"))
    print("| format | tried | kept | refused | tracebacks | over 10 s | slowest s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    files = {suffix: fuzz.mutants(data, rng) for suffix, data in fuzz.originals(folder).items()}
    files["degenerate .mid"] = degenerate(folder)
    for suffix, mutants in files.items():
        counts, slowest = Counter(), 0.0
        for index, mutant in enumerate(mutants):
            path = folder / f"mutant{index:04d}{suffix.split()[-1]}"
            path.write_bytes(mutant)
            start = time.perf_counter()
            try:
                pieces, _ = read_pieces(path)
                counts["kept" if pieces else "refused"] += 1
            except CadenzaError:
                counts["refused"] += 1
            except Exception as err:  # the bug this benchmark looks for
                counts["tracebacks"] += 1
                print(f"traceback: {path}: {type(err).__name__}: {err}")
            seconds = time.perf_counter() - start
            counts["hangs"] += seconds > HANG_SECONDS
            slowest = max(slowest, seconds)
        tried = counts["kept"] + counts["refused"] + counts["tracebacks"]
        print(
            f"| {suffix} | {tried} | {counts['kept']} | {counts['refused']} | {counts['tracebacks']} | "
            f"{counts['hangs']} | {slowest:.2f} |",
            flush=True,
        )
    print(f"\npeak memory of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def degenerate(folder: Path) -> list[bytes]:
    """The degenerate prompts of tests/inference/test_degenerate_prompts.py, then one note of every length
    from none to far past the limit (256 quarters), at several resolutions."""
    scores = []
    for notes in CASES.values():
        scores.append((TPQ, notes))
    for tpq in (24, 96, 480, 960, 15360):
        for quarters in (
            0,
            1 / tpq,
            0.5,
            1,
            255.9,
            256,
            257,
            10_000,
        ):  # 10,000 x 15,360 ticks fits a MIDI delta
            scores.append((tpq, [(0, int(quarters * tpq), 60)]))
            scores.append((tpq, [(0, int(quarters * tpq), 60), (int(quarters * tpq), tpq, 67)]))
    out = []
    for tpq, notes in scores:
        score = symusic.Score(tpq)
        track = symusic.Track()
        for onset, duration, pitch in notes:
            track.notes.append(symusic.Note(onset, duration, pitch, 80))
        score.tracks.append(track)
        out.append(score.dumps_midi())
    return out


if __name__ == "__main__":
    main()
