"""Similarity search: a transposed corpus piece finds its source first."""

from __future__ import annotations

import shutil

from cadenza.cli import main
from cadenza.evaluation.similarity import INDEX_FILE, SimilarityIndex, load_similarity


def transposed(score, semitones: int):
    for track in score.tracks:
        for note in track.notes:
            note.pitch += semitones
    return score


def test_a_transposed_corpus_piece_finds_its_source_first(tiny_corpus_dir, piece_factory, tmp_path, capsys):
    make_piece = piece_factory
    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus_dir, corpus)
    index = load_similarity(corpus, num_proc=1)
    assert (corpus / INDEX_FILE).is_file()
    for row in (3, 8, 13):  # train rows as the fixture made them
        source = make_piece(row, bars=4 + row % 3, voices=1 + row % 2)
        (first, *_) = index.query(transposed(source, 5), k=3)
        assert first.id == f"piece{row}" and first.distance < 1e-6

    again = SimilarityIndex.load(corpus / INDEX_FILE)  # numpy arrays only
    assert [n.id for n in again.query(make_piece(8, bars=6, voices=1), k=5)] == [
        n.id for n in index.query(make_piece(8, bars=6, voices=1), k=5)
    ]
    transposed(make_piece(3, bars=4, voices=2), -3).dump_midi(str(tmp_path / "mine.mid"))
    assert main(["similar", str(tmp_path / "mine.mid"), "--corpus", str(corpus), "--k", "2"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith("1. piece3 (beta)") and printed[2].startswith("2. ")
    assert main(["similar", str(tmp_path / "mine.mid"), "--corpus", str(corpus), "--k", "0"]) == 2
