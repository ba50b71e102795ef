"""What a piece is asked for: one validated `Request`, which the CLI, the app, `cadenza evaluate`, every
generator (`Composer`, the n-gram, the GAN and the VAE) and the singer build or accept.

Its bounds live here and nowhere else; its sampling defaults are the checkpoint's generation_config.json
(`Request.sampled` fills them in). A request is checked when it is made, before any model work, so a bad
setting fails in one line naming it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from cadenza.errors import CadenzaError

if TYPE_CHECKING:
    from transformers import GenerationConfig

    from cadenza.data.loading import ScorePiece

MAX_BARS = 256
MAX_NUM = 16
MAX_SEED = 2**31 - 1  # seeds the app shows and takes; torch itself refuses seeds of 2**64 and above
MAX_TEMPERATURE = 5.0
MAX_TEMPO = 1000.0  # beats per minute


class Sampling(NamedTuple):
    """The warpers' settings of one request, every one set."""

    temperature: float
    top_k: int
    top_p: float


@dataclass(frozen=True)
class Request:
    """A request for `num` pieces of `bars` new bars in `style` (a continuation: the prompt file's last
    `prompt_bars` bars, then `bars` new ones). Unset controls are the model's choice; unset sampling
    settings are the checkpoint's; an unset seed is drawn (`sampled`).

    `programs` (General MIDI numbers) and `max_chord` (notes one program may start at once) narrow the
    grammar; unset, they come from the style's profile, except in a continuation, where the prompt
    decides. `use_profile=False` samples from the model and the grammar alone. Sampling that runs past
    `max_time` seconds stops with `TimeLimitError`."""

    style: str
    bars: int = 8
    num: int = 1
    key: str | None = None  # "A minor", "D" (major), "F# dorian"
    time_signature: str | None = None  # "3/4"
    tempo: float | None = None  # beats per minute
    prompt_midi: str | Path | ScorePiece | None = None  # a file, or a piece already read from one
    prompt_bars: int = 4
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    constrained: bool = True
    programs: tuple[int, ...] | None = None
    max_chord: int | None = None
    use_profile: bool = True
    max_time: float | None = None

    def __post_init__(self) -> None:
        check_range("bars", self.bars, 1, MAX_BARS)
        check_range("num", self.num, 1, MAX_NUM)
        check_range("prompt_bars", self.prompt_bars, 1, MAX_BARS)
        if self.seed is not None:
            check_range("seed", self.seed, 0, MAX_SEED)
        if self.temperature is not None and not 0 < self.temperature <= MAX_TEMPERATURE:
            raise CadenzaError(f"temperature must be in (0, {MAX_TEMPERATURE:g}], got {self.temperature}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise CadenzaError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k is not None and self.top_k < 0:
            raise CadenzaError(f"top_k must be >= 0 (0 = off), got {self.top_k}")
        if self.tempo is not None and not 0 < self.tempo <= MAX_TEMPO:
            raise CadenzaError(f"tempo must be in (0, {MAX_TEMPO:g}] beats per minute, got {self.tempo}")
        if self.prompt_midi is not None and (
            self.tempo is not None or self.time_signature is not None or self.key is not None
        ):
            raise CadenzaError("tempo, time signature and key come from the prompt file in a continuation")
        if not self.constrained and (self.programs is not None or self.max_chord is not None):
            raise CadenzaError("programs and max_chord are grammar limits: they need constrained decoding")
        if self.programs is not None:
            object.__setattr__(self, "programs", tuple(self.programs))

    @property
    def sampling(self) -> Sampling:
        """The warpers' settings; call on a `sampled` request."""
        return Sampling(self.temperature, self.top_k, self.top_p)

    def sampled(self, defaults: GenerationConfig) -> Request:
        """This request with the checkpoint's sampling defaults where it sets none, and a drawn seed."""
        return replace(
            self,
            temperature=defaults.temperature if self.temperature is None else self.temperature,
            top_k=defaults.top_k if self.top_k is None else self.top_k,
            top_p=defaults.top_p if self.top_p is None else self.top_p,
            seed=random.randrange(MAX_SEED + 1) if self.seed is None else self.seed,
        )


REQUEST_FIELDS = frozenset(field.name for field in fields(Request))


def as_request(request: Request | str | None, settings: dict[str, Any]) -> Request:
    """A generator's `generate(request)`, `generate("bach", bars=8, ...)` or `generate(style="bach", ...)`:
    the same request."""
    if isinstance(request, Request):
        if settings:
            raise CadenzaError(f"give settings in the request, not beside it: {', '.join(settings)}")
        return request
    unknown = sorted(set(settings) - REQUEST_FIELDS)
    if unknown:
        raise CadenzaError(f"unknown request settings: {', '.join(unknown)}")
    return Request(**settings) if request is None else Request(request, **settings)


def check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise CadenzaError(f"{name} must be between {low} and {high}, got {value}")
