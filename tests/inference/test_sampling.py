"""The sampling loop: eager and compiled decoding agree with the model run without a cache."""

from __future__ import annotations

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from cadenza.inference.composer import Composer
from cadenza.inference.constraints import BarStoppingCriteria
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
    composer: Composer, compiled: CompiledForward | None
) -> tuple[torch.Tensor, torch.Tensor]:
    tok = composer.tokenizer
    script = tok.encode_music(composer.generate("bach", bars=2, seed=0)[0].score)[:40]
    prompt = torch.tensor([[tok.bos_id, tok.style_id("bach")]] * 2)
    recorder = Recorder(script)
    stop = BarStoppingCriteria(tok.bar_starts, tok.eos_id, 10**6)
    processors, plain = LogitsProcessorList([recorder]), Sampling(1.0, 0, 1.0)
    ids = sample(composer.model, prompt, processors, plain, stop, len(script), tok.pad_id, compiled)
    # The same sequence in one cacheless forward pass: what every step's logits must be.
    with torch.inference_mode():
        full = composer.model(input_ids=ids[:, :-1]).logits[:, 1:]
    return torch.stack(recorder.seen, dim=1), full


def test_eager_and_compiled_steps_match_a_full_forward_pass(composer):
    for compiled in (None, CompiledForward(composer.model)):
        steps, full = _decoded_logits(composer, compiled)
        assert steps.shape == full.shape
        torch.testing.assert_close(steps, full, atol=1e-4, rtol=1e-4)


def test_a_compiled_composer_writes_grammatical_pieces_of_n_bars(tiny_checkpoint):
    composer = Composer.from_pretrained(tiny_checkpoint, compile=True)
    grammar = RemiGrammar(composer.tokenizer)
    for num in (1, 3):  # one graph serves both batch sizes
        for piece in composer.generate("folk", bars=2, num=num, seed=4):
            assert grammar.errors(piece.tokens) == 0
            assert composer.tokenizer.music_ids(piece.tokens).count(composer.tokenizer.bar_id) == 2


def test_rows_that_finish_early_raise_no_padding_warning(tiny_checkpoint, caplog):
    """Finished rows are padded; feeding those pads back made transformers warn of padding without an
    attention mask (a message a user cannot act on)."""
    import transformers

    transformers.utils.logging.warning_once.cache_clear()  # it would stay silent after a first warning
    pieces = Composer.from_pretrained(tiny_checkpoint).generate("bach", bars=4, num=4, seed=1)
    assert len({len(piece.tokens) for piece in pieces}) > 1  # the rows did finish at different steps
    assert "attention_mask" not in caplog.text
