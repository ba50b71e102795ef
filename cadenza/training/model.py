"""The model: a small GPT-2 from `transformers`, sized for a CPU and a music vocabulary of ~500 tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from cadenza.errors import CadenzaError

if TYPE_CHECKING:  # a type only: the baselines' training imports this module on machines without miditok
    from cadenza.tokenization.tokenizer import CadenzaTokenizer

# Rows kept free after the tokenizer's vocabulary, so the lyrics and control tokens that later features
# append fit a trained model without resizing its embeddings (LoRA adapters cannot resize them).
RESERVED_TOKENS = 64
# Named on the model: transformers finds no loss type for GPT-2, warns at the first loss that
# `loss_type=None` is unrecognised and falls back to this very loss.
LOSS_TYPE = "ForCausalLM"


@dataclass
class ModelArgs:
    n_layer: int = field(default=6, metadata={"help": "transformer blocks"})
    n_embd: int = field(default=256, metadata={"help": "hidden width"})
    n_head: int = field(default=4, metadata={"help": "attention heads"})
    n_positions: int = field(default=1024, metadata={"help": "context length in tokens"})
    # Off by default: with attention dropout PyTorch's CPU attention leaves its fused flash kernel for the
    # math path, and the extra masks make a 2-core training step 2-4x slower (measured).
    dropout: float = field(default=0.0, metadata={"help": "dropout on residuals, embeddings, attention"})


def model_sizes(config: GPT2Config) -> dict:
    """A GPT-2 config's sizes as `ModelArgs` fields: a run that starts from a checkpoint has its sizes."""
    return {
        "n_layer": config.n_layer, "n_embd": config.n_embd, "n_head": config.n_head,
        "n_positions": config.n_positions, "dropout": config.resid_pdrop,
    }  # fmt: skip


def model_vocab_size(ids: int) -> int:
    """A vocabulary of `ids` plus reserved rows, rounded up to a multiple of 64 for faster matmuls."""
    return -(-(ids + RESERVED_TOKENS) // 64) * 64


def build_model(args: ModelArgs, tokenizer: CadenzaTokenizer) -> GPT2LMHeadModel:
    """A new GPT-2 of `args`' sizes for `tokenizer`'s vocabulary and special ids."""
    return new_gpt2(args, len(tokenizer), tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id)


def new_gpt2(args: ModelArgs, ids: int, bos_id: int, eos_id: int, pad_id: int) -> GPT2LMHeadModel:
    """A new GPT-2 of `args`' sizes with room for `ids` tokens (the shard trainer has ids, no tokenizer)."""
    sizes = {
        "n_layer": args.n_layer,
        "n_embd": args.n_embd,
        "n_head": args.n_head,
        "n_positions": args.n_positions,
    }
    bad = [f"--{name} {value}" for name, value in sizes.items() if value < 1]
    if bad:
        raise CadenzaError(f"model sizes must be at least 1, got {', '.join(bad)}")
    if args.n_embd % args.n_head:
        raise CadenzaError(f"--n_embd {args.n_embd} must be a multiple of --n_head {args.n_head}")
    if not 0 <= args.dropout < 1:
        raise CadenzaError(f"--dropout must be in [0, 1), got {args.dropout}")
    config = GPT2Config(
        vocab_size=model_vocab_size(ids),
        n_positions=args.n_positions,
        n_embd=args.n_embd,
        n_layer=args.n_layer,
        n_head=args.n_head,
        resid_pdrop=args.dropout,
        embd_pdrop=args.dropout,
        attn_pdrop=args.dropout,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        # One fused kernel instead of GPT-2's pow/mul/add/tanh chain: elementwise ops dominate a CPU step.
        activation_function="gelu_pytorch_tanh",
    )
    model = GPT2LMHeadModel(config)
    model.loss_type = LOSS_TYPE
    return model


def token_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The NLL (nats) of every predicted token: position t + 1 of `labels` under `logits` at t, in fp32;
    0 where the label is -100 (padding, a packed row's boundary). Shape (batch, length - 1). Training's
    validation loss and `cadenza evaluate` both sum these, so their numbers are the same measure."""
    targets = labels[:, 1:]
    nll = torch.nn.functional.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(), targets.flatten(), ignore_index=-100, reduction="none"
    )
    return nll.view(targets.shape)
