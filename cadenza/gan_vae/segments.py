"""The baselines' training data: a corpus's piano-roll segments (`cadenza.data.rolls`) in one file per
split, and the two views the models read.

`cadenza rolls` writes `<out>/<split>.safetensors`: each segment's true cells as flat indices into its
(2, tracks, steps, pitches) roll (uint16: a 4-bar roll has 43,008 cells, and a segment sets a few hundred
of them, so the whole embedded corpus fits in a few MB where dense rolls would take GBs), the offsets of
each segment's cells, and its style's index; the styles and the roll's shape ride in the file's metadata.
Reading needs only torch and safetensors, so the models train on a machine without symusic or the corpus
(a lent GPU).

The GAN reads the roll itself. The VAE reads events, MusicVAE's view of a voice: per track and step one
class, rest (0), hold (1) or the onset of pitch p (2 + p). A track holds one melody in this view; where a
track sounds a chord, its highest note is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import save_file
from tqdm.auto import tqdm

from cadenza.errors import CadenzaError
from cadenza.paths import EMBEDDED_CORPUS, ROLLS

SPLITS = ("train", "validation", "test")
REST, HOLD, FIRST_PITCH = 0, 1, 2


@dataclass
class Segments:
    """One split's segments: `cells`/`offsets` as in the file, `styles` as indices into `style_names`."""

    cells: np.ndarray
    offsets: np.ndarray
    styles: np.ndarray
    style_names: list[str]
    shape: tuple[int, int, int, int]  # (2, tracks, steps, pitches)

    def __len__(self) -> int:
        return len(self.styles)

    def rolls(self, index: np.ndarray | list[int]) -> torch.Tensor:
        """Dense float rolls (len(index), 2, tracks, steps, pitches) of the given segments."""
        out = torch.zeros(len(index), int(np.prod(self.shape)))
        for row, i in enumerate(index):
            cells = self.cells[self.offsets[i] : self.offsets[i + 1]].astype(np.int64)
            out[row, torch.from_numpy(cells)] = 1.0
        return out.view(len(index), *self.shape)


def save_segments(path: Path, rolls: list[np.ndarray], styles: list[int], style_names: list[str]) -> None:
    shape = rolls[0].shape if rolls else (0, 0, 0, 0)
    cells = [np.flatnonzero(roll).astype(np.uint16) for roll in rolls]
    offsets = np.cumsum([0, *map(len, cells)]).astype(np.int64)
    tensors = {
        "cells": np.concatenate(cells) if cells else np.zeros(0, np.uint16),
        "offsets": offsets,
        "styles": np.asarray(styles, dtype=np.int64),
    }
    save_file(tensors, str(path), metadata={"styles": json.dumps(style_names), "shape": json.dumps(shape)})


def load_segments(folder: str | Path, split: str) -> Segments:
    path = Path(folder) / f"{split}.safetensors"
    if not path.is_file():
        raise CadenzaError(f"{path}: no segments file; write them with `cadenza rolls`")
    try:
        with safe_open(str(path), "np") as f:
            meta = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in ("cells", "offsets", "styles")}
        shape = tuple(json.loads(meta["shape"]))
        names = json.loads(meta["styles"])
    except Exception as err:  # a truncated file, or another safetensors file
        raise CadenzaError(f"{path}: not a segments file written by `cadenza rolls` ({err})") from None
    return Segments(tensors["cells"], tensors["offsets"], tensors["styles"], names, shape)


