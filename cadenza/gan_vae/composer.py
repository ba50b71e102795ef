"""The baselines behind the generator interface (`inference.generator`), and their commands.

`GanComposer` and `VaeComposer` load a trained folder (`from_pretrained`) and write `Piece`s with
`generate(style, bars, num, seed)`, so their pieces go through the same writers (MIDI, MusicXML, WAV,
piano roll), the app and `cadenza evaluate` as the transformer's. Neither knows keys or meters: they
write 4/4 (their data is the duple-meter part of the corpus) in whatever key comes, and a `key` or
`time_signature` asked of them is not followed (the evaluation counts that against them, as it should).

A GAN piece longer than a segment chains segments that share half of their latent (`gan.sample_segments`).
A VAE piece walks the latent space: each segment's latent is the last one's, moved by fresh noise
(z' = a z + sqrt(1 - a^2) e, which keeps every latent a draw from the prior) so neighbours are related
without repeating. `VaeComposer.interpolate` decodes points between two real pieces' latents
(spherically, as MusicVAE does) and `reconstruct` encodes a piece and decodes it back.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from cadenza.data.loading import load_pieces
from cadenza.data.rolls import BAR_STEPS, is_duple, roll_to_score, segment_score
from cadenza.errors import CadenzaError
from cadenza.gan_vae.gan import GanGenerator, sample_segments
from cadenza.gan_vae.segments import events_roll, roll_events
from cadenza.gan_vae.vae import Vae
from cadenza.inference.generator import Piece
from cadenza.inference.render import check_formats, output_folder, piece_stem, render_piece, track_voices
from cadenza.inference.request import MAX_BARS, MAX_NUM, MAX_SEED, Request, as_request
from cadenza.paths import GAN_MODEL, VAE_MODEL

MAX_STEPS = 32
WALK = 0.8  # how much of a VAE segment's latent the next one keeps
QPM = 100.0


def baseline_kind(path: str | Path) -> str | None:
    """ "gan" or "vae" for a trained baseline's folder, None for anything else (a transformer
    checkpoint's config.json names its model_type; ours hold the styles and the roll's shape)."""
    try:
        config = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(config, dict)
        or "model_type" in config
        or not {"styles", "tracks", "pitches"} <= set(config)
    ):
        return None
    return "vae" if "bars" in config else "gan"


def _load(cls, path: str | Path, kind: str):
    path = Path(path)
    try:
        if baseline_kind(path) != kind:
            raise ValueError(f"no {kind}'s config.json")
        return cls.from_pretrained(path).float().eval()
    except (OSError, ValueError, RuntimeError) as err:
        raise CadenzaError(f"{path}: not a trained {kind} folder (cadenza {kind} train): {err}") from None


def _check_style(style: str, styles: list[str]) -> None:
    if style not in styles:
        raise CadenzaError(f"unknown style {style!r}; this model knows: {', '.join(styles)}")


def _checked(request: Request, styles: list[str]) -> Request:
    """The request with a drawn seed when it has none; key, meter and the rest are the transformer's
    controls, which a baseline does not follow."""
    _check_style(request.style, styles)
    return request if request.seed is not None else replace(request, seed=random.randrange(MAX_SEED + 1))


def _piece(roll: np.ndarray, style: str, seed: int, bars: int) -> Piece:
    score = roll_to_score(roll, QPM)
    return Piece(score, [], style, seed, bars, track_voices(score), sound_style=style)


class _BaselineComposer:
    """A trained baseline behind the generator interface: `KIND` names its folders ("gan", "vae")."""

    MODEL: type
    KIND: str

    def __init__(self, model) -> None:
        self.model = model

    @classmethod
    def from_pretrained(cls, path: str | Path):
        return cls(_load(cls.MODEL, path, cls.KIND))

    @property
    def styles(self) -> list[str]:
        return self.model.styles


class GanComposer(_BaselineComposer):
    MODEL, KIND = GanGenerator, "gan"

    def generate(self, request: Request | str | None = None, **settings) -> list[Piece]:
        """`Composer.generate`'s request: its style, bars, number and seed."""
        request = _checked(as_request(request, settings), self.styles)
        style, bars, num, seed = request.style, request.bars, request.num, request.seed
        segment_bars = self.model.steps // BAR_STEPS
        rolls = sample_segments(
            self.model, self.styles.index(style), math.ceil(bars / segment_bars), num,
            torch.Generator().manual_seed(seed),
        )  # fmt: skip
        whole = torch.cat(list(rolls.unbind(1)), dim=3)[..., : bars * BAR_STEPS, :].numpy()
        return [_piece(roll, style, seed, bars) for roll in whole]


