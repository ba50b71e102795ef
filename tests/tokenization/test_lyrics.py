"""Lyric tokens: a syllable before each note, lossless round trips on real chorales (plain REMI and the
shipped BPE tokenizer), and the song grammar."""

from __future__ import annotations

import music21
import pytest

from cadenza.data.streams import song_scores, song_syllables
from cadenza.errors import CadenzaError
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.lyrics import (
    HYPHEN_TOKEN,
    LYRIC_TOKENS,
    MELISMA_TOKEN,
    SONG_END_TOKEN,
    WORD_END_TOKEN,
    lyrics_of,
    syllable_ids,
)
from cadenza.tokenization.tokenizer import CadenzaTokenizer, note_tuples, preprocess

CHORALES = ["bach/bwv10.7", "bach/bwv26.6", "bach/bwv40.6", "bach/bwv145.5", "bach/bwv227.7"]


@pytest.fixture(scope="module")
def songs():
    return [song_scores(music21.corpus.parse(name))[0] for name in CHORALES]


def lyric_tokenizer(kind: str) -> CadenzaTokenizer:
    tokenizer = (
        CadenzaTokenizer.load("checkpoints/cadenza-base") if kind == "bpe" else CadenzaTokenizer.new(["bach"])
    )
    before = dict(tokenizer.vocab)
    tokenizer.add_lyrics()
    after = tokenizer.vocab
    assert {t: after[t] for t in before} == before  # nothing renumbered
    assert set(after) - set(before) == set(LYRIC_TOKENS)  # the lyric tokens, and only they, were added
    return tokenizer


@pytest.mark.parametrize("kind", ["plain", "bpe"])
def test_songs_round_trip_losslessly_text_and_notes(songs, kind):
    tokenizer = lyric_tokenizer(kind)
    for song in songs:
        ids = tokenizer.merge(tokenizer.encode(song, "bach", key=(7, "minor")))
        back = tokenizer.decode(ids)
        assert song_syllables(back) == song_syllables(song)
        assert [n[1:] for n in note_tuples(back)] == [n[1:] for n in note_tuples(preprocess(tokenizer, song))]
        assert tokenizer.merge(tokenizer.encode(back, "bach", key=(7, "minor"))) == ids


def test_each_note_follows_its_syllable_spelled_in_bytes(songs):
    tokenizer = lyric_tokenizer("plain")
    names = [tokenizer.token(i) for i in tokenizer.encode(songs[0], "bach", key=(7, "minor"))]
    first = names.index(HYPHEN_TOKEN)
    # "Mei-" on the first note: its bytes, the hyphen, then the note from its Position on
    assert names[first - 3 : first + 3] == ["Char_4D", "Char_65", "Char_69", HYPHEN_TOKEN, "Position_0"] + [
        names[first + 2]
    ]
    ids = tokenizer.encode(songs[0], "bach", key=(7, "minor"))
    assert lyrics_of(tokenizer, ids)[:3] == [("Mei", False), ("ne", True), ("Seel’", True)]  # ’: 3 bytes
    notes = sum(name.startswith("Pitch_") for name in names)
    items = sum(name in (HYPHEN_TOKEN, WORD_END_TOKEN, MELISMA_TOKEN, SONG_END_TOKEN) for name in names)
    assert notes == items == len(songs[0].tracks[0].notes)
    # The song's last syllable closes with SongEnd, once: the model knows where the song cadences.
    assert names.count(SONG_END_TOKEN) == 1
    last_syllable = max(i for i, name in enumerate(names) if name in (HYPHEN_TOKEN, WORD_END_TOKEN))
    assert names.index(SONG_END_TOKEN) > last_syllable
    assert lyrics_of(tokenizer, ids)[-1] == song_syllables(songs[0])[-1]  # read back as a word's end


def test_a_tokenizer_from_before_song_end_ends_the_last_syllable_as_a_word():
    tokenizer = CadenzaTokenizer.new(["bach"])
    for token in [t for t in LYRIC_TOKENS if t != SONG_END_TOKEN]:
        tokenizer.add_token(token)
    assert tokenizer.has_lyrics and SONG_END_TOKEN not in tokenizer.vocab
    assert syllable_ids(tokenizer, "End", True, song_end=True)[-1] == tokenizer.vocab[WORD_END_TOKEN]
    full = lyric_tokenizer("plain")
    assert syllable_ids(full, "End", True, song_end=True)[-1] == full.vocab[SONG_END_TOKEN]
    # a text cut inside a word: its last syllable still goes on
    assert syllable_ids(full, "Her", False, song_end=True)[-1] == full.vocab[HYPHEN_TOKEN]
    assert len(tokenizer.lyric_ids) == len(LYRIC_TOKENS) - 1


