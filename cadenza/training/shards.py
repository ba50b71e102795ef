"""Training from token shards: nanoGPT's `train.bin` pattern, on any machine that has torch.

`cadenza shards write` (`training/write_shards.py`, on a machine with the tokenizer's libraries) turns a
corpus into a folder of flat uint16 token files; this module trains on that folder with nothing but torch,
transformers and accelerate (a GPU machine without miditok, symusic, music21 or datasets can run it:
`python -m cadenza.cli shards train --shards DIR ...`). The folder holds:

- `train.bin`: every training piece as model ids (`BOS Style Key <merged bars> EOS`), once per
  transposition, one after the other; `train.idx.npy`: one row per entry (offset, length, style index,
  piece, shift).
- `validation.bin` / `validation.idx.npy`: the validation pieces cut into bar-aligned chunks, one row
  each (what `cadenza train` validates on, so the two runs' losses are the same measure).
- `meta.json`: the ids a row is built from, the styles, the counts, and the tokenizer file's hash; beside
  it the checkpoint's other files (`tokenizer.json`, `style_profiles.json`, `generation_config.json`),
  copied into the trained model's folder.

Rows are drawn afresh for every index from a seeded generator, so a resumed run replays the same rows.
A row is one style (drawn with the style's share of tokens, `style_weights`) and is either plain (windows
of pieces from a bar line, packed) or, with probability `infill_share`, a bar-infilling row in MMM's
layout: `prefix, bars before, one Infill_Bar per bar left out, bars after, Infill_Fill, the bars left out,
EOS`, so the model learns to write bars knowing what follows them.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from cadenza.errors import CadenzaError, InputFileError
from cadenza.paths import PROFILE_FILE, SHARDS, TOKENIZER_FILE
from cadenza.tokenization.infilling import infill_context, kept_bars
from cadenza.training import loop
from cadenza.training.model import LOSS_TYPE, ModelArgs, model_sizes, new_gpt2

META_FILE = "meta.json"
# The checkpoint's files besides the weights, written by `cadenza shards write` and copied into the model.
CHECKPOINT_FILES = (TOKENIZER_FILE, PROFILE_FILE, "generation_config.json")
# Entry columns of `train.idx.npy` / chunk columns of `validation.idx.npy`.
OFFSET, LENGTH, STYLE, PIECE, SHIFT = range(5)
MAX_FILL_BARS = 8  # the most bars an infilling row leaves out (a phrase)
MIN_PACK = 32  # a packed row stops taking pieces when less room than this is left


@dataclass(frozen=True)
class ShardMeta:
    """`meta.json`: what a row is built from."""

    styles: list[str]
    prefix_len: int  # BOS Style Key
    bos_id: int
    eos_id: int
    pad_id: int
    continue_id: int
    hole_id: int
    fill_id: int
    bar_starts: list[int]  # ids that open a bar (Bar and merged tokens beginning with it)
    vocab_size: int  # the tokenizer's ids; a model needs at least this many rows
    tokenizer_sha256: str
    counts: dict[str, dict[str, int]]  # split -> {"entries"/"tokens"/"pieces": n}
    style_tokens: dict[str, int]  # train tokens per style at shift 0 (for the style weights)

    @classmethod
    def read(cls, folder: str | Path) -> ShardMeta:
        folder = Path(folder)
        path = folder / META_FILE
        if not path.is_file():
            raise InputFileError(folder, "no token shards here (write them with `cadenza shards write`)")
        try:
            meta = cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as err:
            raise InputFileError(path, f"not a shard folder's meta.json ({err})") from err
        tokenizer = folder / TOKENIZER_FILE
        if not tokenizer.is_file() or _sha256(tokenizer) != meta.tokenizer_sha256:
            raise InputFileError(
                folder, "its tokenizer.json is missing or not the one its shards were cut by"
            )
        return meta


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def read_split(folder: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(tokens as a read-only uint16 memmap, index rows) of one split."""
    folder = Path(folder)
    bin_path, idx_path = folder / f"{split}.bin", folder / f"{split}.idx.npy"
    if not bin_path.is_file() or not idx_path.is_file():
        raise InputFileError(folder, f"no {split} shard ({bin_path.name}, {idx_path.name})")
    return np.memmap(bin_path, dtype=np.uint16, mode="r"), np.load(idx_path)


def style_weights(tokens: dict[str, int], alpha: float) -> dict[str, float]:
    """The share of training tokens each style gets: proportional to its tokens to the power `alpha`.

    alpha = 1 keeps the corpus' proportions (Essen folk songs would be most of what the model sees);
    alpha = 0 gives every style the same share (Josquin's 9 pieces would repeat hundreds of times); in
    between, as multilingual language models weigh their languages (XLM-R and mT5 use 0.3), small styles
    are seen more often without drowning the large ones.
    """
    raised = {style: count**alpha for style, count in tokens.items() if count > 0}
    total = sum(raised.values())
    return {style: value / total for style, value in raised.items()}


