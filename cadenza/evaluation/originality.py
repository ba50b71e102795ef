"""Originality: how much of a piece's melody is found in the training corpus, against a human baseline.

    cadenza originality piece.mid [--corpus build/corpus/embedded] [--style bach]

Melodies are compared transposition-invariantly, as *interval n-grams*: each track's line (its highest
note at each onset) becomes the semitone steps between consecutive notes, and an n-note n-gram is n - 1
consecutive steps. For n = 6, 8 and 12 the report gives the share of the piece's n-grams that occur
anywhere in the corpus' train split, and the *longest copied passage*: the longest run of the piece's
notes that matches one corpus line note for note (a diagonal of consecutive 6-gram matches), with the
corpus piece's id, where it is, and both passages side by side.

A share means little alone: folk tunes and hymn tunes share formulas, so the verdict is against humans of
the same style. When the index is built, every held-out real piece (the validation split) is measured the
same way against the train split; a piece is *flagged* when its 8-gram share or its longest copied passage
is above that style's 95th percentile of the held-out real pieces (cf. the originality report of Yin et
al. 2023, which flags what lies above the human 95th percentile). `cadenza originality` exits 3 when
flagged, 0 when original.

The index is built once beside the corpus (`originality.npz`, numpy arrays, no pickle; a minute for the
embedded corpus) and answers a query in well under a second: a sorted array of 64-bit n-gram hashes per
n, and for 6-grams where each occurs. A 6-gram found in more than `COMMON` places (repeated notes, a
scale) is formulaic: it counts in the shares but does not anchor a copied passage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import symusic
from tqdm import tqdm

from cadenza.errors import CadenzaError
from cadenza.paths import EMBEDDED_CORPUS

SIZES = (6, 8, 12)
HEADLINE = 8  # the n-gram size of the verdict
ANCHOR = 6
COMMON = 1000
PERCENTILE = 95
INDEX_FILE = "originality.npz"
BASELINE_FILE = "originality-baseline.json"
_BASE = np.uint64(1_000_003)  # multiplier of the polynomial hash; arithmetic wraps modulo 2**64


# --- melodies and n-grams ------------------------------------------------------------------------------
def line_notes(score: symusic.Score) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per track with notes: (onset ticks, pitches) of its highest note at each distinct onset."""
    out = []
    for track in score.tracks:
        if not len(track.notes):
            continue
        notes = track.notes.numpy()
        order = np.lexsort((-notes["pitch"].astype(np.int64), notes["time"]))
        times, pitches = notes["time"][order], notes["pitch"][order].astype(np.int64)
        first = np.concatenate([[True], times[1:] != times[:-1]])
        out.append((times[first], pitches[first]))
    return out


def lines(score: symusic.Score) -> list[np.ndarray]:
    """The pitches of `line_notes`: what the n-grams are made of."""
    return [pitches for _, pitches in line_notes(score)]


