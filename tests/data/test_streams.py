"""music21 streams straight to symusic, checked against music21's own MIDI writer."""

from __future__ import annotations

import pytest
from music21 import bar, converter, meter, note, repeat, spanner, stream, tie
from music21.midi.translate import music21ObjectToMidiFile
from symusic import Score

from cadenza.data.corpus import embedded_root
from cadenza.data.streams import stream_to_score


def notes(score: Score) -> list[tuple[float, int, float]]:
    tpq = score.ticks_per_quarter
    return sorted(
        (round(n.time / tpq, 4), n.pitch, round(n.duration / tpq, 4)) for t in score.tracks for n in t.notes
    )


@pytest.mark.parametrize(
    "name", ["bach/bwv66.6.mxl", "palestrina/Agnus_01.krn", "trecento/Fava_Dicant_nunc_iudei.xml"]
)
def test_same_notes_and_conductor_as_music21s_writer(name: str):
    parsed = converter.parse(embedded_root() / name, forceSource=True)
    written = Score.from_midi(music21ObjectToMidiFile(parsed).writestr())
    direct = stream_to_score(parsed)
    assert notes(direct.score) == notes(written)
    assert [(ts.numerator, ts.denominator) for ts in direct.score.time_signatures] == [
        (ts.numerator, ts.denominator) for ts in written.time_signatures
    ]
    assert [round(t.qpm, 2) for t in direct.score.tempos] == [round(t.qpm, 2) for t in written.tempos]
    # the same programs, so voice slots are what the shipped model learned
    assert [t.program for t in direct.score.tracks] == [t.program for t in written.tracks if len(t.notes)]
    assert direct.warnings == []


def test_part_names_and_instruments_come_from_the_source():
    direct = stream_to_score(converter.parse(embedded_root() / "bach/bwv66.6.mxl"))
    assert direct.part_names == ["Soprano", "Alto", "Tenor", "Bass"]
    assert direct.programs == [None] * 4  # the file names no instrument


def one_part(*measures: list) -> stream.Score:
    part = stream.Part()
    for number, elements in enumerate(measures, start=1):
        measure = stream.Measure(number=number)
        if number == 1:
            measure.append(meter.TimeSignature("2/4"))
        for element in elements:
            measure.append(element)
        part.append(measure)
    return stream.Score([part])


def tied(pitch: str, length: float, kind: str) -> note.Note:
    n = note.Note(pitch, quarterLength=length)
    n.tie = tie.Tie(kind)
    return n


def test_tied_notes_are_joined_across_bars():
    score = one_part(
        [note.Note("C4"), tied("E4", 1, "start")],
        [tied("E4", 2, "continue")],
        [tied("E4", 1, "stop"), note.Note("G4")],
    )
    assert notes(stream_to_score(score).score) == [(0.0, 60, 1.0), (1.0, 64, 4.0), (5.0, 67, 1.0)]


def test_repeats_are_played_out():
    score = one_part([note.Note("C4", quarterLength=2)], [note.Note("D4", quarterLength=2)])
    score.parts[0].getElementsByClass(stream.Measure)[1].rightBarline = bar.Repeat(direction="end")
    assert [p for _, p, _ in notes(stream_to_score(score).score)] == [60, 62, 60, 62]


def _expanded_by_music21(score: stream.Score) -> list[tuple[float, int, float]]:
    """The notes of music21's own `expandRepeats`, read without ties (the scores here have none)."""
    played = score.expandRepeats()
    return sorted(
        (float(n.getOffsetInHierarchy(played)), n.pitch.midi, float(n.quarterLength))
        for n in played.recurse().notes
    )


def test_endings_are_played_in_music21s_order_and_time():
    # |: bars 1-2, first ending bar 3 :|, second ending bar 4; a second part that repeats nothing, so the
    # parts' orders differ
    score = one_part(*[[note.Note(p, quarterLength=2)] for p in ("C4", "D4", "E4", "F4")])
    part = score.parts[0]
    first, _, third, fourth = part.getElementsByClass(stream.Measure)
    first.leftBarline = bar.Repeat(direction="start")
    third.rightBarline = bar.Repeat(direction="end")
    part.insert(0, spanner.RepeatBracket(third, number=1))
    part.insert(0, spanner.RepeatBracket(fourth, number=2))
    score.insert(0, stream.Part([stream.Measure([note.Note("A3", quarterLength=8)], number=1)]))
    direct = notes(stream_to_score(score).score)
    assert [p for _, p, _ in direct if p != 57] == [60, 62, 64, 60, 62, 65]
    assert direct == _expanded_by_music21(score)


def test_da_capo_al_fine_is_played_in_music21s_order_and_time():
    score = one_part(*[[note.Note(p, quarterLength=2)] for p in ("C4", "D4", "E4")])
    _, second, third = score.parts[0].getElementsByClass(stream.Measure)
    second.append(repeat.Fine())
    third.append(repeat.DaCapoAlFine())
    direct = notes(stream_to_score(score).score)
    assert [p for _, p, _ in direct] == [60, 62, 64, 60, 62]
    assert direct == _expanded_by_music21(score)


def test_badly_formed_repeats_keep_the_piece_as_written():
    # two start repeats and no end: music21 raises "badly formed repeats", which used to lose the piece
    score = one_part(*[[note.Note(p, quarterLength=2)] for p in ("C4", "D4", "E4")])
    for measure in score.parts[0].getElementsByClass(stream.Measure)[1:]:
        measure.leftBarline = bar.Repeat(direction="start")
    converted = stream_to_score(score)
    assert [p for _, p, _ in notes(converted.score)] == [60, 62, 64]
    assert len(converted.warnings) == 1 and "repeats kept as written" in converted.warnings[0]


def test_grace_notes_are_dropped():
    grace = note.Note("B4").getGrace()
    score = one_part([grace, note.Note("C5", quarterLength=2)])
    assert notes(stream_to_score(score).score) == [(0.0, 72, 2.0)]
