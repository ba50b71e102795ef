"""The one-token decoding step as an ONNX graph run by ONNX Runtime.

A 4 M-parameter model's step is a few small matrix products wrapped in a lot of Python (transformers' and
torch.nn's modules, output classes, the cache object): on 2 cores it cost 3.3 ms at batch 1 eager, 1.7 ms
as one graph in ONNX Runtime (docs/generation.md). The step is exported once per set of weights with
`torch.onnx.export` (torch.export underneath, ~10 s) and kept in the user's cache folder under a hash of
the weights, so later processes only load it. The prompt is still read by the eager model; its key/value
cache then lives on as numpy arrays that the graph grows by one position a step.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from transformers import DynamicCache, PreTrainedModel

EXPORT_VERSION = 1  # bump when `_Step` changes, so cached graphs of the old step are not reused


def cache_folder() -> Path:
    """Where exported steps are kept: `$CADENZA_CACHE`, else `$XDG_CACHE_HOME/cadenza`, else
    ~/.cache/cadenza."""
    if os.environ.get("CADENZA_CACHE"):
        return Path(os.environ["CADENZA_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cadenza"


class _Step(torch.nn.Module):
    """What is exported: the model's step over plain tensors (no cache object crosses the graph's edge)."""

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, past: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        cache = DynamicCache(config=self.model.config)
        for layer in range(len(past) // 2):
            cache.update(past[2 * layer], past[2 * layer + 1], layer)
        position = torch.full_like(ids, past[0].shape[2])
        logits = self.model(input_ids=ids, cache=cache, position_ids=position, use_cache=True).logits
        return logits[:, -1], [t for layer in cache.layers for t in (layer.keys, layer.values)]


def plain_model(model: PreTrainedModel, adapter: str | None = None) -> PreTrainedModel:
    """The network a step runs: for a peft model, `adapter` merged into a copy of its base, or the base
    alone (`adapter` None); any other model as it is."""
    from peft import PeftModel

    if not isinstance(model, PeftModel):
        return model
    copied = copy.deepcopy(model)
    if adapter is None:
        return copied.unload()
    copied.set_adapter(adapter)
    return copied.merge_and_unload(adapter_names=[adapter])


def weights_key(model: PreTrainedModel) -> str:
    """A hash of the weights and the shape of the step: equal keys, interchangeable graphs."""
    digest = hashlib.sha256(f"{EXPORT_VERSION} {torch.__version__} {model.config.to_json_string()}".encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:24]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's progress lines, warnings and log records speak of its internals (torchvision ops,
    axis names), none of which a user can act on."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)  # not `.level =`: setLevel also clears the loggers' cached levels
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def export(model: PreTrainedModel, path: Path) -> None:
    """Write `model`'s decoding step to `path` (ONNX), batch size and cache length left free."""
    config = model.config
    heads, width = config.n_head, config.n_embd // config.n_head
    past = [torch.zeros(2, heads, 8, width) for _ in range(2 * config.n_layer)]
    batch, length = torch.export.Dim("batch", max=256), torch.export.Dim("length", max=config.n_positions - 1)
    program = torch.onnx.export(
        _Step(model).eval(),
        (torch.zeros(2, 1, dtype=torch.long), past),
        dynamo=True,
        dynamic_shapes=({0: batch}, [{0: batch, 2: length}] * len(past)),
        input_names=["ids", *(f"past_{i}" for i in range(len(past)))],
        optimize=True,
        verbose=False,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")  # a crash mid-write must not leave a graph that looks whole
    program.save(str(partial))
    partial.replace(path)


class OnnxStep:
    """`model`'s one-token step in ONNX Runtime, called like the model with a `DynamicCache` it grows."""

    def __init__(self, model: PreTrainedModel, adapter: str | None, threads: int) -> None:
        import onnxruntime

        model = plain_model(model, adapter)
        self.config = model.config
        path = cache_folder() / "steps" / f"{weights_key(model)}.onnx"
        if not path.exists():
            print(
                "cadenza: exporting the decoding step to ONNX (once for these weights: ~10 s)",
                file=sys.stderr,
            )
            with torch.inference_mode(False), torch.no_grad(), _quiet():
                export(model, path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.log_severity_level = 3  # its warnings name graph internals a user cannot act on
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = [node.name for node in self.session.get_inputs()]

    def new_cache(self) -> DynamicCache:
        return DynamicCache(config=self.config)

    def __call__(
        self, input_ids: torch.Tensor, cache: DynamicCache, position_ids: torch.Tensor
    ) -> torch.Tensor:
        """The next token's logits for each row; `cache` (filled by the eager model's prompt pass) grows
        by the step, its tensors sharing memory with the graph's numpy outputs. The graph reads the
        position from the cache's length, which is `position_ids` in every call `sample` makes."""
        past = [t.numpy() for layer in cache.layers for t in (layer.keys, layer.values)]
        feed = dict(zip(self.names, [input_ids.numpy(), *past], strict=True))
        logits, *grown = self.session.run(None, feed)
        for layer, keys, values in zip(cache.layers, grown[::2], grown[1::2], strict=True):
            layer.keys, layer.values = torch.from_numpy(keys), torch.from_numpy(values)
        return torch.from_numpy(np.ascontiguousarray(logits))
