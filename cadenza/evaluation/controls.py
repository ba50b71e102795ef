"""Did the piece do what was asked? Key, meter and length, as pure functions of a symusic Score.

- `analysed_key`: music21's key analysis (Krumhansl-Schmuckler over duration-weighted pitch classes) of
  the piece's notes: ("A", "minor"); None for a piece without notes.
- `key_agrees(score, asked)`: the analysed key has the asked tonic (as a pitch class: "C#" = "Db") and
  mode. `asked` is "<tonic> <mode>", as the app's key choices are written.
- `bar_meters`: the time signature of every bar, from the score's time-signature changes (4/4 where it
  has none); a bar begins at each change and every bar-length after, up to the last note's end.
- `meter_share(score, asked)`: the share of bars in the asked time signature ("3/4").
- `bars_written`: the number of bars, as `bar_meters` counts them.
"""

from __future__ import annotations

import math

import symusic

from cadenza.evaluation.metrics import note_arrays

DEFAULT_METER = (4, 4)


def analysed_key(score: symusic.Score) -> tuple[str, str] | None:
    from music21 import note, stream

    starts, durations, pitches = note_arrays(score)
    if not len(starts):
        return None
    tpq = score.ticks_per_quarter
    notes = stream.Stream()
    for start, duration, pitch in zip(starts.tolist(), durations.tolist(), pitches.tolist(), strict=True):
        notes.insert(start / tpq, note.Note(midi=pitch, quarterLength=max(duration / tpq, 1 / 12)))
    key = notes.analyze("key")
    return key.tonic.name, key.mode


def _pitch_class(tonic: str) -> int:
    from music21 import pitch

    return pitch.Pitch(tonic.replace("b", "-") if len(tonic) > 1 else tonic).pitchClass


def key_agrees(score: symusic.Score, asked: str) -> bool:
    found = analysed_key(score)
    tonic, _, mode = asked.strip().partition(" ")
    return found is not None and _pitch_class(found[0]) == _pitch_class(tonic) and found[1] == mode.strip()


def bar_meters(score: symusic.Score) -> list[tuple[int, int]]:
    starts, durations, _ = note_arrays(score)
    if not len(starts):
        return []
    end = int((starts + durations).max())
    changes = [(int(ts.time), ts.numerator, ts.denominator) for ts in score.time_signatures] or [
        (0, *DEFAULT_METER)
    ]
    if changes[0][0] > 0:
        changes.insert(0, (0, *DEFAULT_METER))
    meters = []
    for (time, numerator, denominator), following in zip(changes, changes[1:] + [(end, 0, 0)], strict=True):
        length = score.ticks_per_quarter * 4 * numerator // denominator
        span = min(following[0], end) - time
        meters += [(numerator, denominator)] * max(math.ceil(span / length), 0)
    return meters


def meter_share(score: symusic.Score, asked: str) -> float:
    meters = bar_meters(score)
    if not meters:
        return math.nan
    numerator, _, denominator = asked.partition("/")
    return sum(m == (int(numerator), int(denominator)) for m in meters) / len(meters)


def bars_written(score: symusic.Score) -> int:
    return len(bar_meters(score))
