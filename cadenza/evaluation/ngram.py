"""An n-gram token language model: the floor a neural model must clear.

Interpolated Kneser-Ney (absolute discounting with one discount per order, D = n1 / (n1 + 2 n2)):

    P_k(w | h) = max(a_k(h w) - D_k, 0) / T_k(h) + D_k N_k(h) / T_k(h) * P_{k-1}(w | h')   if T_k(h) > 0
               = P_{k-1}(w | h')                                                          otherwise
    P_0(w)     = 1 / V   (uniform over the vocabulary, so no token ever gets probability 0)

with h' = h without its oldest token, T_k(h) = sum_w a_k(h w) and N_k(h) = the number of w with
a_k(h w) > 0. At the highest order a_k are raw counts; below it they are Kneser-Ney continuation counts
(the number of distinct tokens seen just before the k-gram), plus the raw count of the k-gram where it
starts a sequence (it has no token before it; this is how SRILM and KenLM treat sentence starts).

Sequences are independent (each a chunk `BOS Style ...`): a history never reaches back past the start of
its sequence, so the first predicted token (position 1) sees only BOS. `nll_per_token` scores every
position after the first of each sequence: the same positions a causal model's loss covers.

Counting is vectorised: each k-gram is packed into one int64 (bits_per_token * k <= 63), counted with
`np.unique`, and looked up with `np.searchsorted`. About ten million tokens fit in well under a minute.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from cadenza.errors import CadenzaError


@dataclass
class _Order:
    codes: np.ndarray  # sorted packed k-gram codes (context << bits | token)
    counts: np.ndarray  # a_k of each code, float64
    ctx_codes: np.ndarray  # sorted packed contexts
    ctx_total: np.ndarray  # T_k(h)
    ctx_types: np.ndarray  # N_k(h)
    discount: float


def _flatten(sequences) -> tuple[np.ndarray, np.ndarray]:
    """All tokens in one array, and each token's position inside its own sequence."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64)
    total = int(lengths.sum()) if len(lengths) else 0
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    tokens = np.fromiter(itertools.chain.from_iterable(sequences), dtype=np.int64, count=total)
    lengths = lengths[lengths > 0]
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.arange(total, dtype=np.int64) - starts
    return tokens, positions


def _sorted_unique_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique values and how often each occurs (sorts `values` in place: one sort, no inverse)."""
    if not len(values):
        return values, np.zeros(0, dtype=np.float64)
    values.sort()
    first = np.concatenate([[True], values[1:] != values[:-1]])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(values)))
    return values[starts], counts.astype(np.float64)


def _group_sums(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For sorted keys: unique keys, sum of weights and number of rows per key."""
    if not len(keys):
        empty = np.zeros(0, dtype=np.float64)
        return keys, empty, empty
    first = np.concatenate([[True], keys[1:] != keys[:-1]])
    starts = np.flatnonzero(first)
    sums = np.add.reduceat(weights, starts)
    sizes = np.diff(np.append(starts, len(keys))).astype(np.float64)
    return keys[starts], sums, sizes


