import json
from pathlib import Path

import pytest

from cadenza.cli import main
from cadenza.data import convert
from cadenza.data import corpus as corpus_module
from cadenza.data.corpus import COLUMNS, CorpusBuildArgs, build_corpus, load_corpus, output_folder
from cadenza.data.loading import load_pieces
from cadenza.errors import CadenzaError
from cadenza.paths import HOME
from tests.data.conftest import ABC_TWO_TUNES, make_score


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    for index in range(4):
        notes = [(i * 480, 480, 60 + (i * (index + 1)) % 12) for i in range(8)]
        make_score([(0, False, notes)]).dump_midi(folder / f"piece{index}.mid")
    make_score([(0, False, [(0, 480, 60), (480, 480, 62)])]).dump_midi(folder / "sub" / "copy.mid")
    make_score([(0, False, [(0, 480, 60), (480, 480, 62)])]).dump_midi(folder / "sub" / "copy2.mid")
    (folder / "tunes.abc").write_text(ABC_TWO_TUNES)
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (folder / "cover.png").write_bytes(b"\x89PNG")
    return folder


def _args(tmp_path: Path, **kwargs) -> CorpusBuildArgs:
    return CorpusBuildArgs(out=str(tmp_path / "corpus"), num_proc=1, **kwargs)


def test_folder_build_keeps_good_files_and_reports_bad(tmp_path: Path, mixed_folder: Path):
    report = build_corpus(_args(tmp_path, input=str(mixed_folder), style="mine"))
    assert not report.cached
    assert report.files == 9
    assert [failure["path"] for failure in report.failures] == ["broken.mid", "cover.png"]
    assert "unsupported format .png" in report.failures[1]["problem"]
    assert report.duplicates == 1
    assert sum(report.counts["mine"].values()) == 7  # 4 + 1 copy + 2 tunes
    corpus = load_corpus(tmp_path / "corpus")
    assert len(corpus["train"]) > 0 and len(corpus["validation"]) > 0
    ids = sorted(row for split in corpus.values() for row in split["id"])
    pieces = ["mine/piece0", "mine/piece1", "mine/piece2", "mine/piece3", "mine/sub/copy"]
    assert ids == pieces + ["mine/tunes#1", "mine/tunes#2"]
    assert json.loads((tmp_path / "corpus" / "report.json").read_text())["failures"] == report.failures


def test_rebuild_with_nothing_changed_is_cached(tmp_path: Path, mixed_folder: Path):
    first = build_corpus(_args(tmp_path, input=str(mixed_folder), style="mine"))
    second = build_corpus(_args(tmp_path, input=str(mixed_folder), style="mine"))
    assert second.cached and second.counts == first.counts
    (mixed_folder / "piece0.mid").unlink()
    third = build_corpus(_args(tmp_path, input=str(mixed_folder), style="mine"))
    assert not third.cached and third.files == 8
    assert not build_corpus(_args(tmp_path, input=str(mixed_folder), style="mine", force=True)).cached
    assert not list(tmp_path.glob(".corpus*"))  # no temporary folders left behind


def test_converted_files_are_reused_by_the_next_build(
    tmp_path: Path, mixed_folder: Path, monkeypatch: pytest.MonkeyPatch
):
    first = build_corpus(_args(tmp_path, input=str(mixed_folder), style="mine"))

    def no_conversion(path):
        raise AssertionError(f"{path} converted twice")

    monkeypatch.setattr(convert, "read_pieces", no_conversion)
    other = CorpusBuildArgs(out=str(tmp_path / "other"), num_proc=1, input=str(mixed_folder), style="mine")
    second = build_corpus(other)
    assert (second.counts, second.failures) == (first.counts, first.failures)
    for split, rows in load_corpus(tmp_path / "corpus").items():
        assert load_corpus(tmp_path / "other")[split].to_list() == rows.to_list()
    # a changed file is converted again
    (mixed_folder / "piece0.mid").write_bytes((mixed_folder / "piece1.mid").read_bytes() + b"\0")
    with pytest.raises(AssertionError, match="piece0.mid converted twice"):
        build_corpus(
            CorpusBuildArgs(out=str(tmp_path / "third"), num_proc=1, input=str(mixed_folder), style="mine")
        )


