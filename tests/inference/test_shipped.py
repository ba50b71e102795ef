"""The files the repository ships load and play: the base checkpoint and the example adapter."""

from __future__ import annotations

from pathlib import Path

from cadenza.checkpoint import read_adapter
from cadenza.inference.composer import Composer

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "checkpoints" / "cadenza-base"
AIRS = ROOT / "adapters" / "airs"


def test_the_shipped_base_and_its_example_adapter_play():
    composer = Composer.from_pretrained(BASE)
    assert composer.tokenizer.is_bpe and composer.tokenizer.has_keys
    assert read_adapter(AIRS).style == "airs"
    assert composer.load_adapter(AIRS) == "airs"  # its fingerprint matches the shipped base
    for style in ("bach", "airs"):
        (piece,) = composer.generate(style, bars=2, seed=1, key="G major")
        assert piece.score.note_num() > 0 and piece.tokens.count(composer.tokenizer.bar_id) == 2
