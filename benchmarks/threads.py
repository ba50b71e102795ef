"""Generation on a quiet machine and beside a busy core, per decoding thread count: why cadenza decodes
with one thread (`cadenza.inference.sampling.DECODE_THREADS`).

    python benchmarks/threads.py [--model checkpoints/cadenza-base] [--bars 16] [--style bach]

Each setting runs in a fresh process (OpenMP reads its environment when torch loads), writing the same
16-bar piece (seed 0) twice and keeping the faster; "busy" starts a process that spins on one core
first, as a second program on a 2-core machine would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = """
import json, sys, time
import cadenza.inference.sampling as sampling
if int(sys.argv[4]):
    sampling.DECODE_THREADS = int(sys.argv[4])
from cadenza.inference.composer import Composer
composer = Composer.from_pretrained(sys.argv[1])
best = float("inf")
for _ in range(2):
    start = time.perf_counter()
    composer.generate(sys.argv[3], bars=int(sys.argv[2]), seed=0)
    best = min(best, time.perf_counter() - start)
print(json.dumps({"seconds": best, "threads": sampling.DECODE_THREADS}))
"""

SETTINGS = [  # (label, decoding threads (0 = cadenza's default), extra environment)
    ("cadenza default (DECODE_THREADS)", 0, {}),
    ("2 decoding threads (torch's default here)", 2, {}),
    ("2 decoding threads, OMP_WAIT_POLICY=PASSIVE", 2, {"OMP_WAIT_POLICY": "PASSIVE"}),
]


def run(args, threads: int, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, args.model, str(args.bars), args.style, str(threads)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="checkpoints/cadenza-base")
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--style", default="bach")
    args = parser.parse_args()
    print(f"{args.bars}-bar {args.style} piece, {args.model}; {os.cpu_count()} CPUs\n")
    print("| setting | threads | quiet (s) | one core busy (s) | slowdown |")
    print("|---|---:|---:|---:|---:|")
    for label, threads, env in SETTINGS:
        quiet = run(args, threads, env)
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(1)
            busy = run(args, threads, env)
        finally:
            spinner.kill()
        print(
            f"| {label} | {quiet['threads']} | {quiet['seconds']:.1f} | {busy['seconds']:.1f} | "
            f"{busy['seconds'] / quiet['seconds']:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
