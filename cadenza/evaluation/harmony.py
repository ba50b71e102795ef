"""Harmony and voice leading of multi-voice pieces, as pure functions of a symusic Score.

The score is cut into *segments*: the spans between consecutive note starts and ends of any track, in
which nothing changes. Each segment has its *sonority* (the pitches sounding, all tracks together) and,
per track, the pitch of its *voice*: the track's latest-starting note still sounding (a track is one
voice, as a chorale part is; a chord within a track counts in the sonority only). Durations are in ticks,
so every share below is weighted by how long the music stays there.

- `consonance`: the share of time with 2+ pitch classes sounding in which the sonority is consonant: every
  pitch above the lowest is a unison/octave, third, fifth or sixth above it (interval mod 12 in
  0, 3, 4, 7, 8, 9), and no two upper pitches form a second, tritone or seventh (mod 12 in 1, 2, 6, 10,
  11): a fourth is a dissonance against the bass only, as in common-practice counterpoint.
- `chord_share`: the share of time with 3+ pitch classes sounding whose pitch-class set is a triad or a
  seventh chord by music21's classification (`Chord.isTriad`, `Chord.isSeventh`).
- `parallel_perfects`: parallel fifths and octaves (unisons included) per 100 voice-leading steps. A step
  is two consecutive segments in which both voices of a pair sound and at least one of them moves; it is
  parallel when both move in the same direction and the interval between them, mod 12, is 7 before and
  after, or 0 before and after.
- `voice_crossings`: the share of time with 2+ voices sounding in which a voice sounds below one that is
  lower on average (voices ranked by mean pitch).
- `parallel_bars`: where the parallels are, the bar of each; `voice_leading`: every step and its tick.
- `melodic_moves`: per track, each move from one onset to the next (its top note to the next top note),
  with its size in semitones: where a voice leaps.
- `voice_ranges`: per track with notes, highest minus lowest pitch in semitones.
Each returns NaN when the piece has none of what it measures (one voice, no chord, no step).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np
import symusic

from cadenza.evaluation.metrics import bar_ticks

CONSONANT_ABOVE_BASS = frozenset({0, 3, 4, 7, 8, 9})
DISSONANT_BETWEEN_ANY = frozenset({1, 2, 6, 10, 11})


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    pitches: tuple[int, ...]  # sounding, all tracks, ascending, with repeats
    voices: tuple[int | None, ...]  # one per track: its voice's pitch, None when it rests

    @property
    def length(self) -> int:
        return self.end - self.start


def segments(score: symusic.Score) -> list[Segment]:
    """The score's segments in time order; rests with nothing sounding are left out."""
    tracks = [track.notes.numpy() for track in score.tracks]
    tracks = [
        (n["time"].astype(np.int64), (n["time"] + n["duration"]).astype(np.int64), n["pitch"]) for n in tracks
    ]
    bounds = np.unique(
        np.concatenate([np.concatenate([s, e]) for s, e, _ in tracks] or [np.zeros(0, np.int64)])
    )
    out = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        pitches: list[int] = []
        voices: list[int | None] = []
        for starts, ends, track_pitches in tracks:
            sounding = np.flatnonzero((starts <= start) & (ends > start))
            pitches += track_pitches[sounding].tolist()
            voices.append(
                int(track_pitches[sounding[np.argmax(starts[sounding])]]) if len(sounding) else None
            )
        if pitches:
            out.append(Segment(int(start), int(end), tuple(sorted(pitches)), tuple(voices)))
    return out


def is_consonant(pitches: tuple[int, ...]) -> bool:
    """The rule of `consonance` for one sonority (ascending pitches)."""
    bass, upper = pitches[0], pitches[1:]
    if any((p - bass) % 12 not in CONSONANT_ABOVE_BASS for p in upper):
        return False
    return not any((b - a) % 12 in DISSONANT_BETWEEN_ANY for a, b in combinations(upper, 2))


@lru_cache(maxsize=4096)
def is_triad_or_seventh(pitch_classes: frozenset[int]) -> bool:
    from music21 import chord

    found = chord.Chord(sorted(pitch_classes))
    return bool(found.isTriad() or found.isSeventh())


def _weighted_share(pairs: list[tuple[int, bool]]) -> float:
    total = sum(length for length, _ in pairs)
    return sum(length for length, hit in pairs if hit) / total if total else float("nan")


