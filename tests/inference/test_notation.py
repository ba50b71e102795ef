"""MusicXML a musician opens: info, key signature and spelling, equal measures, whole tempos, read back
by music21 and engraved by verovio."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import music21
import pytest
import symusic
import verovio

from cadenza.data.voices import Voice
from cadenza.inference.notation import ScoreInfo, engrave, notation_key, spell
from cadenza.inference.render import render

MEI = "{http://www.music-encoding.org/ns/mei}"


@pytest.mark.parametrize(
    ("midi", "key", "name"),
    [
        (61, ("D", "major"), "C#4"),  # diatonic
        (61, ("A-", "major"), "D-4"),
        (60, ("C#", "major"), "B#3"),  # the octave follows the letter
        (59, ("G-", "major"), "C-4"),
        (68, ("A", "minor"), "G#4"),  # the leading tone of a minor key
        (66, ("A", "minor"), "F#4"),  # its raised 6th
        (61, ("C", "minor"), "D-4"),  # the Neapolitan
        (64, ("C", "minor"), "E4"),  # a Picardy third
        (66, ("C", "major"), "F#4"),  # V/V
        (70, ("C", "major"), "B-4"),  # V/IV
        (74, ("F#", "major"), "C##5"),  # V/vi in F# major: A# C## E#
    ],
)
def test_spell_names_a_pitch_in_its_key(midi, key, name):
    assert spell(midi, *key) == name
    assert music21.pitch.Pitch(name).midi == midi


@pytest.mark.parametrize(
    ("asked", "written"),
    [
        ("Db minor", ("C#", "minor")),
        ("A# minor", ("B-", "minor")),
        ("Db", ("D-", "major")),
        ("C", ("C", "major")),
    ],
)
def test_the_key_signature_takes_the_spelling_with_fewest_accidentals(asked, written):
    key = notation_key(asked)
    assert (key.tonic.name, key.mode) == written


def uneven_score() -> symusic.Score:
    """Three voices in 3/4 over four bars, the lower two falling silent in bars 2 and 3 (music21 alone writes
    4/2/3 measures), a tempo token's odd value, and A minor's G# and F# beside naturals."""
    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 3, 4))
    score.tempos.append(symusic.Tempo(0, 121.29))
    melody = [69, 71, 72, 74, 76, 77, 76, 74, 72, 71, 68, 69]  # A B C D E F E D C B G# A
    lines = {0: melody, 1: [64, 62, 60, 66, 68, 69], 2: [45, 52, 57]}
    for slot, pitches in lines.items():
        track = symusic.Track(program=slot)
        for step, pitch in enumerate(pitches):
            track.notes.append(symusic.Note(step * 480, 480, pitch, 80))
        score.tracks.append(track)
    return score


def test_musicxml_reads_back_as_a_musician_expects(tmp_path):
    voices = [Voice(0, "Soprano"), Voice(1, "Alto"), Voice(2, "Bass")]
    info = ScoreInfo(title="bach, seed 7", key="A minor")
    path = render(uneven_score(), tmp_path, "piece", ["musicxml"], voices, "bach", info)["musicxml"]
    parsed = music21.converter.parse(str(path))
    assert (parsed.metadata.bestTitle, parsed.metadata.composer) == ("bach, seed 7", "cadenza")
    assert "Music21" not in path.read_text()
    for part in parsed.parts:
        assert len(part.getElementsByClass(music21.stream.Measure)) == 4
        assert [ts.ratioString for ts in part.recurse().getElementsByClass(music21.meter.TimeSignature)] == [
            "3/4"
        ]
        (signature,) = part.recurse().getElementsByClass(music21.key.KeySignature)
        assert signature.sharps == 0 and getattr(signature, "mode", "minor") == "minor"
    names = [n.pitch.name for n in parsed.parts[0].recurse().notes]
    assert names == ["A", "B", "C", "D", "E", "F", "E", "D", "C", "B", "G#", "A"]
    assert [n.pitch.name for n in parsed.parts[1].recurse().notes] == ["E", "D", "C", "F#", "G#", "A"]
    marks = [part.recurse().getElementsByClass(music21.tempo.MetronomeMark) for part in parsed.parts]
    assert [m.number for m in marks[0]] == [121]  # once, above the top part (MuseScore printed every copy)
    assert all(len(part_marks) == 0 for part_marks in marks[1:])


def test_without_an_asked_key_the_signature_is_the_analysed_one(tmp_path):
    score = uneven_score()
    for track in score.tracks:  # up a whole tone: B minor, two sharps
        for note in track.notes:
            note.pitch += 2
    path = render(score, tmp_path, "piece", ["musicxml"])["musicxml"]
    parsed = music21.converter.parse(str(path))
    (signature,) = parsed.parts[0].recurse().getElementsByClass(music21.key.KeySignature)
    assert signature.sharps == 2
    assert "A#" in [n.pitch.name for n in parsed.parts[0].recurse().notes]  # the leading tone, not Bb


