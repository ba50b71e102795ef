"""Songs end to end on a tiny base: a lyrics adapter trained on real chorales (the embeddings grow for the
lyric tokens), lyrics forced one syllable per note in order, joint pairs under the song grammar, and the
song files (MIDI lyric events, MusicXML lyrics) read back by music21."""

from __future__ import annotations

import shutil
from pathlib import Path

import music21
import pytest
import symusic
import torch
from datasets import Dataset, DatasetDict

from cadenza.checkpoint import read_adapter, save_checkpoint
from cadenza.data.streams import song_scores, song_syllables
from cadenza.errors import CadenzaError, InputFileError
from cadenza.inference.cadence import CadenceModel
from cadenza.inference.render import render, render_piece
from cadenza.inference.request import Request
from cadenza.inference.rhythm import fit_rhythm
from cadenza.inference.songs import SONG_VOICE, Singer, octave_shift
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.lyrics import lyrics_of
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from cadenza.training.finetune import FinetuneArgs, run_finetune
from cadenza.training.model import ModelArgs, build_model
from tests.conftest import make_piece

CHORALES = ["bwv10.7", "bwv26.6", "bwv40.6", "bwv145.5", "bwv227.7", "bwv115.6", "bwv117.4", "bwv127.5"]
QUICK = dict(max_steps=4, eval_every=2, save_every=2, batch_size=2, num_proc=1, max_minutes=0.0)


