"""`Composer.infill`: bars written again knowing both sides, in MMM's layout, on a tiny BPE model that
has the infilling tokens (conftest's `bpe_composer`)."""

from __future__ import annotations

import pytest

from cadenza.errors import CadenzaError
from cadenza.inference.regenerate import parse_bars, piece_of, regenerate, style_slots
from cadenza.inference.render import end_at_bar
from cadenza.inference.request import Request
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.tokenizer import split_bars
from tests.conftest import make_piece


def _bars(composer, tokens: list[int]) -> list[list[int]]:
    tok = composer.tokenizer
    return [bar for bar in split_bars(tok.music_ids(tokens), {tok.bar_id}) if bar]


def test_infilled_bars_replace_only_the_bars_asked_and_the_model_reads_both_sides(bpe_composer, draws):
    tok = bpe_composer.tokenizer
    piece = bpe_composer.generate("folk", bars=6, seed=3)[0]
    draws.clear()
    versions = bpe_composer.infill(piece, start=2, count=2, num=2, seed=5)
    old = _bars(bpe_composer, piece.tokens)
    (context, _), *_ = draws[-1:]
    row = context[0]
    assert row == context[1]  # one context for every version
    fill, holes = row.index(tok.fill_id), [i for i, t in enumerate(row) if t == tok.hole_id]
    assert row[-1] == tok.fill_id and len(holes) == 2 and holes == [holes[0], holes[0] + 1]
    # the nearest whole bars before the holes, then after them, as many as fit half the context
    before = split_bars(tok.unmerge(row[3 : holes[0]]), {tok.bar_id})
    after = split_bars(tok.unmerge(row[holes[-1] + 1 : fill]), {tok.bar_id})
    assert before and before == old[2 - len(before) : 2]
    assert after and after == old[4 : 4 + len(after)]
    for version in versions:
        new = _bars(bpe_composer, version.tokens)
        assert len(new) == 6 and new[:2] == old[:2] and new[4:] == old[4:]
        assert version.tokens[:3] == piece.tokens[:3] and version.bars == piece.bars
        assert RemiGrammar(tok).errors(version.tokens) == 0
        assert version.score.note_num() > 0
    # The filled bars hold the piece's meter (one meter per piece).
    meters = {t for v in versions for t in tok.music_ids(v.tokens) if tok.token(t).startswith("TimeSig_")}
    assert meters <= {t for t in tok.music_ids(piece.tokens) if tok.token(t).startswith("TimeSig_")}


def test_the_first_bars_are_filled_from_what_follows(bpe_composer):
    piece = bpe_composer.generate("bach", bars=4, seed=1)[0]
    (version,) = bpe_composer.infill(piece, start=0, count=1, seed=2)
    old, new = _bars(bpe_composer, piece.tokens), _bars(bpe_composer, version.tokens)
    assert len(new) == 4 and new[1:] == old[1:]


def test_infilling_is_refused_outside_the_piece_and_without_the_tokens(bpe_composer, composer):
    piece = bpe_composer.generate("folk", bars=3, seed=0)[0]
    with pytest.raises(CadenzaError, match="start must be between 0 and 2"):
        bpe_composer.infill(piece, start=3, count=1)
    with pytest.raises(CadenzaError, match="count must be between 1 and 1"):
        bpe_composer.infill(piece, start=2, count=2)
    plain = composer.generate("folk", bars=2, seed=0)[0]
    with pytest.raises(CadenzaError, match="did not learn bar infilling"):
        composer.infill(plain, start=0, count=1)


# --- regenerating bars of a file: `cadenza infill` (`inference.regenerate`) -------------------------


def _notes_outside(score, spans: list[tuple[float, float]]) -> list[list[tuple[float, float, int]]]:
    """Per track, its notes (onset, length in quarters, pitch) that start outside every (first, end) span
    of quarter notes."""
    q = score.ticks_per_quarter
    notes = [[(n.time / q, n.duration / q, n.pitch) for n in track.notes] for track in score.tracks]
    return [sorted(n for n in track if not any(a <= n[0] < b for a, b in spans)) for track in notes]


@pytest.mark.parametrize(
    ("text", "ranges"), [("5-8", [(4, 4)]), ("3-4, 7", [(2, 2), (6, 1)]), ("7,1-2", [(0, 2), (6, 1)])]
)
def test_bar_ranges_count_from_one(text, ranges):
    assert parse_bars(text, 10) == ranges


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0-2", "outside the piece, which has bars 1 to 10"),
        ("9-12", "outside the piece"),
        ("5-3", "outside the piece"),
        ("3-5,4-6", "overlap"),
        ("1-10", "covers the whole piece.*cadenza generate"),
        ("1-5,6-10", "covers the whole piece"),
        ("bars 3", "write bar ranges like 5-8"),
    ],
)
def test_bad_bar_ranges_are_refused_in_one_line(text, problem):
    with pytest.raises(CadenzaError, match=problem):
        parse_bars(text, 10)


