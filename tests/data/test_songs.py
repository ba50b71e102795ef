"""Texted melodies from real scores: syllables on their notes, through MIDI files, into a song corpus
that keeps its pieces' splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import music21
import pytest
import symusic

from cadenza.data.corpus import CorpusBuildArgs, build_corpus, embedded_root, load_corpus
from cadenza.data.songs import SongCorpusArgs, build_songs, language_of
from cadenza.data.streams import song_scores, song_syllables

CHORALES = [
    "bwv10.7", "bwv11.6", "bwv110.7", "bwv111.6", "bwv113.8", "bwv114.7", "bwv117.4", "bwv119.9",
    "bwv120.6", "bwv121.6", "bwv122.6", "bwv123.6",
]  # fmt: skip


@pytest.fixture(scope="module")
def chorale_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("chorales")
    for name in CHORALES:
        shutil.copy(embedded_root() / "bach" / f"{name}.mxl", folder / f"{name}.mxl")
    return folder


def test_a_chorale_soprano_is_a_song_with_its_syllables_on_its_notes():
    (song,) = song_scores(music21.corpus.parse("bach/bwv10.7"))  # only the soprano is texted
    track = song.tracks[0]
    assert track.name == "Soprano"
    onsets = [note.time for note in track.notes]
    assert len(set(onsets)) == len(onsets)  # one line
    assert {lyric.time for lyric in track.lyrics} <= set(onsets)
    assert [lyric.text for lyric in track.lyrics[:5]] == ["Mei-", "ne", "Seel’", "er-", "hebt"]
    items = song_syllables(song)
    assert items[:3] == [("Mei", False), ("ne", True), ("Seel’", True)]
    assert sum(item is None for item in items) == len(track.notes) - len(track.lyrics)  # melisma notes


def test_a_song_that_opens_with_an_upbeat_keeps_its_bar_lines():
    # BWV 117.4 opens with a quarter-note upbeat: its first syllable is on the fourth beat of bar 0, so
    # every downbeat of the chorale falls on a bar line (from 0, each would sit a beat early).
    song = song_scores(music21.corpus.parse("bach/bwv117.4"))[0]
    tpq = song.ticks_per_quarter
    onsets = sorted(note.time / tpq for note in song.tracks[0].notes)
    assert onsets[:3] == [3.0, 4.0, 5.0]
    assert [(ts.time, ts.numerator, ts.denominator) for ts in song.time_signatures] == [(0, 4, 4)]
    assert [tempo.time for tempo in song.tempos] == [0]
    assert song_syllables(song)[:4] == [("Sei", True), ("Lob", True), ("und", True), ("Ehr'", True)]
    unpadded = song_scores(music21.corpus.parse("bach/bwv10.7"))[0]  # no upbeat: from 0, as before
    assert min(note.time for note in unpadded.tracks[0].notes) == 0


def test_the_hyphens_written_into_the_madrigals_texts_become_syllables_that_go_on():
    songs = song_scores(music21.corpus.parse("monteverdi/madrigal.3.16"))
    assert len(songs) == 5  # every voice is texted
    texts = [lyric.text for lyric in songs[0].tracks[0].lyrics]
    assert texts[:4] == ["Ma", "do-", "ve,", "oh"]  # the source writes "doú ve,"
    assert not any(text.endswith(("ú", "\xad")) for song in songs for text in map(str, song.tracks[0].lyrics))


def test_lyrics_survive_a_midi_file(tmp_path):
    (song,) = song_scores(music21.corpus.parse("bach/bwv10.7"))
    song.dump_midi(str(tmp_path / "song.mid"))
    back = symusic.Score(str(tmp_path / "song.mid"))
    assert song_syllables(back) == song_syllables(song)  # symusic reads the lyrics into a track of their own


def test_the_song_corpus_keeps_each_pieces_split(chorale_folder, tmp_path):
    built = build_corpus(CorpusBuildArgs(input=str(chorale_folder), style="bach", out=str(tmp_path / "c")))
    assert built.failures == []
    report = build_songs(
        SongCorpusArgs(
            corpus=str(tmp_path / "c"), out=str(tmp_path / "s"), root=str(chorale_folder), num_proc=1
        )
    )
    pieces, songs = load_corpus(tmp_path / "c"), load_corpus(tmp_path / "s")
    split_of = {row["id"]: split for split in pieces for row in pieces[split]}
    texted = sum(1 for split in pieces for row in pieces[split] if row["lyrics"] != "[]")
    assert sum(len(songs[split]) for split in songs) == texted == sum(report.pieces.values()) >= 8
    for split in songs:
        for row in songs[split]:
            assert split_of[row["piece"]] == split and row["language"] == "German"
            assert song_syllables(symusic.Score.from_midi(row["midi"]))[0] is not None
    assert "German" in report.summary()


def test_a_corpus_without_texted_pieces_is_refused(tiny_corpus_dir, tmp_path):
    from cadenza.errors import CadenzaError

    with pytest.raises(CadenzaError, match="no texted pieces"):
        build_songs(SongCorpusArgs(corpus=tiny_corpus_dir, out=str(tmp_path / "s")))


@pytest.mark.parametrize(
    ("words", "language"),
    [
        ("Herzlich tut mich verlangen nach einem sel'gen End und ich".split(), "German"),
        ("Lasciatemi morire e che volete che mi conforte".split(), "Italian"),
        ("Agnus Dei qui tollis peccata mundi miserere nobis et".split(), "Latin"),
        (["Zzz"], "unknown"),
    ],
)
def test_language_by_function_words(words, language):
    assert language_of(words) == language
