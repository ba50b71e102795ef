"""The Fine-tune tab's work without the server: uploads to a served adapter, one at a time, restarts."""

from __future__ import annotations

import threading
import zipfile

import pytest

from cadenza import ui
from cadenza.errors import CadenzaError
from cadenza.inference.composer import Composer
from cadenza.ui import finetune_tab
from tests.conftest import make_piece

TINY_RUN = {"tiny": {"max_minutes": 0.0, "max_steps": 4, "eval_every": 2, "save_every": 2}}


@pytest.fixture
def tiny_runs(monkeypatch):
    monkeypatch.setattr(finetune_tab, "RUN_SIZES", TINY_RUN)


def scores_zip(path, n: int = 12):
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n):
            zf.writestr(f"airs/air{i}.mid", make_piece(500 + i, bars=4, voices=1, numerator=3).dumps_midi())
        zf.writestr("airs/README.txt", "from the 1778 books")
    return str(path)


def test_uploads_become_a_served_style_that_survives_a_restart(tiny_checkpoint, tmp_path, tiny_runs):
    composer = Composer.from_pretrained(tiny_checkpoint)
    upload = scores_zip(tmp_path / "airs.zip")
    adapters = tmp_path / "adapters"
    statuses = list(ui.finetune(composer, [upload], "airs", "tiny", adapters, tmp_path / "work"))
    assert statuses[-1].style == "airs" and statuses[-1].fraction == 1.0
    assert "12 score files (1 skipped: airs.zip/airs/README.txt" in statuses[-1].text
    assert "Validation loss:" in statuses[-1].text and "Compose tab" in statuses[-1].text
    assert all(0 <= s.fraction <= 1 for s in statuses)
    assert "airs" in composer.styles
    (variation,) = ui.compose(
        composer, ui.ComposeForm("airs", bars=2, seed=1, random_seed=False), out_dir=tmp_path / "out"
    )
    assert variation.style == "airs" and variation.midi.stat().st_size > 0

    restarted = Composer.from_pretrained(tiny_checkpoint)
    assert ui.load_adapters(restarted, adapters) == [] and "airs" in restarted.styles
    with pytest.raises(CadenzaError, match="style 'airs' exists already"):
        next(ui.finetune(restarted, [upload], "airs", "tiny", adapters, tmp_path / "work2"))


def test_one_fine_tune_at_a_time_and_bad_requests_in_one_line(tiny_checkpoint, tmp_path, tiny_runs):
    composer = Composer.from_pretrained(tiny_checkpoint)
    upload = scores_zip(tmp_path / "airs.zip")
    with ui.FINETUNE_LOCK:  # another request is fine-tuning
        with pytest.raises(CadenzaError, match="another fine-tune is running"):
            next(ui.finetune(composer, [upload], "airs", "tiny", tmp_path / "a", tmp_path / "w"))
    notes = tmp_path / "notes.txt"
    notes.write_text("no music")
    cases = [
        ([upload], "Bad Name", "invalid style name"),
        ([upload], "bach", "exists already"),
        ([], "airs", "upload score files"),
        ([str(notes)], "airs", r"no score files among the uploads \(notes.txt \(not a score file\)\)"),
    ]
    for uploads, style, message in cases:
        with pytest.raises(CadenzaError, match=message):
            next(ui.finetune(composer, uploads, style, "tiny", tmp_path / "a", tmp_path / "w"))
    assert not ui.FINETUNE_LOCK.locked()  # every failure let go of it
    assert threading.active_count() < 20
