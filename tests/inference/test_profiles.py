"""Style profiles on hand-made pieces, their file, `cadenza profile`, and their use in generation (the
instruments and chord size sampled, the voices named)."""

from __future__ import annotations

import json

import pytest
import symusic
from datasets import Dataset, DatasetDict

from cadenza.checkpoint import load_checkpoint
from cadenza.cli import main
from cadenza.data.profiles import (
    PROFILE_FILE,
    StyleProfile,
    load_profiles,
    piece_profile,
    save_profiles,
    style_profiles,
)
from cadenza.data.splits import SPLITS
from cadenza.data.voices import Voice, voices_to_json
from cadenza.errors import CadenzaError, InputFileError
from cadenza.inference.composer import Composer
from tests.conftest import make_piece


def with_chord(score: symusic.Score, track: int) -> symusic.Score:
    """The score with one extra note on `track`, starting with its first note: one 2-note chord."""
    score = score.copy()
    first = score.tracks[track].notes[0]
    score.tracks[track].notes.append(symusic.Note(first.time, first.duration, first.pitch + 4, 90))
    return score


def test_piece_profile_counts_programs_chords_and_lengths():
    piece = with_chord(make_piece(0, voices=3), track=1)
    programs, chords, lengths = piece_profile(piece)
    assert programs == {0, 1, 2}
    assert chords[2] == 1 and set(chords) == {1, 2}
    assert set(lengths) <= {0.5, 1.0} and sum(lengths.values()) == piece.note_num()


def test_style_profiles_keep_the_programs_of_half_the_pieces_and_the_covering_sizes():
    # Six duets and five trios: program 2 is in 5 of 11 pieces (under half); one chord in ~100s of onsets.
    pieces = [make_piece(i, voices=2) for i in range(6)] + [make_piece(i, voices=3) for i in range(6, 11)]
    pieces[0] = with_chord(pieces[0], track=0)
    profiles = style_profiles([p.dumps_midi() for p in pieces], ["duo"] * 11)
    assert profiles == {"duo": StyleProfile(programs=[0, 1], max_chord=1, pieces=11, longest=1.0)}
    chordal = [with_chord(make_piece(i, bars=1, voices=1), track=0) for i in range(3)]
    assert style_profiles([p.dumps_midi() for p in chordal], ["c"] * 3)["c"].max_chord == 2


def test_a_style_of_several_ensembles_none_in_half_its_pieces_takes_its_most_common():
    def ensemble(seed: int, programs: list[int]) -> bytes:
        piece = make_piece(seed, bars=1, voices=len(programs))
        for track, program in zip(piece.tracks, programs, strict=True):
            track.program = program
        return piece.dumps_midi()

    pieces = [ensemble(0, [0, 1, 2]), ensemble(1, [0, 1, 2]), ensemble(2, [52, 53]), ensemble(3, [54, 55])]
    pieces += [ensemble(4, [60]), ensemble(5, [61])]
    assert style_profiles(pieces, ["trecento"] * 6)["trecento"].programs == [0, 1, 2]


def test_profile_file_round_trip_and_errors(tmp_path):
    assert load_profiles(tmp_path) == {}
    profiles = {"bach": StyleProfile([0, 1, 2, 3], 1, 222)}
    save_profiles(profiles, tmp_path)
    assert load_profiles(tmp_path) == profiles
    (tmp_path / PROFILE_FILE).write_text('{"bach": {"programs": [0]}}')
    with pytest.raises(InputFileError, match=PROFILE_FILE):
        load_profiles(tmp_path)


def test_profile_command_writes_beside_the_checkpoint(tiny_checkpoint, tiny_corpus_dir, tmp_path, capsys):
    import shutil

    folder = shutil.copytree(tiny_checkpoint, tmp_path / "ckpt")
    assert main(["profile", "--model", str(folder), "--corpus", tiny_corpus_dir]) == 0
    saved = json.loads((folder / PROFILE_FILE).read_text())
    assert saved["alpha"]["programs"] == [0] and saved["beta"]["programs"] == [0, 1]
    assert "profiles written" in capsys.readouterr().out
    assert main(["profile", "--model", str(tmp_path / "nope"), "--corpus", tiny_corpus_dir]) == 2
    (tmp_path / "not_a_checkpoint").mkdir()
    assert main(["profile", "--model", str(tmp_path / "not_a_checkpoint"), "--corpus", tiny_corpus_dir]) == 2
    assert "not a cadenza checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "not_a_checkpoint" / PROFILE_FILE).exists()