def _find(keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of each query in sorted keys, whether it is there). Queries are looked up in sorted order,
    which keeps the binary searches cache-friendly on big tables."""
    if not len(keys) or not len(queries):
        return np.zeros(len(queries), dtype=np.int64), np.zeros(len(queries), dtype=bool)
    order = np.argsort(queries, kind="stable")
    idx = np.empty(len(queries), dtype=np.int64)
    idx[order] = np.searchsorted(keys, queries[order])
    idx = np.minimum(idx, len(keys) - 1)
    return idx, keys[idx] == queries


class NGramModel:
    """Fit with `NGramModel(order, vocab_size).fit(sequences)`; sequences are lists of token ids."""

    def __init__(self, order: int, vocab_size: int) -> None:
        if order < 1:
            raise CadenzaError(f"n-gram order must be >= 1, got {order}")
        self.order = order
        self.vocab_size = vocab_size
        self.bits = max(1, int(vocab_size - 1).bit_length())
        if self.bits * order > 63:
            raise CadenzaError(f"order {order} with a vocabulary of {vocab_size} does not pack into 64 bits")
        self.levels: list[_Order] = []
        self.train_tokens = 0

    def _codes(self, tokens: np.ndarray, positions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Packed k-grams ending at every position that has k-1 tokens of history, and where they end."""
        where = np.nonzero(positions >= k - 1)[0]
        codes = np.zeros(len(where), dtype=np.int64)
        for j in range(k - 1, -1, -1):  # oldest token first, so the last token sits in the low bits
            codes = (codes << self.bits) | tokens[where - j]
        return codes, where

    def fit(self, sequences) -> NGramModel:
        tokens, positions = _flatten(sequences)
        if len(tokens) and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise CadenzaError(f"token ids must lie in [0, {self.vocab_size})")
        self.train_tokens = int(len(tokens))
        levels: list[_Order] = []
        higher: np.ndarray | None = None  # unique (k+1)-gram codes, for continuation counts
        for k in range(self.order, 0, -1):
            codes, where = self._codes(tokens, positions, k)
            if k == self.order:
                uniq, counts = _sorted_unique_counts(codes)
            else:
                # continuation counts: distinct left extensions = unique (k+1)-grams sharing the suffix,
                # plus the raw count of the k-gram where it starts a sequence
                suffix = higher & ((1 << (self.bits * k)) - 1)
                at_start = codes[positions[where] == k - 1]
                uniq, counts = _sorted_unique_counts(np.concatenate([suffix, at_start]))
                del codes
            higher = uniq
            n1, n2 = float(np.sum(counts == 1)), float(np.sum(counts == 2))
            discount = n1 / (n1 + 2 * n2) if n1 > 0 and n2 > 0 else 0.5
            discount = min(max(discount, 0.05), 0.95)
            # codes are sorted, so their contexts (the high bits) are sorted too
            ctx_uniq, total, types = _group_sums(uniq >> self.bits, counts)
            levels.append(_Order(uniq, counts, ctx_uniq, total, types, discount))
        self.levels = levels[::-1]  # levels[k-1] is order k
        return self

    def _probs(self, tokens: np.ndarray, positions: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """P(token at each target index | its history inside its sequence)."""
        if not self.levels:
            raise CadenzaError("the n-gram model is not fitted")
        probs = np.full(len(targets), 1.0 / self.vocab_size)
        for k, level in enumerate(self.levels, start=1):
            has = positions[targets] >= k - 1
            idx = targets[has]
            codes = np.zeros(len(idx), dtype=np.int64)
            for j in range(k - 1, -1, -1):
                codes = (codes << self.bits) | tokens[idx - j]
            ctx = codes >> self.bits
            at, found = _find(level.ctx_codes, ctx)
            total = np.where(found, level.ctx_total[at], 0.0) if len(level.ctx_codes) else np.zeros(len(ctx))
            types = np.where(found, level.ctx_types[at], 0.0) if len(level.ctx_codes) else np.zeros(len(ctx))
            at, found = _find(level.codes, codes)
            count = np.where(found, level.counts[at], 0.0) if len(level.codes) else np.zeros(len(codes))
            lower = probs[has]
            seen = total > 0
            safe = np.where(seen, total, 1.0)
            mixed = (np.maximum(count - level.discount, 0.0) + level.discount * types * lower) / safe
            probs[has] = np.where(seen, mixed, lower)
        return probs

    def log_probs(self, sequences) -> np.ndarray:
        """Natural-log probabilities of every token after the first of each sequence, in order."""
        tokens, positions = _flatten(sequences)
        if len(tokens) and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise CadenzaError(f"token ids must lie in [0, {self.vocab_size})")
        targets = np.nonzero(positions >= 1)[0]
        return np.log(self._probs(tokens, positions, targets))

    def nll_per_token(self, sequences) -> float:
        """Mean negative log-likelihood (nats) over every token after the first of each sequence."""
        logp = self.log_probs(sequences)
        if not len(logp):
            raise CadenzaError("nothing to score: every sequence is shorter than 2 tokens")
        return float(-logp.mean())

    def distribution(self, history: list[int]) -> np.ndarray:
        """P(w | history) for every w in the vocabulary (history = the sequence so far, from its start)."""
        if not len(history):
            raise CadenzaError("a history holds at least the sequence's first token")
        # Only the last order-1 tokens count once there are that many: a step costs the same at any length.
        history = list(history)[max(len(history) - (self.order - 1), 0) if self.order > 1 else -1 :]
        seqs = np.array([[*history, w] for w in range(self.vocab_size)], dtype=np.int64)
        tokens = seqs.ravel()
        positions = np.tile(np.arange(seqs.shape[1], dtype=np.int64), self.vocab_size)
        targets = np.arange(seqs.shape[1] - 1, len(tokens), seqs.shape[1])
        return self._probs(tokens, positions, targets)


def perplexity(nll: float) -> float:
    return math.exp(nll)
