"""The style classifier on three made-up styles that its features separate by construction.

- "stepwise": one voice of quarter notes moving by steps in C major;
- "chorale": four voices of half notes on root-position triads, bass to soprano;
- "repeated": one voice of sixteenth notes, each pitch struck four times before it jumps.
"""

from __future__ import annotations

import numpy as np
import pytest
import symusic

from cadenza.errors import InputFileError
from cadenza.evaluation.classifier import (
    FEATURE_NAMES,
    StyleClassifier,
    evaluate_classifier,
    feature_matrix,
    feature_vector,
    train_classifier,
)

Q = 480  # ticks per quarter
C_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
TRIADS = [(0, 4, 7), (5, 9, 0), (7, 11, 2), (9, 0, 4)]  # root, third, fifth of C, F, G, A minor
STYLES = ("chorale", "repeated", "stepwise")


def line(notes: list[tuple[int, int]]) -> symusic.Track:
    """A track of (pitch, ticks) notes one after another from tick 0."""
    track, time = symusic.Track(), 0
    for pitch, ticks in notes:
        track.notes.append(symusic.Note(time, ticks, int(pitch), 80))
        time += ticks
    return track


def stepwise(rng: np.random.Generator) -> symusic.Score:
    degree = int(rng.integers(7, 14))
    degrees = [degree := int(np.clip(degree + rng.choice([-2, -1, 1, 2]), 0, 20)) for _ in range(32)]
    score = symusic.Score(Q)
    score.tracks.append(line([(48 + 12 * (d // 7) + C_MAJOR[d % 7], Q) for d in degrees]))
    return score


def chorale(rng: np.random.Generator) -> symusic.Score:
    triads = [TRIADS[i] for i in rng.integers(len(TRIADS), size=16)]
    score = symusic.Score(Q)
    # bass root, tenor fifth, alto third, soprano root
    for octave, tone in [(36, 0), (48, 2), (60, 1), (72, 0)]:
        score.tracks.append(line([(octave + triad[tone], 2 * Q) for triad in triads]))
    return score


def repeated(rng: np.random.Generator) -> symusic.Score:
    pitches = rng.integers(55, 80, size=16)
    score = symusic.Score(Q)
    score.tracks.append(line([(p, Q // 4) for p in np.repeat(pitches, 4)]))
    return score


def pieces(seed: int, per_style: int) -> tuple[list[symusic.Score], list[str]]:
    rng = np.random.default_rng(seed)
    makers = {"chorale": chorale, "repeated": repeated, "stepwise": stepwise}
    scores, styles = [], []
    for style, make in makers.items():
        scores += [make(rng) for _ in range(per_style)]
        styles += [style] * per_style
    return scores, styles


@pytest.fixture(scope="module")
def classifier() -> StyleClassifier:
    return train_classifier(*pieces(seed=0, per_style=20))


@pytest.fixture(scope="module")
def held_out() -> tuple[list[symusic.Score], list[str]]:
    return pieces(seed=1, per_style=8)


def test_feature_vector_matches_the_names_and_leaves_undefined_harmony_nan():
    vector = feature_vector(stepwise(np.random.default_rng(0)))
    assert vector.shape == (len(FEATURE_NAMES),)
    named = dict(zip(FEATURE_NAMES, vector, strict=True))
    assert named["num_tracks"] == 1 and named["polyphony"] == 1.0
    assert np.isnan(named["consonance"]) and np.isnan(named["voice_crossings"])  # one voice: no harmony


def test_held_out_pieces_are_all_classified_right(classifier, held_out):
    scores, styles = held_out
    result = evaluate_classifier(classifier, feature_matrix(scores), styles)
    assert result["accuracy"] == 1.0
    assert result["labels"] == list(STYLES)
    assert result["confusion_matrix"] == [[8, 0, 0], [0, 8, 0], [0, 0, 8]]


def test_predict_proba_is_a_distribution_over_the_styles(classifier, held_out):
    probabilities = classifier.predict_proba(held_out[0][0])
    assert list(probabilities) == list(STYLES)
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert max(probabilities, key=probabilities.get) == held_out[1][0]


def test_save_and_load_give_the_same_predictions(classifier, held_out, tmp_path):
    classifier.save(tmp_path / "classifier.npz")
    loaded = StyleClassifier.load(tmp_path / "classifier.npz")
    assert loaded.predict(held_out[0]) == classifier.predict(held_out[0])
    assert loaded.predict_proba(held_out[0][0]) == classifier.predict_proba(held_out[0][0])


def test_load_refuses_a_file_saved_with_other_features(classifier, tmp_path):
    classifier.save(tmp_path / "classifier.npz")
    with np.load(tmp_path / "classifier.npz") as saved:
        fields = dict(saved)
    np.savez(tmp_path / "old.npz", **{**fields, "feature_names": fields["feature_names"][:-1]})
    with pytest.raises(InputFileError, match="saved with other features"):
        StyleClassifier.load(tmp_path / "old.npz")


def test_a_piece_without_notes_is_classified(classifier):
    empty = symusic.Score(Q)
    named = dict(zip(FEATURE_NAMES, feature_vector(empty), strict=True))
    assert named.pop("num_tracks") == 0 and np.isnan(list(named.values())).all()
    assert classifier.predict([empty])[0] in STYLES
    assert sum(classifier.predict_proba(empty).values()) == pytest.approx(1.0)


def test_a_feature_no_training_piece_defines_is_left_out(held_out):
    """One-voice styles only: the harmony columns are all NaN, which scikit-learn cannot bin."""
    scores, styles = pieces(seed=0, per_style=20)
    one_voice = [(s, style) for s, style in zip(scores, styles, strict=True) if style != "chorale"]
    features = feature_matrix([s for s, _ in one_voice])
    assert np.isnan(features[:, FEATURE_NAMES.index("consonance")]).all()
    classifier = StyleClassifier(features, [style for _, style in one_voice])
    test = [(s, style) for s, style in zip(*held_out, strict=True) if style != "chorale"]
    assert classifier.predict([s for s, _ in test]) == [style for _, style in test]
    assert set(classifier.predict_proba(held_out[0][0])) == {
        "repeated",
        "stepwise",
    }  # a chorale still gets an answer
