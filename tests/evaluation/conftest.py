"""A tiny checkpoint trained on the tiny corpus, shared by the likelihood, generator and report tests."""

from __future__ import annotations

import pytest

from cadenza.training.train import TrainArgs, run_train

TINY = dict(n_layer=1, n_embd=32, n_head=2, n_positions=128, num_proc=1)


@pytest.fixture(scope="session")
def tiny_model(tiny_corpus_dir, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("run")
    final = run_train(
        TrainArgs(
            corpus=tiny_corpus_dir,
            output_dir=str(out),
            max_steps=5,
            eval_every=5,
            save_every=5,
            warmup_steps=1,
            **TINY,
        )
    )
    return str(final)
