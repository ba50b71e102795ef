"""MuseGAN's measures of a piano roll (Dong et al., 2018, section 5), on `cadenza.data.rolls` rolls.

- empty bars (EB): the share of bars in which a voice sounds nothing, over the voices that sound in the
  piece at all (a one-voice tune's three unused voice slots are not "empty bars" of it);
- used pitch classes (UPC): pitch classes a voice uses in a bar, averaged over the bars where it sounds;
- qualified notes (QN): the share of notes at least `min_steps` steps long. MuseGAN counted notes of
  3 of its 96 steps a bar (a 32nd) or more, on rolls of unquantized MIDI; on our sixteenth grid every note
  would qualify, so the default here is 2 steps (an eighth): a model that breaks lines into sixteenth
  fragments scores low, as MuseGAN's did on its grid;
- tonal distance (TD): per bar, the distance between two voices' tonal centroids (Harte et al., 2006: a
  pitch-class profile projected on the circles of fifths, minor thirds and major thirds), averaged over
  the bars where both sound and over every pair of voices; small is harmonically close. NaN for one voice.

A "bar" is 16 sixteenth steps (a 4/4 bar; in other meters, a window of 4 quarters).
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from cadenza.data.rolls import BAR_STEPS, FRAME, LOW_PITCH, roll_to_score

QUALIFIED_STEPS = 2
# Harte et al.'s 6 x 12 projection: radii 1, 1, 0.5 for fifths, minor thirds, major thirds
_ANGLES = np.arange(12)
TONAL_MATRIX = np.stack([
    np.sin(_ANGLES * 7 * np.pi / 6), np.cos(_ANGLES * 7 * np.pi / 6),
    np.sin(_ANGLES * 3 * np.pi / 2), np.cos(_ANGLES * 3 * np.pi / 2),
    0.5 * np.sin(_ANGLES * 2 * np.pi / 3), 0.5 * np.cos(_ANGLES * 2 * np.pi / 3),
])  # fmt: skip
NAMES = ("empty_bars", "pitch_classes", "qualified_notes", "tonal_distance")


def bar_chroma(roll: np.ndarray) -> np.ndarray:
    """Sounding steps per (track, bar, pitch class) of a roll's whole bars: (tracks, bars, 12)."""
    frames = roll[FRAME].astype(np.float64)
    tracks, steps, pitches = frames.shape
    bars = steps // BAR_STEPS
    per_bar = frames[:, : bars * BAR_STEPS].reshape(tracks, bars, BAR_STEPS, pitches).sum(2)
    chroma = np.zeros((tracks, bars, 12))
    for p in range(pitches):
        chroma[..., (LOW_PITCH + p) % 12] += per_bar[..., p]
    return chroma


def empty_bars(roll: np.ndarray) -> float:
    chroma = bar_chroma(roll)
    used = chroma.sum((1, 2)) > 0
    if not used.any() or chroma.shape[1] == 0:
        return math.nan
    return float((chroma[used].sum(2) == 0).mean())


def pitch_classes(roll: np.ndarray) -> float:
    chroma = bar_chroma(roll)
    sounding = chroma.sum(2) > 0
    return float((chroma[sounding] > 0).sum(1).mean()) if sounding.any() else math.nan


def qualified_notes(roll: np.ndarray, min_steps: int = QUALIFIED_STEPS) -> float:
    lengths = [note.duration for track in roll_to_score(roll).tracks for note in track.notes]
    return float(np.mean(np.array(lengths) >= min_steps)) if lengths else math.nan


def tonal_centroid(chroma: np.ndarray) -> np.ndarray:
    """(..., 12) pitch-class weights -> (..., 6) centroids (weights normalised to sum 1)."""
    total = chroma.sum(-1, keepdims=True)
    return (chroma / np.where(total > 0, total, 1)) @ TONAL_MATRIX.T


def tonal_distance(roll: np.ndarray) -> float:
    chroma = bar_chroma(roll)
    centroids, sounding = tonal_centroid(chroma), chroma.sum(2) > 0
    distances = [
        np.linalg.norm(centroids[a, both] - centroids[b, both], axis=1)
        for a, b in combinations(range(len(chroma)), 2)
        if (both := sounding[a] & sounding[b]).any()
    ]
    return float(np.concatenate(distances).mean()) if distances else math.nan


def musegan_measures(roll: np.ndarray) -> dict[str, float]:
    return {
        "empty_bars": empty_bars(roll),
        "pitch_classes": pitch_classes(roll),
        "qualified_notes": qualified_notes(roll),
        "tonal_distance": tonal_distance(roll),
    }