class ShardRows(Dataset):
    """Training rows drawn from `train.bin`: row `i` is the same for the same `seed`, whatever came before.

    `len` is nominal (the rows of one pass over the tokens): every index is a fresh draw, and `IndexSampler`
    moves indices on by epoch so no two epochs repeat a row.
    """

    def __init__(
        self,
        folder: str | Path,
        max_len: int,
        style_alpha: float = 0.5,
        infill_share: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.meta = ShardMeta.read(folder)
        self.tokens, self.entries = read_split(folder, "train")
        if not len(self.entries):
            raise InputFileError(folder, "the train shard holds no pieces")
        if max_len < self.meta.prefix_len + 4:
            raise CadenzaError(f"rows of {max_len} tokens cannot hold a bar after the prefix")
        self.max_len, self.infill_share, self.seed = max_len, infill_share, seed
        self.bar_starts = np.array(sorted(self.meta.bar_starts), dtype=np.uint16)
        weights = style_weights(self.meta.style_tokens, style_alpha)
        self.style_p = np.array([weights.get(s, 0.0) for s in self.meta.styles])
        self.by_style = []  # per style: its entries, and their cumulative lengths to draw by token
        for index in range(len(self.meta.styles)):
            rows = np.flatnonzero(self.entries[:, STYLE] == index)
            self.by_style.append((rows, np.cumsum(self.entries[rows, LENGTH])))

    def __len__(self) -> int:
        return max(1, int(self.entries[self.entries[:, SHIFT] == 0, LENGTH].sum()) // self.max_len)

    def __getitem__(self, index: int) -> list[int]:
        rng = np.random.default_rng((self.seed, index))
        style = int(rng.choice(len(self.style_p), p=self.style_p))
        if rng.random() < self.infill_share:
            row = self._infill(rng, style)
            if row is not None:
                return row
        row: list[int] = []
        while self.max_len - len(row) >= MIN_PACK or not row:
            row += self._window(rng, style, self.max_len - len(row))
        return row

    def _entry(self, rng: np.random.Generator, style: int) -> tuple[list[int], list[int], list[int]]:
        """A piece of `style` drawn by its length: (prefix, its bars as lists of ids, ending [EOS] or [])."""
        rows, cumulative = self.by_style[style]
        entry = self.entries[rows[np.searchsorted(cumulative, rng.integers(cumulative[-1]), side="right")]]
        ids = self.tokens[entry[OFFSET] : entry[OFFSET] + entry[LENGTH]].astype(np.int64)
        prefix, music = ids[: self.meta.prefix_len].tolist(), ids[self.meta.prefix_len :]
        ending = [self.meta.eos_id] if len(music) and music[-1] == self.meta.eos_id else []
        music = music[: len(music) - len(ending)]
        starts = np.flatnonzero(np.isin(music, self.bar_starts))
        if not len(starts) or starts[0] != 0:
            starts = np.concatenate([[0], starts])
        bars = [part.tolist() for part in np.split(music, starts[1:])] if len(music) else []
        return prefix, bars, ending

    def _window(self, rng: np.random.Generator, style: int, room: int) -> list[int]:
        """A piece from a random bar on, as many whole bars as fit `room` (at least one, cut if longer)."""
        prefix, bars, ending = self._entry(rng, style)
        first = int(rng.integers(len(bars))) if bars else 0
        head = prefix if first == 0 else [*prefix, self.meta.continue_id]
        out = list(head)
        for bar in bars[first:]:
            if len(out) + len(bar) > room and len(out) > len(head):
                return out[:room]
            out += bar
        return (out + ending)[:room]

    def _infill(self, rng: np.random.Generator, style: int) -> list[int] | None:
        """MMM's layout around 1-8 bars left out, with as many bars before and after as fit; None when the
        piece has under two bars or the bars left out do not fit."""
        prefix, bars, _ = self._entry(rng, style)
        if len(bars) < 2:
            return None
        count = int(rng.integers(1, min(MAX_FILL_BARS, len(bars) - 1) + 1))
        start = int(rng.integers(len(bars) - count + 1))
        middle = [t for bar in bars[start : start + count] for t in bar]
        room = self.max_len - len(prefix) - 1 - count - 1 - len(middle) - 1  # Continue, holes, Fill, EOS
        if room < 0:
            return None
        kept = kept_bars([len(bar) for bar in bars], start, count, room)
        meta = self.meta
        context = infill_context(
            prefix, meta.continue_id, bars, start, count, kept, meta.hole_id, meta.fill_id
        )
        return [*context, *middle, meta.eos_id]


class ChunkRows(Dataset):
    """The rows of a chunked split (validation), one per index."""

    def __init__(self, folder: str | Path, split: str = "validation") -> None:
        self.tokens, self.chunks = read_split(folder, split)

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, index: int) -> list[int]:
        offset, length = self.chunks[index, OFFSET], self.chunks[index, LENGTH]
        return self.tokens[offset : offset + length].astype(np.int64).tolist()


class IndexSampler(Sampler):
    """0..n-1 moved on by `epoch * n`: every epoch asks `ShardRows` for rows it has never drawn."""

    def __init__(self, n: int) -> None:
        self.n, self.epoch = n, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(range(self.epoch * self.n, (self.epoch + 1) * self.n))


@dataclass
class PadRows:
    """Rows of ids -> a padded batch whose labels ignore the padding."""

    pad_id: int

    def __call__(self, rows: list[list[int]]) -> dict[str, torch.Tensor]:
        width = max(len(row) for row in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
            attention[i, : len(row)] = 1
        labels = input_ids.masked_fill(attention == 0, -100)
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


@dataclass
class ShardTrainArgs(ModelArgs, loop.LoopArgs):
    shards: str = field(default=SHARDS, metadata={"help": "shard folder (cadenza shards write)"})
    init_from: str | None = field(
        default=None,
        metadata={"help": "start from this checkpoint's weights (its size and context replace the sizes)"},
    )
    style_alpha: float = field(
        default=0.5, metadata={"help": "style shares of training tokens ~ corpus tokens ** alpha"}
    )
    infill_share: float = field(
        default=0.25, metadata={"help": "share of rows laid out for bar infilling (MMM's layout)"}
    )
    num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes building rows"})


def _model(args: ShardTrainArgs, meta: ShardMeta):
    """The --init_from checkpoint's model in fp32 (its sizes written into `args` for the card), or a new
    GPT-2 of `args`' sizes with room for the shards' vocabulary."""
    from transformers import AutoModelForCausalLM

    if args.init_from is not None:
        try:
            model = AutoModelForCausalLM.from_pretrained(
                args.init_from, dtype=torch.float32, use_safetensors=True
            )
        except (OSError, ValueError) as err:
            raise InputFileError(args.init_from, f"model weights could not be loaded ({err})") from err
        if model.config.vocab_size < meta.vocab_size:
            raise InputFileError(
                args.init_from, f"{model.config.vocab_size} rows, but the shards use {meta.vocab_size} ids"
            )
    else:
        return new_gpt2(args, meta.vocab_size, meta.bos_id, meta.eos_id, meta.pad_id).train()
    model.loss_type = LOSS_TYPE
    return model.train()


def run_shard_train(args: ShardTrainArgs) -> Path:
    """Train on a shard folder through the shared loop; the checkpoint goes to `output_dir/model`."""
    loop.check_loop_args(args)
    if not 0 <= args.infill_share <= 1 or not 0 <= args.style_alpha <= 1:
        raise CadenzaError("--infill_share and --style_alpha must be between 0 and 1")
    loop.check_output_dir(args)
    meta = ShardMeta.read(args.shards)
    args, accelerator = loop.start_run(args)  # the card says the precision that ran
    out = Path(args.output_dir)
    model = _model(args, meta)
    args = replace(args, **model_sizes(model.config))  # a run from a checkpoint has its sizes
    train = ShardRows(args.shards, args.n_positions, args.style_alpha, args.infill_share, args.seed)
    collate = PadRows(meta.pad_id)
    train_loader = DataLoader(
        train,
        batch_size=args.batch_size,
        sampler=IndexSampler(len(train)),
        collate_fn=collate,
        num_workers=args.num_workers,
        persistent_workers=args.num_workers > 0,
    )
    validation = ChunkRows(args.shards)
    longest = int(validation.chunks[:, LENGTH].max(initial=0))
    if longest > args.n_positions:
        raise CadenzaError(
            f"{args.shards}: validation chunks run to {longest} tokens, past the model's {args.n_positions}; "
            f"write the shards with --chunk_len {args.n_positions}"
        )
    val_loader = DataLoader(validation, batch_size=args.batch_size, collate_fn=collate)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
    result = loop.run_loop(accelerator, model, train_loader, val_loader, args)
    final = out / "model"
    if accelerator.is_main_process:
        weights = {s: f"{w:.1%}" for s, w in zip(meta.styles, train.style_p, strict=True)}
        metrics = {
            "steps": result.steps,
            "minutes": result.minutes,
            "processes": accelerator.num_processes,
            "device": str(accelerator.device),
            "mixed precision": args.mixed_precision,
            "train tokens seen": result.tokens,
            "first val NLL per token (nats)": round(result.first_val_loss, 4),
            "final val NLL per token (nats)": round(result.val_loss, 4),
            "final val perplexity": round(math.exp(result.val_loss), 3),
            f"style shares trained on (alpha {args.style_alpha})": weights,
            "infilling rows": f"{args.infill_share:.0%}",
        }
        header = ["# cadenza model", "", f"Trained from the token shards in `{args.shards}`."]
        result.model.to(getattr(torch, args.save_dtype)).save_pretrained(final, safe_serialization=True)
        for name in CHECKPOINT_FILES:
            if (Path(args.shards) / name).is_file():
                shutil.copy(Path(args.shards) / name, final / name)
        (final / "README.md").write_text(
            loop.run_card(header, loop.command_line("shards train"), metrics, args)
        )
        (final / "metrics.json").write_text(json.dumps(metrics, indent=2))
        accelerator.print(f"model saved to {final} (val NLL {result.val_loss:.4f})")
    accelerator.end_training()
    return final
