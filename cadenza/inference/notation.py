"""Sheet music: a generated Score as MusicXML a musician opens, and as SVG pages engraved by verovio.

music21 reads the score's MIDI (it quantizes, splits overlapping notes into voices and makes measures);
then `write_musicxml` corrects what a MIDI file cannot say or music21 guesses:
- the heading: title and composer lines say what made the piece (`ScoreInfo`), not "Music21 Fragment";
- the key: a key signature for the asked key (or music21's analysis of the notes), written with the
  fewest accidentals of its enharmonic spellings (C# minor, not Db minor), and every pitch spelled in it
  (`spell`): diatonic notes by the scale, chromatic ones as common practice writes them;
- every part in the score's meter (`write_musicxml` says why music21 alone missed it) and with the same
  number of measures (music21 ends each part at its own last note);
- one clef per part that fits its range (a tenor in treble-8vb, as choirs read it), and its voice's name;
- in a continuation, "new bars" written above the top part where the model's music begins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import symusic

from cadenza.data.streams import is_song, song_syllables
from cadenza.data.syllables import ends_line
from cadenza.keys import key_name, parse_key

STEPS = "CDEFGAB"
STEP_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Semitones above the tonic -> scale steps above the tonic's letter. Diatonic notes follow the scale;
# chromatic ones are spelled as the secondary dominants and mixture that bring them write them: in major
# the raised 1st, 2nd, 4th and 5th (V/ii, V/iii, V/V, V/vi) and the lowered 7th (V/IV); in minor (on the
# natural minor scale) the Neapolitan lowered 2nd, the raised 3rd (V/iv, a Picardy third), the raised 4th
# (V/V), and the raised 6th and 7th of the melodic minor.
DEGREES = {
    "major": (0, 0, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6),
    "minor": (0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6),
}


@dataclass(frozen=True)
class ScoreInfo:
    """What a score's title and composer lines say, the key its signature shows ("A minor"; None: music21's
    analysis of the notes), in a continuation the tick where the new bars begin, and the (first, end) ticks
    of bars written again; both marked on the sheet music and the piano roll."""

    title: str
    composer: str = "cadenza"
    key: str | None = None
    seam: int | None = None
    regenerated: tuple[tuple[int, int], ...] = ()


SEAM_TEXT = "new bars"
REGENERATED_TEXT = "regenerated"  # over the first bar written again; "kept" where the input resumes
KEPT_TEXT = "kept"


def spell(midi: int, tonic: str, mode: str) -> str:
    """The name of MIDI pitch `midi` in the key of `tonic` (a music21 name: "F#", "E-") and `mode`, with
    its octave: 61 in D major -> "C#4", in Ab major -> "D-4"; 60 in C# major -> "B#3"."""
    tonic_pc = (STEP_PC[tonic[0]] + tonic.count("#") - tonic.count("-")) % 12
    degree = DEGREES[mode][(midi - tonic_pc) % 12]
    step = STEPS[(STEPS.index(tonic[0]) + degree) % 7]
    alter = (midi - STEP_PC[step] + 6) % 12 - 6
    octave = (midi - alter - STEP_PC[step]) // 12 - 1
    return f"{step}{'#' * alter if alter > 0 else '-' * -alter}{octave}"


def notation_key(text: str):
    """music21's Key for "Db minor", "A major", "F#", spelled as `keys.key_name` spells it (Db minor is
    written C# minor); major when no mode is said."""
    from music21 import key

    tonic_pc, mode = parse_key(text)
    tonic, mode = key_name((tonic_pc, mode or "major")).split()
    return key.Key(tonic.replace("b", "-"), mode)


def write_musicxml(score: symusic.Score, path: Path, info: ScoreInfo | None = None) -> Path:
    """The score as MusicXML through music21, corrected as the module docstring says. The tracks' names
    and programs (set by `render.dress`) name the parts and their instruments."""
    import music21

    info = info or ScoreInfo(title=path.stem)
    # music21 copies the meter into every part only from a track without notes (a conductor track), while
    # symusic writes its time signatures into the first track: alone, the other parts came out in 4/4.
    midi = score.copy()
    midi.tracks.insert(0, symusic.Track(name="conductor"))
    parsed = music21.converter.parse(midi.dumps_midi(), format="midi")
    tracks = [track for track in score.tracks if len(track.notes)]  # music21 makes no part of an empty one
    parsed.metadata = music21.metadata.Metadata(title=info.title, composer=info.composer)
    if info.key is None:
        analysed = parsed.analyze("key")
        key = notation_key(f"{analysed.tonic.name} {analysed.mode}")
    else:
        key = notation_key(info.key)
    for part, track in zip(parsed.parts, tracks, strict=True):
        _name_part(part, track.name, int(track.program))
        _set_clef(part, track.name)
        _set_key(part, key)
    _fill_measures(parsed)
    if is_song(score):
        _set_lyrics(parsed.parts[0], score)
    for part in list(parsed.parts)[1:]:  # music21 hides the copies, MuseScore still printed one per part
        for mark in list(part.recurse().getElementsByClass(music21.tempo.MetronomeMark)):
            part.remove(mark, recurse=True)
    if info.seam:
        _mark(parsed.parts[0], info.seam / score.ticks_per_quarter, SEAM_TEXT)
    for first, end in info.regenerated:
        _mark(parsed.parts[0], first / score.ticks_per_quarter, REGENERATED_TEXT)
        _mark(parsed.parts[0], end / score.ticks_per_quarter, KEPT_TEXT)  # nothing past the last bar
    parsed.write("musicxml", fp=str(path))
    return path


def _set_lyrics(part, score: symusic.Score) -> None:
    """A song's syllables under its notes, in order (music21's reading of the MIDI quantizes onsets, so
    they are matched by order, not by time), with MusicXML's syllabic (begin / middle / end / single) from
    whether the word goes on before and after; a note tied on from the last bar carries none."""
    from music21 import note

    sung, going_on = [], False
    for item in song_syllables(score):
        if item is None:
            sung.append(None)
            continue
        text, word_end = item
        syllabic = ("middle" if going_on else "begin") if not word_end else ("end" if going_on else "single")
        sung.append(note.Lyric(text=text, syllabic=syllabic))
        going_on = not word_end
    heads = sorted(
        (n for n in part.recurse().notes if n.tie is None or n.tie.type == "start"),
        key=lambda n: n.getOffsetInHierarchy(part),
    )
    for element, lyric in zip(heads, sung, strict=False):
        if lyric is not None:
            element.lyrics = [lyric]
    texted = [(head, lyric) for head, lyric in zip(heads, sung, strict=False) if lyric is not None]
    _break_at_line_ends(part, [head for head, lyric in texted[:-1] if ends_line(lyric.text)])


def _break_at_line_ends(part, line_ends: list) -> None:
    """Each line of verse on a line of music, as a hymnal prints its phrases: a new system from the bar
    after each bar a line ends in (`line_ends`: the notes that close a line, the song's last left out)."""
    from music21 import layout, stream

    measures = {m.number: m for m in part.getElementsByClass(stream.Measure)}
    for number in sorted({n.getContextByClass(stream.Measure).number for n in line_ends}):
        if number + 1 in measures:
            measures[number + 1].insert(0, layout.SystemLayout(isNew=True))


def _name_part(part, name: str, program: int) -> None:
    """Give `part` one instrument called `name` that plays `program`. music21 makes two of a MIDI track:
    one guessed from its name (a "Soprano" with program 53) and one from its program change (a "Choir"),
    and MusicXML readers such as MuseScore would show the latter's name and abbreviation."""
    from music21 import instrument, stream

    for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
        part.remove(old, recurse=True)
    # The program's music21 class keeps the sound (MusicXML's instrument-sound); the names are the voice's.
    voice = instrument.instrumentFromMidiProgram(program)
    voice.partName = voice.instrumentName = name
    voice.partAbbreviation = voice.instrumentAbbreviation = None
    voice.midiProgram = program
    part.partName = name
    part.getElementsByClass(stream.Measure).first().insert(0, voice)


def _set_clef(part, name: str) -> None:
    """One clef for the whole part. A tenor voice reads in treble-8vb, the clef choirs give it, even when
    its notes would fit the treble staff; otherwise music21 chooses from the pitches, treble-8vb offered
    only to a part that would be in bass clef, so a low alto stays in treble clef (music21 alone puts any
    part averaging below about F4 in treble-8vb)."""
    from music21 import clef, stream

    if name.strip().lower().startswith("tenor"):
        best = clef.Treble8vbClef()
    else:
        best = clef.bestClef(part, recurse=True)
        if isinstance(best, clef.BassClef):
            best = clef.bestClef(part, allowTreble8vb=True, recurse=True)
    for old in list(part.recurse().getElementsByClass(clef.Clef)):
        part.remove(old, recurse=True)
    part.getElementsByClass(stream.Measure).first().insert(0, best)


def _set_key(part, key) -> None:
    """`key`'s signature at the start of `part` (and no other), and every pitch spelled in the key."""
    from music21 import key as m21key
    from music21 import stream

    for old in list(part.recurse().getElementsByClass(m21key.KeySignature)):
        part.remove(old, recurse=True)
    part.getElementsByClass(stream.Measure).first().insert(0, m21key.Key(key.tonic.name, key.mode))
    for element in part.recurse().notes:
        for pitch in element.pitches:
            pitch.nameWithOctave = spell(pitch.midi, key.tonic.name, key.mode)


def _fill_measures(parsed) -> None:
    """Give every part the measures of the longest, the added ones a bar's rest (with the longest part's
    meter changes), so a part that falls silent early still runs to the end of the piece. Each is placed at
    its model's offset: appended instead, after a meter change, it overlapped the part's last measure and
    music21's writer failed."""
    import copy

    from music21 import meter, note, stream

    parts = list(parsed.parts)
    longest = max(parts, key=lambda part: len(part.getElementsByClass(stream.Measure)))
    reference = list(longest.getElementsByClass(stream.Measure))
    for part in parts:
        for model in reference[len(part.getElementsByClass(stream.Measure)) :]:
            measure = stream.Measure(number=model.number)
            for signature in model.getElementsByClass(meter.TimeSignature):
                measure.insert(0, copy.deepcopy(signature))
            measure.append(note.Rest(quarterLength=model.barDuration.quarterLength, fullMeasure=True))
            part.insert(longest.elementOffset(model), measure)


def _mark(part, offset: float, text: str) -> None:
    """`text` above `part` at `offset` quarter notes from its start."""
    from music21 import expressions, stream

    for measure in part.getElementsByClass(stream.Measure):
        if measure.offset <= offset < measure.offset + measure.barDuration.quarterLength:
            words = expressions.TextExpression(text)
            words.placement = "above"
            measure.insert(offset - measure.offset, words)
            return


def engrave(musicxml: Path, page_width: int = 2100) -> list[str]:
    """`musicxml` engraved by verovio: one SVG string per page. Raises CadenzaError naming the file when
    verovio cannot read it."""
    import verovio

    from cadenza.errors import CadenzaError

    verovio.enableLog(verovio.LOG_OFF)
    toolkit = verovio.toolkit()
    # The wheel sets its fonts' folder for the importing thread only: in any other (a Gradio worker) the
    # default is a path from verovio's build machine, and every file failed to load.
    toolkit.setResourcePath(str(Path(verovio.__file__).parent / "data"))
    # A viewBox lets the page scale to the width of whatever shows it (the app's column, a phone).
    options = {"pageWidth": page_width, "adjustPageHeight": True, "footer": "none", "svgViewBox": True}
    toolkit.setOptions(options)
    if not toolkit.loadFile(str(musicxml)):
        raise CadenzaError(f"{musicxml}: verovio could not engrave this MusicXML")
    return [toolkit.renderToSVG(page) for page in range(1, toolkit.getPageCount() + 1)]
