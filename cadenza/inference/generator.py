"""The generator interface: what the app, the CLI, `cadenza evaluate` and later the LoRA adapters and
the GAN/VAE baselines share.

A generator is loaded with `from_pretrained(folder)` and writes the pieces a `Request` asks for with
`generate(request)`; sampling settings the request leaves unset are its own defaults (a checkpoint's
generation_config.json). `Composer` (the transformer) is one; `evaluation.generators.NGramComposer` (the
n-gram baseline) another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import symusic

from cadenza.data.voices import Voice

if TYPE_CHECKING:
    from cadenza.inference.request import Request


@dataclass
class Piece:
    score: symusic.Score
    tokens: list[int]
    style: str
    seed: int
    bars: int
    voices: list[Voice]  # one per track of `score`
    # The style whose sound (`STYLE_SOUNDS`) the voices play; None in a continuation, whose voices keep
    # the prompt file's instruments.
    sound_style: str | None
    # In a continuation, how many of the prompt's last bars the model saw: fewer than asked when they do
    # not fit its context (a fraction when even the last bar does not: its tail from a note on). In bars
    # written again (`Composer.infill`), how many bars around them it saw.
    prompt_seen: float | None = None
    # In a continuation, the tick where the prompt's last bars begin in `score` (which holds the whole
    # file): `excerpt` starts there. 0 for a fresh piece.
    context_start: int = 0
    new_start: int = 0  # in a continuation, the tick in `score` where the new bars begin; 0 otherwise
    key: str | None = None  # the key token's, "A minor"; None for a model without key tokens
    key_note: str | None = None  # why the key is not the asked or the prompt's, when it is not
    # Bars written again (`Composer.infill`): (first, end) ticks of each span, marked when rendered.
    regenerated: tuple[tuple[int, int], ...] = ()

    def excerpt(self) -> symusic.Score:
        """The piece from `context_start` on: a continuation's new bars after the prompt bars the model
        continued, without the rest of the file (a long prompt file would otherwise be rendered whole)."""
        if self.context_start == 0:
            return self.score
        return self.score.clip(self.context_start, self.score.end(), clip_end=False).shift_time(
            -self.context_start
        )


@runtime_checkable
class Generator(Protocol):
    @classmethod
    def from_pretrained(cls, path: str | Path) -> Generator: ...

    @property
    def styles(self) -> list[str]: ...

    def generate(self, request: Request | str | None = None, **settings) -> list[Piece]:
        """The pieces `request` asks for (`inference.request`), or a request made of `settings`
        (`generate("bach", bars=8, seed=1)`); what a generator cannot follow (a baseline: key, meter) it
        leaves to its own choice."""
        ...
