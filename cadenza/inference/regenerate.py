"""Regenerate bars: a piece (generated, or any score file) with some of its bars written again, knowing
the bars on both sides (`Composer.infill`, MMM's layout), every other bar kept note for note.

    cadenza infill chorale.musicxml --bars 5-8 --num 3
    cadenza infill tune.mid --bars 3-4,7-8 --style irish_fiddle --seed 1

Bars count from 1 as a score's do; several ranges are written again one after another, each knowing
what the one before wrote. The rewritten bars are marked "regenerated" in the MusicXML and shaded on
the piano roll.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cadenza.data import loading
from cadenza.data.loading import load_pieces_limited
from cadenza.data.voices import Voice
from cadenza.errors import CadenzaError, InputFileError
from cadenza.inference.cli import check_candidates, keep_best
from cadenza.inference.composer import Composer
from cadenza.inference.generator import Piece
from cadenza.inference.render import check_formats, one_line, output_folder, render_piece, track_voices
from cadenza.inference.request import Request
from cadenza.keys import annotated_key, key_name
from cadenza.paths import BASE_MODEL, EMBEDDED_CORPUS
from cadenza.tokenization.tokenizer import split_bars

if TYPE_CHECKING:
    from cadenza.evaluation.judge import Judge


def parse_bars(text: str, bars: int) -> list[tuple[int, int]]:
    """'5-8' or '3-4, 7' (bars from 1, inclusive) -> sorted (start from 0, count) ranges of a piece of
    `bars` bars; refused in one line: unreadable, outside the piece, overlapping, or the whole piece."""
    ranges = []
    for part in (p.strip() for p in text.split(",")):
        first, _, last = part.partition("-")
        try:
            first_bar, last_bar = int(first), int(last or first)
        except ValueError:
            raise CadenzaError(f"--bars {text!r}: write bar ranges like 5-8 or 3-4,7") from None
        if not 1 <= first_bar <= last_bar <= bars:
            raise CadenzaError(f"bars {part}: outside the piece, which has bars 1 to {bars}")
        ranges.append((first_bar - 1, last_bar - first_bar + 1))
    ranges.sort()
    for (start, count), (next_start, _) in zip(ranges, ranges[1:], strict=False):
        if start + count > next_start:
            raise CadenzaError(f"--bars {text!r}: the ranges overlap")
    if sum(count for _, count in ranges) >= bars:
        raise CadenzaError(
            f"--bars {text!r} covers the whole piece: nothing is left to keep; use `cadenza generate`"
        )
    return ranges


def piece_of(
    composer: Composer, source: str | Path | loading.ScorePiece, style: str, key: str | None
) -> Piece:
    """A score file (or one read already) as a `Piece` the composer can infill: its notes in the model's
    tokens, in `style`, in `key` (default: the file's, as read or analysed), its voices keeping their
    names and instruments; in a style of one line (a fiddle tune), a note held past the next one's start
    ends there, as the rewritten piece's do. Refused in one line: a meter the tokenizer has no token for,
    or no note it can read.

    Its tracks take the style's voice slots in order (`style_slots`): a file sounds its voices on its own
    instruments (a composed chorale's four are all Choir Aahs), and the model knows them by slot."""
    piece = source if isinstance(source, loading.ScorePiece) else load_pieces_limited(source)[0]
    name = source if isinstance(source, (str, Path)) else piece.title
    tok = composer.tokenizer
    tok.style_id(style)
    missing = [m for m in piece.time_signatures if f"TimeSig_{m}" not in tok.vocab]
    if missing:
        raise InputFileError(name, f"in {', '.join(missing)}, a meter the model has no token for")
    score, voices = piece.score.copy(), []
    slots = style_slots(composer, style, [int(track.program) for track in score.tracks])
    for track, slot, voice in zip(score.tracks, slots, piece.voices, strict=True):
        voices.append(Voice(slot, voice.name, voice.program if voice.program is not None else voice.slot))
        track.program = slot
    asked = annotated_key(key or piece.key)
    tokens = tok.encode(score, style, asked if tok.has_keys else None)
    if not tok.ids_of("Pitch") & set(tokens):
        raise InputFileError(name, "no note the model can read (its pitches or instruments are out of range)")
    bars = [bar for bar in split_bars(tok.music_ids(tokens), {tok.bar_id}) if bar]
    if bars and len(bars) < piece.num_bars:  # bars of rest at the end, which REMI leaves out: kept
        # spelled as the model writes an empty bar: its bar line and meter, as the last bar opens
        empty = [t for t in bars[-1][:2] if t == tok.bar_id or t in tok.ids_of("TimeSig")]
        rests = empty * (piece.num_bars - len(bars))
        tokens = [*tokens[:-1], *rests, tokens[-1]] if tokens[-1] == tok.eos_id else [*tokens, *rests]
        bars += [empty] * (piece.num_bars - len(bars))
    score = tok.decode(tokens)  # as the model writes it: the kept bars come back from these tokens
    profile = composer.profiles.get(style)
    if profile is not None and profile.max_chord == 1:  # one line, as the rewritten piece is written
        score = one_line(score)
    return Piece(score, tokens, style, 0, len(bars), track_voices(score, voices), None, key=key_name(asked))


def style_slots(composer: Composer, style: str, programs: list[int]) -> list[int]:
    """The voice slots (Program tokens) a file's tracks, playing `programs`, take in `style`: their own
    when the style has them all (a corpus piece's, or a user's quartet on 40-43); else the style profile's
    in order when there are enough (a composed chorale's four Choir Aahs become 0-3); else 0, 1, 2, ...
    as the corpus numbers the parts of a piece."""
    profile = composer.profiles.get(style)
    known = list(profile.programs) if profile is not None else []
    if known and set(programs) <= set(known):
        return list(programs)
    if known and len(programs) <= len(known):
        return known[: len(programs)]
    return list(range(len(programs)))


def regenerate(
    composer: Composer,
    piece: Piece,
    ranges: list[tuple[int, int]],
    request: Request,
    judge: Judge | None = None,
    candidates: int = 1,
) -> list[Piece]:
    """`request.num` versions of `piece` with each of `ranges` ((start, count) from 0) written again, in
    order: the first range's versions are drawn together, each then goes on to the next range. With a
    `judge`, each range of each version is the critic's best of `candidates` drawn together (as
    `cadenza generate --candidates`; the critic's reasons go to stderr)."""

    def picked(versions: list[Piece]) -> list[Piece]:
        return keep_best(versions, candidates, judge, None) if judge is not None else versions

    (start, count), *rest = ranges
    versions = picked(composer.infill(piece, start, count, replace(request, num=request.num * candidates)))
    for number, (start, count) in enumerate(rest, 1):
        again = replace(request, num=candidates)
        versions = [
            picked(composer.infill(v, start, count, replace(again, seed=again.seed + 1000 * number + i)))[0]
            for i, v in enumerate(versions)
        ]  # fmt: skip
    return versions


@dataclass
class InfillArgs:
    piece: str = field(metadata={"help": "the score to edit: MIDI, MusicXML, ABC, kern, ..."})
    bars: str = field(metadata={"help": "bars to write again, from 1: 5-8, or several: 3-4,7-8"})
    model: str = field(
        default=BASE_MODEL, metadata={"help": "checkpoint folder (one that learned infilling)"}
    )
    adapter: str | None = field(default=None, metadata={"help": "a LoRA adapter folder made for --model"})
    style: str | None = field(
        default=None, metadata={"help": "style to write in (default: bach, or the adapter's style)"}
    )
    key: str | None = field(
        default=None, metadata={"help": "the piece's key, e.g. D, Bb minor (default: as read)"}
    )
    num: int = field(default=1, metadata={"help": "versions to write (1-16)"})
    candidates: int = field(
        default=1,
        metadata={"help": "write N candidates of each range and keep the critic's best (as generate)"},
    )
    corpus: str = field(
        default=EMBEDDED_CORPUS, metadata={"help": "built corpus the critic judges against (--candidates)"}
    )
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = field(default=None, metadata={"help": "random seed (drawn and printed when unset)"})
    out: str = field(default="out", metadata={"help": "output folder"})
    formats: str = field(
        default="mid,musicxml,wav,png", metadata={"help": "comma-separated: mid,musicxml,wav,png"}
    )
    decoder: str | None = field(default=None, metadata={"help": "onnx, compiled or eager (as generate)"})


def run_infill(args: InfillArgs) -> None:
    formats = check_formats(f.strip() for f in args.formats.split(",") if f.strip())
    output_folder(args.out)
    read = load_pieces_limited(args.piece)[0]  # an unreadable file fails before the model loads
    candidates = check_candidates(args.num, args.candidates)
    judge = None
    if candidates > 1:  # a missing corpus fails before the model loads and samples
        from cadenza.evaluation.judge import Judge

        judge = Judge(args.corpus)
    composer = Composer.from_pretrained(args.model, decoder=args.decoder)
    style = (composer.load_adapter(args.adapter) if args.adapter else None) or args.style or "bach"
    piece = piece_of(composer, read, args.style or style, args.key)
    ranges = parse_bars(args.bars, piece.bars)
    request = Request(
        piece.style, num=args.num, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        seed=args.seed,
    ).sampled(composer.sampling)  # fmt: skip
    print(f"key: {piece.key}, seed: {request.seed}", file=sys.stderr)
    stem = Path(args.piece).stem
    for index, version in enumerate(regenerate(composer, piece, ranges, request, judge, candidates)):
        for path in render_piece(version, args.out, f"{stem}_bars{args.bars.replace(',', '+')}_{index}",
                                 formats).values():  # fmt: skip
            print(path)
