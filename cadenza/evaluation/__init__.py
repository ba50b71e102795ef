"""Evaluation: pure metric functions on symusic Scores, an n-gram baseline, style control, the report.

`cadenza evaluate` (see `cadenza.evaluation.report`) runs them all against a checkpoint and a corpus.
"""

from cadenza.evaluation.metrics import (
    describe,
    mean_pitch,
    note_density,
    pitch_class_histogram,
    pitch_range,
    polyphony,
)
from cadenza.evaluation.ngram import NGramModel

__all__ = [
    "NGramModel",
    "describe",
    "mean_pitch",
    "note_density",
    "pitch_class_histogram",
    "pitch_range",
    "polyphony",
]