def test_empty_folder_is_an_error(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CadenzaError, match="empty: no score files"):
        build_corpus(_args(tmp_path, input=str(tmp_path / "empty"), style="mine"))


def test_folder_without_usable_files_is_an_error(tmp_path: Path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.mid").write_bytes(b"nope")
    with pytest.raises(CadenzaError, match="bad: no usable score file"):
        build_corpus(_args(tmp_path, input=str(tmp_path / "bad"), style="mine"))


def test_style_errors(tmp_path: Path):
    with pytest.raises(CadenzaError, match="unknown style.*rococo; valid: bach, palestrina"):
        build_corpus(_args(tmp_path, styles="bach,rococo"))
    with pytest.raises(CadenzaError, match="invalid style name 'My Style'"):
        build_corpus(_args(tmp_path, input=str(tmp_path), style="My Style"))
    with pytest.raises(CadenzaError, match="--style is required"):
        build_corpus(_args(tmp_path, input=str(tmp_path)))
    # Without --out the default folder is named after --style: the missing style is still an error.
    assert main(["corpus", "build", "--input", str(tmp_path)]) == 2
    with pytest.raises(CadenzaError, match="--limit must be at least 1 file per style, got -1"):
        build_corpus(_args(tmp_path, styles="bach", limit=-1))


def test_default_output_folder():
    assert output_folder(CorpusBuildArgs()) == HOME / "build/corpus/embedded"
    assert output_folder(CorpusBuildArgs(input="x", style="mine")) == HOME / "build/corpus/mine"


def test_load_corpus_errors(tmp_path: Path):
    with pytest.raises(CadenzaError, match="corpus folder not found"):
        load_corpus(tmp_path / "missing")
    with pytest.raises(CadenzaError, match="not a corpus"):
        load_corpus(tmp_path)


def test_cli_bad_input_prints_one_line(tmp_path: Path, capsys: pytest.CaptureFixture):
    code = main(
        ["corpus", "build", "--input", str(tmp_path / "nowhere"), "--style", "x", "--out", str(tmp_path)]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'nowhere'}: input folder not found"


def test_embedded_build(tmp_path: Path):
    report = build_corpus(_args(tmp_path, styles="bach,irish_fiddle", limit=3))
    assert list(report.counts) == ["bach", "irish_fiddle"]
    assert report.failures == []
    corpus = load_corpus(tmp_path / "corpus")
    rows = {row["id"]: row for split in corpus.values() for row in split}
    assert tuple(corpus["train"].column_names) == COLUMNS
    # a limit takes the smallest files: bwv66.6 is among them, with no lyrics
    chorale = rows["bach/bwv66.6"]
    assert chorale["source"] == "bach/bwv66.6.mxl" and chorale["tune"] == -1 and chorale["num_parts"] == 4
    assert chorale["midi"][:4] == b"MThd"
    assert "irish_fiddle/ryansMammoth/RockyRoadToDublinJig" in rows


def test_embedded_chorale_keeps_its_lyrics():
    from cadenza.data.corpus import embedded_root

    (piece,) = load_pieces(embedded_root() / "bach" / "bwv10.7.mxl")
    assert piece.num_parts == 4
    assert piece.lyrics and set(piece.lyrics[0]) == {"voice", "onset", "pitch", "text", "syllabic"}


def test_embedded_chorale_keeps_its_voices_and_lyrics_refer_to_them():
    from cadenza.data.corpus import embedded_root

    (piece,) = load_pieces(embedded_root() / "bach" / "bwv10.7.mxl")
    assert [(voice.slot, voice.name) for voice in piece.voices] == [
        (0, "Soprano"),
        (1, "Alto"),
        (2, "Tenor"),
        (3, "Bass"),
    ]
    assert [voice.slot for voice in piece.voices] == [track.program for track in piece.score.tracks]
    assert {syllable["voice"] for syllable in piece.lyrics} <= {voice.slot for voice in piece.voices}


def test_report_has_per_style_stats_and_the_readers_warnings(
    tmp_path: Path, mixed_folder: Path, capfd: pytest.CaptureFixture
):
    # a bar too long for its meter: abc2midi warns about it
    (mixed_folder / "long_bar.abc").write_text("X:1\nT:Long\nM:2/4\nL:1/8\nK:G\nGA|GAB|G2|]\n")
    report = build_corpus(_args(tmp_path, input=str(mixed_folder), style="mine"))
    assert capfd.readouterr().out.count("Bar") == 0  # nothing printed by abc2midi
    (warned,) = report.warnings
    assert warned["path"] == "long_bar.abc" and warned["count"] >= 1 and "Bar" in warned["first"][0]
    stats = report.styles["mine"]
    assert stats["pieces"] == sum(report.counts["mine"].values()) == 8
    assert stats["parts"] == [1, 1, 1] and stats["texted"] == 0
    assert "| mine | 8 |" in report.summary()
    saved = json.loads((tmp_path / "corpus" / "report.json").read_text())
    assert saved["styles"] == report.styles and saved["warnings"] == report.warnings
    voices = load_corpus(tmp_path / "corpus")["train"]["voices"]
    assert all(json.loads(text)[0]["slot"] == 0 for text in voices)


def test_a_file_over_the_time_limit_is_reported_and_the_build_goes_on(
    tmp_path: Path, mixed_folder: Path, monkeypatch: pytest.MonkeyPatch
):
    real = convert.read_pieces

    def hangs_on_abc(path):
        while str(path).endswith(".abc"):  # stands in for music21 looping on a fuzzed ABC file
            pass
        return real(path)

    monkeypatch.setattr(convert, "read_pieces", hangs_on_abc)
    monkeypatch.setattr(convert, "FILE_SECONDS", 1)
    report = build_corpus(_args(tmp_path, input=str(mixed_folder), style="mine"))
    assert {"path": "tunes.abc", "problem": "took longer than 1 s to convert; skipped"} in report.failures
    assert sum(report.counts["mine"].values()) == 5  # the MIDI files are all there
    # a time-out is not cached: the next build tries the file again
    monkeypatch.setattr(convert, "read_pieces", real)
    again = build_corpus(_args(tmp_path, input=str(mixed_folder), style="mine", force=True))
    assert sum(again.counts["mine"].values()) == 7


def test_python_warnings_of_a_reader_go_to_the_report(
    tmp_path: Path, mixed_folder: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
):
    import warnings

    real = convert.read_pieces

    def warns(path):
        warnings.warn(f"measure 96 is overfull in {Path(path).name}", UserWarning, stacklevel=1)
        return real(path)

    monkeypatch.setattr(convert, "read_pieces", warns)
    report = build_corpus(_args(tmp_path, input=str(mixed_folder), style="mine"))
    assert "overfull" not in capfd.readouterr().err
    said = {item["path"]: item["first"] for item in report.warnings}
    assert said["piece0.mid"] == ["measure 96 is overfull in piece0.mid"]


def _children(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(c) for c in children.read_text().split()} if children.exists() else set()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc")
def test_sigterm_stops_the_build_and_its_workers(tmp_path: Path):
    import signal
    import subprocess
    import sys
    import time

    build = subprocess.Popen(
        [sys.executable, "-m", "cadenza.cli", "corpus", "build", "--styles", "bach", "--num_proc", "2",
         "--file_cache", "false", "--out", str(tmp_path / "c")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline:  # converting: the pool's two workers run
        workers = _children(build.pid)
        time.sleep(0.2)
    assert len(workers) >= 2
    time.sleep(1)
    build.send_signal(signal.SIGTERM)
    assert build.wait(timeout=30) == 128 + signal.SIGTERM
    time.sleep(1)
    assert not [w for w in workers if Path(f"/proc/{w}").exists() and "zombie" not in _state(w)]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (FileNotFoundError, IndexError):
        return "gone"


def test_the_default_embedded_corpus_is_built_on_first_use(tiny_corpus_dir, tmp_path, monkeypatch, capsys):
    import shutil

    # a fresh clone: `cadenza similar` before any build
    monkeypatch.setattr(corpus_module, "EMBEDDED_CORPUS", str(tmp_path / "build/corpus/embedded"))
    built = []
    monkeypatch.setattr(
        corpus_module, "build_corpus", lambda args: built.append(shutil.copytree(tiny_corpus_dir, args.out))
    )
    assert set(load_corpus(tmp_path / "build/corpus/embedded")) == {"train", "validation", "test"}
    assert len(built) == 1 and "building the embedded corpus" in capsys.readouterr().err
    with pytest.raises(CadenzaError, match="corpus folder not found"):  # any other folder is the user's
        load_corpus(tmp_path / "build/corpus/mine")
