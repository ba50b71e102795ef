from cadenza.tokenization.chunking import Transposer, chunk_sequence, pack_chunks
from cadenza.tokenization.tokenizer import CadenzaTokenizer, split_bars
from tests.conftest import make_piece

BOS, EOS, STYLE, BAR, CONT, KEY = 1, 2, 9, 5, 11, 12


def test_split_bars():
    assert split_bars([5, 7, 7, 5, 8], {5}) == [[5, 7, 7], [5, 8]]
    assert split_bars([], {5}) == []


def test_chunks_start_at_bars_with_prefix_and_only_last_ends():
    ids = [BOS, STYLE, BAR, 7, 7, BAR, 7, BAR, 7, 7, 7, EOS]
    assert chunk_sequence(ids, {BAR}, EOS, 6) == [
        [BOS, STYLE, BAR, 7, 7],
        [BOS, STYLE, BAR, 7],
        [BOS, STYLE, BAR, 7, 7, 7],
        [BOS, STYLE, EOS],
    ]
    assert chunk_sequence(ids, {BAR}, EOS, 100) == [ids]


def test_chunks_after_the_first_carry_the_mid_piece_marker():
    ids = [BOS, STYLE, BAR, 7, 7, BAR, 7, BAR, 7, 7, EOS]
    assert chunk_sequence(ids, {BAR}, EOS, 6, continue_id=CONT) == [
        [BOS, STYLE, BAR, 7, 7],  # the opening: no marker
        [BOS, STYLE, CONT, BAR, 7],
        [BOS, STYLE, CONT, BAR, 7, 7],
        [BOS, STYLE, CONT, EOS],
    ]
    assert chunk_sequence(ids, {BAR}, EOS, 100, continue_id=CONT) == [ids]


def test_a_key_token_is_part_of_every_chunk_prefix():
    ids = [BOS, STYLE, KEY, BAR, 7, 7, BAR, 7, EOS]
    assert chunk_sequence(ids, {BAR}, EOS, 6, continue_id=CONT, prefix_len=3) == [
        [BOS, STYLE, KEY, BAR, 7, 7],
        [BOS, STYLE, KEY, CONT, BAR, 7],
        [BOS, STYLE, KEY, CONT, EOS],
    ]


def test_overlong_bar_is_cut_to_fit():
    chunks = chunk_sequence([BOS, STYLE, BAR, *[7] * 10, EOS], {BAR}, EOS, 6)
    assert all(len(c) <= 6 for c in chunks)
    assert chunks[0] == [BOS, STYLE, BAR, 7, 7, 7]


def test_pack_keeps_order_and_limit():
    assert pack_chunks([[1, 2], [3, 4, 5], [6], [7, 8, 9, 10, 11]], 5) == [
        [1, 2, 3, 4, 5],
        [6],
        [7, 8, 9, 10, 11],
    ]


def test_transposer_shifts_pitches_and_the_key_and_refuses_out_of_range():
    tokenizer = CadenzaTokenizer.new(["a"])
    ids = tokenizer.encode(make_piece(3), "a", key=(11, "minor"))
    up = Transposer(tokenizer)(ids, 2)
    back = tokenizer.decode(up)
    original = tokenizer.decode(ids)
    assert [n.pitch for t in back.tracks for n in t.notes] == [
        n.pitch + 2 for t in original.tracks for n in t.notes
    ]
    assert [i for i, t in zip(ids, up, strict=True) if i != t] and len(up) == len(ids)
    assert Transposer(tokenizer)(ids, 60) is None
    assert tokenizer.token(up[2]) == "Key_Db_minor"  # B minor up a tone, past the octave
