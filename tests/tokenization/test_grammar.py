"""The REMI grammar on hand-made sequences: exact error counts, masks, a fixed time signature."""

from __future__ import annotations

import pytest

from cadenza.errors import CadenzaError
from cadenza.tokenization.grammar import Kind, RemiGrammar
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from tests.conftest import make_piece

HEAD = "BOS_None Style_bach Key_C_major"  # a keyed tokenizer's opening prefix


@pytest.fixture(scope="module")
def tok() -> CadenzaTokenizer:
    return CadenzaTokenizer.new(["bach", "folk"])


def ids(tok: CadenzaTokenizer, text: str) -> list[int]:
    return [tok.vocab[t] for t in text.split()]


NOTE = "Program_0 Pitch_60 Duration_1.0.8"
CELLO = "Program_42 Pitch_48 Duration_1.0.8"
GOOD = (
    f"{HEAD} Bar_None TimeSig_4/4 Position_0 Tempo_121.29 {NOTE} Program_40 Pitch_67 "
    f"Duration_1.0.8 Position_16 {NOTE} Position_24 Tempo_141.61 Bar_None TimeSig_3/4 Bar_None TimeSig_3/4 "
    f"Position_23 {NOTE} EOS_None"
)


def test_encoded_pieces_are_grammatical(tok):
    grammar = RemiGrammar(tok)
    assert grammar.errors(ids(tok, GOOD)) == 0
    for seed in range(5):
        assert grammar.errors(tok.encode(make_piece(seed, numerator=3 + seed % 2), "folk")) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Style_bach Key_C_major Bar_None", 3),  # no BOS: all skipped while waiting for it
        ("BOS_None Bar_None TimeSig_4/4", 2),  # no style: nothing after BOS can start
        (
            f"{HEAD} Bar_None Position_0 TimeSig_4/4 Position_0 {NOTE}",
            1,
        ),  # Position before TimeSig
        (
            f"{HEAD} Bar_None TimeSig_4/4 Position_8 {NOTE} Position_8 {NOTE}",
            1,
        ),  # not later; the note then joins Position_8
        (
            f"{HEAD} Bar_None TimeSig_4/4 Position_8 {NOTE} Position_4 {NOTE}",
            1,
        ),  # backwards
        (
            f"{HEAD} Bar_None TimeSig_3/4 Position_24 {NOTE}",
            4,
        ),  # 3/4 has positions 0..23
        (f"{HEAD} Bar_None TimeSig_6/8 Position_47 {NOTE}", 0),  # 6/8 has 0..47
        (
            f"{HEAD} Bar_None TimeSig_4/4 Position_0 Pitch_60 Duration_1.0.8",
            2,
        ),  # no Program
        (
            f"{HEAD} Bar_None TimeSig_4/4 Position_0 Program_0 Duration_1.0.8 Pitch_60",
            1,
        ),
        (
            f"{HEAD} Bar_None TimeSig_4/4 Position_0 {NOTE} Style_folk BOS_None PAD_None",
            3,
        ),
        (
            f"{HEAD} Bar_None TimeSig_4/4 Position_0 Program_-1 PitchDrum_36",
            2,
        ),  # no drums
        (
            f"{HEAD} Bar_None TimeSig_4/4 Position_0 {NOTE} EOS_None Bar_None Bar_None",
            0,
        ),
        (
            f"{HEAD} Bar_None TimeSig_4/4 Position_0 Tempo_40.0 Tempo_40.0 Program_0",
            1,
        ),
        (
            f"{HEAD} Bar_None TimeSig_4/4 Position_0 {NOTE} {NOTE} Position_8 {NOTE}",
            0,
        ),  # a chord
        (
            f"{HEAD} Bar_None TimeSig_4/4 Position_0 {NOTE} {CELLO} {NOTE} Position_8 {NOTE}",
            3,
        ),  # program 0's run ended at Position_0: its note's three tokens are skipped
        (
            f"{HEAD} Continue_None Bar_None TimeSig_4/4 Position_0 {NOTE}",
            0,
        ),  # mid-piece chunk
        ("BOS_None Continue_None Style_bach Key_C_major Bar_None", 1),  # the marker comes after the style
        (f"{HEAD} Continue_None Continue_None Bar_None", 1),
        (
            f"{HEAD} Bar_None TimeSig_4/4 Continue_None Position_0 {NOTE}",
            1,
        ),  # never inside
        ("BOS_None Style_bach Bar_None TimeSig_4/4", 2),  # a keyed tokenizer's style needs its key
        ("BOS_None Style_bach Key_A_minor Key_C_major Bar_None TimeSig_4/4", 1),  # one key
        ("BOS_None Key_A_minor Style_bach Key_A_minor Bar_None", 1),  # the key comes after the style
    ],
)
def test_error_counts(tok, text, expected):
    assert RemiGrammar(tok).errors(ids(tok, text)) == expected


