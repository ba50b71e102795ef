"""Checkpoints in the Hugging Face layout: config.json + model.safetensors + generation_config.json (the
sampling defaults) + tokenizer.json (+ README card).

`AutoModelForCausalLM.from_pretrained(folder)` loads the model; `CadenzaTokenizer.load(folder)` the
tokenizer. Weights are read with safetensors only, never pickle.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoModelForCausalLM, PreTrainedModel

from cadenza.errors import InputFileError
from cadenza.tokenization.tokenizer import TOKENIZER_FILE, CadenzaTokenizer

WEIGHTS_FILE = "model.safetensors"
REQUIRED_FILES = ("config.json", WEIGHTS_FILE, TOKENIZER_FILE)
# The sampling defaults of every checkpoint cadenza writes, saved in its generation_config.json: the one
# place `Composer`, `cadenza generate` and the app read them from.
SAMPLING = {"do_sample": True, "temperature": 1.0, "top_p": 0.95, "top_k": 0}


def save_checkpoint(
    model: PreTrainedModel, tokenizer: CadenzaTokenizer, folder: str | Path, card: str | None = None
) -> Path:
    folder = Path(folder)
    model.generation_config.update(**SAMPLING)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save(folder)
    if card is not None:
        (folder / "README.md").write_text(card)
    return folder


def require_checkpoint(folder: str | Path) -> Path:
    """`folder` if it holds a checkpoint's files, else a clear error that names what is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "checkpoint folder not found")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise InputFileError(folder, f"not a cadenza checkpoint: missing {', '.join(missing)}")
    return folder


def load_checkpoint(
    folder: str | Path, dtype: torch.dtype = torch.float32
) -> tuple[PreTrainedModel, CadenzaTokenizer]:
    """Model (eval mode) and tokenizer from a checkpoint folder, with a clear error for a broken one."""
    folder = require_checkpoint(folder)
    tokenizer = CadenzaTokenizer.load(folder)
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, use_safetensors=True)
    except (OSError, ValueError, RuntimeError, SafetensorError) as err:
        raise InputFileError(folder, f"model weights could not be loaded ({err})") from err
    if not all(torch.isfinite(weights).all() for weights in model.parameters()):
        # NaN weights would only surface mid-sampling as "probability tensor contains inf/nan"
        raise InputFileError(folder / WEIGHTS_FILE, "the weights hold NaN or infinite values")
    if model.config.vocab_size < len(tokenizer):
        raise InputFileError(
            folder,
            f"tokenizer has {len(tokenizer)} tokens but the model only {model.config.vocab_size}: "
            "they do not belong together",
        )
    return model.eval(), tokenizer
