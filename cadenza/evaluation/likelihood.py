"""Likelihood: held-out NLL of a checkpoint beside the n-gram baseline, per token, per note, per token kind.

The model is scored on the same bar-aligned chunks that training's `evaluate()` uses (`BOS Style ...`, one
chunk per row, every token after BOS predicted) with the one NLL function training uses
(`training.model.token_nll`); the n-gram (interpolated Kneser-Ney, fitted on the train split's chunks) on
exactly the same positions. The base model's bar: model NLL <= 0.75 x n-gram NLL (at least 25% lower).

The n-gram result is cached in `<corpus>/eval_cache/` under a key made of the corpus (its split
fingerprints and manifest), the order, the chunk length and the tokenizer's vocabulary, so a second
evaluation of the same corpus reuses it.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cadenza.errors import CadenzaError
from cadenza.evaluation.ngram import NGramModel
from cadenza.paths import EMBEDDED_CORPUS, TOKENIZER_FILE
from cadenza.tokenization.chunking import chunk_sequence
from cadenza.tokenization.tokenizer import CadenzaTokenizer

NGRAM_VERSION = 2  # bump when the n-gram model or its data changes, to invalidate cached results
NLL_BAR = 0.75  # the model's NLL must be at most this fraction of the n-gram's
CACHE_DIR = "eval_cache"
MIN_CHUNK = 8  # BOS Style Continue Bar TimeSig Position Program Pitch: one note after the prefix


@dataclass
class NGramArgs:
    corpus: str = field(default=EMBEDDED_CORPUS, metadata={"help": "corpus folder"})
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
        for chunk in chunk_sequence(
            ids, tokenizer.bar_starts, tokenizer.eos_id, max_len, tokenizer.continue_id, tokenizer.prefix_len
        )
    ]


def tokenizer_hash(tokenizer: CadenzaTokenizer) -> str:
    return tokenizer.fingerprint[:16]


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
    if not (target / TOKENIZER_FILE).is_file():
        target.mkdir(parents=True, exist_ok=True)
        tokenizer.save(target)
    return target / TOKENIZER_FILE


# --- n-gram baseline ---------------------------------------------------------------------------------
def ngram_baseline(args: NGramArgs, corpus, tokenizer_path: str, subset: str = "") -> dict:
    """Fit on the train split's chunks, score `args.split`'s chunks; a dict of numbers (cached on disk
    beside `args.corpus`). `subset` names the styles `corpus` was cut to when it is not the whole corpus
    at `args.corpus`."""
    corpus_path, order, max_len, split = args.corpus, args.order, args.max_len, args.split
    num_proc, use_cache = args.num_proc, args.use_cache
    if max_len < MIN_CHUNK:
        raise CadenzaError(f"chunk length must be at least {MIN_CHUNK} tokens, got {max_len}")
    tokenizer = CadenzaTokenizer.load(tokenizer_path)
    key_text = (
        f"v{NGRAM_VERSION}-{corpus_hash(corpus_path)}-{tokenizer_hash(tokenizer)}"
        f"-n{order}-len{max_len}-{split}" + (f"-styles:{subset}" if subset else "")
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
    """Where the NLL goes: per token, per note (the total over the notes scored: one Pitch token each in
    REMI, inside merged tokens too, so models with other tokenizations compare), and the mean per token
    kind (the part of a token's name before "_": Pitch, Duration, Position, Bar, ...; "Merged" for a BPE
    token of several) with each kind's share of the tokens."""
    parts = [tokenizer.parts(int(t)) for t in targets]
    kinds = np.array([tokenizer.kind(int(t)) for t in targets])
    pitch = tokenizer.ids_of("Pitch")
    notes = sum(1 for p in parts for i in p if i in pitch)
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


def known_styles(corpus, styles: list[str]) -> tuple[object, str]:
    """`corpus` cut to the pieces of `styles` (a merged corpus holds styles a base model never learned),
    and the styles kept as a cache label; the corpus itself and "" when it has no other style."""
    from datasets import DatasetDict

    present = {style for part in corpus.values() for style in part["style"]}
    if present <= set(styles):
        return corpus, ""
    kept = set(styles)
    cut = DatasetDict(
        {name: part.filter(lambda s: s in kept, input_columns="style") for name, part in corpus.items()}
    )
    return cut, ",".join(sorted(present & kept))


def likelihood(
    model_dir: str | Path,
    corpus_path: str | Path,
    corpus,
    split: str = "validation",
    order: int = 5,
    batch_size: int = 8,
    num_proc: int = 2,
    use_cache: bool = True,
) -> dict:
    """The checkpoint's NLL on `split` beside the n-gram's, with both breakdowns (a dict of numbers)."""
    from cadenza.checkpoint import load_checkpoint

    if split not in corpus:
        raise CadenzaError(f"no split {split!r} in {corpus_path}")
    model, tokenizer = load_checkpoint(model_dir)
    corpus, subset = known_styles(corpus, tokenizer.styles)
    tokenizer_path = str(Path(model_dir) / TOKENIZER_FILE)
    max_len = int(model.config.n_positions)
    spec = NGramArgs(str(corpus_path), order, max_len, split, num_proc, use_cache)
    ngram = ngram_baseline(spec, corpus, tokenizer_path, subset)
    chunks = corpus_chunks(corpus[split], tokenizer_path, max_len, num_proc)
    values = model_token_nll(model, chunks, tokenizer.pad_id, batch_size)
    nll, count = mean_nll(values)
    if count != ngram["scored_tokens"]:
        raise CadenzaError(
            f"model scored {count} tokens but the n-gram {ngram['scored_tokens']}: not comparable"
        )
    plain = None
    if tokenizer.is_bpe:  # the n-gram on plain REMI too: the classic baseline, per note
        plain_path = str(corpus_tokenizer(corpus, Path(corpus_path) / CACHE_DIR))
        plain = ngram_baseline(spec, corpus, plain_path, subset)
    return {
        "split": split,
        "ngram_remi": plain,
        "model_nll": round(nll, 4),
        "model_perplexity": round(math.exp(nll), 3),
        "ngram": ngram,
        "reduction": round(1 - nll / ngram["nll"], 4),
        "passes": nll <= NLL_BAR * ngram["nll"],
        "scored_tokens": count,
        "scored_chunks": len(chunks),
        "breakdown": nll_breakdown(values, scored_targets(chunks), tokenizer),
    }


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
            *_per_note_line(nll),
        ]
    )


def _per_note_line(nll: dict) -> list[str]:
    """For a BPE model: its NLL per note against the n-gram's on plain REMI (a context of 5 base tokens
    rather than 5 merged ones): the baseline every tokenization is compared with."""
    remi = nll.get("ngram_remi")
    if not remi:
        return []
    model, theirs = nll["breakdown"]["per_note"], remi["breakdown"]["per_note"]
    return [
        "",
        f"Per note against the {remi['order']}-gram on plain REMI tokens: {model:.3f} against {theirs:.3f} "
        f"nats ({100 * (1 - model / theirs):.1f}% below).",
    ]


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


def run_ngram(args: NGramArgs) -> dict:
    """`cadenza evaluate ngram`: the n-gram baseline alone (no model needed)."""
    from cadenza.data.corpus import load_corpus

    corpus = load_corpus(args.corpus)
    tokenizer_path = corpus_tokenizer(corpus, Path(args.corpus) / CACHE_DIR)
    result = ngram_baseline(args, corpus, str(tokenizer_path))
    print(json.dumps(result, indent=2))
    return result
