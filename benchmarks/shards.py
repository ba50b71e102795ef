"""Training speed: token shards (`cadenza shards train`) against the corpus path (`cadenza train`).

    python benchmarks/shards.py [--model checkpoints/cadenza-base] [--corpus build/corpus/embedded] \\
        [--shards build/shards] [--steps 40] [--batch_size 16]

Both start from the same checkpoint (`--init_from`), with the same batch, context and mixed precision, and
run `--steps` optimizer steps with one evaluation batch at the end, into temporary folders. Per path: the
wall time of the whole command, the loop's own training time and tokens (its metrics.csv), so training
tokens/s, and what the start costs (wall minus training: reading, tokenizing and transposing the corpus,
or opening the shards). The corpus path's tokenization is cached beside the corpus after its first run;
run it once before measuring. Run on a quiet machine: both paths use the 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(command: list[str], out: Path) -> tuple[float, float, int]:
    """(wall seconds, the loop's training seconds, tokens trained on) of one run, from its metrics.csv."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    with (out / "metrics.csv").open() as f:
        last = list(csv.DictReader(f))[-1]
    return wall, float(last["minutes"]) * 60, int(last["tokens_seen"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="checkpoints/cadenza-base")
    parser.add_argument("--corpus", default="build/corpus/embedded")
    parser.add_argument("--shards", default="build/shards")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch_size", type=int, default=16)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "cadenza.cli"]
    common = [
        "--init_from", args.model, "--batch_size", str(args.batch_size), "--max_steps", str(args.steps),
        "--eval_every", str(args.steps), "--eval_batches", "1", "--save_every", str(args.steps),
        "--lr", "1e-4", "--warmup_steps", "1", "--mixed_precision", "auto",
    ]  # fmt: skip
    paths = {
        "corpus (cadenza train)": ["train", "--corpus", args.corpus, "--transpose", "6"],
        "token shards (cadenza shards train)": ["shards", "train", "--shards", args.shards],
    }
    print("| path | wall s | training s | tokens | training tokens/s | start s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, command in paths.items():
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "run"
            wall, seconds, tokens = run([*cli, *command, *common, "--output_dir", str(out)], out)
        print(
            f"| {name} | {wall:.0f} | {seconds:.0f} | {tokens:,} | {tokens / seconds:,.0f} "
            f"| {wall - seconds:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
