"""The running app through the real gradio_client: generate, reproduce by seed, refuse a corrupt MIDI."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import symusic
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from cadenza import ui
from tests.app.conftest import ROOT

STYLES = ["bach", "irish_fiddle"]  # the tiny checkpoint's styles (conftest.STYLES)


@pytest.fixture(scope="module")
def client(app_url) -> Client:
    return Client(app_url, verbose=False)


def compose_args(style: str, seed: int = -1, random_seed: bool = True, variations: int = 1, prompt=None):
    return (
        style, 2, None, ui.AS_GENERATED, ui.AS_GENERATED, 1.0, 0.95, seed, random_seed, variations, prompt,
        True,
    )  # fmt: skip


def compose(client: Client, *args, **kwargs) -> tuple[str, list[Path]]:
    """(status markdown, every variation's files: MIDI, MusicXML, WAV, piano roll)."""
    status, files = client.predict(*compose_args(*args, **kwargs), api_name="/compose")
    return status, files_of(files)


def files_of(files) -> list[Path]:
    return [Path(f["path"] if isinstance(f, dict) else f) for f in files]


def seeds_of(status: str) -> list[int]:
    return [int(s) for s in re.search(r"used: \*\*([\d, ]+)\*\*", status).group(1).split(",")]


def midis(files: list[Path]) -> list[Path]:
    """The variations' MIDI files, in order."""
    return [f for f in files if f.suffix == ".mid" and not f.stem.endswith("-whole")]


@pytest.mark.parametrize("style", STYLES)
def test_each_style_gives_a_playable_piece_with_all_files(client, style):
    status, files = compose(client, style, seed=1234, random_seed=False)
    assert seeds_of(status) == [1234]
    assert sorted(f.name for f in files) == [
        f"{style}_1234_0.{ext}" for ext in ("mid", "musicxml", "png", "wav")
    ]
    by_suffix = {f.suffix: f for f in files}
    assert by_suffix[".wav"].read_bytes()[:4] == b"RIFF"
    assert by_suffix[".png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert symusic.Score(str(by_suffix[".mid"])).note_num() > 0


def test_the_api_needs_only_a_style_and_returns_files(client):
    status, files = client.predict(style=STYLES[0], bars=2, api_name="/compose")
    assert "Generated 1 × 2 bars" in status
    assert sorted(Path(f).suffix for f in files) == [".mid", ".musicxml", ".png", ".wav"]
    assert all(Path(f).is_file() for f in files)


def test_reported_seed_reproduces_the_piece(client):
    status, files = compose(client, STYLES[0], variations=2)
    seeds = seeds_of(status)
    assert len(midis(files)) == 2 and seeds[1] == seeds[0] + 1
    first = midis(files)[1].read_bytes()
    status_again, again = compose(client, STYLES[0], seed=seeds[1], random_seed=False)
    assert seeds_of(status_again) == [seeds[1]]
    assert midis(again)[0].read_bytes() == first


def test_corrupt_midi_is_refused_with_its_reason(client, tmp_path):
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\xff\xff\xff\xffgarbage")
    with pytest.raises(AppError) as info:
        compose(client, STYLES[0], prompt=handle_file(str(bad)))
    message = str(info.value)
    assert "broken.mid" in message and "truncated MIDI file" in message
    assert "Traceback" not in message and "/tmp" not in message


def slow_abc(path: Path, notes: int = 48_000) -> Path:
    """An ABC file with a clef, so music21 reads it: at ~10k notes a second, a few seconds of reading."""
    body = " ".join(["CDEF GABc"] * (notes // 8))
    lines = "\n".join(body[i : i + 60] for i in range(0, len(body), 60))
    path.write_text(f"X:1\nT:slow\nM:4/4\nL:1/16\nK:C clef=bass\n{lines}\n")
    return path


def test_a_slow_upload_holds_up_only_its_own_request(client, tmp_path):
    upload = handle_file(str(slow_abc(tmp_path / "slow.abc")))
    slow = client.submit(*compose_args(STYLES[0], prompt=upload), api_name="/compose")
    time.sleep(1)  # the upload is being read
    status, files = compose(client, STYLES[0])
    assert len(midis(files)) == 1 and not slow.done()  # composed while the upload was still being read
    slow_status, slow_files = slow.result()
    assert len(midis(files_of(slow_files))) == 1  # and then the upload was continued


def test_absurd_values_are_refused_by_name(client):
    with pytest.raises(AppError, match="tempo must be between"):
        client.predict(
            STYLES[0],
            2,
            5000,
            ui.AS_GENERATED,
            ui.AS_GENERATED,
            1.0,
            0.95,
            -1,
            True,
            1,
            None,
            True,
            api_name="/compose",
        )


def test_the_last_composed_piece_or_an_upload_is_judged(client, tmp_path):
    status, files = compose(client, "bach", seed=11, random_seed=False)
    summary, probabilities, features, copying, passage, similar = client.predict(
        None, ui.AS_GUESSED, api_name="/evaluate"
    )  # nothing uploaded: the piece this session composed last
    assert summary.startswith("**bach_11_0.mid** — key: **")  # the name `cadenza generate --seed 11` writes
    assert {c["label"] for c in probabilities["confidences"]} == {"alpha", "beta"}  # the corpus's styles
    assert len(similar["data"]) == ui.SIMILAR_K and [row[0] for row in features["data"]][0] == "pitch_range"
    assert "n-grams found in the corpus" in copying
    upload = tmp_path / "upload.mid"
    upload.write_bytes(midis(files)[0].read_bytes())
    summary = client.predict(handle_file(str(upload)), ui.AS_GUESSED, api_name="/evaluate")[0]
    assert summary.startswith("**upload.mid** — key: **")
    with pytest.raises(AppError, match="unknown style 'bach'; the corpus has: alpha, beta"):
        client.predict(None, "bach", api_name="/evaluate")


def test_the_docs_client_example_runs(app_url):
    text = (ROOT / "docs" / "app.md").read_text()
    code = text.split("<!-- client example -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    code = code.replace('"http://127.0.0.1:7860/"', repr(app_url)).replace("bars=8", "bars=2")
    scope: dict = {}
    exec(code, scope)  # noqa: S102 - the documented example, as a reader would paste it
    assert [Path(f).suffix for f in scope["files"]].count(".mid") == 1 and "seed used" in scope["status"]


def test_the_finetune_api_refuses_bad_requests_in_one_line(client, tmp_path):
    import zipfile

    from tests.conftest import make_piece

    tune = tmp_path / "tune.mid"
    make_piece(1, bars=2, voices=1).dump_midi(str(tune))
    with pytest.raises(AppError, match="invalid style name 'Bad Name'"):
        client.predict([handle_file(str(tune))], "Bad Name", ui.DEFAULT_RUN_SIZE, api_name="/finetune")
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("notes.txt", "no music here")
    with pytest.raises(AppError, match=r"no score files among the uploads \(bundle.zip/notes.txt"):
        client.predict([handle_file(str(bundle))], "airs", ui.DEFAULT_RUN_SIZE, api_name="/finetune")
    notes = tmp_path / "notes.txt"
    notes.write_text("no music here")
    with pytest.raises(AppError, match="Invalid file type"):  # Gradio checks the types first
        client.predict([handle_file(str(notes))], "airs", ui.DEFAULT_RUN_SIZE, api_name="/finetune")


def test_the_baselines_tab_samples_and_interpolates_with_the_shipped_models(client, tmp_path):
    """The app serves the shipped GAN and VAE (checkpoints/gan, checkpoints/vae) beside the model."""
    from tests.conftest import make_piece

    status, audio, files, roll, sheet = client.predict(
        "GAN", "bach", 4, 5, False, api_name="/baseline_sample"
    )
    assert status.startswith("**GAN**, bach, 4 bars, seed **5**")
    assert sorted(p.suffix for p in files_of(files)) == [".mid", ".musicxml", ".wav"] and Path(roll).is_file()
    client.predict("VAE", "bach", 2, 6, False, api_name="/baseline_sample")
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    make_piece(1, bars=2, voices=2).dump_midi(str(a))
    make_piece(2, bars=2, voices=2).dump_midi(str(b))
    status, audio, files, roll, sheet = client.predict(
        handle_file(str(a)), handle_file(str(b)), "bach", 3, None, api_name="/interpolate"
    )
    assert status.startswith("**VAE** interpolation in bach: 3 steps of 2 bars")
    (midi,) = [p for p in files_of(files) if p.suffix == ".mid"]
    assert 0 < symusic.Score(str(midi)).end() <= 3 * 2 * 4 * symusic.Score(str(midi)).ticks_per_quarter
    waltz = tmp_path / "waltz.mid"
    make_piece(3, bars=2, numerator=3).dump_midi(str(waltz))
    with pytest.raises(AppError, match="waltz.mid: the VAE reads pieces in 2/4, 4/4"):
        client.predict(handle_file(str(waltz)), handle_file(str(b)), "bach", 3, None, api_name="/interpolate")
    with pytest.raises(AppError, match="upload piece B"):
        client.predict(handle_file(str(a)), None, "bach", 3, None, api_name="/interpolate")


def test_bars_of_a_piece_are_regenerated_through_the_api(client, tmp_path):
    status, files = compose(client, "bach", seed=4, random_seed=False)
    piece = tmp_path / "piece.mid"
    piece.write_bytes(midis(files)[0].read_bytes())
    status, again = client.predict(handle_file(str(piece)), "bach", "1", 2, api_name="/regenerate")
    assert status.startswith("2 versions of bars **1**")
    again = files_of(again)
    assert sorted(f.suffix for f in again) == sorted([".mid", ".musicxml", ".wav", ".png"] * 2)
    assert all(f.stat().st_size > 0 for f in again)
    with pytest.raises(AppError, match="outside the piece"):
        client.predict(handle_file(str(piece)), "bach", "40", 1, api_name="/regenerate")


def test_a_piece_is_explained_on_its_score(client, tmp_path):
    from tests.evaluation.test_analysis import FIFTHS, chorale

    upload = tmp_path / "fifths.musicxml"
    chorale(FIFTHS).write("musicxml", fp=str(upload))
    view, files = client.predict(handle_file(str(upload)), api_name="/analyze")
    assert "parallel fifths: Tenor and Bass" in view and 'href="#bar-1"' in view
    assert {Path(f).suffix for f in files_of(files)} == {".musicxml", ".svg", ".json", ".csv"}
    compose(client, "bach", seed=3, random_seed=False)
    view, _ = client.predict(None, api_name="/analyze")  # nothing uploaded: the piece just composed
    assert "Key:" in view
    (tmp_path / "broken.mid").write_bytes(b"MThd not really")
    with pytest.raises(AppError, match="^broken.mid: "):
        client.predict(handle_file(str(tmp_path / "broken.mid")), api_name="/analyze")
