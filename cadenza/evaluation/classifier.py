"""A style classifier over the evaluation metrics: which corpus style does a piece sound like?

Each piece becomes one feature vector (`FEATURE_NAMES`, in order) made only of the functions of `metrics`
and `harmony`, plus its number of tracks with notes. The pitch-class histogram is left out on purpose:
it says which key a piece is in, not how it is written, and keys are shared between styles. A feature
that a piece does not define (the harmony of one voice, the intervals of an empty piece) is NaN.

The model is scikit-learn's `HistGradientBoostingClassifier` because it takes NaN as a value of its own
(a missing harmony is itself a strong hint: folk tunes are one voice), needs no scaling of features whose
units differ (semitones, notes per quarter, shares, counts), finds the nonlinear boundaries that
separate styles, and fits a thousand pieces in about a second on a CPU.

Saving uses no pickle (nothing in cadenza loads pickle): a `StyleClassifier` is defined by its training
features, labels and seed, so `save` writes those three to an .npz read back with `allow_pickle=False`,
and `load` fits the model again. The fit is deterministic (fixed seed, no early stopping, so no random
validation split), so a loaded classifier predicts what the saved one did under the same scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import symusic
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import confusion_matrix

from cadenza.errors import InputFileError
from cadenza.evaluation import harmony, metrics

_SCALARS: dict[str, Callable[[symusic.Score], float]] = {
    "pitch_range": metrics.pitch_range,
    "polyphony": metrics.polyphony,
    "note_density": metrics.note_density,
    "mean_pitch": metrics.mean_pitch,
    "pitch_classes_used": metrics.pitch_classes_used,
    "pitch_class_entropy": metrics.pitch_class_entropy,
    "scale_consistency": metrics.scale_consistency,
    "empty_beat_rate": metrics.empty_beat_rate,
    "groove_consistency": metrics.groove_consistency,
}
_LENGTHS = [str(Fraction(float(q)).limit_denominator(8)) for q in metrics.LENGTH_CLASSES]  # in quarters
_HISTOGRAMS: dict[str, tuple[Callable[[symusic.Score], np.ndarray], list[str]]] = {
    "note_length": (metrics.note_length_histogram, _LENGTHS),
    "ioi": (metrics.ioi_histogram, _LENGTHS),
    "interval": (
        metrics.pitch_interval_histogram,
        [f"{step:+d}" for step in range(-metrics.MAX_INTERVAL, metrics.MAX_INTERVAL + 1)],
    ),
}
_HARMONY = ("consonance", "chord_share", "parallel_perfects", "voice_crossings")  # `harmony.features`
SCALARS: tuple[str, ...] = (*_SCALARS, *_HARMONY, "num_tracks")  # one column each
HISTOGRAMS: dict[str, list[str]] = {prefix: bins for prefix, (_, bins) in _HISTOGRAMS.items()}
FEATURE_NAMES: tuple[str, ...] = (
    *SCALARS,
    *(f"{prefix}_{bin_name}" for prefix, bins in HISTOGRAMS.items() for bin_name in bins),
)


def feature_vector(score: symusic.Score) -> np.ndarray:
    """The piece's features in the order of `FEATURE_NAMES` (float64; NaN where undefined)."""
    by_name = harmony.features(score)
    scalars = [
        *(float(function(score)) for function in _SCALARS.values()),
        *(by_name[name] for name in _HARMONY),
        float(sum(1 for track in score.tracks if len(track.notes))),  # num_tracks
    ]
    histograms = [function(score) for function, _ in _HISTOGRAMS.values()]
    return np.concatenate([np.array(scalars, dtype=np.float64), *histograms])


def feature_matrix(scores: Sequence[symusic.Score]) -> np.ndarray:
    """One row of `feature_vector` per piece."""
    return np.array([feature_vector(score) for score in scores], dtype=np.float64).reshape(
        len(scores), len(FEATURE_NAMES)
    )


class StyleClassifier:
    """A fitted classifier, kept with the training data that defines it (so it can be saved without pickle).

    `features` has one row per training piece, columns as `FEATURE_NAMES`; `styles` the piece's labels.
    """

    def __init__(self, features: np.ndarray, styles: Sequence[str], seed: int = 0):
        self.features = np.asarray(features, dtype=np.float64)
        self.styles = tuple(styles)
        self.seed = seed
        # scikit-learn 1.9 fails to bin a column with no value at all (one-voice styles only: no harmony);
        # such a column says nothing, so it becomes a constant, which the trees never split on.
        self._blank = np.isnan(self.features).all(axis=0)
        self.model = HistGradientBoostingClassifier(early_stopping=False, random_state=seed)
        self.model.fit(self._filled(self.features), np.array(self.styles))

    def _filled(self, features: np.ndarray) -> np.ndarray:
        features = np.array(features, dtype=np.float64)
        features[:, self._blank] = 0.0
        return features

    @property
    def labels(self) -> tuple[str, ...]:
        """The styles it can predict, sorted: the keys of `predict_proba`."""
        return tuple(str(label) for label in self.model.classes_)

    def predict(self, scores: Sequence[symusic.Score]) -> list[str]:
        return self.predict_features(feature_matrix(scores))

    def predict_features(self, features: np.ndarray) -> list[str]:
        """The styles of pieces given as rows of `feature_matrix` (computed once for several uses)."""
        return [str(label) for label in self.model.predict(self._filled(features))] if len(features) else []

    def predict_proba(self, score: symusic.Score) -> dict[str, float]:
        return self.probabilities(feature_vector(score))

    def probabilities(self, vector: np.ndarray) -> dict[str, float]:
        """Style -> probability for a piece given as its `feature_vector`."""
        probabilities = self.model.predict_proba(self._filled(vector[None, :]))[0]
        return {label: float(p) for label, p in zip(self.labels, probabilities, strict=True)}

    def save(self, path: str | Path) -> None:
        """Write the training data, the feature names and the seed to an .npz (no pickled objects)."""
        np.savez(
            path,
            features=self.features,
            styles=np.array(self.styles, dtype=str),
            feature_names=np.array(FEATURE_NAMES, dtype=str),
            seed=np.array(self.seed),
        )

    @classmethod
    def load(cls, path: str | Path) -> StyleClassifier:
        """Refit from a saved .npz; refuses one written with other features, whose columns would not match."""
        with np.load(path, allow_pickle=False) as saved:
            names = tuple(str(name) for name in saved["feature_names"])
            if names != FEATURE_NAMES:
                raise InputFileError(path, f"saved with other features ({len(names)} columns); retrain it")
            return cls(saved["features"], [str(style) for style in saved["styles"]], int(saved["seed"]))


def train_classifier(
    scores: Sequence[symusic.Score], styles: Sequence[str], seed: int = 0
) -> StyleClassifier:
    return StyleClassifier(feature_matrix(scores), styles, seed)


def evaluate_classifier(classifier: StyleClassifier, features: np.ndarray, styles: Sequence[str]) -> dict:
    """Accuracy and confusion matrix (rows: true style, columns: predicted, both in the order of `labels`).

    `labels` are the classifier's styles and any other style of the evaluated pieces, sorted, so a style
    unseen in training shows up as a row that is always wrong rather than disappearing.
    """
    predicted = classifier.predict_features(features)
    labels = sorted(set(classifier.labels) | set(styles))
    return {
        "accuracy": float(np.mean(np.array(predicted) == np.array(styles))),
        "labels": labels,
        "confusion_matrix": confusion_matrix(styles, predicted, labels=labels).tolist(),
    }
