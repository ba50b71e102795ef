"""Did the piece do what was asked? Key, meter and length, as pure functions of a symusic Score.

- `analysed_key`: music21's key analysis (Krumhansl-Schmuckler over duration-weighted pitch classes) of
  the piece's notes: ("A", "minor"); None for a piece without notes.
- `key_agrees(score, asked)`: the analysed key has the asked tonic (as a pitch class: "C#" = "Db") and
  mode. `asked` is "<tonic> <mode>", as the app's key choices are written.
- `bar_meters`: the time signature of every bar, from the score's time-signature changes (4/4 where it
  has none); a bar begins at each change and every bar-length after, up to the last note's end.
- `meter_share(score, asked)`: the share of bars in the asked time signature ("3/4").
- `bars_written`: the number of bars, as `bar_meters` counts them.
- `tempo_agrees(score, asked, bins)`: the score's first tempo (120 without one) falls in the same tempo
  bin as the asked one: the nearest of `bins`, the tokenizer's tempo values (a model can only write those).
- `is_valid(ids, tokenizer)`: a generated token sequence is valid when miditok finds no token out of
  place in it (`tokens_errors` 0: nothing dropped on decoding) and it decodes to at least one note;
  `validity` is the share of valid sequences.
"""

from __future__ import annotations

import math

import symusic

from cadenza.evaluation.metrics import note_arrays
from cadenza.keys import MIN_KEY_PITCH_CLASSES
from cadenza.tokenization.tokenizer import CadenzaTokenizer

DEFAULT_METER = (4, 4)


def analysed_key(score: symusic.Score) -> tuple[str, str] | None:
    """music21's key (tonic name, mode); None for fewer than `MIN_KEY_PITCH_CLASSES` pitch classes."""
    from music21 import note, stream

    starts, durations, pitches = note_arrays(score)
    if len(set((pitches % 12).tolist())) < MIN_KEY_PITCH_CLASSES:  # (keys.has_key's rule)
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
    return same_key(analysed_key(score), asked)


def same_key(found: tuple[str, str] | None, asked: str) -> bool:
    """`found` (an `analysed_key`) has the tonic and mode of `asked` ("C# minor")."""
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


def tempo_agrees(score: symusic.Score, asked: float, bins: list[float]) -> bool:
    tempo = float(score.tempos[0].qpm) if len(score.tempos) else 120.0
    nearest = lambda bpm: min(bins, key=lambda b: abs(b - bpm))  # noqa: E731
    return nearest(tempo) == nearest(asked)


def is_valid(ids: list[int], tokenizer: CadenzaTokenizer) -> bool:
    music = tokenizer.music_ids(ids)
    return bool(music) and tokenizer.remi.tokens_errors(music) == 0 and tokenizer.decode(ids).note_num() > 0


def validity(sequences: list[list[int]], tokenizer: CadenzaTokenizer) -> float:
    return sum(is_valid(ids, tokenizer) for ids in sequences) / len(sequences) if sequences else math.nan
