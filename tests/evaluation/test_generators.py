"""The n-gram baseline decodes like a checkpoint: same grammar, bars, keys and seeds."""

from __future__ import annotations

import math

import pytest

from cadenza.data.corpus import load_corpus
from cadenza.errors import CadenzaError
from cadenza.evaluation.controls import bars_written, is_valid
from cadenza.evaluation.generators import NGRAM, NGramComposer, fit_ngram_composer, load_generator
from cadenza.evaluation.ngram import NGramModel
from cadenza.inference.composer import Composer
from cadenza.inference.generator import Generator


@pytest.fixture(scope="module")
def ngram_composer(tiny_model, tiny_corpus_dir) -> NGramComposer:
    return fit_ngram_composer(tiny_model, load_corpus(tiny_corpus_dir), order=3, num_proc=1)


def test_ngram_pieces_are_valid_and_as_long_as_asked(ngram_composer):
    pieces = ngram_composer.generate("alpha", bars=3, num=3, seed=1, time_signature="3/4")
    assert len(pieces) == 3
    for piece in pieces:
        assert is_valid(piece.tokens, ngram_composer.tokenizer)
        assert piece.tokens.count(ngram_composer.tokenizer.bar_id) == 3
        assert 1 <= bars_written(piece.score) <= 3
        assert {(ts.numerator, ts.denominator) for ts in piece.score.time_signatures} == {(3, 4)}


def test_ngram_sampling_follows_the_seed(ngram_composer):
    first = ngram_composer.generate("beta", bars=2, num=2, seed=5)
    again = ngram_composer.generate("beta", bars=2, num=2, seed=5)
    other = ngram_composer.generate("beta", bars=2, num=2, seed=6)
    assert [p.tokens for p in first] == [p.tokens for p in again] != [p.tokens for p in other]


def test_ngram_distribution_of_a_long_history_is_its_log_prob(ngram_composer):
    """`distribution` reads only the last order-1 tokens: it must agree with scoring the whole sequence."""
    ngram = ngram_composer.ngram
    sequence = ngram_composer.generate("alpha", bars=2, seed=0)[0].tokens[:40]
    last = ngram.log_probs([sequence])[-1]
    assert last == pytest.approx(math.log(ngram.distribution(sequence[:-1])[sequence[-1]]))


def test_load_generator(tiny_model, tiny_corpus_dir):
    corpus = load_corpus(tiny_corpus_dir)
    composer, ngram = (
        load_generator(tiny_model, corpus, tiny_model),
        load_generator(NGRAM, corpus, tiny_model, 2, 1),
    )
    assert type(composer) is Composer and isinstance(ngram, NGramComposer)
    assert isinstance(composer, Generator) and isinstance(ngram, Generator)  # one interface
    assert (
        composer.generate("alpha", bars=1, key="D minor")[0].key
        == ngram.generate("alpha", bars=1, key="D minor")[0].key
        == "D minor"
    )
    with pytest.raises(CadenzaError, match="nowhere: not a checkpoint or adapter folder"):
        load_generator("nowhere", corpus, tiny_model)
    with pytest.raises(CadenzaError, match="n-gram vocabulary 3 != tokenizer's"):
        composer = load_generator(tiny_model, corpus, tiny_model)
        NGramComposer(NGramModel(2, 3), composer.tokenizer, None, 128, composer.sampling)
