"""One piece against the corpus: what the app's Evaluate tab shows.

`Judge` holds what a verdict needs from a built corpus, all of it saved beside the corpus and built on
first use (`similarity.load_similarity`, `originality.load_index`): the train pieces' features (which also
give each style's ranges and the style classifier's training rows, so nothing is computed twice), and
the n-gram index with the human baseline. `judge(score, style)` gives:

- the piece's scalar features beside its style's 5th-95th percentile over the train pieces (whole
  pieces: a few bars of music have a narrower pitch range than a whole chorale, so read the range as
  the corpus's, not as a bar);
- the classifier's probabilities (trained on up to `CLASSIFIER_PER_STYLE` whole train pieces a style);
- the key music21 hears;
- the originality measure and its verdict against the style's human 95th percentile;
- the k most similar train pieces.

The style judged against is the asked one, or else the classifier's guess.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import symusic

from cadenza.errors import CadenzaError
from cadenza.evaluation import controls, originality
from cadenza.evaluation.classifier import FEATURE_NAMES, SCALARS, StyleClassifier, feature_vector
from cadenza.evaluation.similarity import Neighbour, load_similarity

CLASSIFIER_PER_STYLE = 150
RANGE = (5, 95)  # percentiles of a style's corpus range


@dataclass
class FeatureRow:
    name: str
    value: float
    low: float  # the style's corpus range
    high: float

    @property
    def within(self) -> bool | None:
        if math.isnan(self.value) or math.isnan(self.low):
            return None
        return self.low <= self.value <= self.high


@dataclass
class Judgement:
    style: str  # the style judged against
    guessed: bool  # the classifier chose it (no style was asked)
    probabilities: dict[str, float]
    key: tuple[str, str] | None
    features: list[FeatureRow]
    copying: originality.Measure
    flagged: bool | None  # None: the style has no human baseline
    human: dict[str, float] | None
    neighbours: list[Neighbour]


class Judge:
    def __init__(self, corpus_dir: str | Path, num_proc: int = 2, seed: int = 0) -> None:
        if not Path(corpus_dir, "dataset_dict.json").is_file():
            raise CadenzaError(
                f"no corpus at {corpus_dir}: judging a piece compares it with the corpus; "
                "build it with `make corpus` (about 5 minutes)"
            )
        self.corpus_dir = Path(corpus_dir)
        self.similarity = load_similarity(corpus_dir, num_proc)
        self.index, self.human = originality.load_index(corpus_dir)
        features, styles = self.similarity.features, np.array(self.similarity.styles)
        self.styles = sorted(set(styles.tolist()))
        with warnings.catch_warnings():  # a feature no piece of a style defines has no range: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            low_mid_high = {
                style: np.nanpercentile(features[styles == style], (RANGE[0], 50, RANGE[1]), axis=0)
                for style in self.styles
            }
        self.ranges = {style: (low, high) for style, (low, _, high) in low_mid_high.items()}
        # A style's median of each feature, and its 5-95% spread: what the critic measures distances in.
        self.medians = {
            s: dict(zip(FEATURE_NAMES, mid.tolist(), strict=True)) for s, (_, mid, _) in low_mid_high.items()
        }
        self.spreads = {
            s: dict(zip(FEATURE_NAMES, (high - low).tolist(), strict=True))
            for s, (low, _, high) in low_mid_high.items()
        }
        picked = np.concatenate(
            [
                np.random.default_rng(seed).permutation(np.flatnonzero(styles == style))[
                    :CLASSIFIER_PER_STYLE
                ]
                for style in self.styles
            ]
        )
        self.classifier = StyleClassifier(features[picked], styles[picked].tolist(), seed)

    def judge(self, score: symusic.Score, style: str | None = None, k: int = 5) -> Judgement:
        if style is not None and style not in self.styles:
            raise CadenzaError(f"unknown style {style!r}; the corpus has: {', '.join(self.styles)}")
        vector = feature_vector(score)
        probabilities = self.classifier.probabilities(vector)
        judged = style or max(probabilities, key=probabilities.get)
        low, high = self.ranges[judged]
        rows = [
            FeatureRow(name, float(vector[i]), float(low[i]), float(high[i]))
            for i, name in enumerate(FEATURE_NAMES)
            if name in SCALARS
        ]
        copying = originality.measure(score, self.index)
        human = self.human.get(judged)
        return Judgement(
            style=judged,
            guessed=style is None,
            probabilities=probabilities,
            key=controls.analysed_key(score),
            features=rows,
            copying=copying,
            flagged=originality.flagged(copying, human) if human else None,
            human=human,
            neighbours=self.similarity.nearest(vector, k),
        )

    def source(self, corpus_id: str) -> symusic.Score:
        """A train piece by id (the passage a piece shares with the corpus comes from one)."""
        from cadenza.data.corpus import load_corpus

        row = self.index.ids.index(corpus_id)  # the index keeps the train split's row order
        return symusic.Score.from_midi(load_corpus(self.corpus_dir)["train"][row]["midi"])
