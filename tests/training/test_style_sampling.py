from collections import Counter

import pytest

from cadenza.training.data import StyleSampler, _pack_batch, style_mix_table, style_tokens
from cadenza.training.shards import style_weights


def test_style_weights_exact():
    tokens = {"big": 900, "small": 100}
    assert style_weights(tokens, 1.0) == pytest.approx({"big": 0.9, "small": 0.1})
    assert style_weights(tokens, 0.0) == pytest.approx({"big": 0.5, "small": 0.5})
    assert style_weights(tokens, 0.5) == pytest.approx({"big": 30 / 40, "small": 10 / 40})
    assert style_weights({"a": 10, "none": 0}, 0.5) == {"a": 1.0}


def test_packing_keeps_each_row_to_one_style():
    batch = {"input_ids": [[1, 2], [3], [4, 5], [6]], "style": ["a", "b", "a", "b"]}
    packed = _pack_batch(batch, max_len=8)
    assert packed == {"input_ids": [[1, 2, 4, 5], [3, 6]], "style": ["a", "b"]}


def test_style_tokens_counts_every_row():
    assert style_tokens(["a", "b", "a"], [3, 1, 2]) == {"a": 5, "b": 1}


def test_sampler_draws_each_style_at_its_weight_and_replays_an_epoch():
    # 90 rows of "big", 10 of "small"; equal weights: about half the draws are "small"
    styles = ["big"] * 90 + ["small"] * 10
    sampler = StyleSampler(styles, [8] * 100, {"big": 0.5, "small": 0.5}, seed=0)
    drawn = Counter(styles[i] for _ in range(20) for i in sampler)
    assert drawn["small"] / sum(drawn.values()) == pytest.approx(0.5, abs=0.03)
    sampler.set_epoch(3)
    first = list(sampler)
    sampler.set_epoch(3)
    assert list(sampler) == first  # a resumed run draws the same rows for the same epoch


def test_mix_table_names_each_share():
    table = style_mix_table({"big": 900, "small": 100}, {"big": 0.75, "small": 0.25})
    assert "| small | 100 | 10.0% | 25.0% |" in table
