"""From a built corpus (a `datasets.DatasetDict` of MIDI bytes) to model-ready rows.

train: pieces -> tokens -> bar-aligned chunks -> packed rows of up to `max_len` ids, one style per row, so
a sampler can weigh the styles (`style_weights`, `StyleSampler`) instead of the corpus' raw proportions.
validation/test: the same chunks unpacked, one per row, so the loss of each chunk is measured in its own
context, the same way the n-gram baseline sees it.
Each step is a `datasets.map` with `num_proc`; datasets caches them beside the corpus, so a second run
starts at once.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import symusic
import torch
from datasets import Dataset, DatasetDict
from torch.utils.data import WeightedRandomSampler
from tqdm.auto import tqdm

from cadenza.keys import annotated_key
from cadenza.tokenization.chunking import Transposer, chunk_sequence, pack_chunks
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from cadenza.training.shards import PadRows


@lru_cache(maxsize=4)
def _tokenizer(path: str, digest: str) -> CadenzaTokenizer:
    # Workers load the tokenizer by path (cheap for datasets' cache fingerprint); the digest of the file
    # is part of the key, so a tokenizer file that changed at the same path is never served from a cache.
    return CadenzaTokenizer.load(path)


def _digest(path: str) -> str:
    """The tokenizer file's hash and the encoding code's: datasets' cache keys on the map function's
    arguments, so a change to how scores become tokens (a fix in `tokenization`) must change them too, or
    training reads the old tokens from the cache (a song corpus once trained without its lyrics)."""
    from cadenza.data import streams
    from cadenza.tokenization import tokenizer

    digest = hashlib.sha256(Path(path).read_bytes())
    for module in (tokenizer, streams):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def _tokenize_batch(batch: dict, tokenizer_path: str, tokenizer_digest: str) -> dict:
    """Each piece in model ids (merged with BPE), with the key its corpus row annotates (a corpus without
    a key column: the score's own)."""
    tokenizer = _tokenizer(tokenizer_path, tokenizer_digest)
    keys = batch["key"] if "key" in batch else [None] * len(batch["midi"])
    ids = [
        tokenizer.merge(
            tokenizer.encode(
                symusic.Score.from_midi(midi),
                style,
                annotated_key(key) if key and tokenizer.has_keys else None,
            )
        )
        for midi, style, key in zip(batch["midi"], batch["style"], keys, strict=True)
    ]
    return {"input_ids": ids, "style": batch["style"]}


def _chunk_batch(
    batch: dict, bar_starts: list[int], eos_id: int, max_len: int, continue_id: int | None, prefix_len: int
) -> dict:
    chunks, styles = [], []
    starts = set(bar_starts)
    for ids, style in zip(batch["input_ids"], batch["style"], strict=True):
        for chunk in chunk_sequence(ids, starts, eos_id, max_len, continue_id, prefix_len):
            chunks.append(chunk)
            styles.append(style)
    return {"input_ids": chunks, "style": styles}


def _pack_batch(batch: dict, max_len: int) -> dict:
    """Pack each style's chunks apart, so every row belongs to one style."""
    by_style: dict[str, list[list[int]]] = {}
    for chunk, style in zip(batch["input_ids"], batch["style"], strict=True):
        by_style.setdefault(style, []).append(chunk)
    rows, styles = [], []
    for style, chunks in by_style.items():
        packed = pack_chunks(chunks, max_len)
        rows += packed
        styles += [style] * len(packed)
    return {"input_ids": rows, "style": styles}


def style_tokens(styles: list[str], lengths: list[int]) -> dict[str, int]:
    """Tokens per style, from each row's style and length."""
    totals: dict[str, int] = {}
    for style, length in zip(styles, lengths, strict=True):
        totals[style] = totals.get(style, 0) + length
    return dict(sorted(totals.items()))


class StyleSampler(WeightedRandomSampler):
    """Draws rows (with replacement, as many per epoch as there are rows) so that each style's expected
    share of the tokens drawn is its weight. Epoch e draws from seed + e, so a resumed run replays it."""

    def __init__(self, styles: list[str], lengths: list[int], weights: dict[str, float], seed: int) -> None:
        tokens = style_tokens(styles, lengths)
        row_weights = [
            weights.get(style, 0.0) * length / tokens[style]
            for style, length in zip(styles, lengths, strict=True)
        ]
        self.seed = seed
        super().__init__(row_weights, len(styles), replacement=True, generator=torch.Generator())
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.generator.manual_seed(self.seed + epoch)


def style_mix_table(tokens: dict[str, int], weights: dict[str, float]) -> str:
    """What each style contributes: its train tokens, their share, and its share of what is trained on."""
    total = sum(tokens.values())
    lines = ["| style | train tokens | share of corpus | share trained on |", "|---|---:|---:|---:|"]
    for style, count in tokens.items():
        lines.append(f"| {style} | {count:,} | {count / total:.1%} | {weights.get(style, 0):.1%} |")
    return "\n".join(lines)


def music_of(split: Dataset, tokenizer: CadenzaTokenizer) -> Iterator[list[int]]:
    """Each piece's REMI base ids, for learning BPE merges (a progress bar: ~2 ms a piece)."""
    for midi in tqdm(split["midi"], desc="reading for BPE", unit="piece"):
        yield tokenizer.encode_music(symusic.Score.from_midi(midi))


def tokenize_pieces(split: Dataset, tokenizer_path: str, num_proc: int = 2) -> Dataset:
    """One row per piece: `input_ids` = BOS Style <music> EOS, and its `style`."""
    return split.map(
        _tokenize_batch,
        batched=True,
        batch_size=32,
        fn_kwargs={"tokenizer_path": tokenizer_path, "tokenizer_digest": _digest(tokenizer_path)},
        remove_columns=split.column_names,
        num_proc=num_proc if len(split) >= 64 else None,
        desc="tokenizing",
    )


def lm_datasets(corpus: DatasetDict, tokenizer_path: str, max_len: int, num_proc: int = 2) -> DatasetDict:
    tokenizer = _tokenizer(tokenizer_path, _digest(tokenizer_path))
    out = {}
    for name, split in corpus.items():
        pieces = tokenize_pieces(split, tokenizer_path, num_proc)
        chunks = pieces.map(
            _chunk_batch,
            batched=True,
            fn_kwargs={
                "bar_starts": sorted(tokenizer.bar_starts),
                "eos_id": tokenizer.eos_id,
                "max_len": max_len,
                "continue_id": tokenizer.continue_id,
                "prefix_len": tokenizer.prefix_len,
            },
            remove_columns=pieces.column_names,
            desc=f"chunking {name}",
        )
        if name == "train":
            chunks = chunks.map(
                _pack_batch,
                batched=True,
                batch_size=2000,
                fn_kwargs={"max_len": max_len},
                desc="packing train",
            )
        out[name] = chunks
    return DatasetDict(out)


@dataclass
class Collator(PadRows):
    """Pads a batch; labels ignore padding. With `transpose` > 0 each row is shifted by a random number of
    semitones in [-transpose, transpose] (fresh every epoch, no extra rows on disk)."""

    transposer: Transposer | None = None
    transpose: int = 0

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        return super().__call__([self._augment(row["input_ids"]) for row in rows])

    def _augment(self, ids: list[int]) -> list[int]:
        if not self.transpose or self.transposer is None:
            return ids
        shift = random.randint(-self.transpose, self.transpose)
        return self.transposer(ids, shift) or ids
