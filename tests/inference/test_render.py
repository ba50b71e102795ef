"""Each writer produces a real file that its format's reader accepts; voices' names, clefs and sounds;
the CLI end to end."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import music21
import numpy as np
import pytest
import symusic
from matplotlib.image import imread

from cadenza.cli import main
from cadenza.data.styles import EMBEDDED_STYLES, OWN_SOUND_FALLBACK, STYLE_SOUNDS
from cadenza.data.voices import Voice
from cadenza.errors import CadenzaError
from cadenza.inference.notation import write_musicxml
from cadenza.inference.render import dress, end_at_bar, one_line, render
from tests.conftest import make_piece


@pytest.fixture(scope="module")
def score() -> symusic.Score:
    return make_piece(3, bars=2, voices=2)


def test_every_writer_makes_a_readable_file(score, tmp_path):
    paths = render(score, tmp_path / "out", "piece", ["mid", "musicxml", "wav", "png"])
    assert sum(len(t.notes) for t in symusic.Score(str(paths["mid"])).tracks) == sum(
        len(t.notes) for t in score.tracks
    )
    parsed = music21.converter.parse(str(paths["musicxml"]))
    assert len(parsed.flatten().notes) > 0
    with wave.open(str(paths["wav"])) as audio:
        assert (audio.getframerate(), audio.getsampwidth(), audio.getnchannels()) == (44_100, 2, 2)
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
    assert np.abs(samples).max() > 1000
    image = imread(str(paths["png"]))
    assert image.shape[0] > 100 and image.shape[1] > 100


def test_unknown_format(score, tmp_path):
    with pytest.raises(CadenzaError, match="unknown output format ogg"):
        render(score, tmp_path, "piece", ["mid", "ogg"])


def test_cli_end_to_end(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "gen"
    code = main(
        [
            "generate",
            "--model",
            str(tiny_checkpoint),
            "--style",
            "folk",
            "--bars",
            "2",
            "--num",
            "2",
            "--seed",
            "9",
            "--out",
            str(out),
            "--formats",
            "mid,png",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    printed = captured.out.split()
    assert "\nkey: " in captured.err  # the key the model chose
    expected = [str(out / f"folk_9_{i}.{ext}") for i in range(2) for ext in ("mid", "png")]
    assert printed == expected and all((out / p).exists() for p in expected)
    assert main(["generate", "--model", str(tiny_checkpoint), "--style", "jazz", "--out", str(out)]) == 2
    assert "unknown style 'jazz'" in capsys.readouterr().err
    a_file = Path(expected[0])  # a file where --out wants a folder
    assert main(["generate", "--model", str(tiny_checkpoint), "--style", "folk", "--out", str(a_file)]) == 2
    assert f"{a_file}: cannot write output here" in capsys.readouterr().err
    # A misspelt option is argparse's usage error (exit status 2), not a traceback.
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--style", "folk", "--prompt_midi", "x.mid"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --prompt_midi x.mid" in capsys.readouterr().err


# --- voices: names, clefs and sounds ---------------------------------------------------------------------
SATB = ["Soprano", "Alto", "Tenor", "Bass"]


def chorale() -> symusic.Score:
    """Four voices on slots 0-3 (four pianos in General MIDI), each a scale in its own range."""
    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    for slot, low in enumerate((65, 57, 50, 41)):  # soprano from F4, a low alto from A3, tenor D3, bass F2
        track = symusic.Track(program=slot, name="Acoustic Grand Piano")
        for step, offset in enumerate((0, 2, 4, 5, 7, 9, 11, 12)):
            track.notes.append(symusic.Note(step * 480, 480, low + offset, 80))
        score.tracks.append(track)
    return score


def test_every_embedded_style_has_a_general_midi_sound():
    assert set(STYLE_SOUNDS) == set(EMBEDDED_STYLES)
    assert all(sound is None or 0 <= sound <= 127 for sound in STYLE_SOUNDS.values())
    assert 0 <= OWN_SOUND_FALLBACK <= 127


def test_a_chorale_renders_as_its_voices(tmp_path):
    voices = [Voice(slot, name) for slot, name in enumerate(SATB)]
    paths = render(chorale(), tmp_path, "chorale", ["mid", "musicxml"], voices, "bach")
    midi = symusic.Score(str(paths["mid"]))
    assert [(t.name, t.program) for t in midi.tracks] == [(name, STYLE_SOUNDS["bach"]) for name in SATB]
    parts = music21.converter.parse(str(paths["musicxml"])).parts
    assert [p.partName for p in parts] == SATB  # four parts, though all four share one sound
    for part, name in zip(parts, SATB, strict=True):
        (instrument,) = part.recurse().getElementsByClass(music21.instrument.Instrument)
        assert (instrument.instrumentName, instrument.midiProgram) == (name, STYLE_SOUNDS["bach"])
    clefs = [[type(c) for c in p.recurse().getElementsByClass(music21.clef.Clef)] for p in parts]
    # music21 alone would put this D3-D4 tenor in bass clef, and with treble-8vb allowed the A3-A4 alto too
    treble, treble8vb, bass = music21.clef.TrebleClef, music21.clef.Treble8vbClef, music21.clef.BassClef
    assert clefs == [[treble], [treble], [treble8vb], [bass]]


def test_dress_names_and_sounds_each_track_from_its_voice():
    score = chorale()
    voices = [Voice(0, "Violin I", 40), Voice(1, "", 41), Voice(3, "Cello")]  # slot 2: no voice known

    def dressed(style: str | None) -> list[tuple[str, int]]:
        return [(t.name, t.program) for t in dress(score, voices, style).tracks]

    assert dressed("classical") == [
        ("Violin I", 40),
        ("Viola", 41),  # no source name: its source instrument's
        ("Voice 3", OWN_SOUND_FALLBACK),
        ("Cello", OWN_SOUND_FALLBACK),
    ]
    assert dressed("my_style") == [("Violin I", 40), ("Viola", 41), ("Voice 3", 2), ("Cello", 3)]
    assert dressed(None) == dressed("my_style")
    assert [p for _, p in dressed("irish_fiddle")] == [40] * 4
    assert [t.program for t in score.tracks] == [0, 1, 2, 3]  # a copy: the slots are untouched
    assert [t.name for t in dress(score).tracks] == ["Voice 1", "Voice 2", "Voice 3", "Voice 4"]
    shuffled = score.copy()  # a model writes voices in any order: the score lists them by slot
    shuffled.tracks.sort(key=lambda track: -track.program)
    assert [(t.name, t.program) for t in dress(shuffled, voices, "my_style").tracks] == dressed("my_style")


def test_a_continuation_keeps_the_prompt_files_names_and_instruments(tiny_checkpoint, tmp_path, capsys):
    # Two flutes: the second is given the next free slot (74) in the token stream, yet plays a flute again.
    prompt = make_piece(5, bars=4, voices=2)
    for track, name in zip(prompt.tracks, ["Flute", "Alto Flute"], strict=True):
        track.name, track.program = name, 73
    path = tmp_path / "flutes.mid"
    prompt.dump_midi(str(path))
    args = ["generate", "--model", str(tiny_checkpoint), "--style", "bach", "--prompt", str(path)]
    args += ["--prompt_bars", "2", "--bars", "1", "--seed", "4", "--out", str(tmp_path), "--formats", "mid"]
    assert main(args) == 0
    (written,) = capsys.readouterr().out.split()
    tracks = {t.name: t.program for t in symusic.Score(written).tracks}
    assert tracks["Flute"] == 73 and tracks["Alto Flute"] == 73  # not the style's choir


def test_an_output_folder_that_cannot_be_written_fails_before_sampling(tiny_checkpoint, capsys):
    # /proc exists and no one, root included, can create a file in it
    assert main(["generate", "--model", str(tiny_checkpoint), "--out", "/proc", "--bars", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: /proc: cannot write output here") and "\n" not in err


def test_cli_says_how_much_of_a_long_prompt_the_model_saw(tiny_checkpoint, tmp_path, capsys):
    dense = tmp_path / "dense.mid"
    make_piece(5, bars=6, voices=6).dump_midi(str(dense))
    argv = ["generate", "--model", str(tiny_checkpoint), "--prompt", str(dense), "--bars", "1"]
    assert main([*argv, "--out", str(tmp_path / "out"), "--formats", "mid", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"note: the model saw the last [\d.]+ bars of .*dense.mid \(not 4\)", out)


def test_audio_stops_at_its_cap(tmp_path, monkeypatch):
    from cadenza.inference import render as render_module

    monkeypatch.setattr(render_module, "MAX_AUDIO_SECONDS", 3)
    long_piece = make_piece(2, bars=8, voices=1)  # 19 s at 100 bpm
    path = render(long_piece, tmp_path, "long", ["wav"])["wav"]
    with wave.open(str(path)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert 3 <= seconds < 5  # the cap, plus the synthesizer's release tail


def test_a_continuation_renders_its_context_and_new_bars_unless_the_whole_file_is_asked(
    tiny_checkpoint, prompt_midi, tmp_path
):
    # the prompt file has 6 bars of 4/4; 2 of them are the prompt
    def written(*extra: str) -> symusic.Score:
        out = tmp_path / ("whole" if extra else "short")
        argv = ["generate", "--model", str(tiny_checkpoint), "--prompt", str(prompt_midi), "--bars", "1"]
        assert (
            main([*argv, "--prompt_bars", "2", "--seed", "3", "--out", str(out), "--formats", "mid", *extra])
            == 0
        )
        (path,) = out.glob("*.mid")
        return symusic.Score(str(path))

    def first_onsets(score: symusic.Score) -> float:
        return min(n.time for t in score.tracks for n in t.notes) / score.ticks_per_quarter

    short, whole = written(), written("--whole_prompt", "true")
    assert whole.note_num() > short.note_num()
    assert whole.end() - short.end() == 16 * whole.ticks_per_quarter  # the 4 bars before the prompt
    assert first_onsets(short) == first_onsets(whole) == 0


def test_the_piano_roll_names_pitches_and_keeps_its_legend_off_the_notes(score):
    from cadenza.inference.render import pianoroll_figure
    from cadenza.keys import pitch_name

    assert pitch_name(60) == "C4" and pitch_name(70) == "Bb4" and pitch_name(21) == "A0"
    fig = pianoroll_figure(score, "piece")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels and all(label[0] in "CG" and label[-1].isdigit() for label in labels)
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # beside the roll, not over it
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        t.name or f"program {t.program}" for t in score.tracks
    ]


def test_a_piece_ends_at_its_last_bar_line():
    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 3, 4))
    track = symusic.Track()
    for time, duration in [(0, 480), (1440, 2000), (2400, 960), (2880, 480)]:  # bar 2 ends at 2880
        track.notes.append(symusic.Note(time, duration, 60, 80))
    score.tracks.append(track)
    cut = end_at_bar(score, 2)
    assert [(n.time, n.duration) for n in cut.tracks[0].notes] == [(0, 480), (1440, 1440), (2400, 480)]
    assert len(score.tracks[0].notes) == 4  # the input is left as it was
    assert end_at_bar(score, 4) is score  # nothing sounds past bar 4


def test_one_line_ends_each_note_where_its_voice_s_next_one_begins():
    score = symusic.Score(480)
    for program, notes in [(0, [(0, 960, 60), (480, 480, 62), (960, 2000, 64)]), (1, [(0, 1920, 48)])]:
        track = symusic.Track(program=program)
        for time, duration, pitch in notes:
            track.notes.append(symusic.Note(time, duration, pitch, 80))
        score.tracks.append(track)
    lined = one_line(score)
    assert [(n.time, n.duration) for n in lined.tracks[0].notes] == [(0, 480), (480, 480), (960, 2000)]
    assert [(n.time, n.duration) for n in lined.tracks[1].notes] == [(0, 1920)]  # another voice may sound
    assert score.tracks[0].notes[0].duration == 960


def test_a_tenor_reads_in_treble_8vb_even_when_its_notes_fit_the_treble_staff(tmp_path):
    score = symusic.Score(480)
    for name, pitches in (("Tenor", (60, 64, 67, 65)), ("Viola", (60, 64, 67, 65))):
        track = symusic.Track(name, 0)
        for i, pitch in enumerate(pitches):
            track.notes.append(symusic.Note(i * 480, 480, pitch, 80))
        score.tracks.append(track)
    path = write_musicxml(score, tmp_path / "high.musicxml")
    parts = music21.converter.parse(str(path)).parts
    clefs = [type(p.recurse().getElementsByClass(music21.clef.Clef).first()) for p in parts]
    # C4-G4: music21 would write both in treble clef; a choir's tenor reads an octave up
    assert clefs == [music21.clef.Treble8vbClef, music21.clef.TrebleClef]
    assert [n.pitch.midi for n in parts[0].recurse().notes] == [60, 64, 67, 65]  # sounding pitch kept
