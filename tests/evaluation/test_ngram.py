"""The n-gram baseline: exact probabilities on tiny sequences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cadenza.errors import CadenzaError
from cadenza.evaluation.ngram import NGramModel


def test_deterministic_sequence_is_nearly_free():
    model = NGramModel(3, 5).fit([[0, 1, 2, 3] * 50])
    assert model.nll_per_token([[0, 1, 2, 3] * 5]) < 0.02


@pytest.mark.parametrize("history", [[0], [0, 1], [4, 4, 4], [3, 2, 1, 0, 1], [0, 1, 2, 3, 0, 1]])
def test_distribution_sums_to_one(history):
    rng = np.random.default_rng(0)
    seqs = [[0, *rng.integers(1, 9, size=30).tolist()] for _ in range(10)]
    model = NGramModel(4, 10).fit(seqs)
    dist = model.distribution(history)
    assert dist.shape == (10,)
    assert dist.sum() == pytest.approx(1.0)
    assert (dist > 0).all()  # the uniform floor: no token is impossible


def test_unigram_is_absolute_discounting_over_uniform():
    # counts: 0 x1, 1 x2, 2 x3 (6 tokens, 3 types), vocab 4; n1 = 1, n2 = 1 -> D = 1/3
    model = NGramModel(1, 4).fit([[0, 1, 1, 2, 2, 2]])
    d = 1 / 3
    floor = d * 3 / 6 * (1 / 4)
    expected = [(1 - d) / 6 + floor, (2 - d) / 6 + floor, (3 - d) / 6 + floor, floor]
    assert model.distribution([0]).tolist() == pytest.approx(expected)


def test_bigram_uses_continuation_counts_below_the_top_order():
    # one sequence 0 1 2 1 2; vocab 3. Bigram raw counts: (0,1) (1,2) (2,1) (1,2) -> a2 = {01:1, 12:2, 21:1}
    # n1 = 2, n2 = 1 -> D2 = 2/4 = 0.5. Unigram continuation counts: token 1 has left neighbours {0, 2} -> 2,
    # token 2 has {1} -> 1, and token 0 starts the sequence -> raw count 1. a1 = {0:1, 1:2, 2:1}, D1 = 2/4.
    model = NGramModel(2, 3).fit([[0, 1, 2, 1, 2]])
    p1 = np.array([(1 - 0.5) / 4, (2 - 0.5) / 4, (1 - 0.5) / 4]) + 0.5 * 3 / 4 / 3
    assert model.distribution([0]).tolist() == pytest.approx(
        (np.array([0.0, (1 - 0.5) / 1, 0.0]) + 0.5 * 1 / 1 * p1).tolist()  # context 0: once, before 1
    )
    # context 1: seen twice, only followed by 2 -> T = 2, N = 1
    expected = np.array([0.0, 0.0, (2 - 0.5) / 2]) + 0.5 * 1 / 2 * p1
    assert model.distribution([0, 1]).tolist() == pytest.approx(expected.tolist())
    # an unseen context falls back to the unigram level
    unseen = NGramModel(2, 4).fit([[0, 1, 2, 1, 2]])
    q1 = np.array([(1 - 0.5) / 4, (2 - 0.5) / 4, (1 - 0.5) / 4, 0.0]) + 0.5 * 3 / 4 / 4
    assert unseen.distribution([0, 3]).tolist() == pytest.approx(q1.tolist())


def test_history_stops_at_the_sequence_start():
    model = NGramModel(3, 6).fit([[0, 1, 2, 3], [0, 4, 5]])
    logp = model.log_probs([[0, 1, 2, 3], [0, 4]])
    assert len(logp) == 3 + 1  # every token after the first of each sequence
    assert logp[3] == pytest.approx(math.log(model.distribution([0])[4]))
    assert logp[1] == pytest.approx(math.log(model.distribution([0, 1])[2]))


def test_errors():
    with pytest.raises(CadenzaError):
        NGramModel(0, 5)
    with pytest.raises(CadenzaError):
        NGramModel(8, 1 << 10)  # 80 bits
    with pytest.raises(CadenzaError):
        NGramModel(2, 5).fit([[0, 7]])
    with pytest.raises(CadenzaError):
        NGramModel(2, 5).nll_per_token([[0, 1]])  # not fitted
    with pytest.raises(CadenzaError):
        NGramModel(2, 5).fit([[0, 1]]).nll_per_token([[0]])