def test_verovio_engraves_every_part_in_every_measure(tmp_path):
    path = render(uneven_score(), tmp_path, "piece", ["musicxml"], info=ScoreInfo("t", key="A minor"))
    path = path["musicxml"]
    toolkit = verovio.toolkit()
    assert toolkit.loadFile(str(path))
    measures = ET.fromstring(toolkit.getMEI()).iter(f"{MEI}measure")
    staves = [len(measure.findall(f"{MEI}staff")) for measure in measures]
    assert staves == [3, 3, 3, 3]
    pages = engrave(path)
    assert pages and all(page.lstrip().startswith("<svg") or "<svg" in page[:200] for page in pages)


def test_a_continuation_marks_where_its_new_bars_begin(tiny_checkpoint, prompt_midi, tmp_path):
    from cadenza.inference.composer import Composer
    from cadenza.inference.render import pianoroll_figure, piece_info

    (piece,) = Composer.from_pretrained(tiny_checkpoint).generate(
        "bach", bars=2, seed=3, prompt_midi=prompt_midi, prompt_bars=2
    )
    bar = 4 * piece.score.ticks_per_quarter  # the prompt file is in 4/4: its bars 5 and 6 are the prompt
    assert (piece.context_start, piece.new_start) == (4 * bar, 6 * bar)
    info = piece_info(piece)
    assert info.seam == 2 * bar and piece_info(piece, whole=True).seam == 6 * bar
    assert piece_info(piece.__class__(**{**vars(piece), "context_start": 0, "new_start": 0})).seam is None

    path = render(piece.excerpt(), tmp_path, "piece", ["musicxml"], piece.voices, info=info)["musicxml"]
    top = music21.converter.parse(str(path)).parts[0]
    (words,) = top.recurse().getElementsByClass(music21.expressions.TextExpression)
    assert words.content == "new bars" and words.getContextByClass(music21.stream.Measure).number == 3

    fig = pianoroll_figure(piece.excerpt(), "piece", info)
    (ax,) = fig.axes
    assert [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"] == [8.0]
    assert [text.get_text().strip() for text in ax.texts] == ["new bars"]


def test_a_random_model_with_a_new_meter_every_bar_still_engraves(tiny_checkpoint, tmp_path):
    """Bars of the untrained model in a new meter every bar across a dozen parts (generation holds one
    meter now; a user's file may not): the writer once failed on such pieces (appended measures
    overlapping the last one after a meter change)."""
    import dataclasses

    from cadenza.inference.composer import Composer
    from cadenza.inference.render import piece_info

    composer = Composer.from_pretrained(tiny_checkpoint)
    tok = composer.tokenizer
    for seed in range(4):
        bars = [
            composer.generate("bach", bars=1, seed=seed * 10 + i, time_signature=meter)[0]
            for i, meter in enumerate(["4/4", "3/4", "6/8", "2/2", "9/8", "4/4", "3/2", "2/4"])
        ]
        music = [t for bar in bars for t in tok.music_ids(bar.tokens)]
        tokens = [*bars[0].tokens[:3], *music, tok.eos_id]
        piece = dataclasses.replace(bars[0], score=tok.decode(tokens), tokens=tokens, bars=8)
        assert len({(ts.numerator, ts.denominator) for ts in piece.score.time_signatures}) > 2
        info = piece_info(piece)
        path = render(piece.score, tmp_path, f"s{seed}", ["musicxml"], piece.voices, "bach", info)["musicxml"]
        toolkit = verovio.toolkit()
        assert toolkit.loadFile(str(path))
        staves = {
            len(m.findall(f"{MEI}staff")) for m in ET.fromstring(toolkit.getMEI()).iter(f"{MEI}measure")
        }
        assert staves == {len(music21.converter.parse(str(path)).parts)}


def test_verovio_engraves_from_any_thread(tmp_path):
    """Gradio runs handlers in worker threads, where verovio's wheel once lost its fonts."""
    from concurrent.futures import ThreadPoolExecutor

    path = render(uneven_score(), tmp_path, "piece", ["musicxml"])["musicxml"]
    with ThreadPoolExecutor(2) as pool:
        pages = [pool.submit(engrave, path) for _ in range(4)]
        assert all(future.result() for future in pages)


def test_a_songs_lines_of_verse_print_as_lines_of_music(tmp_path):
    from cadenza.inference.notation import write_musicxml

    # two lines of verse in 4/4, quarter notes: "Ky-ri-e," ends in bar 1, "e-lei-son," in bar 2 (after a
    # half rest), "Chri-ste." ends the song in bar 3: systems break before bars 2 and 3, not after the last.
    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    track = symusic.Track(program=0)
    sung = [(0, "Ky-"), (1, "ri-"), (2, "e,"), (4, "e-"), (5, "lei-"), (6, "son,"), (8, "Chri-"), (9, "ste.")]
    for beat, text in sung:
        track.notes.append(symusic.Note(beat * 480, 480, 67, 80))
        track.lyrics.append(symusic.TextMeta(beat * 480, text))
    score.tracks.append(track)
    path = write_musicxml(score, tmp_path / "song.musicxml", ScoreInfo(title="song", key="C major"))
    root = ET.parse(path).getroot()
    breaks = [
        int(measure.get("number"))
        for measure in root.iter("measure")
        if any(p.get("new-system") == "yes" for p in measure.iter("print"))
    ]
    assert breaks == [2, 3]
