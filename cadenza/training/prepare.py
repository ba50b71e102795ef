"""`cadenza shards write`: a built corpus -> token shards for `cadenza shards train` (see `shards.py`).

This side needs the tokenizer's libraries (miditok, symusic, datasets); what it writes needs only numpy to
read. Each training piece is stored once per transposition (pitches and key token moved, merged again),
so the trainer does no tokenizer work; the validation pieces are cut into the same bar-aligned chunks
`cadenza train` validates on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from cadenza.checkpoint import SAMPLING, require_checkpoint
from cadenza.data.profiles import save_profiles, style_profiles
from cadenza.errors import CadenzaError
from cadenza.paths import EMBEDDED_CORPUS, SHARDS, TOKENIZER_FILE
from cadenza.tokenization.chunking import Transposer, chunk_sequence
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from cadenza.training.data import music_of, tokenize_pieces
from cadenza.training.shards import META_FILE, ShardMeta

MAX_ID = np.iinfo(np.uint16).max


@dataclass
class ShardWriteArgs:
    corpus: str = field(default=EMBEDDED_CORPUS, metadata={"help": "corpus folder (cadenza corpus build)"})
    out: str = field(default=SHARDS, metadata={"help": "shard folder to write"})
    tokenizer: str | None = field(
        default=None,
        metadata={
            "help": "a checkpoint folder whose tokenizer cuts the shards (else a new one, --bpe_vocab)"
        },
    )
    bpe_vocab: int = field(default=4000, metadata={"help": "BPE ids of a new tokenizer (no --tokenizer)"})
    transpose: int = field(default=6, metadata={"help": "train pieces stored at every shift in -N..N"})
    chunk_len: int = field(default=512, metadata={"help": "validation chunk length: the model's context"})
    num_proc: int = 2


def _tokenizer(args: ShardWriteArgs, train_split, out: Path) -> CadenzaTokenizer:
    """The checkpoint's tokenizer (or a new one with BPE learned on the train split), with the infilling
    tokens; styles the corpus adds take new ids after the existing ones."""
    if args.tokenizer is not None:
        tokenizer = CadenzaTokenizer.load(require_checkpoint(args.tokenizer))
    else:
        tokenizer = CadenzaTokenizer.new(sorted(set(train_split["style"])))
        tokenizer.train_bpe(music_of(train_split, tokenizer), args.bpe_vocab)
    for style in sorted(set(train_split["style"])):
        tokenizer.add_style(style)
    tokenizer.add_infill()
    if len(tokenizer) > MAX_ID:
        raise CadenzaError(f"{len(tokenizer)} token ids do not fit uint16 shards")
    tokenizer.save(out)
    return tokenizer


def _write(out: Path, split: str, rows: list[tuple[list[int], tuple[int, ...]]]) -> dict[str, int]:
    """rows of (ids, (style, piece, shift)) -> `<split>.bin` and `<split>.idx.npy`."""
    lengths = np.array([len(ids) for ids, _ in rows], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(rows) else lengths
    index = np.zeros((len(rows), 5), dtype=np.int64)
    index[:, 0], index[:, 1] = offsets, lengths
    index[:, 2:] = np.array([info for _, info in rows], dtype=np.int64).reshape(len(rows), 3)
    tokens = np.fromiter((t for ids, _ in rows for t in ids), dtype=np.uint16, count=int(lengths.sum()))
    tokens.tofile(out / f"{split}.bin")
    np.save(out / f"{split}.idx.npy", index)
    return {"entries": len(rows), "tokens": int(lengths.sum())}


def run_write_shards(args: ShardWriteArgs) -> Path:
    from cadenza.data.corpus import load_corpus

    if args.transpose < 0 or args.chunk_len < 16:
        raise CadenzaError("--transpose must be at least 0 and --chunk_len at least 16")
    corpus = load_corpus(args.corpus)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(args, corpus["train"], out)
    rows, style_tokens = _train_rows(args, corpus["train"], tokenizer, out)
    counts = {"train": {**_write(out, "train", rows), "pieces": len(corpus["train"])}}
    chunks = _validation_chunks(args, corpus["validation"], tokenizer, out)
    counts["validation"] = {**_write(out, "validation", chunks), "pieces": len(corpus["validation"])}
    voices = corpus["train"]["voices"] if "voices" in corpus["train"].column_names else None
    save_profiles(style_profiles(corpus["train"]["midi"], corpus["train"]["style"], voices), out)
    ids = {
        "bos_token_id": tokenizer.bos_id,
        "eos_token_id": tokenizer.eos_id,
        "pad_token_id": tokenizer.pad_id,
    }
    (out / "generation_config.json").write_text(json.dumps({**SAMPLING, **ids}, indent=2))
    with (out / TOKENIZER_FILE).open("rb") as f:
        sha = hashlib.file_digest(f, "sha256").hexdigest()
    meta = ShardMeta(
        styles=tokenizer.styles,
        prefix_len=tokenizer.prefix_len,
        bos_id=tokenizer.bos_id,
        eos_id=tokenizer.eos_id,
        pad_id=tokenizer.pad_id,
        continue_id=tokenizer.continue_id,
        hole_id=tokenizer.hole_id,
        fill_id=tokenizer.fill_id,
        bar_starts=sorted(tokenizer.bar_starts),
        vocab_size=len(tokenizer),
        tokenizer_sha256=sha,
        counts=counts,
        style_tokens=style_tokens,
    )
    (out / META_FILE).write_text(json.dumps(meta.__dict__, indent=1))
    total = sum((out / f).stat().st_size for f in ("train.bin", "validation.bin"))
    print(f"shards in {out}: {counts['train']['tokens']:,} train tokens ({2 * args.transpose + 1} shifts), "
          f"{counts['validation']['entries']:,} validation chunks, {total / 2**20:.1f} MiB")  # fmt: skip
    return out


def _train_rows(args: ShardWriteArgs, train, tokenizer: CadenzaTokenizer, out: Path) -> tuple[list, dict]:
    """Every train piece under every transposition that keeps its notes in range, as (ids, (style index,
    piece, shift)) rows; and the tokens of each style, untransposed."""
    styles = tokenizer.styles
    pieces = tokenize_pieces(train, str(out / TOKENIZER_FILE), args.num_proc)
    transposer = Transposer(tokenizer)
    rows, style_tokens = [], dict.fromkeys(styles, 0)
    shifts = range(-args.transpose, args.transpose + 1)
    for piece, (ids, style) in enumerate(
        tqdm(zip(pieces["input_ids"], pieces["style"], strict=True), total=len(pieces), desc="transposing")
    ):
        style_tokens[style] += len(ids)
        base = tokenizer.unmerge(ids)
        for shift in shifts:
            moved = ids if shift == 0 else transposer.move(base, shift)
            if moved is not None:
                rows.append(
                    (ids if shift == 0 else tokenizer.merge(moved), (styles.index(style), piece, shift))
                )
    return rows, style_tokens


def _validation_chunks(args: ShardWriteArgs, validation, tokenizer: CadenzaTokenizer, out: Path) -> list:
    """The validation pieces cut into chunks at bar lines, as (ids, (style index, piece, 0)) rows."""
    styles = tokenizer.styles
    pieces = tokenize_pieces(validation, str(out / TOKENIZER_FILE), args.num_proc)
    chunks = []
    for piece, (ids, style) in enumerate(zip(pieces["input_ids"], pieces["style"], strict=True)):
        for chunk in chunk_sequence(
            ids, tokenizer.bar_starts, tokenizer.eos_id, args.chunk_len, tokenizer.continue_id,
            tokenizer.prefix_len,
        ):  # fmt: skip
            chunks.append((chunk, (styles.index(style), piece, 0)))
    return chunks
