from pathlib import Path

import pytest
from symusic import TimeSignature

from cadenza.data import checks, workers
from cadenza.data.loading import load_pieces, normalize_score, read_pieces
from cadenza.errors import InputFileError
from cadenza.keys import analysed_key
from tests.data.conftest import make_score


def test_normalize_score_drops_empty_and_drum_tracks_and_separates_programs():
    score = make_score(
        [
            (0, False, [(0, 1, 60)]),
            (0, False, [(0, 1, 64)]),
            (7, False, [(0, 1, 67)]),  # piano family is full from 7 onwards: wraps to 1, 2...
            (0, True, [(0, 1, 36)]),
            (40, False, []),
            (40, False, [(0, 1, 55)]),
            (0, False, [(0, 1, 48)]),
        ]
    )
    normalized = normalize_score(score)
    assert [track.program for track in normalized.tracks] == [0, 1, 7, 40, 2]
    assert [track.notes[0].pitch for track in normalized.tracks] == [60, 64, 67, 55, 48]
    assert len(score.tracks) == 7  # the input is left alone


def test_normalize_score_leaves_family_when_it_is_full():
    score = make_score([(program, False, [(0, 1, 60)]) for program in range(8)] + [(3, False, [(0, 1, 60)])])
    assert normalize_score(score).tracks[-1].program == 8


def test_load_midi(two_voice_midi: Path):
    (piece,) = load_pieces(two_voice_midi)
    assert piece.tune is None
    assert piece.title == "two_voices"
    assert piece.num_parts == 2
    assert piece.num_notes == 5
    assert [track.program for track in piece.score.tracks] == [0, 1]
    assert piece.tempo == 120.0
    assert piece.key == "C major"  # guessed from the notes: the MIDI has no key signature
    assert piece.lyrics == []


def test_load_musicxml_with_lyrics(chorale_mxl: Path):
    (piece,) = load_pieces(chorale_mxl)
    assert piece.key == "D major"
    assert piece.time_signatures == ["3/4"]
    assert piece.num_bars == 1
    assert [n.pitch for n in piece.score.tracks[0].notes] == [62, 66, 69]
    assert piece.lyrics == [
        {"voice": 0, "onset": 0.0, "pitch": 62, "text": "Hal", "syllabic": "begin"},
        {"voice": 0, "onset": 1.0, "pitch": 66, "text": "le", "syllabic": "middle"},
        {"voice": 0, "onset": 2.0, "pitch": 69, "text": "lu", "syllabic": "end"},
    ]


def test_load_abc_collection_gives_one_piece_per_tune(abc_collection: Path):
    first, second = load_pieces(abc_collection)
    assert (first.tune, first.title, first.key, first.time_signatures) == (
        1,
        "First Tune",
        "G major",
        ["3/4"],
    )
    assert (second.tune, second.title, second.key, second.time_signatures) == (
        2,
        "Second Tune",
        "D minor",
        ["4/4"],
    )
    assert first.num_notes == 16 and second.num_notes == 10


def test_abc_file_with_one_tune_per_voice_gives_one_piece(tmp_path: Path):
    # The Josquin files in music21's corpus write each voice as its own X: tune under the piece's title.
    path = tmp_path / "chanson.abc"
    path.write_text(
        "X:1\nT:Chanson\nT:Cantus\nM:4/4\nL:1/4\nK:C\nc d e f|g4|]\n\n"
        "X:2\nT:Chanson\nT:Bassus\nM:4/4\nL:1/4\nK:C\nC, D, E, F,|G,4|]\n"
    )
    (piece,) = load_pieces(path)
    assert piece.tune is None
    assert piece.num_parts == 2
    tracks = sorted(piece.score.tracks, key=lambda track: track.notes[0].pitch)
    assert [[note.pitch for note in track.notes] for track in tracks] == [
        [48, 50, 52, 53, 55],
        [72, 74, 76, 77, 79],
    ]
    assert tracks[0].notes[0].time == tracks[1].notes[0].time == 0


def test_oneills_tune_with_shared_time_signature_is_kept(tmp_path: Path):
    import music21
    from music21.exceptions21 import StreamException
    from music21.midi.translate import music21ObjectToMidiFile

    # tune 22 of this O'Neill file shares a TimeSignature object, which music21's MIDI writer rejects
    text = (Path(music21.__file__).parent / "corpus" / "oneills1850" / "0001-0050.abc").read_text()
    tune = "X:" + next(
        block for block in text.split("\nX:") if block.startswith(" 22\n") or block.startswith("22\n")
    )
    path = tmp_path / "tune22.abc"
    path.write_text(tune)
    with pytest.raises(StreamException, match="already found"):
        music21ObjectToMidiFile(music21.converter.parse(path))
    (piece,) = load_pieces(path)
    assert piece.num_notes > 50