class SegmentDataset(torch.utils.data.Dataset):
    """(roll, style) pairs for a DataLoader; `bars` < the file's bars cuts each segment into pieces of
    `bars` bars that hold a note (the VAE's 2-bar view of 4-bar segments)."""

    def __init__(self, segments: Segments, bars: int, bar_steps: int):
        self.segments, self.steps = segments, bars * bar_steps
        pieces = segments.shape[2] // self.steps
        if pieces < 1:
            raise CadenzaError(f"segments of {segments.shape[2]} steps are shorter than {bars} bars")
        self.index = [(i, p) for i in range(len(segments)) for p in range(pieces)]
        if pieces > 1:
            keep = self._sounding()
            self.index = [item for item, ok in zip(self.index, keep, strict=True) if ok]

    def _sounding(self) -> list[bool]:
        out = []
        frame_cells = int(np.prod(self.segments.shape[1:]))
        _, tracks, steps, pitches = self.segments.shape
        for i, piece in self.index:
            cells = self.segments.cells[self.segments.offsets[i] : self.segments.offsets[i + 1]].astype(int)
            frames = cells[cells < frame_cells]
            step = (frames // pitches) % steps
            out.append(bool(((step >= piece * self.steps) & (step < (piece + 1) * self.steps)).any()))
        return out

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        segment, piece = self.index[i]
        roll = self.segments.rolls([segment])[0][:, :, piece * self.steps : (piece + 1) * self.steps]
        return roll, int(self.segments.styles[segment])


def roll_events(roll: torch.Tensor) -> torch.Tensor:
    """(..., 2, tracks, steps, pitches) rolls -> (..., tracks, steps) event classes."""
    frames, onsets = roll[..., 0, :, :, :] > 0.5, roll[..., 1, :, :, :] > 0.5
    pitches = torch.arange(frames.shape[-1], device=roll.device)
    top_onset = torch.where(onsets, pitches, -1).amax(-1)
    events = torch.where(frames.any(-1), HOLD, REST)
    return torch.where(top_onset >= 0, FIRST_PITCH + top_onset, events)


def events_roll(events: torch.Tensor, pitches: int) -> torch.Tensor:
    """(..., tracks, steps) event classes -> (..., 2, tracks, steps, pitches) rolls: a hold sounds the
    last onset's pitch, a hold after a rest is a rest."""
    *lead, steps = events.shape
    roll = torch.zeros(*lead, 2, steps, pitches, device=events.device)
    current = torch.full(lead, -1, dtype=torch.long, device=events.device)
    for step in range(steps):
        event = events[..., step]
        onset = event >= FIRST_PITCH
        current = torch.where(onset, event - FIRST_PITCH, torch.where(event == HOLD, current, -1))
        sounding = current >= 0
        at = current.clamp(min=0).unsqueeze(-1)
        roll[..., 0, step, :].scatter_(-1, at, sounding.unsqueeze(-1).float())
        roll[..., 1, step, :].scatter_(-1, at, onset.unsqueeze(-1).float())
    return roll.movedim(-3, -4)  # (..., tracks, 2, ...) -> (..., 2, tracks, ...)


@dataclass
class RollsArgs:
    corpus: str = field(default=EMBEDDED_CORPUS, metadata={"help": "a built corpus"})
    out: str = field(default=ROLLS, metadata={"help": "folder for <split>.safetensors"})
    hop_bars: int = field(default=2, metadata={"help": "bars between segment starts (4 = no overlap)"})
    per_style: int = field(
        default=4000,
        metadata={"help": "at most this many train segments per style, drawn at random (the big folk "
                  "collections would otherwise drown the rest)"},
    )  # fmt: skip
    seed: int = 0


def run_rolls(args: RollsArgs) -> dict[str, dict[str, int]]:
    """Every piece of the corpus cut into segments, per split and style; prints and returns the counts."""
    import symusic

    from cadenza.data.corpus import load_corpus
    from cadenza.data.rolls import segment_score

    corpus = load_corpus(args.corpus)
    if args.hop_bars < 1:
        raise CadenzaError(f"--hop_bars must be at least 1, got {args.hop_bars}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    style_names = sorted(set(corpus["train"]["style"]))
    counts: dict[str, dict[str, int]] = {}
    rng = np.random.default_rng(args.seed)
    for split in SPLITS:
        rows = corpus[split].select_columns(["style", "midi"])
        by_style: dict[str, list[np.ndarray]] = {}
        for row in tqdm(rows, desc=f"rolls: {split}", unit="piece"):
            if row["style"] in style_names:
                segments = segment_score(symusic.Score.from_midi(row["midi"]), args.hop_bars)
                by_style.setdefault(row["style"], []).extend(segments)
        rolls, styles = [], []
        for style, segments in sorted(by_style.items()):
            if split == "train" and len(segments) > args.per_style:
                keep = np.sort(rng.choice(len(segments), args.per_style, replace=False))
                segments = [segments[i] for i in keep]
            rolls += segments
            styles += [style_names.index(style)] * len(segments)
        save_segments(out / f"{split}.safetensors", rolls, styles, style_names)
        counts[split] = {name: styles.count(i) for i, name in enumerate(style_names)}
    print(json.dumps(counts, indent=1))
    return counts
