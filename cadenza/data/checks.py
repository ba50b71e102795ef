"""What cadenza refuses to read, one home for the limits on input files: every reader (`loading`) checks a
file before it parses it and a piece after, and says which limit a file breaks, in one line."""

from __future__ import annotations

import math
from pathlib import Path

from symusic import Score, TimeSignature

from cadenza.errors import InputFileError

MIDI_SUFFIXES: tuple[str, ...] = (".mid", ".midi")
MUSIC21_SUFFIXES: tuple[str, ...] = (".mxl", ".xml", ".musicxml", ".krn", ".abc")
SUPPORTED_SUFFIXES: tuple[str, ...] = MIDI_SUFFIXES + MUSIC21_SUFFIXES

# Limits keep one pathological file from stalling a build or blowing up a training batch; the largest
# embedded piece is far below each. A few bytes can describe hours of music (a second note at tick 2**30),
# which every later stage pays for in bars, tokens and audio: a piece's time span is limited too. The
# embedded corpus' longest piece lasts 3,939 quarter notes (Beethoven op. 74, 1,114 bars), its longest
# note 40 quarter notes (a Palestrina final).
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_NOTES = 50_000
MAX_TRACKS = 16
MAX_QUARTERS = 20_000  # the end of the last note, in quarter notes
MAX_BARS = 10_000
MAX_NOTE_QUARTERS = 256  # one note's length
READ_SECONDS = 60  # one user file (a prompt, an upload); the largest embedded file reads in ~10 s


def check_file(path: Path) -> None:
    if not path.exists():
        raise InputFileError(path, "file not found")
    if not path.is_file():
        raise InputFileError(path, "not a file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputFileError(
            path,
            f"unsupported format {suffix or '(no extension)'}; "
            f"expected one of {' '.join(SUPPORTED_SUFFIXES)}",
        )
    size = path.stat().st_size
    if size == 0:
        raise InputFileError(path, "empty file")
    if size > MAX_FILE_BYTES:
        raise InputFileError(
            path, f"file is {size / 2**20:.1f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB"
        )


def check_chunks(data: bytes, path: Path) -> None:
    """Refuse a MIDI file whose chunks run past its end (a truncated file) before symusic reads it.

    symusic reads past the end of some truncated files, so the same bytes gave a different error, or
    different notes, from run to run. Walking the chunk headers (4-byte type, 4-byte big-endian length)
    needs no MIDI parser and makes the answer depend on the bytes alone. A few stray bytes after the last
    chunk (too short to be a chunk) are tolerated, as players do.
    """
    if len(data) < 14 or int.from_bytes(data[4:8], "big") != 6:
        raise InputFileError(path, "corrupt MIDI file: its header chunk is not 6 bytes long")
    promised = int.from_bytes(data[10:12], "big")
    position, tracks = 14, 0
    while len(data) - position >= 8:
        length = int.from_bytes(data[position + 4 : position + 8], "big")
        if position + 8 + length > len(data):
            raise InputFileError(
                path,
                f"truncated MIDI file: the chunk at byte {position} declares {length:,} bytes, "
                f"{len(data) - position - 8:,} follow",
            )
        tracks += data[position : position + 4] == b"MTrk"
        position += 8 + length
    if tracks < promised:
        raise InputFileError(
            path, f"truncated MIDI file: its header promises {promised} tracks, it holds {tracks}"
        )


def check_tracks(count: int, name: str) -> None:
    if count > MAX_TRACKS:
        raise InputFileError(name, f"{count} tracks; the limit is {MAX_TRACKS}")


def check_notes(raw: Score, score: Score, name: str) -> None:
    """Refuse a piece (`score`, normalized from `raw`) with no pitched notes or too many, or whose span
    breaks a limit (`check_span`)."""
    num_notes = sum(len(track.notes) for track in score.tracks)
    if num_notes == 0:
        drums = any(track.is_drum and len(track.notes) for track in raw.tracks)
        raise InputFileError(
            name, "only drums, which cadenza leaves out: no pitched notes" if drums else "no notes"
        )
    if num_notes > MAX_NOTES:
        raise InputFileError(name, f"{num_notes} notes; the limit is {MAX_NOTES}")
    check_span(score, name)


def check_span(score: Score, name: str) -> None:
    """Refuse a piece that lasts too long, has too many bars, or holds one note too long (see the limits)."""
    tpq = score.ticks_per_quarter
    check_end(score.end() / tpq, name)
    longest = max(int(track.notes.numpy()["duration"].max()) for track in score.tracks) / tpq
    if longest > MAX_NOTE_QUARTERS:
        raise InputFileError(
            name, f"a note lasts {longest:,.0f} quarter notes; the limit is {MAX_NOTE_QUARTERS}"
        )
    bars = midi_bars(score)
    if bars > MAX_BARS:
        raise InputFileError(name, f"{bars:,} bars; the limit is {MAX_BARS:,}")


def check_end(quarters: float, name: str) -> None:
    if quarters > MAX_QUARTERS:
        raise InputFileError(name, f"lasts {quarters:,.0f} quarter notes; the limit is {MAX_QUARTERS:,}")


def midi_bars(score: Score) -> int:
    """Bars up to the last note end, following the time signatures (4/4 before the first one)."""
    tpq, end = score.ticks_per_quarter, score.end()
    signatures = sorted(score.time_signatures, key=lambda ts: ts.time)
    if not signatures or signatures[0].time > 0:
        signatures.insert(0, TimeSignature(0, 4, 4))
    bars = 0
    for ts, following in zip(signatures, [*signatures[1:], None], strict=True):
        stop = end if following is None else following.time
        bar_ticks = tpq * 4 * ts.numerator / ts.denominator
        bars += math.ceil(max(stop - ts.time, 0) / bar_ticks)
    return max(bars, 1)
