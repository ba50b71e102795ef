"""From a built corpus (a `datasets.DatasetDict` of MIDI bytes) to model-ready rows.

train: pieces -> tokens -> bar-aligned chunks -> packed rows of up to `max_len` ids.
validation/test: the same chunks unpacked, one per row, so the loss of each chunk is measured in its own
context, the same way the n-gram baseline sees it.
Each step is a `datasets.map` with `num_proc`; datasets caches them beside the corpus, so a second run
starts at once.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import symusic
import torch
from datasets import Dataset, DatasetDict

from cadenza.tokenization.chunking import Transposer, chunk_sequence, pack_chunks
from cadenza.tokenization.tokenizer import CadenzaTokenizer


@lru_cache(maxsize=4)
def _tokenizer(path: str, digest: str) -> CadenzaTokenizer:
    # Workers load the tokenizer by path (cheap for datasets' cache fingerprint); the digest of the file
    # is part of the key, so a tokenizer file that changed at the same path is never served from a cache.
    return CadenzaTokenizer.load(path)


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tokenize_batch(batch: dict, tokenizer_path: str, tokenizer_digest: str) -> dict:
    tokenizer = _tokenizer(tokenizer_path, tokenizer_digest)
    ids = [
        tokenizer.encode(symusic.Score.from_midi(midi), style)
        for midi, style in zip(batch["midi"], batch["style"], strict=True)
    ]
    return {"input_ids": ids, "style": batch["style"]}


def _chunk_batch(batch: dict, bar_id: int, eos_id: int, max_len: int, continue_id: int | None) -> dict:
    chunks = [
        c for ids in batch["input_ids"] for c in chunk_sequence(ids, bar_id, eos_id, max_len, continue_id)
    ]
    return {"input_ids": chunks}


def _pack_batch(batch: dict, max_len: int) -> dict:
    return {"input_ids": pack_chunks(batch["input_ids"], max_len)}


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
                "bar_id": tokenizer.bar_id,
                "eos_id": tokenizer.eos_id,
                "max_len": max_len,
                "continue_id": tokenizer.continue_id,
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
class Collator:
    """Pads a batch; labels ignore padding. With `transpose` > 0 each row is shifted by a random number of
    semitones in [-transpose, transpose] (fresh every epoch, no extra rows on disk)."""

    pad_id: int
    transposer: Transposer | None = None
    transpose: int = 0

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        seqs = [self._augment(row["input_ids"]) for row in rows]
        width = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, seq in enumerate(seqs):
            input_ids[i, : len(seq)] = torch.tensor(seq)
            attention[i, : len(seq)] = 1
        labels = input_ids.masked_fill(attention == 0, -100)
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}

    def _augment(self, ids: list[int]) -> list[int]:
        if not self.transpose or self.transposer is None:
            return ids
        shift = random.randint(-self.transpose, self.transpose)
        return self.transposer(ids, shift) or ids