def test_ids_beyond_the_tokenizer_are_never_allowed(tok):
    grammar = RemiGrammar(tok, vocab_size=len(tok) + 64)
    assert grammar.errors([*ids(tok, f"{HEAD}"), len(tok) + 3]) == 1
    state = grammar.start_state()
    for token in ids(tok, f"{HEAD} Bar_None TimeSig_4/4 Position_0 {NOTE}"):
        state = grammar.advance(state, token)
    mask = grammar.allowed(state)
    assert mask.shape == (len(tok) + 64,) and not mask[len(tok) :].any()
    names = {tok.token(i).partition("_")[0] for i in mask.nonzero().flatten().tolist()}
    assert names == {"Program", "Position", "Bar", "EOS"}
    assert (
        not mask[tok.vocab["Position_0"]]
        and mask[tok.vocab["Position_1"]]
        and not mask[tok.vocab["Position_32"]]
    )


def test_advance_tracks_position_and_bar_length(tok):
    grammar = RemiGrammar(tok)
    state = grammar.start_state()
    for token in ids(tok, f"{HEAD} Bar_None TimeSig_9/8 Position_70"):
        state = grammar.advance(state, token)
    assert (state.kind, state.position, state.bar_length) == (Kind.POSITION, 70, 72)
    assert grammar.advance(state, tok.bos_id) == state  # illegal: skipped


def test_fixed_time_signature(tok):
    grammar = RemiGrammar(tok, time_signature="3/4")
    assert grammar.errors(ids(tok, f"{HEAD} Bar_None TimeSig_4/4 TimeSig_3/4 Bar_None TimeSig_3/4")) == 1
    with pytest.raises(CadenzaError, match="supported: 3/8"):
        RemiGrammar(tok, time_signature="7/4")


def test_programs_and_max_chord_narrow_the_grammar(tok):
    grammar = RemiGrammar(tok, programs=[0, 42], max_chord=1)
    head = f"{HEAD} Bar_None TimeSig_4/4 Position_0"
    assert grammar.errors(ids(tok, f"{head} {NOTE} {CELLO} Position_8 {CELLO} {NOTE}")) == 0
    assert grammar.errors(ids(tok, f"{head} {NOTE} {NOTE}")) == 3  # a second note of program 0
    assert grammar.errors(ids(tok, f"{head} Program_40 Pitch_67 Duration_1.0.8")) == 3  # not allowed
    state = grammar.start_state()
    for token in ids(tok, f"{head} {NOTE}"):
        state = grammar.advance(state, token)
    allowed = {tok.token(i) for i in grammar.allowed(state).nonzero().flatten().tolist()}
    assert "Program_42" in allowed and "Program_0" not in allowed and "Program_40" not in allowed
    assert RemiGrammar(tok, max_chord=2).errors(ids(tok, f"{head} {NOTE} {NOTE}")) == 0


def test_the_longest_note_counts_quarters_in_the_meter_s_beats(tok):
    grammar = RemiGrammar(tok, longest=2.0)  # a half note

    def durations(meter: str) -> set[str]:
        state = grammar.start_state()
        for token in ids(tok, f"{HEAD} Bar_None TimeSig_{meter} Position_0 Program_0 Pitch_60"):
            state = grammar.advance(state, token)
        return {tok.token(i) for i in grammar.allowed(state).nonzero().flatten().tolist()}

    assert {"Duration_2.0.8", "Duration_1.0.8"} <= durations("4/4") and "Duration_2.1.8" not in durations(
        "4/4"
    )
    assert "Duration_4.0.4" in durations("6/8") and "Duration_4.1.4" not in durations("6/8")  # eighth beats
    assert "Duration_1.0.8" in durations("3/2") and "Duration_1.1.8" not in durations("3/2")  # half beats
    long_note = f"{HEAD} Bar_None TimeSig_4/4 Position_0 Program_0 Pitch_60 Duration_3.0.8"
    assert grammar.errors(ids(tok, long_note)) == 1 and grammar.free.errors(ids(tok, long_note)) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"programs": [200]}, "programs must be"),
        ({"programs": []}, "programs must be"),
        ({"max_chord": 0}, "max_chord"),
    ],
)
def test_bad_limits(tok, kwargs, message):
    with pytest.raises(CadenzaError, match=message):
        RemiGrammar(tok, **kwargs)
