"""The critic: one number per piece for what musicians value, from what the evaluation already measures.

Preference tuning (`cadenza prefer`) ranks sampled pieces with it, and `cadenza generate --candidates N`
keeps the best of N. A piece is judged against the style it was asked for (`judge.Judge`: the corpus's
train pieces give each style's feature ranges and medians, the classifier and the copying baseline):

    score = sum(WEIGHTS[part] * value)      each value in [0, 1]; the two penalties have negative weights

- style (1.0): the classifier's probability of the asked style;
- ranges (1.0): the share of the scalar features inside the style's corpus 5-95% range;
- harmony (1.0), for styles whose pieces have harmony (the shares of `harmony` are defined for them):
  consonance and triads/sevenths close to the style's median, voice crossings not above it; each
  1 - min(1, distance / the style's 5-95% spread), averaged;
- parallels (1.0), for the same styles: 1 / (1 + parallel fifths and octaves per 100 steps above the
  style's median), a part of its own: averaged into harmony it weighed a quarter of a part, and four
  rounds of preference tuning did not move it;
- key (0.5): music21 hears the asked key (1) or not (0); left out when no key was asked;
- meter (0.5): the share of bars in the asked meter; left out when none was asked;
- copying (-1.0): 1 when the piece shares more with the corpus than the style's human 95th percentile
  (`critique`'s `human`: of pieces as long as it, where given);
- degenerate (-2.0): the share of empty bars, or 1 when one sonority (one pitch, in a single line) fills
  half the piece.

Harmony, key and style weigh as much as each other: none can be bought with another. The weights and the
parts are a choice, written down so they can be argued with (docs/preference.md).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.evaluation import controls, harmony, originality
from cadenza.evaluation.judge import Judge, Judgement
from cadenza.evaluation.metrics import note_arrays

WEIGHTS = {
    "style": 1.0,
    "ranges": 1.0,
    "harmony": 1.0,
    "parallels": 1.0,
    "key": 0.5,
    "meter": 0.5,
    "copying": -1.0,
    "degenerate": -2.0,
}
TOWARD_MEDIAN = (
    "consonance",
    "chord_share",
)  # harmony shares a piece should have about as much of as real ones
AT_MOST_MEDIAN = ("voice_crossings",)  # a fault: fewer than real pieces is no fault
# Parallels are counted per 100 voice-leading steps. In units of a style's spread over whole train pieces
# they were 3.7 for the chorales (their instrumental doublings move in octaves) and 0.1 for Palestrina: a
# chorale with 2.6 was a third "close", and every Palestrina piece with one parallel equally far. Instead
# each parallel per 100 steps above the style's median halves the part, in every style.
PARALLELS_HALVED_BY = 1.0
DOMINANT_SONORITY = 0.5  # one sonority filling this share of a piece's time makes it degenerate


@dataclass
class Critique:
    parts: dict[str, float]  # part -> value in [0, 1]; a part that does not apply is absent

    @property
    def score(self) -> float:
        return sum(WEIGHTS[part] * value for part, value in self.parts.items())


def critique(
    judge: Judge,
    score: symusic.Score,
    style: str,
    key: str | None = None,
    meter: str | None = None,
    human: dict[str, dict[str, float]] | None = None,
) -> Critique:
    """`score`'s parts as a piece of `style`, asked for `key` ("D minor") and `meter` ("3/4") if given.
    Copying is judged against `human` (per style, `originality.baseline` of real pieces as long as the
    piece: what `cadenza evaluate` flags) when given, else against the judge's baseline of whole pieces,
    which lets a short piece repeat the corpus's stock phrases unflagged."""
    judgement = judge.judge(score, style)
    baseline = (human or {}).get(style)
    copied = originality.flagged(judgement.copying, baseline) if baseline else judgement.flagged
    parts = {
        "style": judgement.probabilities.get(style, 0.0),
        "ranges": in_range_share(judgement),
        "copying": float(bool(copied)),
        "degenerate": degenerate(score),
    }
    closeness = harmony_closeness(judgement, judge.medians[style], judge.spreads[style])
    if not math.isnan(closeness):
        parts["harmony"] = closeness
        parts["parallels"] = parallels_part(judgement, judge.medians[style])
    if key is not None:
        parts["key"] = float(controls.same_key(judgement.key, key))
    if meter is not None:
        share = controls.meter_share(score, meter)
        parts["meter"] = 0.0 if math.isnan(share) else share
    return Critique(parts)


