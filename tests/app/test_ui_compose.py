"""`ui.compose` without the server: the time limit per request."""

from __future__ import annotations

import time

import pytest

from cadenza import ui
from cadenza.errors import CadenzaError, TimeLimitError
from cadenza.inference.composer import Composer
from cadenza.ui import compose_tab

STYLE = "bach"  # one of the tiny checkpoint's styles (conftest.STYLES)


@pytest.fixture(scope="module")
def composer(tiny_checkpoint) -> Composer:
    return Composer.from_pretrained(tiny_checkpoint)


class SlowFirstPiece:
    """A composer whose first piece takes `seconds` longer to write, as a long dense piece would."""

    def __init__(self, composer: Composer, seconds: float) -> None:
        self.composer, self.seconds, self.calls = composer, seconds, 0
        self.styles, self.time_signatures = composer.styles, composer.time_signatures

    def generate(self, *args, **kwargs):
        pieces = self.composer.generate(*args, **kwargs)
        self.calls += 1
        if self.calls == 1:
            time.sleep(self.seconds)
        return pieces


def test_variations_past_the_time_limit_are_left_out_and_the_status_says_so(composer, tmp_path, monkeypatch):
    monkeypatch.setattr(compose_tab, "REQUEST_SECONDS", 1)
    slow = SlowFirstPiece(composer, 1.5)
    result = ui.compose(
        slow, ui.ComposeForm(STYLE, bars=2, seed=3, random_seed=False, variations=3), out_dir=tmp_path
    )
    assert slow.calls == 1  # the second variation's sampling stopped at its first step
    assert [v.seed for v in result] == [3]
    assert result[0].wav.stat().st_size > 0
    assert "2 more not composed: the 1 s limit per request was reached" in ui.describe(result, 3)


def test_a_request_with_nothing_composed_in_time_is_refused_in_one_line(composer, tmp_path, monkeypatch):
    monkeypatch.setattr(compose_tab, "REQUEST_SECONDS", 0)
    with pytest.raises(
        TimeLimitError, match=r"^composing took longer than 0 s, this app's limit per request"
    ):
        ui.compose(composer, ui.ComposeForm(STYLE, bars=2), out_dir=tmp_path)


def test_a_continuation_sets_aside_tempo_meter_and_key_and_says_so(composer, tmp_path):
    from tests.conftest import make_piece

    prompt = tmp_path / "prompt.mid"
    make_piece(3, bars=4, voices=2).dump_midi(str(prompt))
    form = ui.ComposeForm(
        STYLE, bars=1, tempo=90, key="D minor", seed=5, random_seed=False, prompt_midi=prompt
    )
    result = ui.compose(composer, form, out_dir=tmp_path / "out")
    assert result[0].ignored == ("tempo", "key")
    assert "; tempo and key from the prompt file (the choice above was not used)" in ui.describe(result, 1)
    form = ui.ComposeForm(STYLE, bars=1, key="D minor", seed=5, random_seed=False)
    plain = ui.compose(composer, form, out_dir=tmp_path / "p")
    assert plain[0].ignored == () and "prompt file" not in ui.describe(plain, 1)


def test_each_variation_shows_its_sheet_music(composer, tmp_path):
    form = ui.ComposeForm(STYLE, bars=2, key="D minor", seed=5, random_seed=False)
    (variation,) = ui.compose(composer, form, out_dir=tmp_path)
    assert variation.sheet.startswith('<div class="sheet-music"') and "overflow-y:auto" in variation.sheet
    import music21

    measures = music21.converter.parse(variation.musicxml).parts[0].getElementsByClass(music21.stream.Measure)
    assert variation.sheet.count('class="measure"') == len(measures) >= 2  # the MusicXML download engraved


def _kept_notes(path, spans: list[tuple[float, float]]) -> list[tuple[float, float, int]]:
    """A MIDI file's notes (onset, length in quarters, pitch) starting outside the spans (in quarters)."""
    import symusic

    score = symusic.Score(str(path))
    q = score.ticks_per_quarter
    notes = [(n.time / q, n.duration / q, n.pitch) for t in score.tracks for n in t.notes]
    return sorted(n for n in notes if not any(a <= n[0] < b for a, b in spans))


def test_bars_of_the_composed_piece_are_written_again_and_the_rest_kept(composer, tmp_path):
    form = ui.ComposeForm(STYLE, bars=4, time_signature="4/4", seed=2, random_seed=False)
    (piece,) = ui.compose(composer, form, out_dir=tmp_path / "piece")
    asked = ui.RegenerateForm(piece.midi, STYLE, "2-3", versions=2, seed=7, random_seed=False)
    versions, status = ui.regenerate_bars(composer, asked, out_dir=tmp_path / "again")
    assert len(versions) == 2 and status.startswith("2 versions of bars **2-3** — seed **7**")
    for version in versions:
        assert version.wav.stat().st_size > 0 and version.png.stat().st_size > 0
        assert _kept_notes(version.midi, [(4.0, 12.0)]) == _kept_notes(piece.midi, [(4.0, 12.0)])
        assert "regenerated" in version.musicxml.read_text()


@pytest.mark.parametrize(
    ("bars", "problem"),
    [
        ("9", "bars 9: outside the piece, which has bars 1 to"),
        ("1-9", "outside the piece"),
        ("1-4", "use `cadenza generate`"),
        ("", "bar ranges"),
    ],
)
def test_bad_bars_to_regenerate_are_one_line(composer, tmp_path, bars, problem):
    form = ui.ComposeForm(STYLE, bars=4, time_signature="4/4", seed=2, random_seed=False)
    (piece,) = ui.compose(composer, form, out_dir=tmp_path / "piece")
    with pytest.raises(CadenzaError, match=problem):
        ui.regenerate_bars(composer, ui.RegenerateForm(piece.midi, STYLE, bars), out_dir=tmp_path)
    with pytest.raises(CadenzaError, match="compose or upload a piece first"):
        ui.regenerate_bars(composer, ui.RegenerateForm(None, STYLE, "2"), out_dir=tmp_path)