def test_any_language_spells_in_bytes():
    tokenizer = lyric_tokenizer("plain")
    ids = syllable_ids(tokenizer, "Höh", word_end=False)
    assert len(ids) == len("Höh".encode()) + 1 and tokenizer.token(ids[-1]) == HYPHEN_TOKEN
    assert syllable_ids(tokenizer, "", True) == [tokenizer.vocab[MELISMA_TOKEN]]


@pytest.mark.parametrize("kind", ["plain", "bpe"])
def test_the_song_grammar_takes_real_songs_and_the_plain_grammar_refuses_lyrics(songs, kind):
    tokenizer = lyric_tokenizer(kind)
    song_grammar, plain = RemiGrammar(tokenizer, song=True), RemiGrammar(tokenizer)
    for song in songs:
        ids = tokenizer.merge(tokenizer.encode(song, "bach", key=(7, "minor")))
        assert song_grammar.errors(ids) == 0
        assert plain.errors(ids) > 0
    bare = songs[0].copy()
    for track in bare.tracks:
        track.lyrics.clear()
    assert song_grammar.errors(tokenizer.merge(tokenizer.encode(bare, "bach", key=(7, "minor")))) > 0


def test_a_run_that_does_not_open_a_bar_merges_without_an_empty_token(songs):
    tokenizer = lyric_tokenizer("bpe")
    ids = tokenizer.merge(tokenizer.encode(songs[0], "bach", key=(7, "minor")))
    assert all(tokenizer.parts(i) for i in ids)


def test_a_song_grammar_needs_lyric_tokens():
    with pytest.raises(CadenzaError, match="no lyric tokens"):
        RemiGrammar(CadenzaTokenizer.new(["bach"]), song=True)


def test_a_song_keeps_its_first_bars_meter(songs):
    tokenizer = lyric_tokenizer("plain")
    grammar = RemiGrammar(tokenizer, song=True)
    ids = tokenizer.encode(songs[0], "bach", key=(7, "minor"))
    bar, meters = tokenizer.bar_id, [i for i in ids if tokenizer.token(i).startswith("TimeSig_")]
    state = grammar.start_state()
    for token in ids[: ids.index(bar, ids.index(bar) + 1) + 1]:  # up to the second bar line
        state = grammar.advance(state, token)
    other = tokenizer.vocab["TimeSig_3/4" if tokenizer.token(meters[0]) != "TimeSig_3/4" else "TimeSig_4/4"]
    assert grammar.is_legal(state, meters[0]) and not grammar.is_legal(state, other)
    assert not grammar.allowed(state)[other] and grammar.allowed(state)[meters[0]]
    assert RemiGrammar(tokenizer).is_legal(state._replace(meter=-1), other)  # a piece may change meter


def test_after_the_song_ends_syllable_and_its_note_only_the_end_may_follow(songs):
    import torch

    from cadenza.inference.constraints import GrammarLogitsProcessor
    from cadenza.tokenization.grammar import RemiGrammar

    tokenizer = lyric_tokenizer("plain")
    ids = tokenizer.encode(songs[0], "bach", key=(7, "minor"))
    assert ids[-1] == tokenizer.eos_id and tokenizer.vocab[SONG_END_TOKEN] in ids
    processor = GrammarLogitsProcessor(RemiGrammar(tokenizer, song=True))
    scores = processor(torch.tensor([ids[:-1]]), torch.zeros(1, len(tokenizer)))
    assert torch.isfinite(scores[0]).nonzero().flatten().tolist() == [tokenizer.eos_id]
    earlier = ids.index(tokenizer.vocab[WORD_END_TOKEN]) + 5  # mid-song, after a word: more may follow
    assert torch.isfinite(GrammarLogitsProcessor(RemiGrammar(tokenizer, song=True))(
        torch.tensor([ids[:earlier]]), torch.zeros(1, len(tokenizer)))[0]).sum() > 1  # fmt: skip
