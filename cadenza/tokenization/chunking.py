"""Turning whole-piece token sequences into training rows: bar-aligned chunks, packing, transposition.

Pure functions over lists of ids, so they are tested on tiny hand-made sequences.
"""

from __future__ import annotations

from collections.abc import Container

import numpy as np

from cadenza.tokenization.tokenizer import CadenzaTokenizer, split_bars


def chunk_sequence(
    ids: list[int],
    bar_starts: Container[int],
    eos_id: int,
    max_len: int,
    continue_id: int | None = None,
    prefix_len: int = 2,
) -> list[list[int]]:
    """Cut `<prefix> <music> [EOS]` into chunks of at most max_len that start with the prefix (`BOS Style`,
    or `BOS Style Key`: `prefix_len` tokens) at a bar line (a token of `bar_starts`).

    Chunks after the first also carry `continue_id` after the style: without it the model cannot tell a
    piece's opening from its middle and, asked for a piece, writes a middle. Only the last chunk keeps the
    EOS, so the model learns to end pieces where they really end. A single bar longer than a chunk is cut
    (it happens only in very dense orchestral bars).
    """
    prefix, music = ids[:prefix_len], ids[prefix_len:]
    later = prefix + ([continue_id] if continue_id is not None else [])
    ending = [eos_id] if music and music[-1] == eos_id else []
    music = music[: len(music) - len(ending)]
    chunks: list[list[int]] = []
    current: list[int] = []
    for bar in [*split_bars(music, bar_starts), ending]:
        head = later if chunks else prefix
        if current and len(head) + len(current) + len(bar) > max_len:
            chunks.append(head + current)
            current, head = [], later
        current.extend(bar[: max_len - len(head)])
    if current:
        chunks.append((later if chunks else prefix) + current)
    return chunks


def pack_chunks(chunks: list[list[int]], max_len: int) -> list[list[int]]:
    """Concatenate consecutive chunks into rows of at most max_len, so short folk tunes waste no padding."""
    rows: list[list[int]] = []
    current: list[int] = []
    for chunk in chunks:
        if current and len(current) + len(chunk) > max_len:
            rows.append(current)
            current = []
        current = current + chunk[:max_len]
    if current:
        rows.append(current)
    return rows


class Transposer:
    """Shifts every Pitch token of a sequence by some semitones, and its key token with them (data
    augmentation)."""

    def __init__(self, tokenizer: CadenzaTokenizer, vocab_size: int | None = None) -> None:
        self.tokenizer = tokenizer
        size = vocab_size or len(tokenizer)
        self.pitch_of = np.full(size, -1, dtype=np.int64)
        self.id_of_pitch: dict[int, int] = {}
        for token_id in tokenizer.ids_of("Pitch"):
            pitch = int(tokenizer.value(token_id))
            self.pitch_of[token_id] = pitch
            self.id_of_pitch[pitch] = token_id
        self.key_of = {i: tokenizer.key_of(i) for i in tokenizer.key_ids}
        self.id_of_key = {key: i for i, key in self.key_of.items()}

    def __call__(self, ids: list[int], shift: int) -> list[int] | None:
        """The transposed ids, or None when a note would leave the tokenizer's pitch range. With BPE the
        ids are unmerged, moved and merged again, and cut to their length before (moved notes may merge
        into more tokens: a row must stay within the model's context)."""
        if shift == 0:
            return list(ids)
        if self.tokenizer.is_bpe:
            moved = self.move(self.tokenizer.unmerge(ids), shift)
            return None if moved is None else self.tokenizer.merge(moved)[: len(ids)]
        return self.move(ids, shift)

    def move(self, ids: list[int], shift: int) -> list[int] | None:
        """Base ids shifted by `shift` semitones (key token too), or None when a note leaves the range."""
        out = []
        for token in ids:
            if token in self.key_of:
                tonic, mode = self.key_of[token]
                out.append(self.id_of_key[((tonic + shift) % 12, mode)])
                continue
            pitch = self.pitch_of[token]
            if pitch < 0:
                out.append(token)
                continue
            new_id = self.id_of_pitch.get(int(pitch) + shift)
            if new_id is None:
                return None
            out.append(new_id)
        return out
