"""How long the embedded corpus takes to build from an empty cache, per style, on this machine.

    python benchmarks/corpus_build.py [--styles bach,essen_folk] [--num_proc 2]

Each style is built on its own into a temporary folder with an empty file cache (as `cadenza corpus
build --styles S` would from scratch), then built again unchanged (the manifest hit a user sees on a
rebuild) and again with `--force` (every file from the file cache). Prints a table: files, pieces kept,
failures, seconds from empty, pieces per second, seconds for the unchanged and the forced rebuild.
The whole corpus in one build (`cadenza corpus build`) takes about the sum of the first column.

    python benchmarks/corpus_build.py --rates true [--per_format 30]

The conversion cost of each format, which `cadenza.data.convert.SECONDS_PER_MB` holds: up to
`--per_format` embedded files of each format, spread over its sizes, converted one after another in this
process; prints files, megabytes, seconds and seconds per megabyte, beside the constant in use.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

from cadenza.data.convert import SECONDS_PER_MB, SECONDS_PER_MB_OTHER, _read_file
from cadenza.data.corpus import CorpusBuildArgs, _embedded_jobs, build_corpus
from cadenza.data.styles import EMBEDDED_STYLES, parse_style_list


def timed_build(args: CorpusBuildArgs):
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # progress bars
        report = build_corpus(args)
    return report, time.perf_counter() - start


def rates(per_format: int) -> None:
    jobs = _embedded_jobs(EMBEDDED_STYLES, dict.fromkeys(EMBEDDED_STYLES))
    by_format: dict[str, list[Path]] = {}
    for job in jobs:
        path = Path(job.path)
        by_format.setdefault(path.suffix.lower(), []).append(path)
    print("| format | files | MB | seconds | s per MB | SECONDS_PER_MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for suffix, paths in sorted(by_format.items()):
        paths.sort(key=lambda path: path.stat().st_size)
        step = max(len(paths) / per_format, 1)
        sample = list(dict.fromkeys(paths[int(i * step)] for i in range(min(per_format, len(paths)))))
        start = time.perf_counter()
        for path in sample:
            _read_file(path)
        seconds = time.perf_counter() - start
        megabytes = sum(path.stat().st_size for path in sample) / 1e6
        in_use = SECONDS_PER_MB.get(suffix, SECONDS_PER_MB_OTHER)
        print(
            f"| {suffix} | {len(sample)} | {megabytes:.2f} | {seconds:.1f} | {seconds / megabytes:.1f} "
            f"| {in_use:g} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--styles", default=",".join(EMBEDDED_STYLES))
    parser.add_argument("--num_proc", type=int, default=2)
    parser.add_argument("--rates", type=lambda text: text.lower() == "true", default=False)
    parser.add_argument("--per_format", type=int, default=30)
    args = parser.parse_args()
    if args.rates:
        rates(args.per_format)
        return
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
