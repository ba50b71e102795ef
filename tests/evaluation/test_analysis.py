"""The learner's view (`evaluation.analysis`, `evaluation.learner`) on hand-made progressions whose
analysis is worked out by hand, a single line, and bad files."""

from __future__ import annotations

import csv
import json

import pytest

from cadenza.errors import InputFileError
from cadenza.evaluation.analysis import analyse
from cadenza.evaluation.learner import COLOURS, learner_html, read_score, write_analysis

# I - IV - V - I in C major, four quarter notes, in textbook voice leading (no fault); per voice, top down.
CLEAN = {
    "Soprano": ["C5", "C5", "B4", "C5"],
    "Alto": ["G4", "A4", "G4", "G4"],
    "Tenor": ["E4", "F4", "D4", "E4"],
    "Bass": ["C3", "F3", "G3", "C3"],
}
# The same with the tenor on C4 in the IV chord: tenor and bass go F3-C4 to G3-D4, one parallel fifth,
# arriving on beat 3 of bar 1.
FIFTHS = {**CLEAN, "Tenor": ["E4", "C4", "D4", "E4"]}


def chorale(voices: dict[str, list[str]], fermata_last: bool = True):
    from music21 import expressions, meter, note, stream

    score = stream.Score()
    for name, pitches in voices.items():
        part = stream.Part()
        part.partName = name
        measure = stream.Measure(number=1)
        measure.append(meter.TimeSignature("4/4"))
        for index, name_with_octave in enumerate(pitches):
            n = note.Note(name_with_octave, quarterLength=1.0)
            if fermata_last and index == len(pitches) - 1:
                n.expressions.append(expressions.Fermata())
            measure.append(n)
        part.append(measure)
        score.insert(0, part)
    return score


def test_a_clean_progression_is_labelled_and_has_no_fault():
    analysis = analyse(chorale(CLEAN))
    assert analysis.key == "C major"
    assert [(lab.bar, lab.beat, lab.numeral) for lab in analysis.labels] == [
        (1, 1.0, "I"), (1, 2.0, "IV"), (1, 3.0, "V"), (1, 4.0, "I"),
    ]  # fmt: skip
    assert analysis.faults == []
    assert [(c.bar, c.beat, c.kind) for c in analysis.cadences] == [(1, 4.0, "authentic")]
    assert analysis.steps == 18  # 6 pairs of voices x 3 moves, every pair with a voice moving


def test_one_parallel_fifth_is_exactly_that_fault_at_its_bar_and_beat():
    analysis = analyse(chorale(FIFTHS))
    assert [(f.bar, f.beat, f.kind, f.voices) for f in analysis.faults] == [
        (1, 3.0, "parallel fifths", ("Tenor", "Bass"))
    ]
    assert analysis.faults[0].detail == "C4-F3 to D4-G3"


def test_a_single_line_gets_its_key_phrases_and_cadences_but_no_chords():
    from music21 import note, stream

    part = stream.Part()
    # bar 1: G A B C; bar 2: D (half) and a half rest, a phrase ending on the fifth; bar 3: B A G (half)
    for pitch, length in [("G4", 1), ("A4", 1), ("B4", 1), ("C5", 1), ("D5", 2), (None, 2), ("B4", 1),
                          ("A4", 1), ("G4", 2)]:  # fmt: skip
        part.append(note.Note(pitch, quarterLength=length) if pitch else note.Rest(quarterLength=length))
    analysis = analyse(stream.Score([part]).makeNotation())
    assert analysis.key == "G major" and analysis.labels == [] and analysis.faults == []
    assert analysis.phrases == [(1, 2), (3, 3)]
    assert [(c.bar, c.beat, c.kind) for c in analysis.cadences] == [(2, 1.0, "half"), (3, 3.0, "authentic")]


def test_the_files_carry_the_labels_the_colours_and_every_item(tmp_path):
    source = tmp_path / "fifths.musicxml"
    chorale(FIFTHS).write("musicxml", fp=str(source))
    written = write_analysis(source, tmp_path / "out")
    xml = written.musicxml.read_text()
    for numeral in ("I", "IV", "V"):
        assert f"<words>{numeral}</words>" in xml
    assert 'placement="below"' in xml and "authentic cadence" in xml
    fifths = COLOURS["parallel fifths"].upper()
    assert xml.count(f'<note color="{fifths}"') == 2  # the D4 and the G3 it arrives on
    rows = list(csv.DictReader(written.csv.open()))
    assert [r["name"] for r in rows if r["what"] == "fault"] == ["parallel fifths"]
    assert [r["name"] for r in rows if r["what"] == "label"] == ["I", "IV", "V", "I"]
    assert json.loads(written.json.read_text())["faults"][0]["voices"] == ["Tenor", "Bass"]
    assert written.svgs and 'id="bar-1"' in written.svgs[0].read_text()
    view = learner_html(written)
    assert '<a href="#bar-1">bar 1, beat 3</a>' in view and "parallel fifths: Tenor and Bass" in view


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("notes.txt", "not music", "unsupported"),
        ("broken.musicxml", "<score-partwise><part", "cannot read it as a score"),
        ("empty.musicxml", "<score-partwise/>", "it has no notes to analyse"),
    ],
)
def test_a_bad_file_is_one_line_naming_it(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputFileError, match=problem) as caught:
        read_score(path)
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_the_analyze_command_writes_every_file(tmp_path, capsys):
    from cadenza.cli import main

    source = tmp_path / "clean.musicxml"
    chorale(CLEAN).write("musicxml", fp=str(source))
    assert main(["analyze", str(source), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("key: C major; labelled beats: 4, cadences: 1, faults: 0 in 18 voice-leading steps")
    assert {p.suffix for p in (tmp_path / "out").iterdir()} == {".musicxml", ".svg", ".json", ".csv"}
    assert main(["analyze", str(tmp_path / "missing.mid")]) == 2
