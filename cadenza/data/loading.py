"""Any score file -> `ScorePiece`s: a normalized symusic Score plus the metadata the corpus keeps.

One reader per format, the fastest that is faithful (measured in docs/corpus.md):
- MIDI: symusic.
- ABC: symusic's bundled abc2midi, one tune at a time (`cadenza.data.abc`); a file whose tunes set a
  clef or an octave (`K:E phr -8va`, the Josquin voices), which abc2midi ignores, goes to music21.
- MusicXML and kern: music21's parser (metadata, part names, lyrics), then straight to a symusic Score
  (`cadenza.data.streams`) instead of through music21's slow MIDI writer.
`read_pieces(path, reader=...)` can force a reader (the fidelity benchmark compares them).
Problems become `InputFileError`s naming the file (and the tune, inside an ABC collection); a raw
music21/symusic exception never escapes. What a reader merely warns about is kept in `ScorePiece.warnings`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from symusic import Score

from cadenza.data import abc, checks
from cadenza.data.checks import MIDI_SUFFIXES
from cadenza.data.streams import stream_to_score
from cadenza.data.voices import Voice
from cadenza.data.workers import run_limited
from cadenza.errors import InputFileError, one_line
from cadenza.keys import analysed_key, music21_key_name, score_key

# auto: the fastest faithful reader; fast: abc2midi for every ABC file, clefs or not; music21: music21 for
# every format but MIDI. The fidelity benchmark compares fast and music21.
READERS: tuple[str, ...] = ("auto", "fast", "music21")

DEFAULT_TEMPO = 120.0


@dataclass
class ScorePiece:
    """One piece of music read from a file: the whole file, or one tune of an ABC collection (a generated
    piece is `inference.generator.Piece`)."""

    score: Score
    tune: int | None
    title: str
    composer: str
    time_signatures: list[str]
    key: str
    tempo: float
    num_parts: int
    num_bars: int
    voices: list[Voice] = field(default_factory=list)  # one per track of `score`, in order
    lyrics: list[dict] = field(default_factory=list)  # {"voice": slot, "onset", "pitch", "text", "syllabic"}
    warnings: list[str] = field(default_factory=list)

    @property
    def num_notes(self) -> int:
        return sum(len(track.notes) for track in self.score.tracks)


def normalize_score(score: Score) -> Score:
    """Drop empty and drum tracks and give every track its own MIDI program.

    Distinct programs let a multi-voice piece go through miditok's single-stream Program tokens and come
    back with its voices apart (the program becomes the voice's slot, see `cadenza.data.voices`). A track
    keeps its program unless an earlier track took it; then it gets the next free program of its
    8-program GM family (so a second piano stays a piano), then any free one.
    """
    out = score.copy()
    tracks = [out.tracks[index] for index in _kept_tracks(out)]
    used: set[int] = set()
    for track in tracks:
        track.program = _free_program(int(track.program), used)
        used.add(track.program)
    out.tracks = tracks
    return out


def _kept_tracks(score: Score) -> list[int]:
    return [i for i, track in enumerate(score.tracks) if not track.is_drum and len(track.notes) > 0]


def _free_program(program: int, used: set[int]) -> int:
    family = program - program % 8
    in_family = [family + (program - family + step) % 8 for step in range(8)]
    for candidate in in_family + list(range(128)):
        if candidate not in used:
            return candidate
    raise ValueError("a score with more than 128 tracks cannot have distinct programs")


def read_pieces(path: str | Path, reader: str = "auto") -> tuple[list[ScorePiece], list[InputFileError]]:
    """Load every piece in a file, with the errors of tunes that could not be used.

    A whole-file problem (missing, wrong format, corrupt, too big) raises `InputFileError`; a bad tune in
    an ABC collection is returned as an error so the collection's other tunes are kept.
    """
    if reader not in READERS:
        raise ValueError(f"unknown reader {reader!r}; expected one of {READERS}")
    path = Path(path)
    checks.check_file(path)
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        return [_piece_from_midi_file(path)], []
    if suffix == ".abc" and reader != "music21":
        return _pieces_from_abc_file(path, follow_clefs=reader == "auto")
    return _pieces_from_music21_file(path)


def load_pieces(path: str | Path) -> list[ScorePiece]:
    """Load every piece in a file; raise `InputFileError` if the file gives none."""
    pieces, errors = read_pieces(path)
    if not pieces:
        raise errors[0]
    return pieces


def load_pieces_limited(path: str | Path, seconds: float = checks.READ_SECONDS) -> list[ScorePiece]:
    """`load_pieces` in a reading worker (`workers.run_limited`), stopped after `seconds` or past its
    memory cap: for single files from users (prompts, uploads); a corpus build limits its own workers'
    time."""
    return run_limited(load_pieces, (str(path),), seconds, path)


def _checked(
    raw: Score, name: str, names: list[str], programs: list[int | None]
) -> tuple[Score, list[Voice]]:
    """Normalize, enforce the note and track limits, and name the voices of the tracks kept.

    `names` and `programs` are what the source says about each track of `raw` (its part name and its
    instrument, None when it names none).
    """
    kept = _kept_tracks(raw)
    checks.check_tracks(len(kept), name)
    score = normalize_score(raw)
    checks.check_notes(raw, score, name)
    voices = [
        Voice(int(track.program), names[index], programs[index])
        for index, track in zip(kept, score.tracks, strict=True)
    ]
    return score, voices


def _source_voices(score: Score) -> tuple[list[str], list[int | None]]:
    """Track names and programs as a MIDI file gives them."""
    return [track.name for track in score.tracks], [int(track.program) for track in score.tracks]


def _piece_from_midi_file(path: Path) -> ScorePiece:
    data = path.read_bytes()
    if not data.startswith(b"MThd"):
        raise InputFileError(path, "not a MIDI file (no MThd header)")
    checks.check_chunks(data, path)
    try:
        raw = Score.from_midi(data)
    except Exception as err:  # symusic raises bare RuntimeErrors on corrupt or truncated data
        raise InputFileError(path, f"corrupt MIDI file: {one_line(err)}") from err
    score, voices = _checked(raw, str(path), *_source_voices(raw))
    return ScorePiece(
        score=score,
        tune=None,
        title=path.stem,
        composer="",
        time_signatures=_time_signatures(score),
        key=score_key(score),
        tempo=_tempo(score),
        num_parts=len(score.tracks),
        num_bars=checks.midi_bars(score),
        voices=voices,
    )


# --- ABC through abc2midi ---------------------------------------------------------------------------
def _pieces_from_abc_file(path: Path, follow_clefs: bool) -> tuple[list[ScorePiece], list[InputFileError]]:
    tunes = abc.split_tunes(path.read_text(encoding="utf-8", errors="replace"))
    if not tunes:
        raise InputFileError(path, "no tune in this ABC file (no X: field)")
    if follow_clefs and any(tune.sets_clef for tune in tunes):
        return _pieces_from_music21_file(path)
    pieces: list[ScorePiece] = []
    errors: list[InputFileError] = []
    read: list[tuple[abc.AbcTune, Score, list[str]]] = []
    for index, tune in enumerate(tunes, start=1):
        name = f"{path}#{tune.number or index}"
        try:
            score, messages = abc.read_tune(tune)
        except Exception as err:  # a corrupt tune (read_tune's ValueError) or whatever symusic raises
            errors.append(InputFileError(name, f"cannot read ABC tune: {one_line(err)}"))
            continue
        read.append((tune, score, messages))
    merged = _abc_voices_of_one_piece(read) and len(read) == len(tunes)
    if merged:
        read = [_merged_voices(read)]
        tunes_numbered = [None]
    elif len(tunes) == 1:  # as music21 reads it: a file of one tune is a piece, not a collection
        tunes_numbered = [None] * len(read)
    else:
        tunes_numbered = [tune.number or index for index, (tune, _, _) in enumerate(read, start=1)]
    for number, (tune, score, messages) in zip(tunes_numbered, read, strict=True):
        name = f"{path}#{number}" if number is not None else str(path)
        try:
            pieces.append(_piece_from_abc_tune(tune, score, messages, path, number, name, merged))
        except InputFileError as err:
            errors.append(err)
    return pieces, errors


def _abc_voices_of_one_piece(read: list[tuple[abc.AbcTune, Score, list[str]]]) -> bool:
    """The same rule as `_voices_of_one_piece`, for tunes read by abc2midi."""
    titles = [tune.titles[0] if tune.titles else None for tune, _, _ in read]
    return _voices_rule(titles, [score.end() for _, score, _ in read])


def _voices_rule(titles: list[str | None], lengths: list[float]) -> bool:
    """Several tunes with one title and about one length (within 10%: Petite Camusette's voices end 8
    beats apart) are the voices of one piece."""
    return (
        len(titles) > 1
        and len(set(titles)) == 1
        and titles[0] is not None
        and max(lengths) <= 1.1 * min(lengths)
    )


def _merged_voices(read: list[tuple[abc.AbcTune, Score, list[str]]]) -> tuple[abc.AbcTune, Score, list[str]]:
    first_tune, merged, _ = read[0]
    merged = merged.copy()
    merged.tracks = []
    for tune, score, _ in read:
        for track in score.tracks:
            track = track.copy()
            track.name = tune.titles[1] if len(tune.titles) > 1 else ""
            merged.tracks.append(track)
    return first_tune, merged, [message for _, _, messages in read for message in messages]


def _piece_from_abc_tune(
    tune: abc.AbcTune,
    raw: Score,
    messages: list[str],
    path: Path,
    number: int | None,
    name: str,
    merged: bool,
) -> ScorePiece:
    # abc2midi names a tune's track after one of its titles, which is no part name; merged voices carry
    # their own (`_merged_voices`). ABC names no instrument: abc2midi's program 0 is its default.
    names = [track.name for track in raw.tracks] if merged else [""] * len(raw.tracks)
    score, voices = _checked(raw, name, names, [None] * len(raw.tracks))
    return ScorePiece(
        score=score,
        tune=number,
        title=tune.titles[0] if tune.titles else path.stem,
        composer=tune.composer,
        time_signatures=_time_signatures(score),
        key=abc.key_name(tune) or score_key(score),
        tempo=_tempo(score),
        num_parts=len(score.tracks),
        num_bars=checks.midi_bars(score),
        voices=voices,
        warnings=messages,
    )


# --- music21 formats ----------------------------------------------------------------------------------
def _pieces_from_music21_file(path: Path) -> tuple[list[ScorePiece], list[InputFileError]]:
    from music21 import converter, stream

    try:
        # forceSource: music21's pickle cache is shared between worker processes and may be stale
        with _no_beaming():
            parsed = converter.parse(path, forceSource=True)
    except Exception as err:
        raise InputFileError(path, f"cannot parse {path.suffix.lower()} file: {one_line(err)}") from err
    if isinstance(parsed, stream.Opus) and _voices_of_one_piece(parsed):
        tunes = [(None, _merge_voices(parsed))]
    elif isinstance(parsed, stream.Opus):
        tunes = [(_tune_number(score, index), score) for index, score in enumerate(parsed.scores, start=1)]
    else:
        tunes = [(None, parsed)]
    pieces: list[ScorePiece] = []
    errors: list[InputFileError] = []
    for tune, score in tunes:
        name = f"{path}#{tune}" if tune is not None else str(path)
        try:
            pieces.append(_piece_from_music21(score, path, tune, name))
        except InputFileError as err:
            errors.append(err)
        except Exception as err:  # music21 fails in many ways on odd scores; report them all the same
            errors.append(InputFileError(name, f"cannot convert: {one_line(err)}"))
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
    with the piece's title and the voice's name as second title), not a collection of tunes
    (`_voices_rule`)."""
    scores = list(opus.scores)
    titles = [score.metadata.title if score.metadata is not None else None for score in scores]
    return _voices_rule(titles, [float(score.highestTime) for score in scores])


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


def _piece_from_music21(m21, path: Path, tune: int | None, name: str) -> ScorePiece:
    if not m21.recurse().notes:
        raise InputFileError(name, "no notes")
    checks.check_end(float(m21.highestTime), name)  # before ticks are counted: they would overflow
    converted = stream_to_score(m21)
    score, voices = _checked(converted.score, name, converted.part_names, converted.programs)
    kept = _kept_tracks(converted.score)
    slots = {part: voice.slot for part, voice in zip(kept, voices, strict=True)}
    metadata = m21.metadata
    title = (metadata.title if metadata is not None else None) or path.stem
    return ScorePiece(
        score=score,
        tune=tune,
        title=str(title),
        composer=str((metadata.composer if metadata is not None else None) or ""),
        time_signatures=_music21_time_signatures(m21) or _time_signatures(score),
        key=_music21_key(m21, score),
        tempo=_tempo(score),
        num_parts=len(score.tracks),
        num_bars=_music21_bars(m21) or checks.midi_bars(score),
        voices=voices,
        lyrics=_lyrics(m21, slots),
        warnings=converted.warnings,
    )


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


def _music21_key(m21, score: Score) -> str:
    """The score's key as written when its signature says the mode; else the analysed key of the
    converted score (`analysed_key`): the profile music21 would build from the whole stream, at a
    fraction of the time (its analysis flattened the stream and was 18% of reading a kern file)."""
    from music21 import key

    signature = m21.recurse().getElementsByClass(key.KeySignature).first()
    if isinstance(signature, key.Key):
        return music21_key_name(signature)
    # A bare signature does not say the mode (nor, in modal music, the tonic).
    return analysed_key(score)


def _music21_bars(m21) -> int:
    from music21 import stream

    parts = list(m21.parts) or [m21]
    return max(len(part.getElementsByClass(stream.Measure)) for part in parts)


def _lyrics(m21, slots: dict[int, int]) -> list[dict]:
    """Syllables of the first verse, one per note, as quarter-note onsets within their voice (`slots`:
    part index -> the voice's slot)."""
    parts = list(m21.parts) or [m21]
    syllables: list[dict] = []
    for index, part in enumerate(parts):
        if index not in slots:
            continue
        for n in part.flatten().notes:
            if not n.lyrics or not n.lyrics[0].text:
                continue
            lyric = n.lyrics[0]
            syllables.append(
                {
                    "voice": slots[index],
                    "onset": float(n.offset),
                    "pitch": int(n.pitches[-1].midi),
                    "text": lyric.text,
                    "syllabic": lyric.syllabic or "single",
                }
            )
    return syllables
