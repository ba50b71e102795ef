"""A real chorale's voices, end to end: corpus build -> style profile -> tokens -> decoded piece ->
MusicXML and MIDI named Soprano, Alto, Tenor, Bass (not the four pianos their slots are numbered as)."""

from __future__ import annotations

import shutil
from pathlib import Path

import music21
import symusic

from cadenza.data.corpus import CorpusBuildArgs, build_corpus, embedded_root, load_corpus
from cadenza.data.profiles import style_profiles
from cadenza.data.styles import STYLE_SOUNDS
from cadenza.inference.render import render, track_voices
from cadenza.tokenization.tokenizer import CadenzaTokenizer


def test_chorale_part_names_survive_corpus_tokens_and_musicxml(tmp_path: Path):
    folder = tmp_path / "chorales"
    folder.mkdir()
    shutil.copy(embedded_root() / "bach" / "bwv66.6.mxl", folder)
    build_corpus(CorpusBuildArgs(input=str(folder), style="bach", out=str(tmp_path / "corpus"), num_proc=1))
    rows = load_corpus(tmp_path / "corpus")["train"]
    profile = style_profiles(rows["midi"], rows["style"], rows["voices"])["bach"]

    tokenizer = CadenzaTokenizer.new(["bach"])
    decoded = tokenizer.decode(tokenizer.encode(symusic.Score.from_midi(rows["midi"][0]), "bach"))
    assert [track.program for track in decoded.tracks] == [0, 1, 2, 3]  # the slots the model sees
    voices = track_voices(decoded, profile.voices)
    paths = render(decoded, tmp_path / "out", "chorale", ["musicxml", "mid"], voices, "bach")

    parts = music21.converter.parse(paths["musicxml"]).parts
    assert [part.partName for part in parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    clefs = [part.recurse().getElementsByClass(music21.clef.Clef).first() for part in parts]
    assert isinstance(clefs[-1], music21.clef.BassClef)
    midi = symusic.Score(str(paths["mid"]))
    assert [track.name for track in midi.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert {track.program for track in midi.tracks} == {STYLE_SOUNDS["bach"]}