class VaeComposer(_BaselineComposer):
    MODEL, KIND = Vae, "vae"

    def _decode(self, z: torch.Tensor, style: str, temperature: float, seed: int) -> np.ndarray:
        """Latents (segments, latent) -> one roll (2, tracks, steps, pitches) of their segments in turn."""
        styles = torch.full((len(z),), self.styles.index(style), dtype=torch.long)
        events = self.model.decode(z, styles, temperature, torch.Generator().manual_seed(seed))
        rolls = events_roll(events, self.model.pitches)  # (segments, 2, tracks, steps, pitches)
        return torch.cat(list(rolls), dim=2).numpy().astype(bool)

    def generate(self, request: Request | str | None = None, **settings) -> list[Piece]:
        """`Composer.generate`'s request: its style, bars, number, seed and temperature (of the
        latent walk's decoding; 1.0 when unset)."""
        request = _checked(as_request(request, settings), self.styles)
        style, bars, num, seed = request.style, request.bars, request.num, request.seed
        temperature = 1.0 if request.temperature is None else request.temperature
        rng = torch.Generator().manual_seed(seed)
        segments = math.ceil(bars / self.model.bars)
        pieces = []
        for i in range(num):
            z = [torch.randn(self.model.latent, generator=rng)]
            for _ in range(segments - 1):
                z.append(
                    WALK * z[-1] + math.sqrt(1 - WALK**2) * torch.randn(self.model.latent, generator=rng)
                )
            roll = self._decode(torch.stack(z), style, temperature, seed + i)[:, :, : bars * BAR_STEPS]
            pieces.append(_piece(roll, style, seed, bars))
        return pieces

    def encode(self, score, style: str, name: str) -> tuple[torch.Tensor, list[np.ndarray]]:
        """The posterior means (segments, latent) of a score's consecutive segments, and the segments."""
        _check_style(style, self.styles)
        if not is_duple(score):
            raise CadenzaError(f"{name}: the VAE reads pieces in 2/4, 4/4, 2/2 or 4/2 only")
        segments = segment_score(score, hop_bars=self.model.bars, bars=self.model.bars)
        if not segments:
            raise CadenzaError(f"{name}: no {self.model.bars} whole bars with notes to encode")
        rolls = torch.from_numpy(np.stack(segments)).float()[:, :, : self.model.tracks]
        styles = torch.full((len(rolls),), self.styles.index(style), dtype=torch.long)
        with torch.no_grad():
            mean, _ = self.model.encode(roll_events(rolls), styles)
        return mean, segments

    def interpolate(self, a, b, style: str, steps: int = 8, names: tuple[str, str] = ("A", "B")) -> Piece:
        """`steps` segments from the first segment of score `a` to that of `b` (both ends included),
        decoded greedily, one after another in one piece."""
        if not 2 <= steps <= MAX_STEPS:
            raise CadenzaError(f"steps must be between 2 and {MAX_STEPS}, got {steps}")
        za, zb = self.encode(a, style, names[0])[0][0], self.encode(b, style, names[1])[0][0]
        z = torch.stack([slerp(za, zb, t) for t in np.linspace(0.0, 1.0, steps)])
        return _piece(self._decode(z, style, 0.0, 0), style, 0, steps * self.model.bars)

    def reconstruct(self, score, style: str, name: str = "piece") -> tuple[Piece, float]:
        """The piece encoded and decoded greedily, segment by segment, and the share of (step, track)
        events the reconstruction gets right."""
        z, segments = self.encode(score, style, name)
        roll = self._decode(z, style, 0.0, 0)
        original = roll_events(torch.from_numpy(np.concatenate(segments, axis=2)).float())
        accuracy = (roll_events(torch.from_numpy(roll).float()) == original).float().mean().item()
        return _piece(roll, style, 0, len(segments) * self.model.bars), accuracy


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: the path between two prior draws that stays where the prior's mass is."""
    omega = torch.arccos(torch.clamp(torch.dot(a / a.norm(), b / b.norm()), -1.0, 1.0))
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


