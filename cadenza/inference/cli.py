"""`cadenza generate`: write pieces with a model to MIDI, MusicXML, WAV and piano-roll files."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from cadenza.errors import CadenzaError
from cadenza.inference.composer import Composer
from cadenza.inference.generator import Piece
from cadenza.inference.render import check_formats, output_folder, piece_stem, render_piece
from cadenza.inference.request import MAX_NUM, Request
from cadenza.paths import BASE_MODEL, EMBEDDED_CORPUS

DEFAULT_STYLE = "bach"


@dataclass
class GenerateArgs:
    model: str = field(default=BASE_MODEL, metadata={"help": "checkpoint folder"})
    style: str | None = field(
        default=None, metadata={"help": "style tag the model knows (default: bach, or the adapter's style)"}
    )
    adapter: str | None = field(
        default=None, metadata={"help": "a LoRA adapter folder (cadenza finetune) made for --model"}
    )
    bars: int = field(default=8, metadata={"help": "bars to write (1-256)"})
    num: int = field(default=1, metadata={"help": "pieces to write in one batch (1-16)"})
    temperature: float | None = field(
        default=None, metadata={"help": "sampling temperature (0, 5]; default: the checkpoint's"}
    )
    top_k: int | None = field(
        default=None, metadata={"help": "keep the k likeliest tokens (0 = off); default: the checkpoint's"}
    )
    top_p: float | None = field(
        default=None, metadata={"help": "nucleus sampling mass (0, 1]; default: the checkpoint's"}
    )
    seed: int | None = field(default=None, metadata={"help": "random seed (drawn and printed when unset)"})
    tempo: float | None = field(default=None, metadata={"help": "beats per minute (nearest tempo token)"})
    time_signature: str | None = field(default=None, metadata={"help": "e.g. 3/4, kept at every bar"})
    key: str | None = field(
        default=None,
        metadata={"help": "key to write in, e.g. D (major), Bb minor, F#m; default: the model's choice"},
    )
    prompt: str | None = field(default=None, metadata={"help": "MIDI file to continue"})
    prompt_bars: int = field(default=4, metadata={"help": "last bars of --prompt the model sees"})
    whole_prompt: bool = field(
        default=False,
        metadata={
            "help": "write the whole --prompt file before the new bars (default: only its last --prompt_bars)"
        },
    )
    candidates: int = field(
        default=1,
        metadata={
            "help": "write N candidates of each piece and keep the critic's best (docs/preference.md); "
            "costs N pieces of time, batched"
        },
    )
    corpus: str = field(
        default=EMBEDDED_CORPUS, metadata={"help": "built corpus the critic judges against (--candidates)"}
    )
    out: str = field(default="out", metadata={"help": "output folder"})
    formats: str = field(
        default="mid,musicxml,wav,png", metadata={"help": "comma-separated: mid,musicxml,wav,png"}
    )
    no_constraints: bool = field(default=False, metadata={"help": "sample without the grammar"})
    programs: str | None = field(
        default=None, metadata={"help": "General MIDI programs allowed, e.g. 0,1,2,3 (default: the style's)"}
    )
    max_chord: int | None = field(
        default=None, metadata={"help": "notes one instrument may start at once (default: the style's)"}
    )
    no_profile: bool = field(
        default=False, metadata={"help": "ignore the style's profile of instruments and chord size"}
    )
    decoder: str | None = field(
        default=None,
        metadata={
            "help": "what runs the decoding steps: onnx (ONNX Runtime; exported once per model, ~10 s), "
            "compiled (torch.compile, tens of seconds per process) or eager "
            "(default: $CADENZA_DECODER, else onnx)"
        },
    )


def run_generate(args: GenerateArgs) -> None:
    # Bad output options fail before the model loads and samples, not after.
    formats = check_formats(f.strip() for f in args.formats.split(",") if f.strip())
    output_folder(args.out)
    candidates = check_candidates(args.num, args.candidates)
    judge = None
    if candidates > 1:  # a missing corpus fails before the model loads and samples
        from cadenza.evaluation.judge import Judge

        judge = Judge(args.corpus)
    composer = Composer.from_pretrained(args.model, decoder=args.decoder)
    adapter_style = composer.load_adapter(args.adapter) if args.adapter else None
    request = Request(
        args.style or adapter_style or DEFAULT_STYLE,
        bars=args.bars,
        num=candidates * args.num,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        tempo=args.tempo,
        time_signature=args.time_signature,
        key=args.key,
        prompt_midi=args.prompt,
        prompt_bars=args.prompt_bars,
        constrained=not args.no_constraints,
        programs=parse_programs(args.programs),
        max_chord=args.max_chord,
        use_profile=not args.no_profile,
    )
    pieces = composer.generate(request)
    if judge is not None:
        pieces = keep_best(pieces, candidates, judge, args.time_signature)
    seen = pieces[0].prompt_seen
    if seen is not None and seen < args.prompt_bars:
        print(
            f"note: the model saw the last {seen:g} bars of {args.prompt} (not {args.prompt_bars}): "
            f"that is what fits its {composer.context}-token context; the output holds the whole file"
        )
    if pieces[0].key is not None:  # on stderr: stdout lists the files written, one a line
        note = f" ({pieces[0].key_note})" if pieces[0].key_note else ""
        print(f"key: {pieces[0].key}{note}", file=sys.stderr)
    for index, piece in enumerate(pieces):
        stem = piece_stem(piece.style, piece.seed, index)
        for path in render_piece(piece, args.out, stem, formats, whole=args.whole_prompt).values():
            print(path)


def check_candidates(num: int, candidates: int) -> int:
    """`candidates`, checked: each of the `num` pieces is the best of that many, sampled in one batch."""
    if not 1 <= candidates <= MAX_NUM:
        raise CadenzaError(f"--candidates {candidates}: between 1 and {MAX_NUM}")
    if num * candidates > MAX_NUM:
        raise CadenzaError(f"--num {num} x --candidates {candidates}: at most {MAX_NUM} pieces in one batch")
    return candidates


def keep_best(pieces: list[Piece], candidates: int, judge, meter: str | None) -> list[Piece]:
    """Of each run of `candidates` pieces, the critic's best; what it kept and why goes to stderr."""
    from cadenza.evaluation.critic import best_of

    kept = []
    for start in range(0, len(pieces), candidates):
        group = pieces[start : start + candidates]
        best, critiques = best_of(judge, group, meter)
        scores = ", ".join(f"{c.score:.2f}" for c in critiques)
        print(f"kept candidate {best + 1} of {candidates} (critic scores {scores})", file=sys.stderr)
        kept.append(group[best])
    return kept


def parse_programs(text: str | None) -> list[int] | None:
    """'0,1,2,3' -> [0, 1, 2, 3]; None stays None."""
    if text is None:
        return None
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise CadenzaError(f"--programs takes comma-separated numbers like 0,1,2,3, got {text!r}") from None
