"""Direct preference optimisation beside the shared loop: the loss, the model the loop trains, the batches.

DPO (Rafailov et al. 2023) raises a chosen piece's log-likelihood against a rejected one's, each measured
relative to a frozen reference model (the previous round's):

    margin = (log pi(chosen) - log ref(chosen)) - (log pi(rejected) - log ref(rejected))
    loss   = -log sigmoid(beta * (margin - penalty * max(0, log ref(chosen) - log pi(chosen))))

The penalty term is DPO-Positive (Pal et al. 2024), which NotaGen's CLaMP-DPO uses (beta 0.1, lambda 10,
`RL/config.py`): plain DPO can lower both likelihoods as long as the rejected one falls faster, and a
chosen piece growing less likely is the model unlearning music it wrote well. TRL's `DPOTrainer` brings
its own trainer and datasets pipeline; cadenza keeps one loop (`loop.run_loop`), so the loss lives here.

The reference's log-likelihoods are computed once before training (`sequence_logp` under the frozen
model) and travel in the batch, so the loop holds one model. `PreferenceModel` is what the loop trains:
with pairs it returns the DPO loss; with plain rows (the loop's validation: held-out real pieces) it is
the policy itself, so the loop's validation loss is the held-out NLL the guards watch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel
from transformers.modeling_outputs import ModelOutput

from cadenza.training.model import token_nll


def sequence_logp(
    model: PreTrainedModel, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """The log-likelihood of each row's labelled tokens (labels -100 are not counted): shape (batch,)."""
    logits = model(input_ids=ids, attention_mask=mask).logits
    return -token_nll(logits, labels).sum(dim=-1)


def dpo_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    penalty: float,
) -> torch.Tensor:
    """The mean DPO-Positive loss of a batch of pairs, from sequence log-likelihoods (see the module)."""
    margin = (chosen - ref_chosen) - (rejected - ref_rejected)
    fell = torch.clamp(ref_chosen - chosen, min=0.0)
    return -torch.nn.functional.logsigmoid(beta * (margin - penalty * fell)).mean()


@dataclass
class PreferenceOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None


class PreferenceModel(torch.nn.Module):
    """The policy under training, as the shared loop calls it (see the module)."""

    def __init__(self, policy: PreTrainedModel, beta: float, penalty: float) -> None:
        super().__init__()
        self.policy, self.beta, self.penalty = policy, beta, penalty

    def forward(self, input_ids, attention_mask, labels=None, **pair) -> PreferenceOutput:
        if not pair:
            logits = self.policy(input_ids=input_ids, attention_mask=attention_mask).logits
            return PreferenceOutput(logits=logits)
        chosen = sequence_logp(self.policy, input_ids, attention_mask, labels)
        rejected_rows = (pair["rejected_ids"], pair["rejected_mask"], pair["rejected_labels"])
        rejected = sequence_logp(self.policy, *rejected_rows)
        loss = dpo_loss(chosen, rejected, pair["ref_chosen"], pair["ref_rejected"], self.beta, self.penalty)
        return PreferenceOutput(loss=loss)


def pad(rows: list[list[int]], learned_from: list[int], pad_id: int) -> tuple[torch.Tensor, ...]:
    """(ids, attention mask, labels) of right-padded rows; labels are -100 before `learned_from[i]` (the
    prompt the piece was asked with) and on padding."""
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100)
    for i, (row, start) in enumerate(zip(rows, learned_from, strict=True)):
        ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), 1
        labels[i, start : len(row)] = torch.tensor(row[start:])
    return ids, mask, labels


@dataclass
class PairCollator:
    """Batches of pairs: dicts with "chosen", "rejected" (ids), "prompt" (ids both begin with, not
    learned) and the reference's "ref_chosen" / "ref_rejected"."""

    pad_id: int

    def __call__(self, pairs: list[dict]) -> dict[str, torch.Tensor]:
        starts = [len(p["prompt"]) for p in pairs]
        ids, mask, labels = pad([p["chosen"] for p in pairs], starts, self.pad_id)
        rejected = pad([p["rejected"] for p in pairs], starts, self.pad_id)
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": labels,
            "rejected_ids": rejected[0],
            "rejected_mask": rejected[1],
            "rejected_labels": rejected[2],
            "ref_chosen": torch.tensor([p["ref_chosen"] for p in pairs]),
            "ref_rejected": torch.tensor([p["ref_rejected"] for p in pairs]),
        }
