"""Would speculative decoding pay? The draft's acceptance rate, measured before building it.

    python benchmarks/speculative.py [--model checkpoints/cadenza-base] [--shards build/shards] [--pieces 8]

Speculative sampling (Leviathan et al. 2023; transformers' assisted generation) lets a cheap draft propose
k tokens that the model checks in one forward pass; a proposed token is kept with probability
min(1, p/q), so on average sum_w min(p(w), q(w)) of each step is accepted (alpha), and a verify pass
yields (1 - alpha^(k+1)) / (1 - alpha) tokens. This measures alpha on pieces the model itself writes
(16 bars of `--style`, sampled with the checkpoint's defaults), for the two drafts the issue names that
cost far less than the model: a 5-gram fitted on the shards' untransposed training pieces, and prompt
lookup (the token that followed the last earlier occurrence of the piece's last 3 tokens, proposed with
certainty). v2 is no draft: it is the same size as v3, so drafting would cost what it saves. Both p and q
are compared without the grammar's mask (the model puts all but a sliver of its mass on legal tokens).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from cadenza.evaluation.ngram import NGramModel
from cadenza.inference.composer import Composer
from cadenza.training.shards import LENGTH, OFFSET, SHIFT, read_split

LOOKUP = 3  # tokens matched by prompt lookup


def model_probs(composer: Composer, ids: list[int]) -> np.ndarray:
    """p(w | ids[:i]) for every position i >= 1, after the checkpoint's top-p (as sampling draws)."""
    with torch.inference_mode():
        logits = composer.model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
    top_p = composer.sampling.top_p
    sorted_probs, order = torch.softmax(logits, -1).sort(dim=-1, descending=True)
    keep = sorted_probs.cumsum(-1) - sorted_probs < top_p  # the smallest set reaching top_p
    probs = torch.zeros_like(logits).scatter_(1, order, sorted_probs * keep)
    return (probs / probs.sum(-1, keepdim=True)).numpy()


def lookup_draft(ids: list[int], i: int) -> int | None:
    """The token after the latest earlier occurrence of ids[i-LOOKUP:i], if any."""
    tail = ids[i - LOOKUP : i]
    for start in range(i - LOOKUP - 1, -1, -1):
        if ids[start : start + LOOKUP] == tail:
            return ids[start + LOOKUP]
    return None


def tokens_per_pass(alpha: float, k: int) -> float:
    return (1 - alpha ** (k + 1)) / (1 - alpha) if alpha < 1 else k + 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="checkpoints/cadenza-base")
    parser.add_argument("--shards", default="build/shards")
    parser.add_argument("--style", default="bach")
    parser.add_argument("--pieces", type=int, default=8)
    args = parser.parse_args()
    composer = Composer.from_pretrained(args.model)
    tokens, index = read_split(args.shards, "train")
    rows = index[index[:, SHIFT] == 0]
    start = time.perf_counter()
    ngram = NGramModel(5, composer.model.config.vocab_size).fit(
        [np.asarray(tokens[o : o + n], dtype=np.int64) for o, n in rows[:, [OFFSET, LENGTH]]]
    )
    print(f"5-gram fitted on {len(rows)} pieces in {time.perf_counter() - start:.0f} s")
    ngram_alpha, lookup_alpha, lookup_found, steps = [], [], 0, 0
    for seed in range(args.pieces):
        piece = composer.generate(args.style, bars=16, seed=seed)[0]
        ids = composer.tokenizer.merge(piece.tokens)[: composer.context]
        probs = model_probs(composer, ids)
        for i in range(3, len(ids)):  # after BOS Style Key: what the sampling loop writes
            p = probs[i - 1]
            ngram_alpha.append(np.minimum(p, ngram.distribution(ids[:i])).sum())
            draft = lookup_draft(ids, i)
            lookup_found += draft is not None
            lookup_alpha.append(p[draft] if draft is not None else 0.0)
            steps += 1
    print(f"\n{args.pieces} pieces of 16 bars of {args.style}, {steps} steps\n")
    print("| draft | acceptance alpha | tokens a verify pass, k=2 | k=4 |")
    print("|---|---:|---:|---:|")
    for name, alphas in (("5-gram", ngram_alpha), ("prompt lookup", lookup_alpha)):
        alpha = float(np.mean(alphas))
        print(f"| {name} | {alpha:.2f} | {tokens_per_pass(alpha, 2):.2f} | {tokens_per_pass(alpha, 4):.2f} |")
    print(f"\nprompt lookup found a match at {lookup_found / steps:.0%} of steps")


if __name__ == "__main__":
    main()