@pytest.fixture(scope="module")
def adapter(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("songs")
    tokenizer = CadenzaTokenizer.new(["bach", "folk"])
    tokenizer.train_bpe([tokenizer.encode_music(make_piece(s, bars=4)) for s in range(30)], 600)
    torch.manual_seed(0)
    model = build_model(ModelArgs(n_layer=1, n_embd=32, n_head=2, n_positions=256), tokenizer)
    base = save_checkpoint(model, tokenizer, root / "base")
    songs = [song_scores(music21.corpus.parse(f"bach/{name}"))[0] for name in CHORALES]
    rows = [{"style": "bach", "key": "G minor", "midi": song.dumps_midi()} for song in songs]
    DatasetDict(
        {
            "train": Dataset.from_list(rows[:6]),
            "validation": Dataset.from_list(rows[6:7]),
            "test": Dataset.from_list(rows[7:]),
        }  # fmt: skip
    ).save_to_disk(str(root / "corpus"))
    args = FinetuneArgs(
        corpus=str(root / "corpus"), lyrics=True, style="songs", base=str(base),
        output_dir=str(root / "adapter"), **QUICK,
    )  # fmt: skip
    return run_finetune(args)


@pytest.fixture(scope="module")
def singer(adapter) -> Singer:
    return Singer.from_adapter(adapter)


def test_the_lyrics_adapter_grows_the_embeddings_and_says_so(adapter):
    info = read_adapter(adapter)
    tokenizer = CadenzaTokenizer.load(adapter)
    assert info.lyrics and info.vocab_size >= len(tokenizer) and info.vocab_size % 64 == 0
    assert tokenizer.has_lyrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_syllable_gets_exactly_one_note_in_order(singer, seed):
    piece, syllables, note = singer.sing("Ky-ri-e e-lei-son, Chri-ste!", "bach", seed=seed)
    assert note == ""
    items = lyrics_of(singer.tokenizer, piece.tokens)
    assert items == [(s.text, s.word_end) for s in syllables]  # no melisma unless asked: one note each
    assert song_syllables(piece.score) == items
    assert RemiGrammar(singer.tokenizer, singer.composer.vocab_size, song=True).errors(piece.tokens) == 0
    last = max(piece.score.tracks[0].notes, key=lambda n: n.time)
    assert piece.score.tracks[0].lyrics[-1].time == last.time  # the piece ends on the last syllable


def test_a_syllable_with_a_letter_twice_running_is_sung_whole(singer):
    # A byte that repeats (the "tt" of "Gott") leaves the grammar's state as it was: the processor must
    # still count it as written, or it asks for the same letter for ever.
    piece, syllables, _ = singer.sing("Gott, all-mäch-tig", "bach", language="de", seed=0)
    assert [item for item in lyrics_of(singer.tokenizer, piece.tokens)] == [
        (s.text, s.word_end) for s in syllables
    ]


def test_with_a_rhythm_model_the_template_sets_every_onset_and_length(singer):
    # TeleMelody's split: the rhythm model lays out the syllables, the adapter chooses only the pitches.
    songs = [song_scores(music21.corpus.parse(f"bach/{name}"))[0] for name in CHORALES[:6]]
    model = fit_rhythm([{"midi": s.dumps_midi(), "language": "German", "style": "bach"} for s in songs])
    with_rhythm = Singer(singer.composer, rhythm=model)
    text = "Herz-lich tut mich ver-lan-gen, nach ei-nem sel-gen End."
    for seed, meter in ((0, None), (1, "3/4")):
        piece, syllables, _ = with_rhythm.sing(text, "bach", "de", seed=seed, time_signature=meter)
        request = Request("bach", seed=seed).sampled(singer.composer.sampling)
        numerator, denominator = (int(p) for p in (meter or "4/4").split("/"))
        expected = model.template(
            syllables, "de", "bach", (numerator, denominator), request.temperature, seed
        )
        notes = sorted(piece.score.tracks[0].notes, key=lambda n: n.time)
        tpq = piece.score.ticks_per_quarter
        assert [(n.time * 4 // tpq, n.duration * 4 // tpq) for n in notes] == [
            (note.onset, note.length) for note in expected
        ]
        assert lyrics_of(singer.tokenizer, piece.tokens) == [(s.text, s.word_end) for s in syllables]
        signature = piece.score.time_signatures[0]
        assert (signature.numerator, signature.denominator) == (numerator, denominator)
    # Asked not to (`--rhythm false`), or with melismas, the adapter writes the rhythm: no template drawn.
    model.template = None  # a call would fail
    with_rhythm.sing(text, "bach", "de", rhythm=False, seed=0)
    with_rhythm.sing(text, "bach", "de", melisma=True, seed=0)


def test_a_learned_song_end_pulls_the_last_note_to_where_songs_end(singer):
    # A cadence model whose songs all ended on the tonic, over melodies with every degree alike: the
    # singer's last note follows it, every other note is the adapter's alone.
    counts = {name: [100] * 12 for name in ("line", "song notes", "melody notes")}
    counts["song"] = [1000] + [0] * 11
    model = CadenceModel({"major": counts, "minor": counts})
    guided = Singer(singer.composer, cadence=model)
    plain = Singer(singer.composer, cadence=model, cadences=False)
    text, ends = "Ky-ri-e e-lei-son", []
    for seed in range(4):
        piece, *_ = guided.sing(text, "bach", seed=seed, key="D major")
        ends.append(max(piece.score.tracks[0].notes, key=lambda n: n.time).pitch % 12)
        unguided, *_ = plain.sing(text, "bach", seed=seed, key="D major")
        assert [n.pitch for n in piece.score.tracks[0].notes][:-1] == [
            n.pitch for n in unguided.score.tracks[0].notes
        ][:-1]
    assert ends == [2] * 4


def test_melismas_when_asked_keep_the_syllables_in_order(singer):
    for seed in range(3):
        piece, syllables, _ = singer.sing("Al-le-lu-ia", "bach", melisma=True, seed=seed, key="D major")
        sung = [item for item in lyrics_of(singer.tokenizer, piece.tokens) if item is not None]
        assert sung == [(s.text, s.word_end) for s in syllables]
        assert lyrics_of(singer.tokenizer, piece.tokens)[0] is not None  # a melisma follows a syllable
        assert piece.key == "D major"


def test_a_joint_pair_keeps_the_song_grammar(singer):
    # The random model may spell bytes until its context runs out: then the song fails in one line, never
    # comes back empty or cut inside a note.
    grammar = RemiGrammar(singer.tokenizer, singer.composer.vocab_size, song=True)
    sung = 0
    for seed in range(4):
        try:
            piece = singer.song("bach", seed=seed)
        except CadenzaError as err:
            assert "no whole note" in str(err)
            continue
        sung += 1
        assert grammar.errors(piece.tokens) == 0
        assert len(lyrics_of(singer.tokenizer, piece.tokens)) == piece.score.note_num() > 0
    assert sung >= 2


@pytest.mark.parametrize("voice", ["soprano", "bass"])
def test_a_voice_asked_moves_the_melody_by_octaves_into_its_range(singer, voice, tmp_path):
    free, syllables, _ = singer.sing("Herz-lich tut mich ver-lan-gen", "bach", seed=3)
    placed, _, _ = singer.sing("Herz-lich tut mich ver-lan-gen", "bach", seed=3, voice=voice)
    before = [n.pitch for n in free.score.tracks[0].notes]
    after = [n.pitch for n in placed.score.tracks[0].notes]
    shift = octave_shift(before, voice)
    assert shift % 12 == 0 and after == [p + shift for p in before]  # the same melody, octaves apart
    assert song_syllables(placed.score) == [(s.text, s.word_end) for s in syllables]
    files = render_piece(placed, tmp_path, "song", ["musicxml"])
    assert music21.converter.parse(files["musicxml"]).parts[0].partName == voice.capitalize()
    with pytest.raises(CadenzaError, match="unknown voice 'baritone'"):
        singer.sing("la la", "bach", seed=3, voice="baritone")


def test_octave_shift_fits_the_most_notes_in_range():
    assert octave_shift([50, 55, 62, 64], "soprano") == 12
    assert octave_shift([72, 76, 79], "bass") == -24
    assert octave_shift([60, 62, 64], "alto") == 0
    assert octave_shift([5, 125], "tenor") == 0  # no octave keeps both in MIDI's range but this one


def test_a_sung_piece_is_written_with_its_syllables(singer, tmp_path):
    piece, syllables, _ = singer.sing("Herz-lich tut mich ver-lan-gen", "bach", seed=5, tempo=80)
    files = render_piece(piece, tmp_path, "song", ["mid", "musicxml", "wav", "png"])
    assert song_syllables(symusic.Score(str(files["mid"]))) == [(s.text, s.word_end) for s in syllables]
    assert files["wav"].stat().st_size > 1000 and files["png"].stat().st_size > 1000


def test_a_chorale_s_song_files_read_back_in_music21(tmp_path):
    song = song_scores(music21.corpus.parse("bach/bwv10.7"))[0]
    files = render(song, tmp_path, "chorale", ["mid", "musicxml"], [SONG_VOICE], "bach")
    items = [item for item in song_syllables(song) if item is not None]
    midi = music21.converter.parse(files["mid"])
    # music21 reads the karaoke hyphen ("Mei-") back as the syllable's own text
    assert [n.lyric for n in midi.flatten().notes if n.lyric] == [text for text, _ in items]
    xml = music21.converter.parse(files["musicxml"])
    sung = [(n.lyrics[0].text, n.lyrics[0].syllabic) for n in xml.flatten().notes if n.lyrics]
    assert len(sung) == len(items)
    assert sung[:5] == [
        ("Mei", "begin"),
        ("ne", "end"),
        ("Seel’", "single"),
        ("er", "begin"),
        ("hebt", "end"),
    ]


@pytest.mark.parametrize(
    ("text", "problem"), [("", "empty"), ("123 :-)", "no words"), ("la " * 61, "at most 60")]
)
def test_lyrics_with_nothing_to_sing_or_too_much_are_refused(singer, text, problem):
    with pytest.raises(CadenzaError, match=problem):
        singer.sing(text, "bach")


def test_an_unknown_language_falls_back_to_vowel_groups_and_says_so(singer):
    _, syllables, note = singer.sing("tabula rasa", "bach", language="xx", seed=0)
    assert "vowel groups" in note and len(syllables) == 5


def test_a_style_adapter_is_not_a_lyrics_adapter(tmp_path):
    from cadenza.checkpoint import AdapterInfo, save_adapter_info

    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json"):
        (tmp_path / name).write_text("{}")
    save_adapter_info(AdapterInfo(style="airs", base="x", base_fingerprint="y"), tmp_path)
    with pytest.raises(InputFileError, match="not a lyrics adapter"):
        Singer.from_adapter(tmp_path)


def test_the_song_command_writes_the_files(adapter, tmp_path, capsys):
    from cadenza.cli import main

    main(["song", "--lyrics", "Ky-ri-e e-lei-son", "--adapter", str(adapter), "--style", "bach",
          "--seed", "3", "--out", str(tmp_path), "--formats", "mid,musicxml"])  # fmt: skip
    out = capsys.readouterr()
    assert "syllables: Ky- ri- e e- lei- son" in out.err
    written = [Path(line) for line in out.out.split()]
    assert {p.suffix for p in written} == {".mid", ".musicxml"} and all(p.is_file() for p in written)
    main(["song", "--joint", "true", "--adapter", str(adapter), "--seed", "3", "--out", str(tmp_path / "j"),
          "--formats", "mid"])  # fmt: skip
    assert main(["song", "--adapter", str(adapter), "--out", str(tmp_path)]) == 2
    assert "needs --lyrics" in capsys.readouterr().err  # one line, no traceback


def test_the_lyrics_tab_sings_and_pairs(singer, adapter, tmp_path):
    from cadenza import ui

    form = ui.SongForm("Ky-ri-e e-lei-son", "la", "bach", tempo=90, seed=7, random_seed=False)
    sung = ui.sing(singer, form, out_dir=tmp_path)
    assert "seed **7**" in sung.text and "Ky- ri- e e- lei- son" in sung.text
    assert (
        sung.variation.wav.is_file() and sung.variation.musicxml.is_file() and "<svg" in sung.variation.sheet
    )
    # (a random model may spell bytes until its context runs out: seed 9 writes a pair; the failure's own
    # line is `test_a_joint_pair_keeps_the_song_grammar`'s)
    pair = ui.sing(
        singer, ui.SongForm(None, style="bach", seed=9, random_seed=False), out_dir=tmp_path / "pair"
    )
    assert pair.variation.midi.is_file()
    with pytest.raises(CadenzaError, match="lyrics are empty"):
        ui.sing(singer, ui.SongForm("   "), out_dir=tmp_path)
    with pytest.raises(CadenzaError, match="no lyrics adapter"):
        ui.sing(None, ui.SongForm("la la"), out_dir=tmp_path)


def test_the_app_serves_the_lyrics_adapter_apart_from_the_styles(adapter, tmp_path):
    from cadenza import ui
    from cadenza.inference.composer import Composer

    folder = tmp_path / "adapters"
    folder.mkdir()
    shutil.copytree(adapter, folder / "songs")
    base = Composer.from_pretrained(read_adapter(adapter).base)
    assert ui.load_adapters(base, folder) == [] and base.styles == base.tokenizer.styles  # not a style
    assert isinstance(ui.load_singer(folder), Singer)
    with pytest.raises(InputFileError, match="lyrics adapter"):
        base.load_adapter(adapter)


def test_the_singer_decodes_with_its_adapter_on(singer):
    import torch

    ids = torch.tensor([singer.tokenizer.prefix("bach", (0, "major"))])
    with singer.composer._weights(), torch.no_grad():
        on = singer.composer.model(input_ids=ids).logits
    with singer.composer.model.disable_adapter(), torch.no_grad():
        off = singer.composer.model(input_ids=ids).logits
    assert not torch.allclose(on, off)  # it once sang with the base alone: no lyric rows, no LoRA
    assert singer.styles == singer.tokenizer.styles
