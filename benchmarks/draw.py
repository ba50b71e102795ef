"""One decoding step's draw, the way cadenza does it against the full-vocabulary way, on masked scores.

    python benchmarks/draw.py [--vocab 4002] [--calls 300]

`sampling.draw` runs the warpers (top-p 0.95), the softmax and an exponential race over the columns some
row may take; the full-vocabulary way (what the loop did before) runs the warpers over every column and
draws with `torch.multinomial`. Scores are -inf except for `open` random columns a row, as the grammar
leaves them. Prints microseconds per call, best of 3 interleaved rounds, one thread as decoding runs.
"""

from __future__ import annotations

import argparse
import time

import torch

from cadenza.inference.sampling import draw, sampling_warpers


def full_vocabulary(ids: torch.Tensor, scores: torch.Tensor, warpers) -> torch.Tensor:
    for warper in warpers:
        scores = warper(ids, scores)
    return torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1)


def masked_scores(batch: int, vocab: int, open_columns: int) -> torch.Tensor:
    scores = torch.full((batch, vocab), float("-inf"))
    for row in range(batch):
        scores[row, torch.randperm(vocab)[:open_columns]] = torch.randn(open_columns) * 3
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=4002)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    warpers = sampling_warpers(1.0, 0, 0.95)
    print("| batch | open tokens a row | full vocabulary, us | cadenza's draw, us |")
    print("|---:|---:|---:|---:|")
    for batch in (1, 8):
        for open_columns in (30, 300):
            scores = masked_scores(batch, args.vocab, open_columns)
            ids = torch.zeros(batch, 10, dtype=torch.long)
            best = {full_vocabulary: float("inf"), draw: float("inf")}
            for _ in range(3):
                for fn in best:
                    start = time.perf_counter()
                    for _ in range(args.calls):
                        fn(ids, scores.clone(), warpers)
                    best[fn] = min(best[fn], (time.perf_counter() - start) / args.calls * 1e6)
            print(f"| {batch} | {open_columns} | {best[full_vocabulary]:.0f} | {best[draw]:.0f} |")


if __name__ == "__main__":
    main()
