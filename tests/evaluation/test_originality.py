"""Originality: interval n-grams against a small corpus made here, and the human-baseline verdict."""

from __future__ import annotations

import numpy as np
import pytest
import symusic

from cadenza.evaluation.originality import (
    SIZES,
    Index,
    baseline,
    flagged,
    lines,
    measure,
    ngram_hashes,
)

Q = 480


def melody(pitches, voices: int = 1, seed: int = 0) -> symusic.Score:
    """`pitches` as quarter notes in one track, plus `voices - 1` random accompanying tracks."""
    rng = np.random.default_rng(seed)
    score = symusic.Score(Q)
    for voice in range(voices):
        track = symusic.Track()
        line = pitches if voice == 0 else rng.integers(40, 60, len(pitches))
        for i, pitch in enumerate(line):
            track.notes.append(symusic.Note(i * Q, Q, int(pitch), 80))
        score.tracks.append(track)
    return score


def random_walk(rng: np.random.Generator, length: int = 48) -> np.ndarray:
    return 60 + np.cumsum(rng.integers(-4, 5, length))


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(1)
    train = [random_walk(rng) for _ in range(30)]
    held_out = [random_walk(rng) for _ in range(20)]
    index = Index.build(
        [melody(p, voices=2, seed=i) for i, p in enumerate(train)],
        [f"p{i}" for i in range(30)],
        ["folk"] * 30,
    )
    human = baseline({"folk": [measure(melody(p), index) for p in held_out]})
    return train, index, human


def test_lines_take_the_top_note_of_each_onset():
    score = melody([60, 62])
    score.tracks[0].notes.append(symusic.Note(0, Q, 67, 80))  # a chord on the first beat
    assert [line.tolist() for line in lines(score)] == [[67, 62]]


def test_ngrams_are_transposition_invariant():
    line = np.array([60, 62, 64, 65, 67, 69, 71])
    assert len(ngram_hashes(line, 6)) == 2
    assert ngram_hashes(line, 6).tolist() == ngram_hashes(line + 5, 6).tolist()
    assert ngram_hashes(line, 8).tolist() == []  # too short
    assert ngram_hashes(line, 6)[0] != ngram_hashes(line[::-1], 6)[0]


def test_a_transposed_copy_is_flagged_with_its_source(corpus):
    train, index, human = corpus
    copy = melody(train[7] + 3)
    result = measure(copy, index)
    assert result.shares == {6: 1.0, 8: 1.0, 12: 1.0}
    assert result.longest.notes == 48 and result.longest.corpus_id == "p7"
    assert (result.longest.start, result.longest.corpus_line, result.longest.corpus_start) == (0, 0, 0)
    assert flagged(result, human["folk"])


def test_a_copied_passage_inside_new_music_is_located(corpus):
    train, index, _ = corpus
    rng = np.random.default_rng(5)
    new = np.concatenate([random_walk(rng, 20), train[3][10:30] - 7, random_walk(rng, 20) + 40])
    result = measure(melody(new), index)
    assert result.longest.corpus_id == "p3"
    assert result.longest.notes >= 20
    assert result.longest.corpus_start <= 10 and result.longest.start <= 20


def test_its_pitch_shuffled_twin_passes(corpus):
    train, index, human = corpus
    twin = np.random.default_rng(3).permutation(train[7])
    result = measure(melody(twin), index)
    assert not flagged(result, human["folk"])
    assert result.shares[12] == 0.0


def test_a_piece_can_be_measured_without_its_own_corpus_entry(corpus):
    train, index, _ = corpus
    assert measure(melody(train[7]), index, exclude="p7").longest_notes < 48


def test_short_and_empty_pieces_give_nan_shares_and_no_passage(corpus):
    _, index, human = corpus
    for score in (symusic.Score(Q), melody([60, 62, 64])):
        result = measure(score, index)
        assert set(result.shares) == set(SIZES)
        assert all(np.isnan(share) for share in result.shares.values())
        assert result.longest is None and not flagged(result, human["folk"])


def test_the_index_round_trips_through_npz_without_pickle(corpus, tmp_path):
    train, index, _ = corpus
    index.save(tmp_path / "index.npz")
    again = Index.load(tmp_path / "index.npz")
    assert again.ids == index.ids and again.styles == index.styles
    assert measure(melody(train[2] + 1), again).longest.corpus_id == "p2"


def test_the_command_flags_a_transposed_corpus_piece_and_passes_a_new_one(
    tiny_corpus_dir, piece_factory, tmp_path, capsys
):
    make_piece = piece_factory
    import shutil

    from cadenza.cli import main

    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus_dir, corpus)  # the index is written beside the corpus
    copied = make_piece(5, bars=6, voices=2)  # train row 5, as the fixture made it
    for track in copied.tracks:
        for note in track.notes:
            note.pitch += 2
    copied.dump_midi(str(tmp_path / "copied.mid"))
    assert main(["originality", str(tmp_path / "copied.mid"), "--corpus", str(corpus)]) == 3
    printed = capsys.readouterr().out
    assert "FLAGGED" in printed and "piece5:" in printed
    assert (corpus / "originality.npz").is_file()

    make_piece(999, bars=6, voices=2).dump_midi(str(tmp_path / "new.mid"))
    assert main(["originality", str(tmp_path / "new.mid"), "--corpus", str(corpus), "--style", "alpha"]) == 0
    assert "original: within the alpha human 95th percentile" in capsys.readouterr().out
