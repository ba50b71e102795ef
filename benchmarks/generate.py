"""Generation speed: plain `model.generate` vs the cadenza engine, at batch 1 and 8.

    python benchmarks/generate.py [--model DIR] [--tokens 256]

Without --model it uses checkpoints/cadenza-base when present, else a tiny random model built here (the
tests' recipe). Prints new tokens/s, seconds for a 16-bar piece and the real-time factor.
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
from cadenza.inference.sampling import CompiledForward, sample, sampling_warpers
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = Path(args.model) if args.model else DEFAULT_MODEL if DEFAULT_MODEL.is_dir() else None
    tmp = tempfile.TemporaryDirectory()
    composer = Composer.from_pretrained(folder or tiny_model(Path(tmp.name)))
    model, tok = composer.model, composer.tokenizer
    style = composer.styles[0]
    print(
        f"model: {folder or 'tiny random (1 layer, 32 wide)'}; "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params; "
        f"threads {torch.get_num_threads()}; {args.tokens} new tokens\n"
    )
    n = args.tokens
    grammar = RemiGrammar(tok, model.config.vocab_size)
    never = 10**6  # bar limit never reached: every run writes exactly n tokens

    def plain(batch: int):
        ids = torch.tensor([[tok.bos_id, tok.style_id(style)]] * batch)
        return lambda: model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=True,
            max_new_tokens=n,
            min_new_tokens=n,
            pad_token_id=tok.pad_id,
        )

    def generate_constrained(batch: int):
        ids = torch.tensor([[tok.bos_id, tok.style_id(style)]] * batch)
        return lambda: model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=True,
            max_new_tokens=n,
            top_k=0,
            top_p=0.95,
            pad_token_id=tok.pad_id,
            logits_processor=LogitsProcessorList([GrammarLogitsProcessor(grammar, never)]),
        )

    compiled = CompiledForward(model)

    def engine(batch: int, constrained: bool, fast: CompiledForward | None = None):
        ids = torch.tensor([[tok.bos_id, tok.style_id(style)]] * batch)

        def run():
            processors = LogitsProcessorList([GrammarLogitsProcessor(grammar, never)] if constrained else [])
            processors += sampling_warpers(1.0, 0, 0.95)
            stop = BarStoppingCriteria(tok.bar_starts, tok.eos_id, never)
            return sample(model, ids, processors, stop, n, tok.pad_id, fast)

        return run

    rows = [
        ("(a) model.generate, defaults, no constraints", plain),
        ("    model.generate + grammar processor", generate_constrained),
        ("(b) engine: own KV-cache loop + grammar", lambda b: engine(b, True)),
        ("    engine without grammar", lambda b: engine(b, False)),
        ("(c) engine compiled (static cache) + grammar", lambda b: engine(b, True, compiled)),
    ]
    print(f"| {'path':46} | batch 1 tok/s | batch 8 tok/s |")
    print(f"|{'-' * 48}|---------------|---------------|")
    times = {batch: best_times([make(batch) for _, make in rows], args.repeats) for batch in (1, 8)}
    results = {}
    for i, (name, _) in enumerate(rows):
        rates = [batch * n / times[batch][i] for batch in (1, 8)]
        results[name] = rates
        print(f"| {name:46} | {rates[0]:13.0f} | {rates[1]:13.0f} |")
    base = results[rows[0][0]][0]
    for i in (2, 4):
        print(f"{rows[i][0].strip()} vs plain generate at batch 1: {results[rows[i][0]][0] / base:.2f}x")

    print()
    for name, fast in (("eager", None), ("compiled", compiled)):
        composer.compiled = fast
        start = time.perf_counter()
        piece = composer.generate(style, bars=16, seed=0, tempo=100, time_signature="4/4")[0]
        seconds = time.perf_counter() - start
        music = piece.score.to("second").end()
        print(
            f"16-bar {style} piece, {name} engine: {seconds:.1f} s to write ({len(piece.tokens)} tokens), "
            f"{music:.1f} s of music, real-time factor {music / seconds:.1f}"
        )
    tmp.cleanup()


if __name__ == "__main__":
    main()
