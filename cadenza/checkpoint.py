"""Checkpoints in the Hugging Face layout: config.json + model.safetensors + generation_config.json (the
sampling defaults) + tokenizer.json (+ README card); and LoRA adapters, which name the base they need.

`AutoModelForCausalLM.from_pretrained(folder)` loads the model; `CadenzaTokenizer.load(folder)` the
tokenizer. Weights are read with safetensors only, never pickle.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoModelForCausalLM, PreTrainedModel

from cadenza.errors import InputFileError
from cadenza.paths import TOKENIZER_FILE
from cadenza.tokenization.tokenizer import CadenzaTokenizer

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
    return _require_files(Path(folder), REQUIRED_FILES, "checkpoint")


def _require_files(folder: Path, names: tuple[str, ...], kind: str) -> Path:
    if not folder.is_dir():
        raise InputFileError(folder, f"{kind} folder not found")
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise InputFileError(folder, f"not a cadenza {kind}: missing {', '.join(missing)}")
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


# --- LoRA adapters --------------------------------------------------------------------------------
# An adapter folder: peft's adapter_config.json + adapter_model.safetensors, the base tokenizer extended
# with the adapter's style (tokenizer.json), its style profile, its card, and ADAPTER_FILE naming the style
# and the base it was trained on.
ADAPTER_FILE = "cadenza_adapter.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", TOKENIZER_FILE, ADAPTER_FILE)


@dataclass(frozen=True)
class AdapterInfo:
    style: str  # the style it teaches; a lyrics adapter's name
    base: str  # the base checkpoint's folder when the adapter was trained
    base_fingerprint: str  # `base_fingerprint` of that folder
    lyrics: bool = False  # it writes songs (the lyric tokens), in the base's styles
    vocab_size: int = 0  # the rows it needs, when more than the base has (the base is resized to load it)


def base_fingerprint(folder: str | Path) -> str:
    """A hash of a checkpoint's tokenizer and weights: an adapter is only good on the very base it was
    trained on (a retrained base with the same layout would load it silently and play nonsense)."""
    folder = require_checkpoint(folder)
    digest = hashlib.sha256(CadenzaTokenizer.load(folder).fingerprint.encode())
    with (folder / WEIGHTS_FILE).open("rb") as weights:
        digest.update(hashlib.file_digest(weights, "sha256").digest())
    return digest.hexdigest()


def save_adapter_info(info: AdapterInfo, folder: str | Path) -> Path:
    path = Path(folder) / ADAPTER_FILE
    path.write_text(json.dumps(asdict(info), indent=2) + "\n")
    return path


def read_adapter(folder: str | Path) -> AdapterInfo:
    """The adapter in `folder`, with a clear error for a folder that is not one."""
    folder = _require_files(Path(folder), ADAPTER_FILES, "adapter")
    try:
        return AdapterInfo(**json.loads((folder / ADAPTER_FILE).read_text()))
    except (ValueError, TypeError) as err:
        raise InputFileError(folder / ADAPTER_FILE, f"unreadable adapter description ({err})") from None


def check_adapter_base(adapter: str | Path, info: AdapterInfo, base: str | Path) -> None:
    """Refuse an adapter trained on another base than the checkpoint in `base`."""
    if base_fingerprint(base) != info.base_fingerprint:
        raise InputFileError(
            adapter,
            f"made for another base model (trained on {info.base}, which has changed or is not {base}); "
            "fine-tune it again on this base",
        )


@contextmanager
def peft_quietly() -> Iterator[None]:
    """peft's model wrapping reaches transformers' deprecated `is_gradient_checkpointing`, whose
    FutureWarning a user cannot act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield
