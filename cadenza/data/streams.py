"""A parsed music21 score -> a symusic Score, without going through music21's MIDI writer.

The writer, not the parser, was the cost of reading MusicXML and kern (Beethoven op. 133: parse 2.9 s,
write 36.9 s): it deep-copies the score to play out repeats even when there are none, and joins tied notes
with `stripTies`, which took 25 s of op. 133 alone. Here repeats are played out only when the score has
repeat marks, in music21's order but without copying a note (`_played_out`), and tied notes are joined in
one pass over each part's notes. Everything else follows the writer: sounding pitch, grace notes
dropped, velocities from music21's realized volume, 120 quarter notes per minute and 4/4 when the score
says nothing. `tests/data/test_streams.py` checks the result note for note against the writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from symusic import KeySignature, Note, Score, Tempo, TextMeta, TimeSignature, Track

from cadenza.errors import one_line

# music21's MIDI resolution: every tuplet the corpus uses lands on a whole tick.
TICKS_PER_QUARTER = 10080
DEFAULT_VELOCITY = 90  # music21's realized volume without dynamics
HYPHEN = "-"  # ends a lyric event whose word goes on (the karaoke convention of MIDI lyrics)
WRITTEN_HYPHENS = ("-", "\xad", "\u00fa")


@dataclass
class StreamScore:
    """The symusic Score, one track per music21 part in part order (empty ones included), and warnings."""

    score: Score
    part_names: list[str]
    programs: list[int | None]  # the part's General MIDI program when its instrument names one
    warnings: list[str]


def stream_to_score(m21) -> StreamScore:
    from music21 import instrument as m21_instrument

    warnings: list[str] = []
    if m21.atSoundingPitch is False:
        m21 = m21.toSoundingPitch()
    parts = list(m21.parts) or [m21]
    timelines = _played_out(m21, parts, warnings)
    score = Score(TICKS_PER_QUARTER)
    _add_conductor(score, m21, timelines, timelines[0])
    names, programs = [], []
    for part, timeline in zip(parts, timelines, strict=True):
        # The part's first instrument element, as music21's writer takes it (a kern voice's "*Isopran" is
        # a Soprano with program 53; `Part.getInstrument` would answer a blank one made from the part name).
        instrument = part.recurse().getElementsByClass(m21_instrument.Instrument).first()
        program = instrument.midiProgram if instrument is not None else None
        name = part.partName or (instrument.partName if instrument is not None else None) or ""
        track = Track(name=str(name), program=int(program or 0))
        for onset, end, pitch, velocity in _joined_notes(part, timeline):
            track.notes.append(Note(_ticks(onset), max(_ticks(end) - _ticks(onset), 1), pitch, velocity))
        score.tracks.append(track)
        names.append(str(name))
        programs.append(program)
    return StreamScore(score, names, programs, warnings)


def song_scores(m21, min_syllables: int = 8) -> list[Score]:
    """Each texted part of a parsed score as a song: one monophonic track (a chord's top note), its
    syllables as lyric events on the notes they are sung on, the first part's meter and the score's tempo.

    The written timeline, repeats not played out: the lyrics of the first verse belong to the written
    notes (a played-out repeat would sing them twice, or shift them onto the wrong notes). A syllable's
    event reads "Ky-" when its word goes on, "e" at a word's end; a note without one is a melisma's.
    """
    if m21.atSoundingPitch is False:
        m21 = m21.toSoundingPitch()
    parts = list(m21.parts) or [m21]
    # A song that opens with an upbeat starts that far into its first bar, so its bar lines fall where the
    # score has them (from 0, every syllable after a pickup would sit a beat off its beat).
    pickup = _pickup(parts[0])
    written = [[(pickup, part)] for part in parts]
    songs = []
    for part, timeline in zip(parts, written, strict=True):
        syllables = _first_verse(part, pickup)
        if len(syllables) < min_syllables:
            continue
        score = Score(TICKS_PER_QUARTER)
        _add_conductor(score, m21, written, timeline, pickup)
        track = Track(name=str(part.partName or ""), program=0)
        line: dict[float, tuple[float, int, int]] = {}
        for onset, end, pitch, velocity in _joined_notes(part, timeline):  # a chord's top note comes last
            line[onset] = (end, pitch, velocity)
        onsets = sorted(line)
        for onset, following in zip(onsets, [*onsets[1:], None], strict=True):
            end, pitch, velocity = line[onset]
            end = min(end, following) if following is not None else end
            track.notes.append(Note(_ticks(onset), max(_ticks(end) - _ticks(onset), 1), pitch, velocity))
            if onset in syllables:
                track.lyrics.append(TextMeta(_ticks(onset), syllables[onset]))
        score.tracks.append(track)
        songs.append(score)
    return songs


def lyric_event(syllable: str, word_end: bool) -> str:
    """The text of a syllable's lyric event."""
    return syllable if word_end else syllable + HYPHEN


def song_syllables(score: Score) -> list[tuple[str, bool] | None]:
    """Per note of a song (its first track with notes, in time order): (syllable, word ends here), or None
    for a melisma's note. The lyric events may sit on any track: symusic reads a MIDI file's lyrics into
    a track of their own."""
    events = {lyric.time: lyric.text for track in score.tracks for lyric in track.lyrics}
    notes = next((track.notes for track in score.tracks if len(track.notes)), [])
    out: list[tuple[str, bool] | None] = []
    for note in sorted(notes, key=lambda n: (n.time, n.pitch)):
        text = events.get(note.time)
        goes_on = text is not None and text.endswith(HYPHEN) and len(text) > 1
        out.append(None if text is None else (text[: -1 if goes_on else None], not goes_on))
    return out


def is_song(score: Score) -> bool:
    return any(len(track.lyrics) for track in score.tracks)


def _first_verse(part, start: float = 0.0) -> dict[float, str]:
    """Onset (from `start`, where the part's timeline begins) -> lyric event text of the part's first verse
    (the lowest verse number on each note), hyphenated as `song_scores` says."""
    syllables = {}
    for element in part.flatten().notes:
        if not element.lyrics or element.duration.isGrace:
            continue
        verse = min(element.lyrics, key=lambda lyric: lyric.number or 0)
        text = (verse.text or verse.rawText or "").strip()
        # Some sources (the Monteverdi madrigals) mark a word that goes on inside the text, with a
        # trailing "-", a soft hyphen or an "ú", and call every syllable "single".
        marked = text.endswith(WRITTEN_HYPHENS) and len(text) > 1
        text = text.rstrip("".join(WRITTEN_HYPHENS)) if marked else text
        if text:
            goes_on = marked or verse.syllabic in ("begin", "middle")
            syllables[start + float(element.offset)] = lyric_event(text, not goes_on)
    return syllables


# Where a part's music sits in time, as played: (offset, a stream of it), each stream's elements at their
# offsets in it from there on. A part without repeats is [(0.0, part)]; one with repeats lists its measures
# in played order, each at its start, so a repeated bar is read twice, never copied.
Timeline = list[tuple[float, object]]


def _played_out(m21, parts: list, warnings: list[str]) -> list[Timeline]:
    """Each part's timeline, its repeats played out in the order music21's `repeat.Expander` plays them;
    as written when the score has no repeat marks or music21 cannot follow them (the "badly formed
    repeats" of a few corpus files, which used to lose the whole piece).

    The order comes from expanding a skeleton of the part (its measures' barlines, repeat expressions and
    brackets, no notes), once per repeat structure (a quartet's four parts share one): `expandRepeats` on
    the score deep-copied every note several times over, which was two thirds of reading a quartet."""
    from music21 import bar, repeat

    written = [[(0.0, part)] for part in parts]
    if m21.recurse().getElementsByClass((bar.Repeat, repeat.RepeatExpression)).first() is None:
        return written
    orders: dict[tuple, list[int]] = {}
    timelines = []
    try:
        for part in parts:
            measures, skeleton, structure = _repeat_skeleton(part)
            if structure not in orders:
                orders[structure] = _played_order(skeleton)
            timeline, start = [], 0.0
            for index in orders[structure]:
                timeline.append((start, measures[index]))
                start += float(measures[index].duration.quarterLength)
            timelines.append(timeline)
    except Exception as err:  # music21 raises ExpanderException and others on repeats it cannot follow
        warnings.append(f"repeats kept as written (music21 cannot play them out: {one_line(err, limit=120)})")
        return written
    return timelines


def _repeat_skeleton(part) -> tuple[list, object, tuple]:
    """(the part's measures, a part of empty measures with their repeat marks, those marks as a hashable
    structure); each skeleton measure knows the index of the measure it stands for."""
    import copy

    from music21 import repeat, spanner, stream

    measures = list(part.getElementsByClass(stream.Measure))
    if not measures:
        raise repeat.ExpanderException("cannot process repeats on Stream that does not contain measures")
    skeleton = stream.Part()
    stand_in, structure = {}, []
    for index, measure in enumerate(measures):
        light = stream.Measure(number=measure.number)
        light.cadenza_index = index  # a plain attribute: music21's deep copies keep it
        marks = [measure.leftBarline, measure.rightBarline]
        light.leftBarline, light.rightBarline = (copy.deepcopy(mark) for mark in marks)
        expressions = list(measure.recurse().getElementsByClass(repeat.RepeatExpression))
        for expression in expressions:
            light.insert(expression.getOffsetInHierarchy(measure), copy.deepcopy(expression))
        skeleton.append(light)
        stand_in[id(measure)] = light
        structure.append((repr(marks), tuple(repr(e) for e in expressions)))
    for bracket in part.recurse().getElementsByClass(spanner.RepeatBracket):
        spanned = [stand_in[id(m)] for m in bracket.getSpannedElements() if id(m) in stand_in]
        copied = spanner.RepeatBracket(spanned, number=bracket.number)
        copied.overrideDisplay = bracket.overrideDisplay
        skeleton.insert(0, copied)
        structure.append((bracket.number, tuple(m.cadenza_index for m in spanned)))
    return measures, skeleton, tuple(structure)


def _played_order(skeleton) -> list[int]:
    from music21 import repeat, stream

    played = repeat.Expander(skeleton).process()
    return [measure.cadenza_index for measure in played.getElementsByClass(stream.Measure)]


def _add_conductor(
    score: Score, m21, timelines: list[Timeline], first: Timeline, pickup: float = 0.0
) -> None:
    """Time and key signatures of the `first` timeline (the first part's), tempo marks of the whole score,
    with the writer's defaults (4/4, 120) where there are none. With a `pickup` (the timelines start that
    far into the first bar), what the pickup bar opens with stands at 0, where its bar begins."""
    from music21 import key, meter, tempo

    def at(offset: float) -> int:
        return 0 if offset <= pickup else _ticks(offset)

    for start, music in first:
        flat = music.flatten()
        for ts in flat.getElementsByClass(meter.TimeSignature):
            score.time_signatures.append(TimeSignature(at(start + ts.offset), ts.numerator, ts.denominator))
        for ks in flat.getElementsByClass(key.KeySignature):
            minor = isinstance(ks, key.Key) and ks.mode == "minor"
            score.key_signatures.append(KeySignature(at(start + ks.offset), int(ks.sharps), int(minor)))
    if not len(score.time_signatures) or score.time_signatures[0].time > 0:
        score.time_signatures.insert(0, TimeSignature(0, 4, 4))
    marks = {}
    placed = [(m21.elementOffset(mark), mark) for mark in m21.getElementsByClass(tempo.MetronomeMark)]
    for timeline in timelines:
        for start, music in timeline:
            for mark in music.recurse().getElementsByClass(tempo.MetronomeMark):
                placed.append((start + mark.getOffsetInHierarchy(music), mark))
    for offset, mark in sorted(placed, key=lambda item: item[0]):
        qpm = mark.getQuarterBPM()
        if qpm:
            marks.setdefault(at(offset), float(qpm))
    if 0 not in marks:
        marks[0] = 120.0
    for time, qpm in sorted(marks.items()):
        score.tempos.append(Tempo(time, qpm=qpm))


def _ticks(quarters) -> int:
    return round(float(quarters) * TICKS_PER_QUARTER)


def _pickup(part) -> float:
    """Quarter notes missing from the start of the part's first bar: an upbeat's (music21's paddingLeft)."""
    from music21 import stream

    first = part.getElementsByClass(stream.Measure).first()
    return float(first.paddingLeft) if first is not None else 0.0


def _joined_notes(part, timeline: Timeline) -> list[tuple[float, float, int, int]]:
    """(onset, end, MIDI pitch, velocity) of a part's sounding notes along its timeline, in quarter notes,
    tied notes joined.

    A tie joins a note to the next note of the same pitch that starts where it ends (music21's
    `stripTies(matchByPitch=True)`), so a tie into a repeat jumped over does not join across the jump.
    Velocities are realized in written order (a repeated bar keeps the dynamics it was written under).
    """
    from music21 import note, volume

    volume.realizeVolume(part.flatten())
    open_ties: dict[int, list] = {}
    out: list[tuple[float, float, int, int]] = []
    for start, element in _timeline_notes(timeline):
        length = float(element.quarterLength)
        if length <= 0 or isinstance(element, note.Unpitched) or element.duration.isGrace:
            continue
        onset = start + float(element.offset)
        velocity = min(max(round(element.volume.cachedRealized * 127), 1), 127)
        for pitch, tie in _sounding(element):
            kind = tie.type if tie is not None else None
            held = open_ties.get(pitch)
            if held is not None and kind in ("continue", "stop") and abs(held[1] - onset) < 1e-6:
                held[1] = onset + length
                if kind == "stop":
                    out.append(tuple(open_ties.pop(pitch)))
                continue
            if held is not None:  # a tie that never arrived: the held note ends where it was written to
                out.append(tuple(open_ties.pop(pitch)))
            if kind in ("start", "continue"):
                open_ties[pitch] = [onset, onset + length, pitch, velocity]
            else:
                out.append((onset, onset + length, pitch, velocity))
    out += [tuple(held) for held in open_ties.values()]
    return sorted(out)


def _timeline_notes(timeline: Timeline) -> Iterator[tuple[float, object]]:
    """(the start of its stream, note or chord) along a timeline; the element's `offset` is within that
    stream while it is read."""
    for start, music in timeline:
        for element in music.flatten().notes:
            yield start, element


def _sounding(element) -> list[tuple[int, object]]:
    """(MIDI pitch, tie) of each note in a note or chord."""
    from music21 import chord

    if isinstance(element, chord.Chord):
        return [(int(n.pitch.midi), n.tie or element.tie) for n in element.notes]
    return [(int(element.pitch.midi), element.tie)]