def _bad(path: Path, problem: str) -> None:
    with pytest.raises(InputFileError) as caught:
        load_pieces(path)
    assert caught.value.path.startswith(str(path))
    assert problem in caught.value.problem
    assert "\n" not in str(caught.value)


def test_missing_file(tmp_path: Path):
    _bad(tmp_path / "nope.mid", "file not found")


def test_unsupported_extension(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("hello")
    _bad(tmp_path / "notes.txt", "unsupported format .txt; expected one of .mid .midi")


def test_empty_file(tmp_path: Path):
    (tmp_path / "empty.mid").write_bytes(b"")
    _bad(tmp_path / "empty.mid", "empty file")


def test_not_midi_bytes(tmp_path: Path):
    (tmp_path / "fake.mid").write_bytes(b"this is not midi at all")
    _bad(tmp_path / "fake.mid", "not a MIDI file")


def test_truncated_midi(tmp_path: Path, two_voice_midi: Path):
    data = two_voice_midi.read_bytes()
    (tmp_path / "cut.mid").write_bytes(data[: len(data) // 2])
    _bad(tmp_path / "cut.mid", "truncated MIDI file")


def test_every_truncation_of_a_midi_gives_the_same_answer_every_time(tmp_path: Path):
    # symusic read past the end of some cuts: the same bytes gave an error one run and notes the next
    from tests.conftest import make_piece

    data = make_piece(3, bars=8, voices=3).dumps_midi()
    path = tmp_path / "cut.mid"
    for cut in range(8, len(data), 3):
        path.write_bytes(data[:cut])
        answers = set()
        for _ in range(4):
            try:
                answers.add(str(load_pieces(path)[0].score.note_num()))
            except InputFileError as err:
                answers.add(err.problem)
        assert len(answers) == 1, (cut, answers)
        (answer,) = answers
        assert "truncated MIDI file" in answer or "not a MIDI" in answer or "corrupt MIDI" in answer


def test_corrupt_musicxml(tmp_path: Path):
    (tmp_path / "broken.musicxml").write_text("<score-partwise><part id='P1'><measure")
    _bad(tmp_path / "broken.musicxml", "cannot parse .musicxml file")


def test_no_notes(tmp_path: Path):
    make_score([(0, False, [])]).dump_midi(tmp_path / "silent.mid")
    _bad(tmp_path / "silent.mid", "no notes")


def test_drums_only_says_so(tmp_path: Path):
    make_score([(0, True, [(0, 480, 36)])]).dump_midi(tmp_path / "drums.mid")
    _bad(tmp_path / "drums.mid", "only drums, which cadenza leaves out: no pitched notes")


def test_too_many_notes(two_voice_midi: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(checks, "MAX_NOTES", 4)
    _bad(two_voice_midi, "5 notes; the limit is 4")


def test_too_big(two_voice_midi: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(checks, "MAX_FILE_BYTES", 10)
    _bad(two_voice_midi, "the limit is 0 MB")


def test_bad_tune_in_abc_is_reported_with_its_number(tmp_path: Path):
    path = tmp_path / "mixed.abc"
    path.write_text(
        "X:1\nT:Good\nM:2/4\nL:1/8\nK:C\nCDEF|GABc|]\n\nX:7\nT:Rests only\nM:2/4\nL:1/8\nK:C\nz4|z4|]\n"
    )
    pieces, errors = read_pieces(path)
    assert [piece.tune for piece in pieces] == [1]
    assert [str(error) for error in errors] == [f"{path}#7: no notes"]


def test_too_many_tracks(two_voice_midi: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(checks, "MAX_TRACKS", 1)
    _bad(two_voice_midi, "2 tracks; the limit is 1")


def _two_notes(path: Path, tpq: int, second_at: int, second_lasts: int, numerator: int = 4) -> Path:
    score = make_score([(0, False, [(0, tpq, 60), (second_at, second_lasts, 62)])], tpq=tpq)
    score.time_signatures.append(TimeSignature(0, numerator, 16 if numerator == 1 else 4))
    score.dump_midi(path)
    return path


def test_a_few_bytes_that_last_for_hours_are_refused(tmp_path: Path):
    # 48 bytes: a second note at tick 2**30 would be millions of bars, tokens and seconds of audio
    far = _two_notes(tmp_path / "far.mid", 1, 2**30, 1)
    assert far.stat().st_size < 64
    _bad(far, "quarter notes; the limit is 20,000")
    _bad(_two_notes(tmp_path / "long.mid", 480, 480, 300 * 480), "a note lasts 300 quarter notes")
    # 12,000 quarter notes are allowed, but not in 48,000 bars of 1/16
    _bad(_two_notes(tmp_path / "bars.mid", 480, 12_000 * 480, 480, numerator=1), "48,004 bars")


FOREVER_MUSICXML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1"><part-list><score-part id="P1"><part-name>Voice</part-name></score-part>
</part-list><part id="P1"><measure number="1"><attributes><divisions>1</divisions></attributes>
<note><pitch><step>C</step><octave>4</octave></pitch><duration>1073741824</duration></note>
</measure></part></score-partwise>
"""


def test_a_musicxml_note_lasting_for_ever_is_refused(tmp_path: Path):
    path = tmp_path / "forever.musicxml"
    path.write_text(FOREVER_MUSICXML)  # one note of 2**30 quarter notes (music21 itself cannot write it)
    _bad(path, "quarter notes; the limit is 20,000")


def test_a_user_file_that_reads_for_too_long_is_stopped(tmp_path: Path, two_voice_midi: Path):
    import time

    from cadenza.data.loading import load_pieces_limited
    from cadenza.data.workers import run_limited

    start = time.perf_counter()
    with pytest.raises(InputFileError, match="slow.abc: took longer than 1 s to read; stopped"):
        run_limited(time.sleep, (60,), 1, "slow.abc")  # stands in for a parser in a loop
    assert time.perf_counter() - start < 30
    # the next file gets a fresh worker, and a refusal inside the worker arrives whole
    assert load_pieces_limited(two_voice_midi)[0].num_notes == 5
    with pytest.raises(InputFileError, match="missing.mid: file not found"):
        load_pieces_limited(tmp_path / "missing.mid")


def test_a_stuck_read_does_not_hold_up_the_next_file(two_voice_midi: Path):
    import threading
    import time

    from cadenza.data.loading import load_pieces_limited
    from cadenza.data.workers import run_limited

    outcome = []

    def stuck():
        try:
            run_limited(time.sleep, (60,), 12, "stuck.abc")
        except InputFileError as err:
            outcome.append(str(err))

    thread = threading.Thread(target=stuck)
    thread.start()
    deadline = time.monotonic() + 10
    while workers._idle_workers.qsize() == workers.READ_WORKERS:  # until the stuck file holds a worker
        assert time.monotonic() < deadline, "the stuck read never took a worker"
        time.sleep(0.01)
    assert load_pieces_limited(two_voice_midi)[0].num_notes == 5  # read by the other worker meanwhile
    assert thread.is_alive()
    thread.join()
    assert outcome == ["stuck.abc: took longer than 12 s to read; stopped"]


def test_a_user_file_that_needs_too_much_memory_is_refused():
    from cadenza.data.workers import READ_MEMORY_BYTES, run_limited

    with pytest.raises(InputFileError, match="^big.abc: needs more than 2 GB of memory to read; stopped$"):
        run_limited(bytearray, (READ_MEMORY_BYTES,), 30, "big.abc")  # stands in for a reader's tables


@pytest.mark.parametrize(
    "melody",
    [
        [(67, 2), (71, 1), (74, 1), (72, 1), (69, 1), (66, 1), (67, 4)],  # G major
        [(69, 2), (72, 1), (76, 2), (68, 1), (69, 3), (64, 1), (65, 1), (62, 1)],  # A minor
        [(62, 1), (65, 1), (69, 1), (72, 1), (70, 1), (69, 2), (67, 1), (65, 1), (64, 1), (62, 4)],
    ],
)
def test_analysed_key_is_music21_analysis_of_the_same_notes(melody: list[tuple[int, int]]):
    from music21 import note, stream

    notes, time = [], 0
    for pitch, beats in melody:
        notes.append((time, beats * 480, pitch))
        time += beats * 480
    written = stream.Stream([note.Note(pitch, quarterLength=beats) for pitch, beats in melody])
    expected = written.analyze("key")
    analysed = analysed_key(make_score([(0, False, notes)]))
    assert analysed == f"{expected.tonic.name.replace('-', 'b')} {expected.mode}"


def test_a_bare_key_signature_is_analysed_not_taken_for_its_major(tmp_path: Path):
    from music21 import key, note, stream

    part = stream.Part([key.KeySignature(0)])  # no sharps or flats, no mode: A minor by its notes
    part.append([note.Note(pitch, quarterLength=1) for pitch in (69, 72, 76, 69, 71, 68, 69, 64, 69)])
    path = tmp_path / "bare.musicxml"
    stream.Score([part]).write("musicxml", fp=path)
    assert load_pieces(path)[0].key == "A minor"
