"""What `cadenza evaluate` judges: anything with the generator interface (`inference.generator`).

A generator has `styles` and `generate(style, bars=, num=, seed=, key=, time_signature=) -> list[Piece]`.
`load_generator` makes one from a name:

- a checkpoint folder: the `Composer` users get (style profiles on);
- `ngram`: the n-gram baseline (`ngram.NGramModel`), fitted on the corpus's train split with a
  checkpoint's tokenizer and decoded by `NGramComposer` under that checkpoint's grammar, style profiles,
  sampling settings and key handling, so that the two differ only in the model.

- an adapter folder (`cadenza finetune`): the base it was trained on, serving it;
- a GAN or VAE folder (`cadenza gan train`, `cadenza vae train`): `gan_vae.composer`'s composers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

from cadenza.checkpoint import ADAPTER_FILE, read_adapter
from cadenza.data.profiles import StyleProfile, load_profiles
from cadenza.errors import CadenzaError
from cadenza.evaluation.ngram import NGramModel
from cadenza.gan_vae.composer import GanComposer, VaeComposer, baseline_kind
from cadenza.inference.composer import Composer
from cadenza.inference.generator import Generator
from cadenza.inference.request import Sampling
from cadenza.inference.sampling import sample_with
from cadenza.inference.songs import Singer
from cadenza.paths import TOKENIZER_FILE
from cadenza.tokenization.tokenizer import CadenzaTokenizer

NGRAM = "ngram"


class NGramComposer(Composer):
    """A `Composer` whose next-token scores come from an n-gram model instead of a network."""

    def __init__(
        self,
        ngram: NGramModel,
        tokenizer: CadenzaTokenizer,
        profiles: dict[str, StyleProfile] | None,
        context: int,
        sampling: GenerationConfig,
    ) -> None:
        if ngram.vocab_size != len(tokenizer):
            raise CadenzaError(f"n-gram vocabulary {ngram.vocab_size} != tokenizer's {len(tokenizer)}")
        self.ngram = ngram
        self._bind(tokenizer, profiles, ngram.vocab_size, context, torch.device("cpu"), sampling)

    def draw(
        self,
        ids: torch.Tensor,
        processors: LogitsProcessorList,
        sampling: Sampling,
        stop: StoppingCriteriaList,
        max_new: int,
    ) -> torch.Tensor:
        def next_logits(ids: torch.Tensor, first: bool) -> torch.Tensor:
            rows = [self.ngram.distribution(row) for row in ids.tolist()]
            return torch.from_numpy(np.log(np.stack(rows)))

        return sample_with(next_logits, ids, processors, sampling, stop, max_new, self.tokenizer.pad_id)


def fit_ngram_composer(checkpoint: str | Path, corpus, order: int = 5, num_proc: int = 2) -> NGramComposer:
    """The n-gram baseline on the train split's chunks, tokenized and decoded like `checkpoint`."""
    from cadenza.checkpoint import load_checkpoint
    from cadenza.evaluation.likelihood import corpus_chunks

    model, tokenizer = load_checkpoint(checkpoint)
    context = int(model.config.n_positions)
    chunks = corpus_chunks(corpus["train"], str(Path(checkpoint) / TOKENIZER_FILE), context, num_proc)
    ngram = NGramModel(order, len(tokenizer)).fit(chunks)
    return NGramComposer(ngram, tokenizer, load_profiles(checkpoint), context, model.generation_config)


def fit_ngram_singer(adapter: str | Path, corpus, order: int = 5, num_proc: int = 2) -> Singer:
    """The n-gram baseline on a song corpus's train split, tokenized like the lyrics adapter's songs."""
    from cadenza.checkpoint import load_checkpoint, read_adapter
    from cadenza.evaluation.likelihood import corpus_chunks

    base = read_adapter(adapter).base
    model, _ = load_checkpoint(base)
    tokenizer = CadenzaTokenizer.load(adapter)
    context = int(model.config.n_positions)
    chunks = corpus_chunks(corpus["train"], str(Path(adapter) / TOKENIZER_FILE), context, num_proc)
    ngram = NGramModel(order, len(tokenizer)).fit(chunks)
    # The n-gram baseline of songs: n-gram scores, `Singer`'s grammar and forced syllables.
    return Singer(NGramComposer(ngram, tokenizer, load_profiles(base), context, model.generation_config))


def is_adapter(name: str | Path) -> bool:
    return (Path(name) / ADAPTER_FILE).is_file()


def load_generator(name: str, corpus, reference: str | Path, order: int = 5, num_proc: int = 2) -> Generator:
    """A checkpoint folder's composer; an adapter folder's (its base, serving it: the base's styles and
    the adapter's); a GAN or VAE folder's; or with `name` "ngram" the n-gram baseline beside
    `reference`."""
    if name == NGRAM:
        return fit_ngram_composer(reference, corpus, order, num_proc)
    if is_adapter(name):
        composer = Composer.from_pretrained(read_adapter(name).base)
        composer.load_adapter(name)
        return composer
    if (kind := baseline_kind(name)) is not None:
        return (GanComposer if kind == "gan" else VaeComposer).from_pretrained(name)
    if not Path(name).is_dir():
        raise CadenzaError(
            f"{name}: not a checkpoint or adapter folder (or {NGRAM!r} for the n-gram baseline)"
        )
    return Composer.from_pretrained(name)
