"""Any score file -> `Piece`s: a normalized symusic Score plus the metadata the corpus keeps.

MIDI is read by symusic directly. Every other format is parsed by music21 and handed to symusic as MIDI
bytes, so all later stages see one representation. Problems become `InputFileError`s naming the file
(and the tune, inside an ABC collection); a raw music21/symusic exception never escapes.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from symusic import Score, TimeSignature

from cadenza.errors import InputFileError

MIDI_SUFFIXES: tuple[str, ...] = (".mid", ".midi")
MUSIC21_SUFFIXES: tuple[str, ...] = (".mxl", ".xml", ".musicxml", ".krn", ".abc")
SUPPORTED_SUFFIXES: tuple[str, ...] = MIDI_SUFFIXES + MUSIC21_SUFFIXES

# Limits keep one pathological file from stalling a build or blowing up a training batch; the largest
# embedded piece is far below all three.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_NOTES = 50_000
MAX_TRACKS = 16

DEFAULT_TEMPO = 120.0


@dataclass
class Piece:
    """One piece of music: a whole file, or one tune of an ABC collection."""

    score: Score
    tune: int | None
    title: str
    composer: str
    time_signatures: list[str]
    key: str
    tempo: float
    num_parts: int
    num_bars: int
    lyrics: list[dict] = field(default_factory=list)

    @property
    def num_notes(self) -> int:
        return sum(len(track.notes) for track in self.score.tracks)


def normalize_score(score: Score) -> Score:
    """Drop empty and drum tracks and give every track its own MIDI program.

    Distinct programs let a multi-voice piece go through miditok's single-stream Program tokens and come
    back with its voices apart. A track keeps its program unless an earlier track took it; then it gets
    the next free program of its 8-program GM family (so a second piano stays a piano), then any free one.
    """
    out = score.copy()
    tracks = [track for track in out.tracks if not track.is_drum and len(track.notes) > 0]
    used: set[int] = set()
    for track in tracks:
        track.program = _free_program(int(track.program), used)
        used.add(track.program)
    out.tracks = tracks
    return out


def _free_program(program: int, used: set[int]) -> int:
    family = program - program % 8
    in_family = [family + (program - family + step) % 8 for step in range(8)]
    for candidate in in_family + list(range(128)):
        if candidate not in used:
            return candidate
    raise ValueError("a score with more than 128 tracks cannot have distinct programs")


def read_pieces(path: str | Path) -> tuple[list[Piece], list[InputFileError]]:
    """Load every piece in a file, with the errors of tunes that could not be used.

    A whole-file problem (missing, wrong format, corrupt, too big) raises `InputFileError`; a bad tune in
    an ABC collection is returned as an error so the collection's other tunes are kept.
    """
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() in MIDI_SUFFIXES:
        return [_piece_from_midi_file(path)], []
    return _pieces_from_music21_file(path)


def load_pieces(path: str | Path) -> list[Piece]:
    """Load every piece in a file; raise `InputFileError` if the file gives none."""
    pieces, errors = read_pieces(path)
    if not pieces:
        raise errors[0]
    return pieces


def _check_file(path: Path) -> None:
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


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _piece_from_midi_file(path: Path) -> Piece:
    data = path.read_bytes()
    if not data.startswith(b"MThd"):
        raise InputFileError(path, "not a MIDI file (no MThd header)")
    try:
        raw = Score.from_midi(data)
    except Exception as err:  # symusic raises bare RuntimeErrors on corrupt or truncated data
        raise InputFileError(path, f"corrupt MIDI file: {_one_line(err)}") from err
    score = _checked(raw, str(path))
    return Piece(
        score=score,
        tune=None,
        title=path.stem,
        composer="",
        time_signatures=_time_signatures(score),
        key=_midi_key(score),
        tempo=_tempo(score),
        num_parts=len(score.tracks),
        num_bars=_midi_bars(score),
    )


def _checked(raw: Score, name: str) -> Score:
    """Normalize and enforce the note and track limits."""
    num_tracks = sum(1 for track in raw.tracks if not track.is_drum and len(track.notes))
    if num_tracks > MAX_TRACKS:
        raise InputFileError(name, f"{num_tracks} tracks; the limit is {MAX_TRACKS}")
    score = normalize_score(raw)
    num_notes = sum(len(track.notes) for track in score.tracks)
    if num_notes == 0:
        raise InputFileError(name, "no notes")
    if num_notes > MAX_NOTES:
        raise InputFileError(name, f"{num_notes} notes; the limit is {MAX_NOTES}")
    return score


def _pieces_from_music21_file(path: Path) -> tuple[list[Piece], list[InputFileError]]:
    from music21 import converter, stream

    try:
        # forceSource: music21's pickle cache is shared between worker processes and may be stale
        with _no_beaming():
            parsed = converter.parse(path, forceSource=True)
    except Exception as err:
        raise InputFileError(path, f"cannot parse {path.suffix.lower()} file: {_one_line(err)}") from err
    if isinstance(parsed, stream.Opus) and _voices_of_one_piece(parsed):
        tunes = [(None, _merge_voices(parsed))]
    elif isinstance(parsed, stream.Opus):
        tunes = [(_tune_number(score, index), score) for index, score in enumerate(parsed.scores, start=1)]
    else:
        tunes = [(None, parsed)]
    pieces: list[Piece] = []
    errors: list[InputFileError] = []
    for tune, score in tunes:
        name = f"{path}#{tune}" if tune is not None else str(path)
        try:
            pieces.append(_piece_from_music21(score, path, tune, name))
        except InputFileError as err:
            errors.append(err)
        except Exception as err:  # music21 fails in many ways on odd scores; report them all the same
            errors.append(InputFileError(name, f"cannot convert: {_one_line(err)}"))
    if not tunes:
        errors.append(InputFileError(path, "no notes"))
    return pieces, errors


@contextmanager
def _no_beaming() -> Iterator[None]:
    """Skip music21's beaming while parsing: beams are notation only, never reach MIDI, and cost about
    40% of the time of parsing an ABC collection (Essen: minutes per file)."""
    from music21 import stream

    original = stream.Stream.makeBeams
    stream.Stream.makeBeams = lambda self, *args, **kwargs: None if kwargs.get("inPlace") else self
    try:
        yield
    finally:
        stream.Stream.makeBeams = original


def _voices_of_one_piece(opus) -> bool:
    """True when an ABC file's tunes are the voices of one piece (the Josquin files: one X: per voice, each
    with the piece's title and the voice's name as second title), not a collection of tunes."""
    scores = list(opus.scores)
    titles = {score.metadata.title if score.metadata is not None else None for score in scores}
    lengths = {score.highestTime for score in scores}
    return len(scores) > 1 and len(titles) == 1 and None not in titles and len(lengths) == 1


def _merge_voices(opus):
    names = [score.metadata.alternativeTitle for score in opus.scores]
    merged = opus.mergeScores()
    for part, name in zip(merged.parts, names, strict=True):
        if name:
            part.partName = name
    return merged


def _tune_number(score, index: int) -> int:
    number = score.metadata.number if score.metadata is not None else None
    try:
        return int(number)
    except (TypeError, ValueError):
        return index


def _piece_from_music21(m21, path: Path, tune: int | None, name: str) -> Piece:
    if not m21.recurse().notes:
        raise InputFileError(name, "no notes")
    score = _checked(Score.from_midi(_midi_bytes(m21)), name)
    metadata = m21.metadata
    title = (metadata.title if metadata is not None else None) or path.stem
    return Piece(
        score=score,
        tune=tune,
        title=str(title),
        composer=str((metadata.composer if metadata is not None else None) or ""),
        time_signatures=_music21_time_signatures(m21) or _time_signatures(score),
        key=_music21_key(m21),
        tempo=_tempo(score),
        num_parts=len(score.tracks),
        num_bars=_music21_bars(m21) or _midi_bars(score),
        lyrics=_lyrics(m21),
    )


def _midi_bytes(m21) -> bytes:
    from music21.exceptions21 import StreamException
    from music21.midi.translate import music21ObjectToMidiFile

    try:
        return music21ObjectToMidiFile(m21).writestr()
    except StreamException as err:
        if "already found" not in str(err):
            raise
    # Some ABC tunes (about 10% of O'Neill's) share one TimeSignature object between measures, which
    # the MIDI writer rejects; a private copy per measure keeps the tune.
    fixed = copy.deepcopy(m21)
    _unshare_time_signatures(fixed)
    return music21ObjectToMidiFile(fixed).writestr()


def _unshare_time_signatures(m21) -> None:
    from music21 import meter

    seen: set[int] = set()
    for container in m21.recurse(streamsOnly=True, includeSelf=True):
        for ts in list(container.getElementsByClass(meter.TimeSignature)):
            if id(ts) in seen:
                offset = container.elementOffset(ts)
                container.remove(ts)
                container.insert(offset, copy.deepcopy(ts))
            seen.add(id(ts))


def _time_signatures(score: Score) -> list[str]:
    names: list[str] = []
    for ts in score.time_signatures:
        name = f"{ts.numerator}/{ts.denominator}"
        if name not in names:
            names.append(name)
    return names


def _music21_time_signatures(m21) -> list[str]:
    # Read from music21, not the MIDI: its MIDI writer turns pickup bars into odd meters like 1/16.
    from music21 import meter

    names: list[str] = []
    for ts in m21.recurse().getElementsByClass(meter.TimeSignature):
        if ts.ratioString not in names:
            names.append(ts.ratioString)
    return names


def _tempo(score: Score) -> float:
    return round(float(score.tempos[0].qpm), 3) if len(score.tempos) else DEFAULT_TEMPO


def _key_name(k) -> str:
    return f"{k.tonic.name.replace('-', 'b')} {k.mode}"


def _music21_key(m21) -> str:
    from music21 import key

    signature = m21.recurse().getElementsByClass(key.KeySignature).first()
    if isinstance(signature, key.Key):
        return _key_name(signature)
    if signature is not None:
        return _key_name(signature.asKey("major"))
    return _key_name(m21.analyze("key"))


def _midi_key(score: Score) -> str:
    from music21 import key, note, stream

    if len(score.key_signatures):
        signature = score.key_signatures[0]
        mode = "minor" if signature.tonality else "major"
        return _key_name(key.KeySignature(int(signature.key)).asKey(mode))
    # No signature: let music21 guess from a duration-weighted pitch-class profile (12 notes, so fast).
    weights = [0.0] * 12
    for track in score.tracks:
        for n in track.notes:
            weights[n.pitch % 12] += n.duration
    profile = stream.Stream()
    for pitch_class, weight in enumerate(weights):
        if weight:
            profile.append(
                note.Note(60 + pitch_class, quarterLength=max(weight / score.ticks_per_quarter, 0.25))
            )
    return _key_name(profile.analyze("key"))


def _music21_bars(m21) -> int:
    from music21 import stream

    parts = list(m21.parts) or [m21]
    return max(len(part.getElementsByClass(stream.Measure)) for part in parts)


def _midi_bars(score: Score) -> int:
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


def _lyrics(m21) -> list[dict]:
    """Syllables of the first verse, one per note, as quarter-note onsets within their part."""
    parts = list(m21.parts) or [m21]
    syllables: list[dict] = []
    for index, part in enumerate(parts):
        for n in part.flatten().notes:
            if not n.lyrics or not n.lyrics[0].text:
                continue
            lyric = n.lyrics[0]
            syllables.append(
                {
                    "part": index,
                    "onset": float(n.offset),
                    "pitch": int(n.pitches[-1].midi),
                    "text": lyric.text,
                    "syllabic": lyric.syllabic or "single",
                }
            )
    return syllables
