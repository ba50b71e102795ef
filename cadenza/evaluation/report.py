"""`cadenza evaluate`: judge a checkpoint against the base-model quality bar, write JSON and the card.

1. Validation NLL per token (nats) of the model on the same bar-aligned chunks that training's
   `evaluate()` uses (`BOS Style ...`, one chunk per row, every token after BOS predicted), next to an
   interpolated Kneser-Ney n-gram model fitted on the train split's chunks and scored on exactly the same
   positions. Bar: model NLL <= 0.75 x n-gram NLL (at least 25% lower).
2. Style control: `pieces_per_style` generations per style; see `style_control` for the table and rule.
   Bar: at least three quarters of the styles (6 of 8) pass.

The n-gram result is cached in `<corpus>/eval_cache/` under a key made of the corpus (its split
fingerprints and manifest), the order, the chunk length and the tokenizer's vocabulary, so a second
evaluation of the same corpus reuses it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from cadenza.errors import CadenzaError
from cadenza.evaluation import style_control
from cadenza.evaluation.ngram import NGramModel
from cadenza.tokenization.chunking import chunk_sequence
from cadenza.tokenization.tokenizer import CadenzaTokenizer

NGRAM_VERSION = 2  # bump when the n-gram model or its data changes, to invalidate cached results
NLL_BAR = 0.75  # the model's NLL must be at most this fraction of the n-gram's
CACHE_DIR = "eval_cache"
MIN_CHUNK = 8  # BOS Style Continue Bar TimeSig Position Program Pitch: one note after the prefix


@dataclass
class EvaluateArgs:
    model: str = field(default="checkpoints/cadenza-base", metadata={"help": "checkpoint folder"})
    corpus: str = field(
        default="build/corpus/embedded", metadata={"help": "corpus folder (cadenza corpus build)"}
    )
    pieces_per_style: int = field(default=8, metadata={"help": "generations per style for the style table"})
    # 4, not 8: eight bars of a dense style outgrow a 512-token window, and re-prompted rows are sampled one
    # at a time (measured: 20 minutes for two styles at 8 bars, 9 minutes for all eight at 4).
    bars: int = field(default=4, metadata={"help": "bars per generation (and per corpus excerpt)"})
    seed: int = 0
    ngram_order: int = field(default=5, metadata={"help": "order of the n-gram baseline"})
    out: str | None = field(
        default=None, metadata={"help": "JSON report path; default <model>/evaluation.json"}
    )
    update_card: bool = field(
        default=True, metadata={"help": "write an '## Evaluation' section in <model>/README.md"}
    )
    split: str = field(default="validation", metadata={"help": "split scored for NLL"})
    batch_size: int = field(default=8, metadata={"help": "chunks per forward pass"})
    num_proc: int = field(default=2, metadata={"help": "processes tokenizing the corpus"})
    use_cache: bool = field(default=True, metadata={"help": "reuse a cached n-gram result"})
    skip_style: bool = field(default=False, metadata={"help": "skip the generation / style table"})


@dataclass
class NGramArgs:
    corpus: str = field(default="build/corpus/embedded", metadata={"help": "corpus folder"})
    order: int = field(default=5, metadata={"help": "n-gram order"})
    max_len: int = field(default=1024, metadata={"help": "chunk length (the model's n_positions)"})
    split: str = field(default="validation", metadata={"help": "split scored"})
    num_proc: int = 2
    use_cache: bool = True


# --- data --------------------------------------------------------------------------------------------
def corpus_chunks(split, tokenizer_path: str, max_len: int, num_proc: int = 2) -> list[list[int]]:
    """The split's pieces as bar-aligned chunks of at most max_len, one list per chunk, unpacked: for
    validation/test these are exactly the rows of `training.data.lm_datasets`."""
    from cadenza.training.data import tokenize_pieces

    tokenizer = CadenzaTokenizer.load(tokenizer_path)
    pieces = tokenize_pieces(split, tokenizer_path, num_proc)
    return [
        chunk
        for ids in pieces["input_ids"]
        for chunk in chunk_sequence(ids, tokenizer.bar_id, tokenizer.eos_id, max_len, tokenizer.continue_id)
    ]


def tokenizer_hash(tokenizer: CadenzaTokenizer) -> str:
    return hashlib.sha256(json.dumps(tokenizer.vocab, sort_keys=True).encode()).hexdigest()[:16]


def corpus_hash(corpus_path: str | Path) -> str:
    """Changes whenever the corpus is rebuilt with other content (datasets' fingerprints + manifest)."""
    path = Path(corpus_path)
    parts = []
    for name in ("manifest.json", "dataset_dict.json"):
        if (path / name).is_file():
            parts.append((path / name).read_text())
    for state in sorted(path.glob("*/state.json")):
        parts.append(state.parent.name + json.loads(state.read_text()).get("_fingerprint", ""))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def corpus_tokenizer(corpus, folder: Path) -> Path:
    """A tokenizer with the same ids as training's (built from the sorted train styles), saved once."""
    tokenizer = CadenzaTokenizer.new(sorted(set(corpus["train"]["style"])))
    target = folder / f"tokenizer-{tokenizer_hash(tokenizer)}"
    if not (target / "tokenizer.json").is_file():
        target.mkdir(parents=True, exist_ok=True)
        tokenizer.save(target)
    return target / "tokenizer.json"


# --- n-gram baseline ---------------------------------------------------------------------------------
def ngram_baseline(
    corpus_path: str | Path,
    corpus,
    tokenizer_path: str,
    order: int,
    max_len: int,
    split: str = "validation",
    num_proc: int = 2,
    use_cache: bool = True,
) -> dict:
    """Fit on the train split's chunks, score `split`'s chunks; a dict of numbers (cached on disk)."""
    if max_len < MIN_CHUNK:
        raise CadenzaError(f"chunk length must be at least {MIN_CHUNK} tokens, got {max_len}")
    tokenizer = CadenzaTokenizer.load(tokenizer_path)
    key_text = (
        f"v{NGRAM_VERSION}-{corpus_hash(corpus_path)}-{tokenizer_hash(tokenizer)}"
        f"-n{order}-len{max_len}-{split}"
    )
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    cache = Path(corpus_path) / CACHE_DIR / f"ngram-{key}.json"
    if use_cache and cache.is_file():
        return {**json.loads(cache.read_text()), "cached": True}
    start = time.monotonic()
    train = corpus_chunks(corpus["train"], tokenizer_path, max_len, num_proc)
    held_out = corpus_chunks(corpus[split], tokenizer_path, max_len, num_proc)
    prep = time.monotonic() - start
    start = time.monotonic()
    model = NGramModel(order, len(tokenizer)).fit(train)
    fit_seconds = time.monotonic() - start
    start = time.monotonic()
    logp = model.log_probs(held_out)
    score_seconds = time.monotonic() - start
    nll = float(-logp.mean())
    result = {
        "order": order,
        "max_len": max_len,
        "split": split,
        "nll": round(nll, 4),
        "perplexity": round(math.exp(nll), 3),
        "train_tokens": model.train_tokens,
        "train_chunks": len(train),
        "scored_tokens": int(len(logp)),
        "scored_chunks": len(held_out),
        "breakdown": nll_breakdown(-logp, scored_targets(held_out), tokenizer),
        "discounts": [round(level.discount, 3) for level in model.levels],
        "tokenize_seconds": round(prep, 1),
        "fit_seconds": round(fit_seconds, 1),
        "score_seconds": round(score_seconds, 1),
        "key": key_text,
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result, indent=2))
    return {**result, "cached": False}


