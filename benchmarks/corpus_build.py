"""How long the embedded corpus takes to build from an empty cache, per style, on this machine.

    python benchmarks/corpus_build.py [--styles bach,essen_folk] [--num_proc 2]

Each style is built on its own into a temporary folder with an empty file cache (as `cadenza corpus
build --styles S` would from scratch), then built again unchanged (the manifest hit a user sees on a
rebuild) and again with `--force` (every file from the file cache). Prints a table: files, pieces kept,
failures, seconds from empty, pieces per second, seconds for the unchanged and the forced rebuild.
The whole corpus in one build (`cadenza corpus build`) takes about the sum of the first column.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

from cadenza.data.corpus import CorpusBuildArgs, build_corpus
from cadenza.data.styles import EMBEDDED_STYLES, parse_style_list


def timed_build(args: CorpusBuildArgs):
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # progress bars
        report = build_corpus(args)
    return report, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--styles", default=",".join(EMBEDDED_STYLES))
    parser.add_argument("--num_proc", type=int, default=2)
    args = parser.parse_args()
    print(
        "| style | files | pieces | failures | seconds from empty | pieces/s | unchanged rebuild s "
        "| forced rebuild s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    totals = [0, 0, 0, 0.0, 0.0, 0.0]
    for style in parse_style_list(args.styles):
        with tempfile.TemporaryDirectory() as folder:
            build = CorpusBuildArgs(styles=style, out=str(Path(folder) / style), num_proc=args.num_proc)
            report, seconds = timed_build(build)
            _, unchanged = timed_build(build)
            build.force = True
            _, forced = timed_build(build)
        pieces = sum(report.counts.get(style, {}).values())
        row = [report.files, pieces, len(report.failures), seconds, unchanged, forced]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        print(
            f"| {style} | {report.files:,} | {pieces:,} | {len(report.failures)} | {seconds:.1f} | "
            f"{pieces / seconds:.1f} | {unchanged:.1f} | {forced:.1f} |",
            flush=True,
        )
    files, pieces, failures, seconds, unchanged, forced = totals
    print(
        f"| all (sum) | {files:,} | {pieces:,} | {failures} | {seconds:.1f} | {pieces / seconds:.1f} | "
        f"{unchanged:.1f} | {forced:.1f} |"
    )


if __name__ == "__main__":
    main()