def best_of(judge: Judge, pieces: Sequence, meter: str | None = None) -> tuple[int, list[Critique]]:
    """The index of the critic's best of `pieces` (generated pieces: each judged as its `style`, asked for
    its `key`, its notes in `score`), and every critique."""
    critiques = [critique(judge, p.score, p.style, p.key, meter) for p in pieces]
    return max(range(len(pieces)), key=lambda i: critiques[i].score), critiques


def in_range_share(judgement: Judgement) -> float:
    within = [row.within for row in judgement.features if row.within is not None]
    return sum(within) / len(within) if within else 0.0


def harmony_closeness(judgement: Judgement, medians: dict[str, float], spreads: dict[str, float]) -> float:
    """Mean closeness of the piece's harmony shares to the style's real ones (see the module's list).

    NaN (the part left out) for a style without harmony, and for a single line in a style of single lines
    (a fiddle tune; the corpus's few fiddle duets give the style medians). In a style of several voices
    (median `num_tracks` 2 or more) a share the piece does not define (one voice, no three-note sonority)
    counts 0: a chorale that collapsed to one line has no harmony to be near the real one."""
    values = {row.name: row.value for row in judgement.features}
    if math.isnan(values["consonance"]) and not medians.get("num_tracks", 1.0) >= 2:
        return math.nan
    closeness = []
    for name in (*TOWARD_MEDIAN, *AT_MOST_MEDIAN):
        median, spread = medians.get(name, math.nan), spreads.get(name, math.nan)
        if math.isnan(median):
            continue
        distance = values[name] - median
        if name in AT_MOST_MEDIAN:
            distance = max(distance, 0.0)
        far = abs(distance) / spread if spread > 0 else float(abs(distance) > 0)
        closeness.append(0.0 if math.isnan(far) else 1.0 - min(1.0, far))
    return float(np.mean(closeness)) if closeness else math.nan


def parallels_part(judgement: Judgement, medians: dict[str, float]) -> float:
    """1 / (1 + parallel fifths and octaves per 100 voice-leading steps above the style's median); 0 for a
    piece of a style of voices that has no voice leading to count (one line)."""
    values = {row.name: row.value for row in judgement.features}
    excess = max(values["parallel_perfects"] - medians.get("parallel_perfects", 0.0), 0.0)
    return 0.0 if math.isnan(excess) else 1.0 / (1.0 + excess / PARALLELS_HALVED_BY)


def degenerate(score: symusic.Score) -> float:
    """Max of the share of bars without a sounding note and 1 if one sonority fills half the piece."""
    return max(empty_bar_share(score), float(dominant_sonority(score) >= DOMINANT_SONORITY))


def empty_bar_share(score: symusic.Score) -> float:
    starts, durations, _ = note_arrays(score)
    bars = controls.bar_meters(score)
    if not bars:
        return 1.0
    tpq = score.ticks_per_quarter
    bar_starts = np.cumsum([0] + [tpq * 4 * n // d for n, d in bars])
    sounding = np.zeros(len(bars), dtype=bool)
    for start, end in zip(starts.tolist(), (starts + durations).tolist(), strict=True):
        first = np.searchsorted(bar_starts, start, side="right") - 1
        last = np.searchsorted(bar_starts, max(end - 1, start), side="right") - 1
        sounding[first : min(last, len(bars) - 1) + 1] = True
    return float(1.0 - sounding.mean())


def dominant_sonority(score: symusic.Score) -> float:
    """The share of sounding time taken by the most common sonority: its set of pitch classes where
    voices sound together, the pitch itself in a single line."""
    segments = harmony.segments(score)
    if not segments:
        return 1.0
    time_of: Counter = Counter()
    for segment in segments:
        pitches = segment.pitches
        time_of[frozenset(p % 12 for p in pitches) if len(pitches) > 1 else pitches] += segment.length
    total = sum(time_of.values())
    return max(time_of.values()) / total if total else 1.0
