"""The sampling loop: eager, compiled and ONNX decoding agree with the model run without a cache."""

from __future__ import annotations

import copy

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import LogitsProcessor, LogitsProcessorList

from cadenza.inference import onnx_step
from cadenza.inference.composer import Composer
from cadenza.inference.constraints import BarStoppingCriteria
from cadenza.inference.onnx_step import OnnxStep, plain_model
from cadenza.inference.request import Sampling
from cadenza.inference.sampling import CompiledForward, sample
from cadenza.tokenization.grammar import RemiGrammar


class Recorder(LogitsProcessor):
    """Keeps the logits of every step and forces the next token from a script (teacher forcing)."""

    def __init__(self, script: list[int]) -> None:
        self.script = script
        self.seen: list[torch.Tensor] = []

    def __call__(self, input_ids, scores):
        self.seen.append(scores.clone())
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.script[len(self.seen) - 1]] = 0.0
        return forced


def _decoded_logits(
    composer: Composer, fast: CompiledForward | OnnxStep | None
) -> tuple[torch.Tensor, torch.Tensor]:
    tok = composer.tokenizer
    script = tok.encode_music(composer.generate("bach", bars=2, seed=0)[0].score)[:40]
    prompt = torch.tensor([[tok.bos_id, tok.style_id("bach")]] * 2)
    recorder = Recorder(script)
    stop = BarStoppingCriteria(tok.bar_starts, tok.eos_id, 10**6)
    processors, plain = LogitsProcessorList([recorder]), Sampling(1.0, 0, 1.0)
    ids = sample(composer.model, prompt, processors, plain, stop, len(script), tok.pad_id, fast)
    # The same sequence in one cacheless forward pass: what every step's logits must be.
    with torch.inference_mode():
        full = composer.model(input_ids=ids[:, :-1]).logits[:, 1:]
    return torch.stack(recorder.seen, dim=1), full


def test_eager_compiled_and_onnx_steps_match_a_full_forward_pass(composer):
    for fast in (None, CompiledForward(composer.model), OnnxStep(composer.model, None, threads=1)):
        steps, full = _decoded_logits(composer, fast)
        assert steps.shape == full.shape
        torch.testing.assert_close(steps, full, atol=1e-4, rtol=1e-4)


def test_a_compiled_composer_writes_grammatical_pieces_of_n_bars(tiny_checkpoint):
    composer = Composer.from_pretrained(tiny_checkpoint, decoder="compiled")
    grammar = RemiGrammar(composer.tokenizer)
    for num in (1, 3):  # one graph serves both batch sizes
        for piece in composer.generate("folk", bars=2, num=num, seed=4):
            assert grammar.errors(piece.tokens) == 0
            assert composer.tokenizer.music_ids(piece.tokens).count(composer.tokenizer.bar_id) == 2


def test_an_onnx_composer_writes_the_eager_composers_pieces(tiny_checkpoint):
    """Same seed, same pieces: the graph's logits differ from torch's by float rounding, which moves a draw
    only at a near-tie (none here)."""
    onnx, eager = (Composer.from_pretrained(tiny_checkpoint, decoder=d) for d in ("onnx", "eager"))
    grammar = RemiGrammar(onnx.tokenizer)
    for num in (1, 3):  # one graph serves both batch sizes
        pieces = onnx.generate("folk", bars=2, num=num, seed=4)
        same = eager.generate("folk", bars=2, num=num, seed=4)
        assert [p.tokens for p in pieces] == [p.tokens for p in same]
        assert all(grammar.errors(piece.tokens) == 0 for piece in pieces)


def test_a_step_is_exported_once_per_set_of_weights(composer, monkeypatch):
    OnnxStep(composer.model, None, threads=1)

    def export(*_):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_step, "export", export)
    OnnxStep(composer.model, None, threads=1)  # from the cache folder
    other = copy.deepcopy(composer.model)
    with torch.no_grad():
        other.lm_head.weight.mul_(2.0)
    with pytest.raises(AssertionError, match="exported again"):
        OnnxStep(other, None, threads=1)


def test_an_adapters_step_is_its_weights_merged_into_the_base(composer):
    """A served adapter decodes through a graph of its own: the base with that adapter merged in."""
    config = LoraConfig(r=2, target_modules=["c_attn"], fan_in_fan_out=True, init_lora_weights=False)
    peft = get_peft_model(copy.deepcopy(composer.model), config, adapter_name="folk").eval()
    ids = torch.tensor([[composer.tokenizer.bos_id, composer.tokenizer.style_id("folk"), 5, 6]])
    with torch.inference_mode():
        with_adapter = peft(input_ids=ids).logits
        with peft.disable_adapter():
            base = peft(input_ids=ids).logits
        merged = plain_model(peft, "folk")(input_ids=ids).logits
        alone = plain_model(peft, None)(input_ids=ids).logits
    assert not torch.allclose(with_adapter, base)
    torch.testing.assert_close(merged, with_adapter, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alone, base)


def test_rows_that_finish_early_raise_no_padding_warning(tiny_checkpoint, caplog):
    """Finished rows are padded; feeding those pads back made transformers warn of padding without an
    attention mask (a message a user cannot act on)."""
    import transformers

    transformers.utils.logging.warning_once.cache_clear()  # it would stay silent after a first warning
    pieces = Composer.from_pretrained(tiny_checkpoint).generate("bach", bars=4, num=4, seed=1)
    assert len({len(piece.tokens) for piece in pieces}) > 1  # the rows did finish at different steps
    assert "attention_mask" not in caplog.text
