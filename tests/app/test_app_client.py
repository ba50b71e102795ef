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

STYLES = ["bach", "irish_fiddle"]  # the tiny checkpoint's styles (conftest.STYLES)


@pytest.fixture(scope="module")
def client(app_url) -> Client:
    return Client(app_url, verbose=False)


def compose_args(style: str, seed: int = -1, random_seed: bool = True, variations: int = 1, prompt=None):
    return (
        style, 2, None, ui.AS_GENERATED, ui.AS_GENERATED, 1.0, 0.95, seed, random_seed, variations, prompt,
        True,
    )  # fmt: skip


def compose(client: Client, *args, **kwargs):
    """(status markdown, [(wav, png, [mid, musicxml, wav]) per shown variation])."""
    return shown_of(client.predict(*compose_args(*args, **kwargs), api_name="/compose"))


def shown_of(out: tuple):
    status, slots = out[0], [unwrap(value) for value in out[1:]]
    shown = [tuple(slots[i : i + 3]) for i in range(0, len(slots), 3) if slots[i]]
    return status, shown


def unwrap(value):
    """A slot's value: the client hands back gr.update(...) outputs as dicts with their 'value'."""
    if isinstance(value, dict) and value.get("__type__") == "update":
        value = value.get("value")
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, dict):  # a file payload
        return value.get("path") or value.get("url")
    return value


def seeds_of(status: str) -> list[int]:
    return [int(s) for s in re.search(r"used: \*\*([\d, ]+)\*\*", status).group(1).split(",")]


def midi_of(files: list[str]) -> Path:
    (midi,) = [Path(f) for f in files if f.endswith(".mid")]
    return midi


@pytest.mark.parametrize("style", STYLES)
def test_each_style_gives_a_playable_piece_with_all_files(client, style):
    status, shown = compose(client, style, seed=1234, random_seed=False)
    assert seeds_of(status) == [1234]
    ((wav, png, files),) = shown
    assert Path(wav).read_bytes()[:4] == b"RIFF"
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(Path(f).suffix for f in files) == [".mid", ".musicxml", ".wav"]
    score = symusic.Score(str(midi_of(files)))
    assert score.note_num() > 0


def test_reported_seed_reproduces_the_piece(client):
    status, shown = compose(client, STYLES[0], variations=2)
    seeds = seeds_of(status)
    assert len(shown) == 2 and seeds[1] == seeds[0] + 1
    first = midi_of(shown[1][2]).read_bytes()
    status_again, again = compose(client, STYLES[0], seed=seeds[1], random_seed=False)
    assert seeds_of(status_again) == [seeds[1]]
    assert midi_of(again[0][2]).read_bytes() == first


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
    status, shown = compose(client, STYLES[0])
    assert len(shown) == 1 and not slow.done()  # composed while the upload was still being read
    slow_status, slow_shown = shown_of(slow.result())
    assert len(slow_shown) == 1  # and then the upload was continued


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
    status, shown = compose(client, "bach", seed=11, random_seed=False)
    summary, probabilities, features, copying, passage, similar = client.predict(
        None, ui.AS_GUESSED, api_name="/evaluate"
    )  # nothing uploaded: the piece this session composed last
    assert summary.startswith("**bach_11_0.mid** — key: **")  # the name `cadenza generate --seed 11` writes
    assert {c["label"] for c in probabilities["confidences"]} == {"alpha", "beta"}  # the corpus's styles
    assert len(similar["data"]) == ui.SIMILAR_K and [row[0] for row in features["data"]][0] == "pitch_range"
    assert "n-grams found in the corpus" in copying
    upload = tmp_path / "upload.mid"
    upload.write_bytes(midi_of(shown[0][2]).read_bytes())
    summary = client.predict(handle_file(str(upload)), ui.AS_GUESSED, api_name="/evaluate")[0]
    assert summary.startswith("**upload.mid** — key: **")
    with pytest.raises(AppError, match="unknown style 'bach'; the corpus has: alpha, beta"):
        client.predict(None, "bach", api_name="/evaluate")
