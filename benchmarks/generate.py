"""Generation speed, models side by side: plain `model.generate` against the cadenza engine, and what a
user gets: a 16-bar chorale's writing time against its playing time (the real-time factor).

    python benchmarks/generate.py [--models checkpoints/cadenza-base runs/v2/model] [--tokens 256]

Without --models it uses checkpoints/cadenza-base when present, else a tiny random model built here (the
tests' recipe). Per model: new tokens/s of (a) plain `generate()` without constraints, (b) the engine with
the grammar, eager, compiled and in ONNX Runtime, at batch 1 and 8; then 16 bars of Bach per decoder at
batch 1 (seconds, real-time factor, over --seeds seeds) and at batch 8 (pieces' music per second against
batch 1's). Tokens are the model's (BPE-merged for a BPE model), so compare the 16-bar rows across models.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from transformers import LogitsProcessorList

from cadenza.checkpoint import save_checkpoint
from cadenza.inference.composer import Composer
from cadenza.inference.constraints import BarStoppingCriteria, GrammarLogitsProcessor
from cadenza.inference.onnx_step import OnnxStep
from cadenza.inference.request import Sampling
from cadenza.inference.sampling import DECODE_THREADS, DECODERS, CompiledForward, decoding_threads, sample
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from cadenza.training.model import ModelArgs, build_model

DEFAULT_MODEL = Path("checkpoints/cadenza-base")


def tiny_model(folder: Path) -> Path:
    torch.manual_seed(0)
    tokenizer = CadenzaTokenizer.new(["bach", "folk"])
    model = build_model(ModelArgs(n_layer=1, n_embd=32, n_head=2, n_positions=1024), tokenizer)
    # As in tests/inference/conftest.py: a Bar logit ~3 above the rest, so bars hold a few notes, not ~200.
    with torch.no_grad():
        bar = model.transformer.wte.weight[tokenizer.bar_id]
        model.transformer.ln_f.weight.mul_(0.1)
        model.transformer.ln_f.bias.copy_(bar * 3.0 / bar.dot(bar))
    return save_checkpoint(model, tokenizer, folder / "tiny")


def best_times(fns: list, repeats: int) -> list[float]:
    """Best of `repeats` runs of each, taken round-robin after a warm-up: on a shared machine load comes
    and goes, so interleaving spreads it over all paths and the minimum is the least noisy figure."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def token_rates(composer: Composer, style: str, n: int, repeats: int) -> list[tuple[str, list[float]]]:
    model, tok = composer.model, composer.tokenizer
    prefix = tok.prefix(style, (0, "major") if tok.has_keys else None)
    grammar = RemiGrammar(tok, model.config.vocab_size)
    never = 10**6  # bar limit never reached: every run writes exactly n tokens
    compiled, onnx = CompiledForward(model), OnnxStep(model, None, DECODE_THREADS)

    def plain(batch: int):
        ids = torch.tensor([prefix] * batch)
        kwargs = dict(do_sample=True, max_new_tokens=n, min_new_tokens=n, pad_token_id=tok.pad_id)
        return lambda: model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)

    def engine(batch: int, fast: CompiledForward | OnnxStep | None = None):
        ids = torch.tensor([prefix] * batch)

        def run():
            processors = LogitsProcessorList([GrammarLogitsProcessor(grammar, never)])
            stop = BarStoppingCriteria(tok.bar_starts, tok.eos_id, never)
            return sample(model, ids, processors, Sampling(1.0, 0, 0.95), stop, n, tok.pad_id, fast)

        return run

    rows = [
        ("(a) model.generate, no constraints", plain),
        ("(b) engine + grammar, eager", engine),
        ("(c) engine + grammar, compiled", lambda b: engine(b, compiled)),
        ("(d) engine + grammar, ONNX Runtime", lambda b: engine(b, onnx)),
    ]
    with decoding_threads():  # as the composer decodes: plain generate() gets the same threads
        times = {batch: best_times([make(batch) for _, make in rows], repeats) for batch in (1, 8)}
    return [(name, [batch * n / times[batch][i] for batch in (1, 8)]) for i, (name, _) in enumerate(rows)]


def pieces(composer: Composer, style: str, bars: int, num: int, seeds: int) -> tuple[float, float, int]:
    """(seconds to write, seconds of music in all, model tokens per piece) of `num` pieces at a time, for
    each of `seeds` seeds, best of 2 per seed: one seed's piece may be short or long (a 16-bar chorale is
    340 to 500 model tokens), so the sum over seeds is the figure."""
    seconds, music, tokens = 0.0, 0.0, 0
    for seed in range(seeds):
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            written = composer.generate(style, bars=bars, num=num, seed=seed, tempo=100, time_signature="4/4")
            best = min(best, time.perf_counter() - start)
        seconds += best
        music += sum(p.score.to("second").end() for p in written)
        tokens += sum(len(composer.tokenizer.merge(p.tokens)) for p in written)
    return seconds, music, round(tokens / seeds / num)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=4, help="pieces (or batches of 8) per row, one a seed")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    folders = args.models or [DEFAULT_MODEL if DEFAULT_MODEL.is_dir() else tiny_model(Path(tmp.name))]
    for folder in folders:
        composer = Composer.from_pretrained(folder)
        style = "bach" if "bach" in composer.styles else composer.styles[0]
        params = sum(p.numel() for p in composer.model.parameters()) / 1e6
        bpe = f"BPE {len(composer.tokenizer)}" if composer.tokenizer.is_bpe else "plain REMI"
        print(f"\n## {folder}: {params:.2f} M params, {bpe}, context {composer.context}\n")
        print("| path | batch 1 tok/s | batch 8 tok/s |")
        print("|---|---:|---:|")
        for name, (one, eight) in token_rates(composer, style, args.tokens, args.repeats):
            print(f"| {name} | {one:.0f} | {eight:.0f} |")
        print()
        for name in reversed(DECODERS):
            composer = Composer.from_pretrained(folder, decoder=name)
            seconds, music, tokens = pieces(composer, style, args.bars, 1, args.seeds)
            eight_seconds, eight_music, _ = pieces(composer, style, args.bars, 8, args.seeds)
            rtf, n = music / seconds, args.seeds
            print(
                f"{args.bars} bars of {style}, {name}, {n} seeds: {seconds / n:.2f} s a piece ({tokens} "
                f"tokens), real-time factor {rtf:.1f}; batch 8: {eight_seconds / n:.2f} s, throughput "
                f"{eight_music / eight_seconds / rtf:.1f}x batch 1"
            )
    tmp.cleanup()


if __name__ == "__main__":
    main()
