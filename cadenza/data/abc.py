"""ABC collections read fast: each tune through symusic's bundled abc2midi, header fields through music21.

music21 parses ABC in pure Python and writes MIDI slowly (an Essen collection of 720 tunes: 19.5 s);
abc2midi reads the same tunes in about a second. abc2midi also *performs* a tune, which a corpus of
written notes must not inherit, so these habits are switched off before it reads a tune (measured
against music21 in docs/corpus.md, "ABC: which reader, and how faithful"):

- chord symbols (`"Am"`) become an accompaniment of bass notes and chords: `%%MIDI gchordoff`;
- an accidental holds to the bar line for that note in every octave: `%%propagate-accidentals octave`
  keeps it to its own octave, as notation (and music21) reads it;
- a tune marked `R: hornpipe` has its written 3:1 broken rhythms (`A>B`) swung 2:1: the `R:` field goes;
- grace notes (`{g}`) take their time from the main note, moving its onset off the beat: they go, as
  music21 drops them from MIDI too;
- ornaments are played out (a trill `T` or a roll `~` becomes a run of short notes, a staccato `.` halves
  the note, a fermata `H` holds it): the decorations that change notes go, as music21 keeps the written
  note. Decorations that shape the form (segno, coda, `!D.C.!`) and text in quotes stay.

abc2midi's messages (it prints "Bar 2 has 7/2 time units" and the like from C) are captured per tune and
returned with the score, for the build report, instead of flooding the console.
"""

from __future__ import annotations

import ctypes
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from symusic import Note, Score

_TUNE_START = re.compile(r"^X:", re.MULTILINE)
_FIELD = re.compile(r"^([A-Za-z]):\s*(.*?)\s*$")
# Clefs and octave marks in K:/V: ("K:E phr -8va", "K:G min bass", "K:G mix treble8"): abc2midi plays the
# letters at their treble pitch whatever they say (the Josquin voices: a bass line two octaves too high),
# music21 reads them, so such files go to music21.
_CLEF = re.compile(
    r"(\bclef=|\boctave=|\bmiddle=|[-+]?8v[ab]\b|\b(bass|alto|tenor|baritone|treble8|treble-8)\b)"
)
_GRACE = re.compile(r"\{[^}]*\}")
# A line of a tune's body in pieces: quoted text, !decorations!, +decorations+, and the music between.
_BODY_PIECES = re.compile(r'("[^"]*"|![^!\n]*!|\+[^+\n]*\+)')
# Decorations abc2midi performs as other notes or other lengths (see the module docstring).
_PERFORMED = frozenset(
    "trill roll mordent lowermordent uppermordent pralltriller turn invertedturn fermata "
    "invertedfermata staccato tenuto trill( trill) ~ . T M P H".split()
)
_PERFORMED_SHORTHAND = re.compile(r"[~.TMPH]")
# What abc2midi is told before every tune (see the module docstring).
_DIRECTIVES = "%%MIDI gchordoff\n%%propagate-accidentals octave\n"


@dataclass
class AbcTune:
    """One `X:` tune of a file, with the header fields the corpus keeps."""

    number: int | None
    text: str  # the file header plus the tune, as abc2midi will read it
    titles: list[str]
    composer: str
    meter: str
    key: str
    sets_clef: bool  # a K: or V: field names a clef or an octave shift (see `_CLEF`)


def split_tunes(text: str) -> list[AbcTune]:
    """The tunes of an ABC file in order; the file header (before the first `X:`) applies to each."""
    starts = [match.start() for match in _TUNE_START.finditer(text)]
    if not starts:
        return []
    header = text[: starts[0]]
    bodies = [text[start:end] for start, end in zip(starts, [*starts[1:], len(text)], strict=True)]
    return [_tune(header, body) for body in bodies]


def _tune(header: str, body: str) -> AbcTune:
    fields: dict[str, list[str]] = {}
    for line in (header + "\n" + body).splitlines():
        match = _FIELD.match(line)
        if match:
            fields.setdefault(match.group(1), []).append(match.group(2))
    number = fields.get("X", [""])[0]
    return AbcTune(
        number=int(number) if number.isdigit() else None,
        text=_for_abc2midi(header) + _with_directives(_for_abc2midi(body)),
        titles=[title for title in fields.get("T", []) if title],
        composer=(fields.get("C") or [""])[0],
        meter=(fields.get("M") or [""])[0],
        key=(fields.get("K") or [""])[-1],  # the tune's own K: (the last header field) wins
        sets_clef=any(_CLEF.search(value) for value in fields.get("K", []) + fields.get("V", [])),
    )