# --- the model -----------------------------------------------------------------------------------------
@torch.no_grad()
def model_token_nll(model, chunks: list[list[int]], pad_id: int, batch_size: int = 8) -> np.ndarray:
    """The NLL (nats) of every token after the first of each chunk, chunk after chunk in order
    (`training.model.token_nll`, the measure of training's validation loss); chunks are batched by length
    to waste little padding."""
    from cadenza.training.model import token_nll

    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(chunks)), key=lambda i: len(chunks[i]))
    per_chunk: list[np.ndarray] = [np.zeros(0)] * len(chunks)
    for b in range(0, len(order), batch_size):
        picked = order[b : b + batch_size]
        rows = [chunks[i] for i in picked]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = labels[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        nll = token_nll(logits, labels.to(device)).cpu().numpy()
        for i, row, values in zip(picked, rows, nll, strict=True):
            per_chunk[i] = values[: len(row) - 1]
    return np.concatenate([np.zeros(0), *per_chunk])


def mean_nll(values: np.ndarray) -> tuple[float, int]:
    """The mean of per-token NLLs and how many there are; nothing to score is an error."""
    if not len(values):
        raise CadenzaError("nothing to score: no chunk has more than one token")
    return float(values.mean()), len(values)


def model_nll(model, chunks: list[list[int]], pad_id: int, batch_size: int = 8) -> tuple[float, int]:
    """Mean NLL per predicted token (nats) over the chunks, and the number of predicted tokens."""
    return mean_nll(model_token_nll(model, chunks, pad_id, batch_size))


def scored_targets(chunks: list[list[int]]) -> np.ndarray:
    """The ids an NLL scores, in the order of `model_token_nll` and `NGramModel.log_probs`: every token
    after the first of each chunk."""
    return np.array([token for chunk in chunks for token in chunk[1:]], dtype=np.int64)


def nll_breakdown(nll: np.ndarray, targets: np.ndarray, tokenizer: CadenzaTokenizer) -> dict:
    """Where the NLL goes: per token, per note (the total over the number of Pitch tokens scored: one per
    note in REMI, so models with other tokenizations compare), and the mean per token kind (the part of a
    token's name before "_": Pitch, Duration, Position, Bar, ...) with each kind's share of the tokens."""
    kinds = np.array([tokenizer.token(int(t)).partition("_")[0] for t in targets])
    notes = int((kinds == "Pitch").sum())
    by_kind = {
        kind: {
            "nll": round(float(nll[kinds == kind].mean()), 4),
            "share": round(float((kinds == kind).mean()), 4),
        }
        for kind in sorted(set(kinds.tolist()))
    }
    return {
        "per_token": round(float(nll.mean()), 4) if len(nll) else math.nan,
        "per_note": round(float(nll.sum() / notes), 4) if notes else math.nan,
        "notes": notes,
        "by_kind": by_kind,
    }


# --- style control -------------------------------------------------------------------------------------
def style_report(composer, corpus, pieces_per_style: int, bars: int, seed: int) -> dict:
    """The style table of the composer as users get it (style profiles on, when the checkpoint has them)
    and, when it has them, of the model alone under `model_alone`: the profiles narrow the grammar to a
    style's instruments and chord size, and both tables show how much of the control that is."""
    from cadenza.inference.composer import MAX_NUM

    tokenizer = composer.tokenizer
    train = corpus["train"]
    styles = [s for s in tokenizer.styles if s in set(train["style"])]
    per_style = style_control.corpus_features(train["midi"], train["style"], tokenizer, bars)
    corpus_means = style_control.summarize(per_style)
    scales = style_control.feature_scales(per_style)

    def table(use_profile: bool) -> dict:
        generated: dict[str, list[dict[str, float]]] = {}
        timings = {}
        for i, style in enumerate(styles):
            start = time.monotonic()
            pieces = [
                piece
                # Batches of at most MAX_NUM; each (style, batch) has its own seed.
                for batch, start in enumerate(range(0, pieces_per_style, MAX_NUM))
                for piece in composer.generate(
                    style,
                    bars=bars,
                    num=min(MAX_NUM, pieces_per_style - start),
                    seed=seed + i + batch * len(styles),
                    use_profile=use_profile,
                )
            ]
            timings[style] = round(time.monotonic() - start, 1)
            generated[style] = [style_control.features(p.score) for p in pieces]
        rows = style_control.style_table(corpus_means, style_control.summarize(generated), scales)
        passed = sum(r["passes"] for r in rows)
        need = style_control.required_passes(len(rows))
        return {
            "rows": rows,
            "passed": passed,
            "required": need,
            "passes": passed >= need,
            "generation_seconds": timings,
        }

    report = {
        "pieces_per_style": pieces_per_style,
        "bars": bars,
        "seed": seed,
        "profile": bool(composer.profiles),
        "scales": scales,
        "corpus_means": corpus_means,
        **table(use_profile=True),
    }
    if composer.profiles:
        report["model_alone"] = table(use_profile=False)
    return report


def nll_markdown(nll: dict) -> str:
    return "\n".join(
        [
            "| model | val NLL / token (nats) | perplexity |",
            "|---|---:|---:|",
            f"| this model | {nll['model_nll']:.4f} | {nll['model_perplexity']:.3f} |",
            f"| {nll['ngram']['order']}-gram (interpolated Kneser-Ney) | {nll['ngram']['nll']:.4f} "
            f"| {nll['ngram']['perplexity']:.3f} |",
            "",
            f"Model NLL is {100 * abs(nll['reduction']):.1f}% "
            f"{'below' if nll['reduction'] >= 0 else 'above'} the n-gram's (bar: >= 25% below): "
            f"**{'pass' if nll['passes'] else 'fail'}**. Scored tokens: {nll['scored_tokens']:,} "
            f"in {nll['scored_chunks']:,} chunks of the {nll['split']} split.",
            "",
            *breakdown_table(nll["breakdown"], nll["ngram"]["breakdown"], nll["ngram"]["order"]),
        ]
    )


def breakdown_table(model: dict, ngram: dict, order: int) -> list[str]:
    """NLL per note and per token kind, the model beside the n-gram."""
    lines = [
        f"| NLL (nats) | this model | {order}-gram | share of tokens |",
        "|---|---:|---:|---:|",
        f"| per note ({model['notes']:,} notes) | {model['per_note']:.3f} | {ngram['per_note']:.3f} | |",
    ]
    for kind, row in model["by_kind"].items():
        theirs = ngram["by_kind"].get(kind, {}).get("nll", math.nan)
        lines.append(f"| {kind} tokens | {row['nll']:.3f} | {theirs:.3f} | {row['share']:.1%} |")
    return lines


def card_section(report: dict) -> str:
    lines = ["## Evaluation", "", f"`cadenza evaluate` on `{report['corpus']}` ({report['date']}).", ""]
    lines += ["### Likelihood", "", nll_markdown(report["nll"]), ""]
    style = report.get("style_control")
    if style:
        lines += [
            "### Style control",
            "",
            f"{style['pieces_per_style']} generations of {style['bars']} bars per style "
            f"(seed {style['seed']}) "
            f"against the style's train pieces cut to their first {style['bars']} bars. A style passes when "
            "its generations' mean (pitch range, polyphony), each divided by its corpus-wide standard "
            "deviation, is nearer its own corpus mean than any other style's.",
            "",
        ]
        if style.get("profile"):
            lines += [
                "As `cadenza generate` runs by default, with the style profiles (`style_profiles.json`: "
                "each style's instruments and chord size, read from the train split) narrowing the grammar:",
                "",
            ]
        lines += _style_lines(style)
        if "model_alone" in style:
            lines += ["The model alone (`--no_profile`: the grammar without the style profiles):", ""]
            lines += _style_lines(style["model_alone"])
    return "\n".join(lines)


def _style_lines(table: dict) -> list[str]:
    return [
        style_control.markdown_table(table["rows"]),
        "",
        f"{table['passed']} of {len(table['rows'])} styles pass (bar: {table['required']}): "
        f"**{'pass' if table['passes'] else 'fail'}**.",
        "",
    ]


def update_card(card_path: Path, section: str) -> None:
    """Replace the card's '## Evaluation' section (up to the next '## ' heading) or append one."""
    text = card_path.read_text() if card_path.is_file() else ""
    pattern = re.compile(r"^## Evaluation\n.*?(?=^## |\Z)", re.S | re.M)
    block = section.rstrip("\n") + "\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + block
    card_path.write_text(text.rstrip("\n") + "\n")


def run_evaluate(args: EvaluateArgs) -> dict:
    from datetime import date

    from cadenza.checkpoint import load_checkpoint
    from cadenza.data.corpus import load_corpus

    if not args.skip_style and args.pieces_per_style < 1:
        raise CadenzaError(f"--pieces_per_style must be at least 1, got {args.pieces_per_style}")
    model_dir = Path(args.model)
    corpus = load_corpus(args.corpus)
    if args.split not in corpus:
        raise CadenzaError(f"no split {args.split!r} in {args.corpus}")
    model, tokenizer = load_checkpoint(model_dir)
    tokenizer_path = str(model_dir / "tokenizer.json")
    max_len = int(model.config.n_positions)

    ngram = ngram_baseline(
        args.corpus,
        corpus,
        tokenizer_path,
        args.ngram_order,
        max_len,
        args.split,
        args.num_proc,
        args.use_cache,
    )
    how = "cached" if ngram["cached"] else "fit in {} s".format(ngram["fit_seconds"])
    print(f"{args.ngram_order}-gram {args.split} NLL {ngram['nll']:.4f} ({how})")
    chunks = corpus_chunks(corpus[args.split], tokenizer_path, max_len, args.num_proc)
    start = time.monotonic()
    values = model_token_nll(model, chunks, tokenizer.pad_id, args.batch_size)
    nll, count = mean_nll(values)
    if count != ngram["scored_tokens"]:
        raise CadenzaError(
            f"model scored {count} tokens but the n-gram {ngram['scored_tokens']}: not comparable"
        )
    print(f"model {args.split} NLL {nll:.4f} (ppl {math.exp(nll):.3f}) in {time.monotonic() - start:.0f} s")
    report = {
        "model": str(model_dir),
        "corpus": args.corpus,
        "date": date.today().isoformat(),
        "args": asdict(args),
        "nll": {
            "split": args.split,
            "model_nll": round(nll, 4),
            "model_perplexity": round(math.exp(nll), 3),
            "ngram": ngram,
            "reduction": round(1 - nll / ngram["nll"], 4),
            "passes": nll <= NLL_BAR * ngram["nll"],
            "scored_tokens": count,
            "scored_chunks": len(chunks),
            "breakdown": nll_breakdown(values, scored_targets(chunks), tokenizer),
        },
    }
    if not args.skip_style:
        from cadenza.inference.composer import Composer

        composer = Composer.from_pretrained(model_dir)
        report["style_control"] = style_report(composer, corpus, args.pieces_per_style, args.bars, args.seed)
        for table in (report["style_control"], report["style_control"].get("model_alone")):
            if table is not None:
                print(style_control.markdown_table(table["rows"]))
    out = Path(args.out) if args.out else model_dir / "evaluation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    if args.update_card:
        update_card(model_dir / "README.md", card_section(report))
    print(nll_markdown(report["nll"]))
    print(f"report written to {out}")
    return report


def run_ngram(args: NGramArgs) -> dict:
    """`cadenza evaluate ngram`: the n-gram baseline alone (no model needed)."""
    from cadenza.data.corpus import load_corpus

    corpus = load_corpus(args.corpus)
    tokenizer_path = corpus_tokenizer(corpus, Path(args.corpus) / CACHE_DIR)
    result = ngram_baseline(
        args.corpus,
        corpus,
        str(tokenizer_path),
        args.order,
        args.max_len,
        args.split,
        args.num_proc,
        args.use_cache,
    )
    print(json.dumps(result, indent=2))
    return result
