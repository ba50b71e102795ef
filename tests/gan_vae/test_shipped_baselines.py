"""The shipped GAN and VAE (checkpoints/gan, checkpoints/vae) load, sample and stay small."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza.gan_vae.composer import GanComposer, VaeComposer
from cadenza.inference.render import render_piece

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 10 * 1024 * 1024


@pytest.mark.parametrize(("cls", "folder"), [(GanComposer, "gan"), (VaeComposer, "vae")])
def test_a_shipped_baseline_writes_every_style_and_valid_files(cls, folder, tmp_path):
    path = ROOT / "checkpoints" / folder
    assert sum(f.stat().st_size for f in path.iterdir()) <= MAX_BYTES
    composer = cls.from_pretrained(path)
    assert {"bach", "irish_fiddle", "palestrina"} <= set(composer.styles)
    (piece,) = composer.generate("bach", bars=8, seed=0)
    assert piece.score.note_num() > 0 and piece.score.end() <= 8 * 16
    files = render_piece(piece, tmp_path, "piece", ["mid", "musicxml"])
    from music21 import converter

    assert len(converter.parse(files["musicxml"]).flatten().notes) > 0
