"""How often sampled pieces break the REMI grammar, with and without the grammar processor.

    python benchmarks/grammar_validity.py [--model DIR] [--n 1000] [--bars 4] [--batch 16] [--decoder D]

Without --model it uses checkpoints/cadenza-base when present, else the tiny random model of
benchmarks/generate.py (biased to close bars, like the tests' model). "dropped" counts tokens miditok's
decoder skips (its tokens_errors ratio times the
sequence length); "grammar" counts the tokens our grammar rejects; a piece fails when either is non-zero.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from generate import DEFAULT_MODEL, tiny_model  # the sibling script, on sys.path when run as a script

from cadenza.inference.composer import Composer
from cadenza.inference.sampling import DECODERS
from cadenza.tokenization.grammar import RemiGrammar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--bars", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--decoder", choices=DECODERS, default=None, help="what runs the steps")
    args = parser.parse_args()
    folder = Path(args.model) if args.model else DEFAULT_MODEL if DEFAULT_MODEL.is_dir() else None
    tmp = tempfile.TemporaryDirectory()
    composer = Composer.from_pretrained(folder or tiny_model(Path(tmp.name)), decoder=args.decoder)
    tok = composer.tokenizer
    grammar = RemiGrammar(tok)
    print(f"model: {folder or 'tiny random (1 layer, 32 wide)'}; {args.n} pieces of {args.bars} bars\n")
    print("| sampling | pieces | grammar errors | dropped tokens | tokens | failure rate | seconds |")
    print("|---|---|---|---|---|---|---|")
    for constrained in (False, True):
        start = time.perf_counter()
        pieces = errors = dropped = tokens = failed = 0
        seed = 0
        while pieces < args.n:
            num = min(args.batch, args.n - pieces)
            for piece in composer.generate(
                tok.styles[seed % len(tok.styles)],
                bars=args.bars,
                num=num,
                seed=seed,
                constrained=constrained,
            ):
                music = tok.music_ids(piece.tokens)
                g = grammar.errors(piece.tokens)
                d = round(tok.remi.tokens_errors(music) * len(music)) if music else 0
                errors, dropped, tokens = errors + g, dropped + d, tokens + len(music)
                failed += bool(g or d)
            pieces += num
            seed += 1
        name = "grammar processor" if constrained else "unconstrained"
        rate, seconds = failed / pieces, time.perf_counter() - start
        row = f"| {name} | {pieces} | {errors} | {dropped} | {tokens} | {rate:.1%} | {seconds:.0f} |"
        print(row, flush=True)
    tmp.cleanup()


if __name__ == "__main__":
    main()
