"""The sampling loop under `Composer`: multinomial sampling over a KV cache, eager or compiled.

`sample` does what `model.generate(do_sample=True)` does with a `LogitsProcessorList` and a
`StoppingCriteria`, minus `generate`'s per-step bookkeeping, which on a CPU costs as much as a small model's
own step. With a `CompiledForward` the one-token decoding steps run through `torch.compile` over a
`StaticCache` (fixed-size key/value tensors, so one graph serves every step); the prompt is always read by
the eager model. benchmarks/generate.py measures all paths against plain `generate`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from transformers import (
    DynamicCache,
    LogitsProcessorList,
    PreTrainedModel,
    StaticCache,
    StoppingCriteria,
    StoppingCriteriaList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from cadenza.inference.onnx_step import OnnxStep
from cadenza.inference.request import Sampling

DECODE_THREADS = 1  # see `decoding_threads`
# What runs the one-token steps (the prompt is always read by the eager model): "onnx" an ONNX Runtime
# graph, exported once per set of weights (`onnx_step`); "compiled" torch.compile over a static cache, which
# costs tens of seconds once per process; "eager" the model itself. docs/generation.md measures all three.
DECODERS = ("onnx", "compiled", "eager")


def default_decoder() -> str:
    """`$CADENZA_DECODER` when set (the test suite decodes eager: exporting each of its tiny models to ONNX
    would cost seconds apiece; the ONNX path has its own tests), else "onnx"."""
    return os.environ.get("CADENZA_DECODER") or "onnx"


class CompiledForward:
    """A model's forward compiled once for decoding; graphs are cached per process by torch.

    `dynamic=True` makes one graph serve every batch size: a graph per size would cost a new compile
    (tens of seconds on a small CPU) the first time each `num` is asked for.
    """

    def __init__(self, model: PreTrainedModel) -> None:
        self.model = model
        self.forward = torch.compile(model.forward, dynamic=True)

    def new_cache(self) -> StaticCache:
        return StaticCache(config=self.model.config, max_cache_len=self.model.config.n_positions)

    def __call__(
        self, input_ids: torch.Tensor, cache: StaticCache, position_ids: torch.Tensor
    ) -> torch.Tensor:
        out = self.forward(input_ids=input_ids, cache=cache, use_cache=True, position_ids=position_ids)
        return out.logits[:, -1]


def sampling_warpers(temperature: float, top_k: int, top_p: float) -> LogitsProcessorList:
    """transformers' own temperature / top-k / top-p warpers, in the order `generate` applies them."""
    warpers = LogitsProcessorList()
    if temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))
    return warpers


@torch.inference_mode()
def sample(
    model: PreTrainedModel,
    ids: torch.Tensor,
    processors: LogitsProcessorList,
    sampling: Sampling,
    stop: StoppingCriteria | StoppingCriteriaList,
    max_new_tokens: int,
    pad_id: int,
    fast: CompiledForward | OnnxStep | None = None,
) -> torch.Tensor:
    """`ids` (equal-length rows) plus up to `max_new_tokens` sampled ids per row: `processors` mask the
    scores (the grammar), then `sampling`'s warpers shape them; finished rows are padded with `pad_id`, as
    `generate` pads them. `fast` runs the one-token steps (the prompt is always read by the eager model);
    with a `CompiledForward`, ids + new tokens must fit the model's context."""
    cache = DynamicCache(config=model.config) if fast is None else fast.new_cache()

    def next_logits(ids: torch.Tensor, first: bool) -> torch.Tensor:
        if first:
            return model(input_ids=ids, cache=cache, use_cache=True).logits[:, -1, :]
        # Positions are given, not read from the cache: a static cache's length is not known to the graph.
        position = torch.full((1, 1), ids.shape[1] - 1, device=ids.device)
        # A finished row is fed its first token, not its pad: its logits are thrown away, and at a pad
        # transformers warns of padding without an attention mask, which a user cannot act on.
        last = torch.where(ids[:, -1:] == pad_id, ids[:, :1], ids[:, -1:])
        if fast is None:
            return model(input_ids=last, cache=cache, use_cache=True, position_ids=position).logits[:, -1, :]
        return fast(last, cache, position)

    return sample_with(next_logits, ids, processors, sampling, stop, max_new_tokens, pad_id)


@contextmanager
def decoding_threads() -> Iterator[None]:
    """Torch computes with `DECODE_THREADS` inside, and as before after.

    One decoding step of a small model is a few matrix-vector products: a second OpenMP thread saves
    ~12% on a quiet 2-core machine, but when another program keeps one core busy the two threads
    spin-wait for each other and a 16-bar piece takes 3.5x as long (`benchmarks/threads.py`: 3.1 s ->
    11.1 s with 2 threads, 3.2 s -> 3.8 s with 1).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(DECODE_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.inference_mode()
def sample_with(
    next_logits: Callable[[torch.Tensor, bool], torch.Tensor],
    ids: torch.Tensor,
    processors: LogitsProcessorList,
    sampling: Sampling,
    stop: StoppingCriteria | StoppingCriteriaList,
    max_new_tokens: int,
    pad_id: int,
) -> torch.Tensor:
    """The loop of `sample` over any model: `next_logits(ids, first)` scores the next token of every row
    (`first` on the first call, before anything was sampled); the n-gram baseline decodes through it."""
    warpers = sampling_warpers(*sampling)
    with decoding_threads():
        return _sample_loop(next_logits, ids, processors, warpers, stop, max_new_tokens, pad_id)


def draw(ids: torch.Tensor, scores: torch.Tensor, warpers: LogitsProcessorList) -> torch.Tensor:
    """One token per row from masked `scores` after the warpers, drawn among the columns some row may take.

    The grammar leaves a few dozen of 4,000 tokens open, so the warpers (top-p sorts), the softmax and the
    draw run on those alone; a column no row may take is -inf in every row, so the distribution is the
    same. The draw is an exponential race (the argmax of p / E, E ~ Exp(1), picks i with probability p_i):
    `torch.multinomial` cost 1 ms a step at batch 8 on 2 cores."""
    open_columns = torch.isfinite(scores).any(dim=0).nonzero().squeeze(1)
    compact = scores[:, open_columns]
    for warper in warpers:
        compact = warper(ids, compact)
    probs = torch.softmax(compact, dim=-1)
    return open_columns[probs.div_(torch.empty_like(probs).exponential_()).argmax(dim=-1)]


def _sample_loop(
    next_logits, ids, processors, warpers, stop, max_new_tokens: int, pad_id: int
) -> torch.Tensor:
    unfinished = torch.ones(ids.shape[0], dtype=torch.bool, device=ids.device)
    for i in range(max_new_tokens):
        scores = next_logits(ids, i == 0).float()
        for processor in processors:  # not processors(...): its per-call signature inspection costs ~0.3 ms
            scores = processor(ids, scores)
        next_ids = torch.where(unfinished, draw(ids, scores, warpers), pad_id)
        ids = torch.cat([ids, next_ids[:, None]], dim=1)
        unfinished &= ~stop(ids, scores)
        if not unfinished.any():
            break
    return ids
