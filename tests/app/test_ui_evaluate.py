"""`ui.evaluate` without the server: one piece judged against a tiny corpus built in the test."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
import symusic

from cadenza import ui
from cadenza.data.corpus import load_corpus
from cadenza.errors import CadenzaError, InputFileError
from cadenza.ui import evaluate_tab


@pytest.fixture(scope="module")
def corpus_dir(tiny_corpus_dir, tmp_path_factory) -> str:
    """A copy: the judge builds its indexes beside the corpus."""
    folder = tmp_path_factory.mktemp("judged") / "corpus"
    shutil.copytree(tiny_corpus_dir, folder)
    return str(folder)


@pytest.fixture(scope="module")
def train_piece(corpus_dir, tmp_path_factory):
    row = load_corpus(corpus_dir)["train"][3]
    path = tmp_path_factory.mktemp("upload") / "copied.mid"
    path.write_bytes(row["midi"])
    return row, path


def test_a_corpus_piece_is_found_in_the_corpus(corpus_dir, train_piece, tmp_path):
    row, path = train_piece
    result = ui.evaluate(corpus_dir, path, None, ui.AS_GUESSED, out_dir=tmp_path)
    assert result.similar[0][1:3] == [row["id"], row["style"]] and result.similar[0][3] == 0.0
    assert len(result.similar) == ui.SIMILAR_K and [r[0] for r in result.similar] == [1, 2, 3, 4, 5]
    assert set(result.probabilities) == {"alpha", "beta"}
    assert sum(result.probabilities.values()) == pytest.approx(1.0)
    assert "**copied.mid** — key: **" in result.summary and "(music21)" in result.summary
    assert f"longest copied passage: {len(symusic.Score.from_midi(row['midi']).tracks[0].notes)} notes" in (
        result.originality
    )  # its whole first line, from itself
    assert row["id"] in result.originality
    assert result.passage_png is not None and result.passage_png.read_bytes()[:4] == b"\x89PNG"
    names = [f[0] for f in result.features]
    assert "pitch_range" in names and "consonance" in names and "note_length_1" not in names


def test_the_asked_style_is_the_one_judged(corpus_dir, train_piece, tmp_path):
    _, path = train_piece
    result = ui.evaluate(corpus_dir, None, path, "beta", out_dir=tmp_path)  # the last composed piece
    assert "judged as **beta** (as asked)" in result.summary
    with pytest.raises(CadenzaError, match="unknown style 'gamma'; the corpus has: alpha, beta"):
        ui.evaluate(corpus_dir, path, None, "gamma", out_dir=tmp_path)


def test_nothing_to_judge_is_a_one_line_error(corpus_dir, train_piece, tmp_path):
    with pytest.raises(CadenzaError, match="upload a piece, or compose one in the Compose tab first"):
        ui.evaluate(corpus_dir, None, None, out_dir=tmp_path)
    silent = tmp_path / "silent.mid"
    score = symusic.Score(480)
    score.tracks.append(symusic.Track(program=0))
    score.dump_midi(silent)
    with pytest.raises(InputFileError, match="silent.mid: no notes"):
        ui.evaluate(corpus_dir, silent, None, out_dir=tmp_path)
    with pytest.raises(CadenzaError, match="no corpus at .*nowhere.*make corpus"):
        ui.evaluate(tmp_path / "nowhere", train_piece[1], None, out_dir=tmp_path)


def test_a_one_note_piece_gets_defined_answers(corpus_dir, tmp_path):
    one = symusic.Score(480)
    track = symusic.Track(program=0)
    track.notes.append(symusic.Note(0, 480, 60, 80))
    one.tracks.append(track)
    one.dump_midi(tmp_path / "one.mid")
    result = ui.evaluate(corpus_dir, tmp_path / "one.mid", None, out_dir=tmp_path)
    assert "key: **none (too few pitch classes)**" in result.summary
    assert "6-note n/a (too few notes)" in result.originality and result.passage_png is None
    assert dict((f[0], f[1]) for f in result.features)["consonance"] == "n/a"  # one voice: no harmony
    drums = symusic.Score(480)
    kit = symusic.Track(program=0, is_drum=True)
    kit.notes.append(symusic.Note(0, 120, 36, 80))
    drums.tracks.append(kit)
    drums.dump_midi(tmp_path / "drums.mid")
    with pytest.raises(InputFileError, match="drums.mid: only drums"):
        ui.evaluate(corpus_dir, tmp_path / "drums.mid", None, out_dir=tmp_path)


def test_a_first_start_builds_the_corpus_in_the_background_and_says_how_far(
    tiny_corpus_dir, train_piece, tmp_path, monkeypatch
):
    from cadenza.data import corpus as corpus_module

    target = tmp_path / "build/corpus/embedded"
    monkeypatch.setattr(evaluate_tab, "EMBEDDED_CORPUS", str(target))  # a fresh clone: no build/ folder
    release = threading.Event()

    def build(args, on_progress=None):  # the embedded build, minutes long, stood in for by the tiny corpus
        on_progress(0.5)
        release.wait(60)
        shutil.copytree(tiny_corpus_dir, args.out)

    monkeypatch.setattr(corpus_module, "build_corpus", build)
    prep = ui.prepare_judge(str(target))
    for _ in range(100):  # the thread reports its first progress
        if prep.fraction:
            break
        time.sleep(0.05)
    assert "building the corpus" in ui.preparation_status(str(target))
    with pytest.raises(CadenzaError, match="Preparing the Evaluate tab.*50% done.*other tabs work"):
        ui.evaluate(str(target), upload=train_piece[1], out_dir=tmp_path)
    release.set()
    assert prep.done.wait(120) and prep.error is None
    assert ui.preparation_status(str(target)) == ""
    result = ui.evaluate(str(target), upload=train_piece[1], out_dir=tmp_path)
    assert result.similar


def test_a_missing_corpus_that_is_not_the_embedded_one_is_named_in_the_tab(tmp_path):
    prep = ui.prepare_judge(str(tmp_path / "mine"))
    assert prep.done.wait(60)
    assert "cannot judge: no corpus at" in ui.preparation_status(str(tmp_path / "mine"))
