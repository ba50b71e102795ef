"""A MusicVAE-like VAE over short multi-track segments, conditioned on style (Roberts et al., 2018).

Input is the events view (`segments.roll_events`): per step, one class per track (rest, hold, or the
onset of a pitch). A bidirectional LSTM reads the steps and gives the posterior's mean and log-variance.
The decoder is hierarchical, as in MusicVAE: a "conductor" LSTM turns the latent into one embedding per
bar, and a step LSTM, restarted from each bar's embedding, writes that bar's steps autoregressively
(every track's class at each step, given the steps before). Restarting per bar makes the decoder lean on
the latent instead of its own history, which is what keeps the posterior from collapsing together with
the two remedies in the loss: KL annealing (beta rises from 0 over `kl_warmup` steps) and free bits (a
latent dimension's KL below `free_bits` nats is not penalised).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from cadenza.gan_vae.segments import FIRST_PITCH


def _own_storage(module: nn.Module, state: dict, prefix: str, local_metadata: dict) -> None:
    """On a GPU cuDNN packs an LSTM's weights into one buffer, and safetensors (`save_pretrained`,
    accelerate's training states) stores one tensor per buffer, silently dropping the others: the saved
    state holds copies."""
    for name, value in state.items():
        state[name] = value.clone()


class Vae(nn.Module, PyTorchModelHubMixin):
    def __init__(
        self,
        styles: list[str],
        tracks: int = 4,
        bars: int = 2,
        bar_steps: int = 16,
        pitches: int = 84,
        latent: int = 128,
        style_dim: int = 32,
        event_dim: int = 64,
        encoder_width: int = 256,
        decoder_width: int = 384,
    ):
        super().__init__()
        self.styles, self.tracks, self.bars, self.bar_steps = list(styles), tracks, bars, bar_steps
        self.pitches, self.latent = pitches, latent
        self.classes = FIRST_PITCH + pitches
        self.start = self.classes  # the "no step yet" input before a bar's first step
        self.event = nn.Embedding(tracks * (self.classes + 1), event_dim)
        self.style = nn.Embedding(len(styles), style_dim)
        step_dim = tracks * event_dim
        self.encoder = nn.LSTM(step_dim + style_dim, encoder_width, batch_first=True, bidirectional=True)
        self.posterior = nn.Linear(2 * encoder_width, 2 * latent)
        self.conductor_init = nn.Linear(latent + style_dim, 2 * decoder_width)
        self.conductor = nn.LSTM(1, decoder_width, batch_first=True)
        self.bar_init = nn.Linear(decoder_width, 2 * decoder_width)
        self.decoder = nn.LSTM(step_dim + decoder_width + style_dim, decoder_width, batch_first=True)
        self.head = nn.Linear(decoder_width, tracks * self.classes)
        self.register_state_dict_post_hook(_own_storage)

    def embed(self, events: torch.Tensor) -> torch.Tensor:
        """(batch, tracks, steps) classes -> (batch, steps, tracks * event_dim)."""
        offsets = torch.arange(self.tracks, device=events.device).unsqueeze(1) * (self.classes + 1)
        return self.event(events + offsets).permute(0, 2, 1, 3).flatten(2)

    def encode(self, events: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior's mean and log-variance (batch, latent) each."""
        steps = events.shape[-1]
        x = torch.cat([self.embed(events), self.style(style).unsqueeze(1).expand(-1, steps, -1)], dim=2)
        _, (h, _) = self.encoder(x)
        mean, log_var = self.posterior(torch.cat([h[0], h[1]], dim=1)).chunk(2, dim=1)
        return mean, log_var

    def bar_states(self, z: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The conductor's embedding of each bar (batch, bars, decoder_width)."""
        h, c = torch.tanh(self.conductor_init(torch.cat([z, self.style(style)], dim=1))).chunk(2, dim=1)
        zeros = z.new_zeros(z.shape[0], self.bars, 1)
        out, _ = self.conductor(zeros, (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()))
        return out

    def _bar_start(self, bar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = torch.tanh(self.bar_init(bar)).chunk(2, dim=1)
        return h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()

    def decode_logits(self, z: torch.Tensor, style: torch.Tensor, events: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (batch, tracks, steps, classes) of `events` given the latent."""
        batch = z.shape[0]
        bars, style_emb = self.bar_states(z, style), self.style(style)
        logits = []
        for b in range(self.bars):
            target = events[:, :, b * self.bar_steps : (b + 1) * self.bar_steps]
            start = torch.full_like(target[:, :, :1], self.start)
            previous = torch.cat([start, target[:, :, :-1]], dim=2)
            context = torch.cat([bars[:, b], style_emb], dim=1).unsqueeze(1).expand(-1, self.bar_steps, -1)
            out, _ = self.decoder(
                torch.cat([self.embed(previous), context], dim=2), self._bar_start(bars[:, b])
            )
            logits.append(self.head(out).view(batch, self.bar_steps, self.tracks, self.classes))
        return torch.cat(logits, dim=1).permute(0, 2, 1, 3)

    @torch.no_grad()
    def decode(
        self,
        z: torch.Tensor,
        style: torch.Tensor,
        temperature: float = 1.0,
        rng: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Events (batch, tracks, steps) written step by step from the latent; temperature 0 is greedy."""
        bars, style_emb = self.bar_states(z, style), self.style(style)
        out = []
        for b in range(self.bars):
            state = self._bar_start(bars[:, b])
            previous = torch.full((z.shape[0], self.tracks, 1), self.start, dtype=torch.long, device=z.device)
            context = torch.cat([bars[:, b], style_emb], dim=1).unsqueeze(1)
            for _ in range(self.bar_steps):
                h, state = self.decoder(torch.cat([self.embed(previous), context], dim=2), state)
                logits = self.head(h[:, 0]).view(-1, self.tracks, self.classes)
                if temperature <= 0:
                    previous = logits.argmax(-1, keepdim=True)
                else:
                    probs = F.softmax(logits.float() / temperature, dim=-1).flatten(0, 1)
                    previous = torch.multinomial(probs.cpu(), 1, generator=rng).view(-1, self.tracks, 1)
                    previous = previous.to(z.device)
                out.append(previous)
        return torch.cat(out, dim=2)


def vae_loss(
    model: Vae, events: torch.Tensor, style: torch.Tensor, beta: float, free_bits: float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The negative ELBO (reconstruction cross-entropy per segment + beta x KL with free bits per
    dimension) and its parts: `recon`, `kl` (per segment, unclamped), `kl_dims` (mean KL per dimension) and
    `accuracy` (teacher-forced, per step and track) and `onset_accuracy` (the same over the steps where
    a note starts: most steps are rests and holds, which a decoder gets right from the step before)."""
    mean, log_var = model.encode(events, style)
    z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
    logits = model.decode_logits(z, style, events)
    recon = F.cross_entropy(logits.flatten(0, 2).float(), events.flatten(), reduction="sum") / len(events)
    kl_dims = (0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var)).float().mean(0)
    loss = recon + beta * kl_dims.clamp(min=free_bits).sum()
    right, onsets = logits.argmax(-1) == events, events >= FIRST_PITCH
    return loss, {"recon": recon.detach(), "kl": kl_dims.sum().detach(), "kl_dims": kl_dims.detach(),
                  "accuracy": right.float().mean().detach(),
                  "onset_accuracy": (right & onsets).sum().float() / onsets.sum().clamp(min=1)}  # fmt: skip
