"""Regenerate bars on held-out pieces: what `cadenza infill` keeps, and how its seams and harmony compare
with real music.

    python benchmarks/regenerate.py [--model checkpoints/cadenza-base] [--corpus build/corpus/embedded] \\
        [--split test] [--pieces 12] [--candidates 4] [--seed 0] [--out docs/regenerate-benchmark.md]

For each style the model knows, up to `--pieces` held-out pieces of at least 8 bars: their first 8 bars are
written to a MIDI file and read back as a user's file is (`regenerate.piece_of`), and bars 3-6 are written
again (`regenerate.regenerate`, seed `--seed` + the piece's number) twice: one sampled version, and the
critic's best of `--candidates` (`cadenza infill --candidates`). Measured against the 8 bars as read:

- kept: the share of pieces whose bars 1-2 and 7-8 come back note for note (onset, length, pitch, voice;
  a note held into bar 3 counted up to bar 3, where the rewritten bars may start another in its voice);
- seams: voice-leading steps (`harmony.voice_leading`) and melodic moves (`harmony.melodic_moves`) arriving
  within a beat of the two seams (the starts of bars 3 and 7), parallel fifths and octaves per 100 steps
  and leaps larger than an octave per 100 moves, against the same counts over every step and move of the
  real 8 bars ("inside real pieces") and at the real pieces' own seams;
- harmony of bars 3-6 (`harmony.features`: consonance, triads and sevenths, parallels, crossings), the
  regenerated bars' mean against the real bars 3-6's, for every style with more than one voice.

The NLL of the bars given both sides against the left side only is `benchmarks/infill.py --before 2
--middle 4 --after 2`.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import symusic

from cadenza.data.corpus import load_corpus
from cadenza.errors import CadenzaError
from cadenza.evaluation.harmony import features, melodic_moves, voice_leading
from cadenza.evaluation.judge import Judge
from cadenza.inference.composer import Composer
from cadenza.inference.regenerate import piece_of, regenerate
from cadenza.inference.render import bar_starts, end_at_bar
from cadenza.inference.request import Request

WINDOW, START, COUNT = 8, 2, 4  # bars of each window; bars 3-6 (from 0: 2, four of them) written again


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="checkpoints/cadenza-base")
    parser.add_argument("--corpus", default="build/corpus/embedded")
    parser.add_argument("--split", default="test")
    parser.add_argument("--pieces", type=int, default=12, help="per style")
    parser.add_argument("--candidates", type=int, default=4, help="the best-of row's candidates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    return parser.parse_args()


def notes_by_voice(score: symusic.Score, spans: list[tuple[int, int]]) -> list[tuple]:
    """(voice's program, onset, length, pitch) in quarters of every note starting outside the tick spans,
    as it sounds there: a note held into a span is cut where the span begins (the rewritten bars may start
    a new note in its voice, and a voice never overlaps itself)."""
    q = score.ticks_per_quarter
    kept = []
    for track in score.tracks:
        for n in track.notes:
            if any(a <= n.time < b for a, b in spans):
                continue
            end = min([n.time + n.duration, *(a for a, _ in spans if a > n.time)])
            kept.append((int(track.program), n.time / q, (end - n.time) / q, n.pitch))
    return sorted(kept)


def near(ticks: list[int], seams: list[int], width: int) -> np.ndarray:
    """Which of `ticks` fall within `width` ticks after one of the seams."""
    return np.array([any(s <= t < s + width for s in seams) for t in ticks], dtype=bool)


def seam_counts(score: symusic.Score, seams: list[int]) -> dict[str, tuple[int, int]]:
    """(hits, total) of parallel steps and of leaps over an octave, near the seams and over the piece."""
    denominator = score.time_signatures[0].denominator if score.time_signatures else 4
    beat = score.ticks_per_quarter * 4 // denominator
    steps, moves = voice_leading(score), melodic_moves(score)
    step_ticks, parallel = [t for t, _ in steps], np.array([p for _, p in steps], dtype=bool)
    move_ticks, leap = [t for t, _ in moves], np.array([m > 12 for _, m in moves], dtype=bool)
    at_steps, at_moves = near(step_ticks, seams, beat), near(move_ticks, seams, beat)
    return {
        "seam parallels": (int(parallel[at_steps].sum()), int(at_steps.sum())),
        "seam leaps": (int(leap[at_moves].sum()), int(at_moves.sum())),
        "all parallels": (int(parallel.sum()), len(parallel)),
        "all leaps": (int(leap.sum()), len(leap)),
    }


def bars_of(score: symusic.Score, first: int, end: int) -> symusic.Score:
    starts = [*bar_starts(score), score.end()]
    return score.clip(starts[first], starts[end], clip_end=True).shift_time(-starts[first])


def one_piece(composer: Composer, row: dict, seed: int, folder: Path, best_of: tuple) -> dict | None:
    """A held-out piece's window, its bars 3-6 written again (sampled, and the critic's best of
    `best_of` = (judge, candidates)), and what the module measures of each; None when the piece is too
    short, or in a meter the model has no token for."""
    score = symusic.Score.from_midi(row["midi"])
    if len(bar_starts(score)) < WINDOW:
        return None
    path = folder / f"{row['id'].replace('/', '_')}.mid"
    end_at_bar(score, WINDOW).dump_midi(str(path))
    try:
        piece = piece_of(composer, path, row["style"], row["key"])
    except CadenzaError:  # a meter the model has no token for (some trecento pieces)
        return None
    if piece.bars != WINDOW:
        return None
    request = Request(row["style"], seed=seed).sampled(composer.sampling)
    starts = bar_starts(piece.score)
    span = [(starts[START], starts[START + COUNT])]
    measured = {
        "real": seam_counts(piece.score, [span[0][0], span[0][1]]),
        "real harmony": features(bars_of(piece.score, START, START + COUNT)),
        "voices": len(piece.voices),
    }
    for name, picking in (("sampled", (None, 1)), ("best of", best_of)):
        (version,) = regenerate(composer, piece, [(START, COUNT)], request, *picking)
        measured[name] = {
            "kept": notes_by_voice(version.score, span) == notes_by_voice(piece.score, span),
            "seams": seam_counts(version.score, [span[0][0], span[0][1]]),
            "harmony": features(bars_of(version.score, START, START + COUNT)),
        }
    return measured


def rate(results: list[dict], version: str, name: str) -> str:
    """Hits per 100 of the count `name`, over `results`, of the real windows ("real") or of a version."""
    counts = [r["real"] if version == "real" else r[version]["seams"] for r in results]
    hits, total = (sum(c[name][i] for c in counts) for i in (0, 1))
    return f"{100 * hits / total:.1f} ({hits}/{total})" if total else "n/a"


def main() -> None:
    args = parse_args()
    composer = Composer.from_pretrained(args.model)
    best_of = (Judge(args.corpus), args.candidates)
    split = load_corpus(args.corpus)[args.split]
    started, results = time.time(), {}
    with tempfile.TemporaryDirectory() as folder:
        for style in composer.styles:
            rows = [row for row in split if row["style"] == style]
            done = []
            for index, row in enumerate(rows):
                if len(done) == args.pieces:
                    break
                measured = one_piece(composer, row, args.seed + index, Path(folder), best_of)
                if measured is not None:
                    done.append(measured)
                print(f"\r{style}: {len(done)} pieces, {time.time() - started:.0f} s", end="", flush=True)
            print()
            if done:
                results[style] = done
    heading = (
        f"`{args.model}` on `{args.corpus}` ({args.split}): bars 3-6 of each piece's first 8 bars written "
        f"again, up to {args.pieces} pieces a style, seed {args.seed} + the piece's number, sampled and the "
        f"critic's best of {args.candidates}; "
        f"{time.time() - started:.0f} s."
    )
    text = "\n".join([heading, "", *seam_table(results), "", *harmony_table(results)])
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


def seam_table(results: dict[str, list[dict]]) -> list[str]:
    lines = [
        "| style | pieces | version | bars 1-2 and 7-8 kept | parallels / 100 steps at the seams "
        "| inside real pieces | at the real seams | leaps > octave / 100 moves at the seams "
        "| inside real pieces |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for style, done in [*results.items(), ("all", [r for d in results.values() for r in d])]:
        for version in ("sampled", "best of"):
            kept = sum(r[version]["kept"] for r in done)
            lines.append(
                f"| {style} | {len(done)} | {version} | {kept}/{len(done)} "
                f"| {rate(done, version, 'seam parallels')} | {rate(done, 'real', 'all parallels')} "
                f"| {rate(done, 'real', 'seam parallels')} | {rate(done, version, 'seam leaps')} "
                f"| {rate(done, 'real', 'all leaps')} |"
            )
    return lines


def harmony_table(results: dict[str, list[dict]]) -> list[str]:
    """Bars 3-6's harmony, regenerated / real, per style with more than one voice."""
    names = ["consonance", "chord_share", "parallel_perfects", "voice_crossings"]
    lines = [
        "Harmony of bars 3-6, regenerated / real (mean over pieces; relative difference):",
        "",
        "| style | version | " + " | ".join(names) + " |",
        "|---|---|" + "---:|" * len(names),
    ]
    for style, done in results.items():
        if max(r["voices"] for r in done) < 2:
            continue
        for version in ("sampled", "best of"):
            cells = []
            for name in names:
                new = np.nanmean([r[version]["harmony"][name] for r in done])
                real = np.nanmean([r["real harmony"][name] for r in done])
                change = f"{new / real - 1:+.0%}" if real and not math.isnan(real) else "n/a"
                cells.append(f"{new:.3f} / {real:.3f} ({change})")
            lines.append(f"| {style} | {version} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