def ngram_hashes(line: np.ndarray, n: int) -> np.ndarray:
    """The hash of each n-note interval n-gram of a line (len(line) - n + 1 of them; none when shorter)."""
    steps = np.diff(line).astype(np.int64) + 128  # positive, so distinct steps hash apart
    if len(steps) < n - 1:
        return np.zeros(0, dtype=np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(steps.astype(np.uint64), n - 1)
    powers = _BASE ** np.arange(n - 2, -1, -1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return (windows * powers).sum(axis=1, dtype=np.uint64)


# --- the index -----------------------------------------------------------------------------------------
@dataclass
class Index:
    """Sorted n-gram hashes of the corpus lines, and where each 6-gram occurs."""

    hashes: dict[int, np.ndarray]  # n -> sorted unique hashes
    anchor_hashes: np.ndarray  # 6-gram hash of every occurrence, sorted
    anchor_piece: np.ndarray  # the occurrence's piece (row in `ids`)
    anchor_line: np.ndarray  # its line within the piece
    anchor_pos: np.ndarray  # its first note's index in the line
    ids: list[str]
    styles: list[str]

    @classmethod
    def build(cls, scores: Iterable[symusic.Score], ids: list[str], styles: list[str]) -> Index:
        per_n: dict[int, list[np.ndarray]] = {n: [] for n in SIZES}
        rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for piece, score in enumerate(scores):
            for number, line in enumerate(lines(score)):
                for n in SIZES:
                    per_n[n].append(ngram_hashes(line, n))
                found = per_n[ANCHOR][-1]
                count = len(found)
                rows.append((found, np.full(count, piece), np.full(count, number), np.arange(count)))
        columns = [np.concatenate([r[i] for r in rows]) if rows else np.zeros(0) for i in range(4)]
        order = np.argsort(columns[0], kind="stable")
        return cls(
            hashes={n: np.unique(np.concatenate(per_n[n] or [np.zeros(0, np.uint64)])) for n in SIZES},
            anchor_hashes=columns[0][order].astype(np.uint64),
            anchor_piece=columns[1][order].astype(np.int32),
            anchor_line=columns[2][order].astype(np.int16),
            anchor_pos=columns[3][order].astype(np.int32),
            ids=list(ids),
            styles=list(styles),
        )

    def save(self, path: Path) -> None:
        arrays = {f"hashes_{n}": h for n, h in self.hashes.items()}
        np.savez(
            path, **arrays, anchor_hashes=self.anchor_hashes, anchor_piece=self.anchor_piece,
            anchor_line=self.anchor_line, anchor_pos=self.anchor_pos, ids=np.array(self.ids),
            styles=np.array(self.styles),
        )  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> Index:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                hashes={n: data[f"hashes_{n}"] for n in SIZES},
                anchor_hashes=data["anchor_hashes"],
                anchor_piece=data["anchor_piece"],
                anchor_line=data["anchor_line"],
                anchor_pos=data["anchor_pos"],
                ids=data["ids"].tolist(),
                styles=data["styles"].tolist(),
            )


# --- measuring one piece -------------------------------------------------------------------------------
@dataclass
class Passage:
    """The longest run of a piece's notes found note for note (transposed or not) in one corpus line."""

    notes: int
    corpus_id: str
    corpus_line: int
    corpus_start: int  # the index of its first note in that line
    line: int  # the piece's line
    start: int  # the index of its first note in the piece's line


@dataclass
class Measure:
    shares: dict[int, float]  # n -> share of the piece's n-grams found in the corpus (NaN: too short)
    longest: Passage | None

    @property
    def longest_notes(self) -> int:
        return self.longest.notes if self.longest else 0


def measure(score: symusic.Score, index: Index, exclude: str | None = None) -> Measure:
    """The piece's n-gram shares and longest copied passage; `exclude` leaves one corpus piece out."""
    piece_lines = lines(score)
    shares = {}
    for n in SIZES:
        grams = np.concatenate([ngram_hashes(line, n) for line in piece_lines] or [np.zeros(0, np.uint64)])
        shares[n] = float(_found(grams, index.hashes[n]).mean()) if len(grams) else float("nan")
    skip = index.ids.index(exclude) if exclude in index.ids else -1
    best = None
    for number, line in enumerate(piece_lines):
        query, slots = _anchor_hits(ngram_hashes(line, ANCHOR), index.anchor_hashes)
        piece, corpus_line, pos = index.anchor_piece[slots], index.anchor_line[slots], index.anchor_pos[slots]
        keep = piece != skip
        query, piece, corpus_line, pos = query[keep], piece[keep], corpus_line[keep], pos[keep]
        run = _longest_diagonal(query, piece, corpus_line, pos - query)
        if run is not None:
            row, length = run
            notes = length + ANCHOR - 1
            if best is None or notes > best.notes:
                best = Passage(
                    notes,
                    index.ids[int(piece[row])],
                    int(corpus_line[row]),
                    int(pos[row]),
                    number,
                    int(query[row]),
                )
    return Measure(shares, best)


def _found(grams: np.ndarray, sorted_hashes: np.ndarray) -> np.ndarray:
    at = np.minimum(np.searchsorted(sorted_hashes, grams), max(len(sorted_hashes) - 1, 0))
    return sorted_hashes[at] == grams if len(sorted_hashes) else np.zeros(len(grams), dtype=bool)


def _anchor_hits(grams: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query position, anchor slot) of every occurrence of each gram that is not formulaic."""
    left = np.searchsorted(anchors, grams, side="left")
    counts = np.searchsorted(anchors, grams, side="right") - left
    counts[counts > COMMON] = 0
    query = np.repeat(np.arange(len(grams)), counts)
    # the slots left[i] .. left[i] + counts[i] - 1 of every gram, end to end
    firsts = np.repeat(left - np.cumsum(counts) + counts, counts)
    return query, firsts + np.arange(counts.sum())


def _longest_diagonal(query, piece, line, offset) -> tuple[int, int] | None:
    """(a row where it starts, length) of the longest run of consecutive query positions matched on one
    diagonal (same corpus piece, line and offset)."""
    if not len(query):
        return None
    order = np.lexsort((query, offset, line, piece))
    q = query[order]
    keys = np.stack([piece[order], line[order], offset[order]], axis=1)
    joined = np.all(keys[1:] == keys[:-1], axis=1) & (q[1:] == q[:-1] + 1)
    starts = np.flatnonzero(np.concatenate([[True], ~joined]))  # where each run begins, in sorted order
    lengths = np.diff(np.concatenate([starts, [len(q)]]))
    longest = int(lengths.argmax())
    return int(order[starts[longest]]), int(lengths[longest])


# --- the human baseline and the verdict ----------------------------------------------------------------
def baseline(measures: dict[str, list[Measure]]) -> dict[str, dict[str, float]]:
    """Per style, the 95th percentile of held-out real pieces' headline share and longest passage."""
    out = {}
    for style, found in measures.items():
        shares = [m.shares[HEADLINE] for m in found if not np.isnan(m.shares[HEADLINE])]
        out[style] = {
            "share": float(np.percentile(shares, PERCENTILE)) if shares else float("nan"),
            "longest": float(np.percentile([m.longest_notes for m in found], PERCENTILE)) if found else 0.0,
            "pieces": len(found),
        }
    return out


def flagged(result: Measure, human: dict[str, float]) -> bool:
    share = result.shares[HEADLINE]
    return bool((not np.isnan(share) and share > human["share"]) or result.longest_notes > human["longest"])


# --- building beside the corpus and the command ---------------------------------------------------------
def build_index(corpus_dir: str | Path) -> tuple[Index, dict[str, dict[str, float]]]:
    """Index the train split and measure the validation split against it; saved beside the corpus."""
    from cadenza.data.corpus import load_corpus

    corpus = load_corpus(corpus_dir)
    train = corpus["train"]
    scores = (symusic.Score.from_midi(m) for m in tqdm(train["midi"], desc="indexing train", unit="piece"))
    index = Index.build(scores, train["id"], train["style"])
    per_style: dict[str, list[Measure]] = {}
    held_out = corpus["validation"]
    for midi, style in tqdm(
        zip(held_out["midi"], held_out["style"], strict=True), total=len(held_out), desc="human baseline",
        unit="piece",
    ):  # fmt: skip
        per_style.setdefault(style, []).append(measure(symusic.Score.from_midi(midi), index))
    human = baseline(per_style)
    index.save(Path(corpus_dir) / INDEX_FILE)
    (Path(corpus_dir) / BASELINE_FILE).write_text(json.dumps(human, indent=2))
    return index, human


def load_index(corpus_dir: str | Path) -> tuple[Index, dict[str, dict[str, float]]]:
    """The saved index and baseline, built first when missing."""
    folder = Path(corpus_dir)
    if not (folder / INDEX_FILE).is_file() or not (folder / BASELINE_FILE).is_file():
        return build_index(folder)
    return Index.load(folder / INDEX_FILE), json.loads((folder / BASELINE_FILE).read_text())


@dataclass
class OriginalityArgs:
    piece: str = field(metadata={"help": "the piece to judge (any format cadenza reads)"})
    corpus: str = field(default=EMBEDDED_CORPUS, metadata={"help": "corpus folder; its index is built there"})
    style: str | None = field(
        default=None,
        metadata={"help": "the style whose human baseline applies; default: the closest passage's"},
    )


def run_originality(args: OriginalityArgs) -> int:
    from cadenza.data.loading import load_pieces_limited

    score = load_pieces_limited(args.piece)[0].score
    index, human = load_index(args.corpus)
    result = measure(score, index)
    style = args.style or (
        index.styles[index.ids.index(result.longest.corpus_id)] if result.longest else None
    )
    if style is None:
        style = max(human, key=lambda s: human[s]["pieces"])
    if style not in human:
        raise CadenzaError(
            f"no human baseline for style {style!r}; the corpus has: {', '.join(sorted(human))}"
        )
    source = None
    if result.longest:
        from cadenza.data.corpus import load_corpus

        row = index.ids.index(result.longest.corpus_id)  # the index keeps the train split's row order
        source = symusic.Score.from_midi(load_corpus(args.corpus)["train"][row]["midi"])
    print(report(args.piece, result, style, human[style], score, source))
    return 3 if flagged(result, human[style]) else 0


def report(
    name: str,
    result: Measure,
    style: str,
    human: dict[str, float] | None,
    score: symusic.Score,
    source: symusic.Score | None,
) -> str:
    """What `cadenza originality` prints: the shares, the longest copied passage beside its source (from
    `source`, the corpus piece it was found in), and the verdict."""
    shares = ", ".join(
        f"{n}-note " + ("n/a (too few notes)" if np.isnan(result.shares[n]) else f"{result.shares[n]:.1%}")
        for n in SIZES
    )
    out = [f"{name}: n-grams found in the corpus: {shares}"]
    if result.longest and source is not None:
        p = result.longest
        out.append(f"longest copied passage: {p.notes} notes (transposition ignored)")
        out.append(f"  this piece: {passage(score, p.line, p.start, p.notes)}")
        out.append(f"  {p.corpus_id}: {passage(source, p.corpus_line, p.corpus_start, p.notes)}")
    else:
        out.append(f"longest copied passage: none of {ANCHOR} notes or more")
    if human is None:
        out.append(f"no verdict: the corpus has too few held-out {style} pieces for a human baseline")
        return "\n".join(out)
    verdict = "FLAGGED: above" if flagged(result, human) else "original: within"
    out.append(
        f"{verdict} the {style} human {PERCENTILE}th percentile ({HEADLINE}-note share "
        f"{human['share']:.1%}, longest passage {human['longest']:.0f} notes; "
        f"{human['pieces']} held-out pieces)"
    )
    return "\n".join(out)


def passage(score: symusic.Score, line: int, start: int, notes: int, shown: int = 16) -> str:
    """ "line L, bars A-B: C5 B4 A4 ..." for `notes` notes of one line from note `start` (bars counted in
    the score's first time signature)."""
    from music21 import pitch

    first, last = passage_bars(score, line, start, notes)
    pitches = line_notes(score)[line][1]
    names = " ".join(  # music21 spells a flat "E-"; musicians read "Eb"
        pitch.Pitch(midi=int(p)).nameWithOctave.replace("-", "b")
        for p in pitches[start : start + min(notes, shown)]
    )
    return f"line {line + 1}, bars {first}-{last}: {names}{' ...' if notes > shown else ''}"


def passage_bars(score: symusic.Score, line: int, start: int, notes: int) -> tuple[int, int]:
    """The first and last bar (from 1, in the score's first time signature) of a passage of one line."""
    from cadenza.evaluation.metrics import bar_ticks

    times = line_notes(score)[line][0]
    bar = bar_ticks(score)
    return int(times[start]) // bar + 1, int(times[start + notes - 1]) // bar + 1


def passage_score(score: symusic.Score, line: int, start: int, notes: int) -> symusic.Score:
    """The whole bars of a score (every voice) that a passage of one line spans."""
    from cadenza.evaluation.metrics import bar_ticks

    first, last = passage_bars(score, line, start, notes)
    bar = bar_ticks(score)
    return score.clip((first - 1) * bar, last * bar, clip_end=True).shift_time(-(first - 1) * bar)