def consonance(score: symusic.Score) -> float:
    return _consonance(segments(score))


def chord_share(score: symusic.Score) -> float:
    return _chord_share(segments(score))


def parallel_perfects(score: symusic.Score) -> float:
    return _parallel_perfects(segments(score))


def voice_crossings(score: symusic.Score) -> float:
    return _voice_crossings(segments(score), _voice_means(score))


def features(score: symusic.Score) -> dict[str, float]:
    """The four shares above by name, from one segmentation (the costly part) of the score."""
    segs = segments(score)
    return {
        "consonance": _consonance(segs),
        "chord_share": _chord_share(segs),
        "parallel_perfects": _parallel_perfects(segs),
        "voice_crossings": _voice_crossings(segs, _voice_means(score)),
    }


def _consonance(segs: list[Segment]) -> float:
    return _weighted_share(
        [(s.length, is_consonant(s.pitches)) for s in segs if len({p % 12 for p in s.pitches}) >= 2]
    )


def _chord_share(segs: list[Segment]) -> float:
    pairs = []
    for s in segs:
        classes = frozenset(p % 12 for p in s.pitches)
        if len(classes) >= 3:
            pairs.append((s.length, is_triad_or_seventh(classes)))
    return _weighted_share(pairs)


def _steps(segs: list[Segment]) -> Iterator[tuple[int, bool]]:
    """Every voice-leading step (see the module): the tick it arrives at, and whether it is parallel."""
    for before, after in zip(segs, segs[1:], strict=False):
        if before.end != after.start:  # a rest of the whole texture breaks voice leading
            continue
        for a, b in combinations(range(len(before.voices)), 2):
            a0, b0, a1, b1 = before.voices[a], before.voices[b], after.voices[a], after.voices[b]
            if None in (a0, b0, a1, b1) or (a0 == a1 and b0 == b1):
                continue
            same_way = np.sign(a1 - a0) == np.sign(b1 - b0) != 0
            interval_before, interval_after = abs(a0 - b0) % 12, abs(a1 - b1) % 12
            perfect = interval_before == interval_after and interval_before in (0, 7)
            yield after.start, bool(same_way and perfect)


def _parallel_perfects(segs: list[Segment]) -> float:
    steps = [parallel for _, parallel in _steps(segs)]
    return 100 * sum(steps) / len(steps) if steps else float("nan")


def parallel_bars(score: symusic.Score) -> list[int]:
    """The bar (from 0, in the first meter) each parallel fifth or octave arrives in, one per parallel."""
    length = bar_ticks(score)
    return [tick // length for tick, parallel in voice_leading(score) if parallel]


def voice_leading(score: symusic.Score) -> list[tuple[int, bool]]:
    """Every voice-leading step (see the module): the tick it arrives at, and whether it is parallel."""
    return list(_steps(segments(score)))


def melodic_moves(score: symusic.Score) -> list[tuple[int, int]]:
    """Per track, in time order, each move between consecutive onsets: (the tick it arrives at, its size
    in semitones, 0 for a repeated note), between the highest notes starting at each onset."""
    moves = []
    for track in score.tracks:
        tops: dict[int, int] = {}
        for note in track.notes:
            tops[note.time] = max(tops.get(note.time, 0), note.pitch)
        onsets = sorted(tops)
        moves += [(b, abs(tops[b] - tops[a])) for a, b in zip(onsets, onsets[1:], strict=False)]
    return sorted(moves)


def _voice_means(score: symusic.Score) -> list[float]:
    return [float(np.mean(t.notes.numpy()["pitch"])) if len(t.notes) else float("nan") for t in score.tracks]


def _voice_crossings(segs: list[Segment], means: list[float]) -> float:
    pairs = []
    for s in segs:
        sounding = [(means[i], pitch) for i, pitch in enumerate(s.voices) if pitch is not None]
        if len(sounding) < 2:
            continue
        crossed = any(
            (mean_a - mean_b) * (pitch_a - pitch_b) < 0
            for (mean_a, pitch_a), (mean_b, pitch_b) in combinations(sounding, 2)
        )
        pairs.append((s.length, crossed))
    return _weighted_share(pairs)


def voice_ranges(score: symusic.Score) -> list[int]:
    return [int(np.ptp(t.notes.numpy()["pitch"])) for t in score.tracks if len(t.notes)]
