"""Distances, overlapped area and KL against counts and analytic values of normal distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from cadenza.evaluation.distributions import (
    compare,
    inter_set_distances,
    intra_set_distances,
    kl_divergence,
    overlapped_area,
)

N = 4000


def normal(mean: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, 1.0, N)


def test_intra_set_distances_counts_each_pair_once():
    values = np.array([0.0, 1.0, 3.0, 7.0])
    assert sorted(intra_set_distances(values)) == [1, 2, 3, 4, 6, 7]
    assert len(intra_set_distances(np.arange(10.0))) == 10 * 9 // 2


def test_inter_set_distances_counts_every_pair():
    distances = inter_set_distances(np.array([0.0, 1.0]), np.array([3.0, 4.0, 5.0]))
    assert len(distances) == 2 * 3
    assert sorted(distances) == [2, 3, 3, 4, 4, 5]


def test_distances_of_histograms_are_euclidean():
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert intra_set_distances(a).tolist() == pytest.approx([math.sqrt(2)])
    assert inter_set_distances(a, np.array([[1.0, 1.0]])).tolist() == pytest.approx([1.0, 1.0])


def test_nan_rows_are_dropped():
    assert sorted(intra_set_distances(np.array([0.0, np.nan, 2.0, 5.0]))) == [2, 3, 5]
    histograms = np.array([[0.5, 0.5], [np.nan, np.nan], [1.0, 0.0]])
    assert len(intra_set_distances(histograms)) == 1
    assert len(inter_set_distances(histograms, histograms)) == 2 * 2


def test_overlap_of_samples_of_one_distribution_is_nearly_one():
    assert overlapped_area(normal(0, 1), normal(0, 2)) > 0.9


def test_overlap_of_disjoint_distributions_is_nearly_zero():
    assert overlapped_area(normal(0, 1), normal(10, 2)) < 0.01


def test_overlap_of_shifted_normals_matches_the_analytic_value():
    # N(0,1) and N(1,1) cross at 0.5; each tail beyond it is Phi(-0.5).
    assert overlapped_area(normal(0, 1), normal(1, 2)) == pytest.approx(2 * norm.cdf(-0.5), abs=0.05)


def test_kl_of_identical_samples_is_zero():
    x = normal(0, 1)
    assert kl_divergence(x, x) == pytest.approx(0.0, abs=1e-12)


def test_kl_of_shifted_normals_matches_the_analytic_value():
    # KL(N(0,1) || N(1,1)) = (mean difference)^2 / 2.
    assert kl_divergence(normal(0, 1), normal(1, 2)) == pytest.approx(0.5, abs=0.1)


def test_kl_of_disjoint_samples_is_large_but_finite():
    assert 10 < kl_divergence(normal(0, 1), normal(10, 2)) < math.inf


@pytest.mark.parametrize(
    "x, y",
    [
        (np.array([1.0]), np.array([0.0, 1.0, 2.0])),  # one distance: no bandwidth to estimate
        (np.array([2.0, 2.0, 2.0]), np.array([0.0, 1.0, 2.0])),  # all equal: singular KDE
        (np.array([]), np.array([0.0, 1.0])),
    ],
)
def test_degenerate_samples_give_nan(x, y):
    assert math.isnan(overlapped_area(x, y))
    assert math.isnan(kl_divergence(y, x))


@pytest.mark.parametrize(
    "generated, real",
    [
        (np.array([1.0]), np.array([0.0, 1.0, 3.0])),  # one generated piece
        (np.array([1.0, 2.0, 4.0]), np.array([0.0, np.nan])),  # one usable real piece
        (np.array([1.0, 2.0, 4.0]), np.array([5.0, 5.0, 5.0])),  # real distances all 0
    ],
)
def test_compare_of_degenerate_sets_is_nan(generated, real):
    result = compare(generated, real)
    assert set(result) == {"oa", "kl"}
    assert all(math.isnan(v) for v in result.values())


def test_compare_of_histogram_features():
    rng = np.random.default_rng(3)
    real = rng.dirichlet(np.ones(12), 120)
    alike = compare(rng.dirichlet(np.ones(12), 120), real)
    unlike = compare(rng.dirichlet(np.full(12, 20.0), 120), real)  # far flatter histograms
    assert alike["oa"] > 0.9 and alike["kl"] < 0.05
    assert unlike["oa"] < alike["oa"] and unlike["kl"] > alike["kl"]


def test_compare_of_a_set_with_itself_is_the_ceiling():
    real = np.random.default_rng(4).normal(0, 1, 80)
    ceiling = compare(real, real)
    shifted = compare(real + 1.5, real)
    assert ceiling["oa"] > 0.9 and ceiling["oa"] > shifted["oa"]
    assert ceiling["kl"] < shifted["kl"]