def _with_directives(body: str) -> str:
    """The directives go right after the `X:` line: abc2midi ignores `%%MIDI` in a file header."""
    first, _, rest = body.partition("\n")
    return f"{first}\n{_DIRECTIVES}{rest}"


def _for_abc2midi(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("R:"):
            continue
        if not _FIELD.match(line) and not line.startswith("%"):
            line = _written_notes(line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _written_notes(line: str) -> str:
    """A body line without grace notes and the decorations abc2midi would perform."""
    out = []
    for piece in _BODY_PIECES.split(line):
        if piece.startswith('"'):
            out.append(piece)
        elif piece[:1] in "!+" and len(piece) > 1 and piece[-1] == piece[0]:
            out.append("" if piece[1:-1] in _PERFORMED else piece)
        else:
            out.append(_PERFORMED_SHORTHAND.sub("", _GRACE.sub("", piece)))
    return "".join(out)


def read_tune(tune: AbcTune) -> tuple[Score, list[str]]:
    """The tune as a symusic Score, and abc2midi's messages about it (one string per line); ValueError
    when abc2midi reads nothing (a corrupt tune)."""
    score = None
    with _captured_output() as messages, _own_temp_folder():
        try:
            score = Score.from_abc(tune.text)
        except RuntimeError:  # abc2midi wrote no MIDI; symusic reports its missing temporary file
            pass
    if score is None:
        raise ValueError(f"abc2midi made no music of it{': ' + messages[-1] if messages else ''}")
    for track in score.tracks:
        # abc2midi starts every note one tick late (its note ends are on time): start it on time
        notes = track.notes.numpy()
        late = notes["time"] > 0
        notes["time"][late] -= 1
        notes["duration"][late] += 1
        track.notes = Note.from_numpy(**notes, ttype=score.ttype)
    return score, messages


def key_name(tune: AbcTune) -> str | None:
    """The `K:` field as "G major", "A dorian", ... (music21's reading of it); None if there is none."""
    from music21 import abcFormat

    if not tune.key:
        return None
    field = abcFormat.ABCMetadata(f"K:{tune.key}")
    field.preParse()
    try:
        key = field.getKeySignatureObject()
    except Exception:  # music21 raises bare exceptions on unusual K: values; the analysed key stands in
        return None
    mode = getattr(key, "mode", None) or "major"
    tonic = key.tonic if hasattr(key, "tonic") else key.asKey(mode).tonic
    return f"{tonic.name.replace('-', 'b')} {mode}"


def meter_name(tune: AbcTune) -> str | None:
    """The `M:` field as "6/8" ("C" is 4/4, "C|" 2/2); None for free meter or none."""
    from music21 import abcFormat

    if not tune.meter or tune.meter.lower() == "none":
        return None
    field = abcFormat.ABCMetadata(f"M:{tune.meter}")
    field.preParse()
    try:
        return field.getTimeSignatureObject().ratioString
    except Exception:
        return None


_libc = ctypes.CDLL(None)


@contextmanager
def _own_temp_folder() -> Iterator[None]:
    """Point TMPDIR at a folder of this process's own while symusic runs abc2midi.

    symusic hands the tune to abc2midi through /tmp/symusic_temp_<random number>.abc, and processes forked
    from one parent draw the same numbers: two corpus workers then overwrite and delete each other's
    tune (measured: 14 to 50 tunes of Essen and Ryan's lost per build, a different few each time).
    """
    folder = Path(tempfile.gettempdir()) / f"cadenza-abc-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = previous


@contextmanager
def _captured_output() -> Iterator[list[str]]:
    """Collect what C code writes to stdout and stderr (file descriptors 1 and 2) into a list."""
    messages: list[str] = []
    with tempfile.TemporaryFile() as sink:
        _libc.fflush(None)
        saved = os.dup(1), os.dup(2)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield messages
        finally:
            _libc.fflush(None)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            messages.extend(line.strip() for line in text.splitlines() if line.strip())