def notes_by_program(score: symusic.Score) -> dict[int, list[int]]:
    return {t.program: [n.time for n in t.notes] for t in score.tracks}


def test_generation_follows_the_profile_unless_told_otherwise(tiny_checkpoint):
    model, tokenizer = load_checkpoint(tiny_checkpoint)
    composer = Composer(model, tokenizer, {"bach": StyleProfile(programs=[5, 6], max_chord=1, pieces=1)})
    for piece in composer.generate("bach", bars=2, num=4, seed=3):
        onsets = notes_by_program(piece.score)
        assert set(onsets) <= {5, 6}
        assert all(len(times) == len(set(times)) for times in onsets.values())  # one note per onset
    free = composer.generate("bach", bars=2, num=4, seed=3, use_profile=False)
    assert any(set(notes_by_program(p.score)) - {5, 6} for p in free)
    told = composer.generate("bach", bars=4, num=2, seed=3, programs=list(range(100, 128)))
    used = set().union(*(notes_by_program(p.score) for p in told))
    assert used and used <= set(range(100, 128))
    with pytest.raises(CadenzaError, match="need constrained"):
        composer.generate("bach", programs=[0], constrained=False)
    with pytest.raises(CadenzaError, match="programs must be"):
        composer.generate("bach", programs=[300])


DUO = [Voice(0, "Cantus"), Voice(1, "Tenor", 53)]


def test_style_profiles_keep_each_slots_most_common_name_and_instrument():
    pieces = [make_piece(i, bars=1, voices=2).dumps_midi() for i in range(4)]
    voices = [
        [Voice(0, "Soprano"), Voice(1, "Alto", 52)],
        [Voice(0, "Soprano"), Voice(1, "", 53)],
        [Voice(0, "S."), Voice(1, "Alto", 52)],
        [Voice(0, "Violin I", 40), Voice(1, "Viola", 41)],
    ]
    profiles = style_profiles(pieces, ["chorale"] * 3 + ["quartet"], [voices_to_json(v) for v in voices])
    assert profiles["chorale"].voices == [Voice(0, "Soprano"), Voice(1, "Alto", 52)]
    assert profiles["quartet"].voices == voices[3]
    assert style_profiles(pieces, ["chorale"] * 4)["chorale"].voices == []  # no voices column


def test_profiles_with_voices_round_trip_and_old_files_still_load(tmp_path):
    profiles = {"bach": StyleProfile([0, 1], 1, 9, [Voice(0, "Soprano"), Voice(1, "Alto", 52)])}
    save_profiles(profiles, tmp_path)
    assert load_profiles(tmp_path) == profiles
    (tmp_path / PROFILE_FILE).write_text('{"bach": {"programs": [0, 1], "max_chord": 1, "pieces": 9}}')
    assert load_profiles(tmp_path) == {"bach": StyleProfile([0, 1], 1, 9)}
    (tmp_path / PROFILE_FILE).write_text(
        '{"bach": {"programs": [0], "max_chord": 1, "pieces": 1, "voices": [1]}}'
    )
    with pytest.raises(InputFileError, match=PROFILE_FILE):
        load_profiles(tmp_path)


def test_profile_command_reads_the_corpus_voices(tiny_checkpoint, tmp_path, capsys):
    import shutil

    rows = [
        {"style": "duo", "midi": make_piece(i, bars=1).dumps_midi(), "voices": voices_to_json(DUO)}
        for i in range(2)
    ]
    DatasetDict({split: Dataset.from_list(rows) for split in SPLITS}).save_to_disk(tmp_path / "corpus")
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "ckpt")
    assert main(["profile", "--model", str(folder), "--corpus", str(tmp_path / "corpus")]) == 0
    assert load_profiles(folder)["duo"].voices == DUO
    assert "voices: Cantus, Tenor" in capsys.readouterr().out


def test_a_fresh_piece_has_the_profiles_voices(tiny_checkpoint):
    model, tokenizer = load_checkpoint(tiny_checkpoint)
    composer = Composer(model, tokenizer, {"bach": StyleProfile([0, 1, 2], 1, 1, DUO)})
    known = {voice.slot: voice for voice in DUO}
    names = set()
    for use_profile in (True, False):  # names are not a sampling limit: they apply either way
        for piece in composer.generate("bach", bars=2, num=3, seed=3, use_profile=use_profile):
            assert piece.sound_style == "bach"
            assert piece.voices == [known.get(t.program, Voice(t.program)) for t in piece.score.tracks]
            names |= {voice.name for voice in piece.voices}
    assert names & {"Cantus", "Tenor"}
