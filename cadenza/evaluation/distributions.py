"""How close a generated set of pieces is to a real set, one feature at a time (Yang & Lerch's mgeval).

A feature gives one value per piece: a scalar (pitch range) or a histogram (pitch-class histogram); a set
of pieces is an array of shape (n,) or (n, d). Comparing two sets value by value would need a pairing
the sets do not have, so mgeval compares distributions of Euclidean distances instead:

- the *intra-set* distances of the real set: every unordered pair of real pieces once (mgeval's loop
  counts each pair twice, which leaves the density unchanged up to the KDE's bandwidth);
- the *inter-set* distances: every generated piece against every real piece.

Each sample of distances is smoothed by a Gaussian KDE (scipy, Scott's bandwidth) and both densities are
evaluated on one grid of evenly spaced points from the smallest to the largest distance of either sample.
`compare` reports, for one feature:

- `oa`: the overlapped area, the integral of min(p_intra, p_inter) (trapezoid rule); 1 when they
  coincide, 0 when disjoint. As in mgeval, KDE mass beyond the extreme distances lies off the grid and
  is not counted, so identical samples give slightly under 1.
- `kl`: KL(P_intra || P_inter) in nats over the grid points (densities normalised on the grid); 0 when
  they coincide.

If the generated pieces lie as far from the real ones as the real ones lie from each other, the two
distributions coincide. Two sets of real pieces (the test split against the training split, in place of
generated and real) are not identical either, so that real-vs-real row is the ceiling of OA (the floor of
KL) that the report shows next to each generator: a generator is judged by how near it comes to it.

Pieces where the feature is undefined (a NaN anywhere in their row) are dropped. With fewer than 2
usable pieces in either set, or when a sample's distances are all equal (its KDE is singular), the
values are NaN: a degenerate feature is reported as missing, never raised.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import cdist, pdist
from scipy.stats import entropy, gaussian_kde

# The Gaussian KDE underflows to exactly 0 far from its data, and one such grid point makes KL
# infinite; a floor relative to the peak keeps KL finite (large for disjoint samples) and, being
# relative, leaves KL unchanged when a feature is rescaled.
KL_FLOOR = 1e-10


def _usable(values: np.ndarray) -> np.ndarray:
    """The set as rows of shape (n, d) (a scalar feature as d = 1), rows with any NaN dropped."""
    values = np.asarray(values, dtype=np.float64)
    rows = values[:, None] if values.ndim == 1 else values
    return rows[~np.isnan(rows).any(axis=1)]


def intra_set_distances(values: np.ndarray) -> np.ndarray:
    """Euclidean distances between the set's usable pieces, each unordered pair once: n(n-1)/2 values."""
    return pdist(_usable(values))


def inter_set_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances from every usable piece of a to every usable piece of b: n_a * n_b values."""
    return cdist(_usable(a), _usable(b)).ravel()


def _densities_on_grid(
    x: np.ndarray, y: np.ndarray, grid: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(grid points, KDE of x, KDE of y) on a common grid, or None when either KDE is undefined."""
    x, y = (np.asarray(s, dtype=np.float64).ravel() for s in (x, y))
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    # gaussian_kde needs a spread to estimate a bandwidth from; checked here rather than catching its
    # LinAlgError, which scipy also raises for reasons that are not about the data.
    if min(len(x), len(y)) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    points = np.linspace(min(x.min(), y.min()), max(x.max(), y.max()), grid)
    return points, gaussian_kde(x)(points), gaussian_kde(y)(points)


def _overlap(points: np.ndarray, px: np.ndarray, py: np.ndarray) -> float:
    return float(np.trapezoid(np.minimum(px, py), points))


def _kl(px: np.ndarray, py: np.ndarray) -> float:
    return float(entropy(px, np.maximum(py, KL_FLOOR * py.max())))


def overlapped_area(x: np.ndarray, y: np.ndarray, grid: int = 1000) -> float:
    """Area under both Gaussian KDEs of two samples; NaN when either is degenerate."""
    densities = _densities_on_grid(x, y, grid)
    return math.nan if densities is None else _overlap(*densities)


def kl_divergence(x: np.ndarray, y: np.ndarray, grid: int = 1000) -> float:
    """KL(P_x || P_y) in nats of the two samples' Gaussian KDEs; NaN when either is degenerate."""
    densities = _densities_on_grid(x, y, grid)
    return math.nan if densities is None else _kl(*densities[1:])


def compare(generated: np.ndarray, real: np.ndarray, grid: int = 1000) -> dict[str, float]:
    """mgeval's {"oa", "kl"} of the real set's intra-set distances against the inter-set distances.

    The KDEs are evaluated once for both numbers: with a few hundred pieces a set, the inter-set sample
    has tens of thousands of distances, and evaluating its KDE dominates the cost.
    """
    if min(len(_usable(generated)), len(_usable(real))) < 2:
        return {"oa": math.nan, "kl": math.nan}
    densities = _densities_on_grid(intra_set_distances(real), inter_set_distances(generated, real), grid)
    if densities is None:
        return {"oa": math.nan, "kl": math.nan}
    points, p_intra, p_inter = densities
    return {"oa": _overlap(points, p_intra, p_inter), "kl": _kl(p_intra, p_inter)}
