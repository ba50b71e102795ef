"""A MuseGAN-like GAN over 4-bar piano-roll segments, conditioned on style (Dong et al., 2018).

The generator maps a latent and a style to a segment's frames and onsets for every track at once (the
tracks are channels, MuseGAN's "composer" model): a dense layer to a coarse (time, octave) grid,
transposed convolutions along time up to sixteenths, convolutions that mix octaves, and a last layer that
spreads each octave cell over its 12 pitches. The critic reads the same way backwards (pitch classes
within an octave, then beats and bars) and scores style by projection (Miyato & Koyama, 2018).

Trained as a WGAN-GP (Gulrajani et al., 2017), as MuseGAN was: the critic's Wasserstein estimate is a
loss that says how far apart real and generated segments are, where a plain GAN's does not. Output is
binarized at 0.5 (MuseGAN's hard thresholding), and an onset counts only where its frame sounds.

The latent has two halves: one held for a whole piece and one drawn per segment, so that chained
segments (`sample` with more bars than a segment) share a piece-wide character.
"""

from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

OCTAVE = 12


def _up(channels_in: int, channels_out: int) -> nn.Sequential:
    """Twice as many time steps, then a 3x3 convolution over (time, octave)."""
    return nn.Sequential(
        nn.ConvTranspose2d(channels_in, channels_out, (2, 1), (2, 1)),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(),
        nn.Conv2d(channels_out, channels_out, 3, padding=1),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(),
    )


class GanGenerator(nn.Module, PyTorchModelHubMixin):
    """(latent, style) -> segment probabilities (batch, 2, tracks, steps, pitches)."""

    def __init__(
        self,
        styles: list[str],
        tracks: int = 4,
        steps: int = 64,
        pitches: int = 84,
        latent: int = 128,
        style_dim: int = 32,
        width: int = 256,
    ):
        super().__init__()
        if pitches % OCTAVE or steps % 16:
            raise ValueError("pitches must be whole octaves and steps a multiple of 16")
        self.styles, self.tracks, self.steps, self.pitches = list(styles), tracks, steps, pitches
        self.latent = latent
        self.octaves, self.coarse = pitches // OCTAVE, steps // 16
        self.style = nn.Embedding(len(styles), style_dim)
        self.dense = nn.Sequential(
            nn.Linear(latent + style_dim, width * self.coarse * self.octaves),
            nn.BatchNorm1d(width * self.coarse * self.octaves),
            nn.ReLU(),
        )
        self.width = width
        # four doublings of time: one step a bar -> half bars -> beats -> eighths -> sixteenths
        self.body = nn.Sequential(
            _up(width, width),
            _up(width, width // 2),
            _up(width // 2, width // 2),
            _up(width // 2, width // 4),
        )
        self.to_pitch = nn.ConvTranspose2d(width // 4, 2 * tracks, (1, OCTAVE), (1, OCTAVE))
        # Start near the data's density (about 1% of cells sound), not at half of them: a generator that
        # fills the roll gives the critic a trivial first task and itself saturated gradients.
        nn.init.constant_(self.to_pitch.bias, -4.0)

    def forward(self, z: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        h = self.dense(torch.cat([z, self.style(style)], dim=1))
        h = self.body(h.view(-1, self.width, self.coarse, self.octaves))
        logits = self.to_pitch(h)  # (batch, 2 * tracks, steps, pitches)
        return torch.sigmoid(logits).view(-1, 2, self.tracks, self.steps, self.pitches)


class GanCritic(nn.Module):
    """segment (batch, 2, tracks, steps, pitches), style -> a real-valued score per segment."""

    def __init__(self, styles: int, tracks: int = 4, steps: int = 64, pitches: int = 84, width: int = 256):
        super().__init__()
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.net = nn.Sequential(
            nn.Conv2d(2 * tracks, width // 4, (1, OCTAVE), (1, OCTAVE)), act(),  # pitch within an octave
            nn.Conv2d(width // 4, width // 2, 3, padding=1), act(),
            nn.Conv2d(width // 2, width // 2, (4, 1), (4, 1)), act(),  # sixteenths -> beats
            nn.Conv2d(width // 2, width, 3, padding=1), act(),
            nn.Conv2d(width, width, (4, 1), (4, 1)), act(),  # beats -> bars
            nn.Conv2d(width, width, (1, pitches // OCTAVE)), act(),  # across octaves
            nn.Flatten(),
        )  # fmt: skip
        features = width * (steps // 16)
        self.out = nn.Linear(features, 1)
        self.style = nn.Embedding(styles, features)

    def forward(self, roll: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        h = self.net(roll.flatten(1, 2))
        return self.out(h).squeeze(1) + (self.style(style) * h).sum(1)


def gradient_penalty(
    critic: GanCritic, real: torch.Tensor, fake: torch.Tensor, style: torch.Tensor
) -> torch.Tensor:
    """WGAN-GP's penalty: the critic's gradient norm kept near 1 on points between real and generated."""
    mix = torch.rand(real.shape[0], 1, 1, 1, 1, device=real.device)
    between = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(between, style).sum(), between, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def binarize(probabilities: torch.Tensor) -> torch.Tensor:
    """Hard threshold at 0.5; an onset only where its frame sounds."""
    on = probabilities > 0.5
    on[:, 1] &= on[:, 0]
    return on


@torch.no_grad()
def sample_segments(
    generator: GanGenerator, style: int, segments: int, num: int, generator_seed: torch.Generator
) -> torch.Tensor:
    """`num` pieces of `segments` consecutive segments each (num, segments, 2, tracks, steps, pitches),
    each piece's segments sharing the first half of their latent."""
    half = generator.latent // 2
    piece = torch.randn(num, 1, half, generator=generator_seed).expand(num, segments, half)
    own = torch.randn(num, segments, generator.latent - half, generator=generator_seed)
    z = torch.cat([piece, own], dim=2).flatten(0, 1)
    device = next(generator.parameters()).device
    styles = torch.full((len(z),), style, dtype=torch.long, device=device)
    generator.eval()
    out = binarize(generator(z.to(device), styles))
    return out.view(num, segments, *out.shape[1:]).cpu()