# --- commands ---------------------------------------------------------------------------------------------
@dataclass
class BaselineSampleArgs:
    style: str = field(default="bach", metadata={"help": "style tag the model knows"})
    bars: int = field(default=8, metadata={"help": f"bars to write (1-{MAX_BARS})"})
    num: int = field(default=1, metadata={"help": f"pieces (1-{MAX_NUM})"})
    seed: int | None = field(default=None, metadata={"help": "random seed (drawn and printed when unset)"})
    out: str = field(default="out", metadata={"help": "output folder"})
    formats: str = field(
        default="mid,musicxml,wav,png", metadata={"help": "comma-separated: mid,musicxml,wav,png"}
    )


@dataclass
class GanSampleArgs(BaselineSampleArgs):
    model: str = field(default=GAN_MODEL, metadata={"help": "a trained GAN folder"})


@dataclass
class VaeSampleArgs(BaselineSampleArgs):
    model: str = field(default=VAE_MODEL, metadata={"help": "a trained VAE folder"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (0 = greedy)"})


@dataclass
class VaeInterpolateArgs:
    a: str = field(metadata={"help": "the first piece (any score file)"})
    b: str = field(metadata={"help": "the last piece"})
    steps: int = field(default=8, metadata={"help": f"segments from A to B, both included (2-{MAX_STEPS})"})
    style: str = field(default="bach", metadata={"help": "style both pieces are read and written in"})
    model: str = field(default=VAE_MODEL, metadata={"help": "a trained VAE folder"})
    out: str = field(default="out", metadata={"help": "output folder"})
    formats: str = field(
        default="mid,musicxml,wav,png", metadata={"help": "comma-separated: mid,musicxml,wav,png"}
    )


@dataclass
class VaeReconstructArgs:
    piece: str = field(metadata={"help": "a score file"})
    style: str = field(default="bach", metadata={"help": "style the piece is read and written in"})
    model: str = field(default=VAE_MODEL, metadata={"help": "a trained VAE folder"})
    out: str = field(default="out", metadata={"help": "output folder"})
    formats: str = field(
        default="mid,musicxml,wav,png", metadata={"help": "comma-separated: mid,musicxml,wav,png"}
    )


def _outputs(args) -> list[str]:
    formats = check_formats(f.strip() for f in args.formats.split(",") if f.strip())
    output_folder(args.out)
    return formats


def _write(pieces: list[Piece], args, formats: list[str], stem: str | None = None) -> None:
    for index, piece in enumerate(pieces):
        for path in render_piece(
            piece, args.out, stem or piece_stem(piece.style, piece.seed, index), formats
        ).values():
            print(path)


def run_gan_sample(args: GanSampleArgs) -> None:
    formats = _outputs(args)
    _write(
        GanComposer.from_pretrained(args.model).generate(
            args.style, bars=args.bars, num=args.num, seed=args.seed
        ),
        args,
        formats,
    )


def run_vae_sample(args: VaeSampleArgs) -> None:
    formats = _outputs(args)
    composer = VaeComposer.from_pretrained(args.model)
    pieces = composer.generate(
        args.style, bars=args.bars, num=args.num, seed=args.seed, temperature=args.temperature
    )
    _write(pieces, args, formats)


def run_vae_interpolate(args: VaeInterpolateArgs) -> None:
    formats = _outputs(args)
    composer = VaeComposer.from_pretrained(args.model)
    a, b = (load_pieces(path)[0].score for path in (args.a, args.b))
    piece = composer.interpolate(a, b, args.style, args.steps, (args.a, args.b))
    _write([piece], args, formats, f"interpolation-{Path(args.a).stem}-{Path(args.b).stem}")


def run_vae_reconstruct(args: VaeReconstructArgs) -> None:
    formats = _outputs(args)
    composer = VaeComposer.from_pretrained(args.model)
    piece, accuracy = composer.reconstruct(load_pieces(args.piece)[0].score, args.style, args.piece)
    print(f"reconstruction accuracy (events per step and track): {accuracy:.3f}")
    _write([piece], args, formats, f"reconstruction-{Path(args.piece).stem}")
