"""Each writer produces a real file that its format's reader accepts; the CLI end to end."""

from __future__ import annotations

import wave
from pathlib import Path

import music21
import numpy as np
import pytest
import symusic
from matplotlib.image import imread

from cadenza.cli import main
from cadenza.errors import CadenzaError
from cadenza.inference.render import render
from tests.conftest import make_piece


@pytest.fixture(scope="module")
def score() -> symusic.Score:
    return make_piece(3, bars=2, voices=2)


def test_every_writer_makes_a_readable_file(score, tmp_path):
    paths = render(score, tmp_path / "out", "piece", ["mid", "musicxml", "wav", "png"])
    assert sum(len(t.notes) for t in symusic.Score(str(paths["mid"])).tracks) == sum(
        len(t.notes) for t in score.tracks
    )
    parsed = music21.converter.parse(str(paths["musicxml"]))
    assert len(parsed.flatten().notes) > 0
    with wave.open(str(paths["wav"])) as audio:
        assert (audio.getframerate(), audio.getsampwidth(), audio.getnchannels()) == (44_100, 2, 2)
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
    assert np.abs(samples).max() > 1000
    image = imread(str(paths["png"]))
    assert image.shape[0] > 100 and image.shape[1] > 100


def test_unknown_format(score, tmp_path):
    with pytest.raises(CadenzaError, match="unknown output format ogg"):
        render(score, tmp_path, "piece", ["mid", "ogg"])


def test_cli_end_to_end(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "gen"
    code = main(
        [
            "generate",
            "--model",
            str(tiny_checkpoint),
            "--style",
            "folk",
            "--bars",
            "2",
            "--num",
            "2",
            "--seed",
            "9",
            "--out",
            str(out),
            "--formats",
            "mid,png",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out.split()
    expected = [str(out / f"folk_9_{i}.{ext}") for i in range(2) for ext in ("mid", "png")]
    assert printed == expected and all((out / p).exists() for p in expected)
    assert main(["generate", "--model", str(tiny_checkpoint), "--style", "jazz", "--out", str(out)]) == 2
    assert "unknown style 'jazz'" in capsys.readouterr().err
    a_file = Path(expected[0])  # a file where --out wants a folder
    assert main(["generate", "--model", str(tiny_checkpoint), "--style", "folk", "--out", str(a_file)]) == 2
    assert f"{a_file}: cannot write output here" in capsys.readouterr().err
    # A misspelt option is argparse's usage error (exit status 2), not a traceback.
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--style", "folk", "--prompt_midi", "x.mid"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --prompt_midi x.mid" in capsys.readouterr().err