def test_a_files_bars_outside_the_ranges_come_back_note_for_note(bpe_composer, tmp_path):
    path = tmp_path / "duet.mid"
    original = end_at_bar(make_piece(7, bars=6, voices=2), 6)  # its last note rang past bar 6
    original.dump_midi(str(path))
    piece = piece_of(bpe_composer, path, "folk", None)
    assert piece.bars == 6 and [v.name for v in piece.voices] == ["voice0", "voice1"]
    request = Request("folk", num=2, seed=4).sampled(bpe_composer.sampling)
    versions = regenerate(bpe_composer, piece, [(1, 1), (4, 1)], request)
    assert len(versions) == 2
    for version in versions:
        q = version.score.ticks_per_quarter
        spans = [(a / q, b / q) for a, b in version.regenerated]
        assert spans == [(4.0, 8.0), (16.0, 20.0)]  # bars 2 and 5 of 4/4
        assert _notes_outside(version.score, spans) == _notes_outside(original, spans)
        assert [v.name for v in version.voices] == ["voice0", "voice1"]
        assert version.prompt_seen == 5  # the tiny piece fits: every other bar was seen
    assert versions[0].tokens != versions[1].tokens


def test_the_infill_command_writes_marked_files(bpe_composer, tmp_path, capsys):
    from cadenza.cli import main

    path = tmp_path / "tune.mid"
    end_at_bar(make_piece(3, bars=5, voices=1), 5).dump_midi(str(path))
    out = tmp_path / "out"
    argv = ["infill", str(path), "--bars", "2-3", "--model", str(bpe_composer.path), "--style", "folk",
            "--seed", "1", "--num", "2", "--out", str(out), "--formats", "mid,musicxml,png"]  # fmt: skip
    assert main(argv) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == [f"tune_bars2-3_{i}.{f}" for i in (0, 1) for f in ("mid", "musicxml", "png")]
    xml = (out / "tune_bars2-3_0.musicxml").read_text()
    assert xml.count(">regenerated<") == 1 and xml.count(">kept<") == 1
    assert "key:" in capsys.readouterr().err
    assert main(["infill", str(path), "--bars", "1-5", "--model", str(bpe_composer.path)]) == 2
    assert "use `cadenza generate`" in capsys.readouterr().err


def test_a_files_voices_take_the_styles_slots():
    from types import SimpleNamespace

    profiles = {"bach": [0, 1, 2, 3], "classical": [40, 41, 42, 43]}
    composer = SimpleNamespace(profiles={s: SimpleNamespace(programs=p) for s, p in profiles.items()})
    assert style_slots(composer, "bach", [52, 53, 54, 55]) == [0, 1, 2, 3]  # a composed chorale, dressed
    assert style_slots(composer, "bach", [2, 0]) == [2, 0]  # the style's own slots stay as they are
    assert style_slots(composer, "classical", [40, 42]) == [40, 42]
    assert style_slots(composer, "bach", [0, 1, 2, 3, 4]) == [0, 1, 2, 3, 4]  # more voices than the style's
    assert style_slots(composer, "folk", [19, 20]) == [0, 1]  # no profile: numbered as the corpus does


def test_with_a_critic_each_range_is_the_best_of_its_candidates(bpe_composer, monkeypatch):
    from cadenza.inference import regenerate as module

    picks = []

    def last_of_each(versions, candidates, judge, meter):  # stands in for the critic's choice
        picks.append(len(versions))
        return [versions[i + candidates - 1] for i in range(0, len(versions), candidates)]

    monkeypatch.setattr(module, "keep_best", last_of_each)
    piece = bpe_composer.generate("folk", bars=6, seed=3)[0]
    request = Request("folk", num=2, seed=1).sampled(bpe_composer.sampling)
    versions = regenerate(bpe_composer, piece, [(1, 1), (3, 2)], request, judge=object(), candidates=3)
    assert len(versions) == 2 and picks == [6, 3, 3]  # 2 x 3 for the first range, then 3 per version
    plain = regenerate(bpe_composer, piece, [(1, 1)], request)
    assert len(plain) == 2 and picks == [6, 3, 3]  # no critic: nothing picked
