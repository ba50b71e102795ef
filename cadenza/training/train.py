"""`cadenza train`: pretrain a style-conditioned GPT-2 on a built corpus.

The recipe: a tokenizer (new, with BPE merges learned on the train split, or a checkpoint's), a model (new
or a checkpoint's weights), the corpus as packed rows drawn with each style's share of tokens, then the
shared loop (`loop.run_loop`: CPU, GPU or `accelerate launch`, budgets, states, resume) and a checkpoint
with its card and style profiles.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from cadenza.checkpoint import load_checkpoint, save_checkpoint
from cadenza.data.profiles import save_profiles, style_profiles
from cadenza.errors import CadenzaError
from cadenza.paths import EMBEDDED_CORPUS, TOKENIZER_FILE
from cadenza.tokenization.chunking import Transposer
from cadenza.tokenization.tokenizer import CONTINUE_TOKEN, CadenzaTokenizer
from cadenza.training import loop
from cadenza.training.data import (
    Collator,
    StyleSampler,
    lm_datasets,
    music_of,
    style_mix_table,
    style_tokens,
)
from cadenza.training.model import LOSS_TYPE, ModelArgs, build_model, model_sizes
from cadenza.training.shards import style_weights


@dataclass
class TrainArgs(ModelArgs, loop.LoopArgs):
    corpus: str = field(default=EMBEDDED_CORPUS, metadata={"help": "corpus folder (cadenza corpus build)"})
    init_from: str | None = field(
        default=None,
        metadata={
            "help": "start from this checkpoint's weights and tokenizer (its size and context replace "
            "n_layer/n_embd/n_head/n_positions); styles new to it get tokens in its reserved rows"
        },
    )
    transpose: int = field(default=0, metadata={"help": "random transposition of +-N semitones"})
    bpe_vocab: int = field(
        default=0,
        metadata={"help": "learn BPE merges on the train split up to this many token ids (0 = no BPE)"},
    )
    style_alpha: float = field(
        default=0.5,
        metadata={
            "help": "each style's share of training tokens is proportional to its corpus tokens to this "
            "power: 1 = the corpus' proportions, 0 = all styles equal (see docs/training.md)"
        },
    )
    num_proc: int = 2


def _tokenizer_for(args: TrainArgs, train_split, out: Path) -> Path:
    """The run's tokenizer file: kept on resume, else new (with BPE merges learned on the train split
    when --bpe_vocab is set), or the --init_from checkpoint's plus what it lacks (the mid-piece marker,
    new corpus styles), appended so known ids stay where its weights expect them."""
    path = out / TOKENIZER_FILE
    if args.resume and path.exists():
        return path
    if args.init_from is None:
        tokenizer = CadenzaTokenizer.new(sorted(set(train_split["style"])))
        if args.bpe_vocab:
            tokenizer.train_bpe(music_of(train_split, tokenizer), args.bpe_vocab)
        tokenizer.save(out)
        return path
    tokenizer = CadenzaTokenizer.load(args.init_from)
    tokenizer.add_token(CONTINUE_TOKEN)  # no-op unless the checkpoint predates the mid-piece marker
    for style in sorted(set(train_split["style"])):
        tokenizer.add_style(style)
    tokenizer.save(out)
    return path


def _initial_model(args: TrainArgs, tokenizer: CadenzaTokenizer):
    """A new model, or the --init_from checkpoint's in fp32, whose size is then written into `args` so
    the card tells the truth."""
    if args.init_from is None:
        return build_model(args, tokenizer)
    model, _ = load_checkpoint(args.init_from)
    model.loss_type = LOSS_TYPE  # see `training.model.LOSS_TYPE`
    if len(tokenizer) > model.config.vocab_size:
        raise CadenzaError(
            f"{args.init_from}: the corpus' new styles need {len(tokenizer)} tokens, more than the model's "
            f"{model.config.vocab_size} rows"
        )
    return model.float().train()


def model_card(args: TrainArgs, metrics: dict, command: str) -> str:
    header = [
        "# cadenza model",
        "",
        f"Trained {date.today().isoformat()} by cadenza's own pipeline on `{args.corpus}`.",
    ]
    return loop.run_card(header, command, metrics, args)


def check_args(args: TrainArgs) -> None:
    """A clear error for an option out of range, before anything is written or a model is built."""
    loop.check_loop_args(args)
    for name, low in {"transpose": 0, "num_proc": 1}.items():
        if getattr(args, name) < low:
            raise CadenzaError(f"--{name} must be at least {low}, got {getattr(args, name)}")
    if not 0 <= args.style_alpha <= 1:
        raise CadenzaError(f"--style_alpha must be between 0 and 1, got {args.style_alpha}")


def run_train(args: TrainArgs) -> Path:
    from cadenza.data.corpus import load_corpus

    check_args(args)
    loop.check_output_dir(args)
    args, accelerator = loop.start_run(args)  # the card says the precision that ran
    out = Path(args.output_dir)
    corpus = load_corpus(args.corpus)
    with accelerator.main_process_first():
        if accelerator.is_main_process:
            out.mkdir(parents=True, exist_ok=True)
            _tokenizer_for(args, corpus["train"], out)
    accelerator.wait_for_everyone()
    tokenizer_path = str(out / TOKENIZER_FILE)
    tokenizer = CadenzaTokenizer.load(tokenizer_path)
    model = _initial_model(args, tokenizer)
    args = replace(args, **model_sizes(model.config))  # a run from a checkpoint has its sizes
    with accelerator.main_process_first():
        data = lm_datasets(corpus, tokenizer_path, args.n_positions, args.num_proc)

    train_collate = Collator(tokenizer.pad_id, Transposer(tokenizer), args.transpose)
    styles, lengths = data["train"]["style"], [len(ids) for ids in data["train"]["input_ids"]]
    tokens = style_tokens(styles, lengths)
    weights = style_weights(tokens, args.style_alpha)
    accelerator.print(style_mix_table(tokens, weights))
    sampler = StyleSampler(styles, lengths, weights, args.seed)
    train_loader = DataLoader(
        data["train"], batch_size=args.batch_size, sampler=sampler, collate_fn=train_collate
    )
    val_loader = DataLoader(
        data["validation"], batch_size=args.batch_size, collate_fn=Collator(tokenizer.pad_id)
    )
    result = loop.run_loop(accelerator, model, train_loader, val_loader, args)

    final = out / "model"
    if accelerator.is_main_process:
        model = result.model.to(getattr(torch, args.save_dtype))
        metrics = {
            "steps": result.steps,
            "minutes": result.minutes,
            "processes": accelerator.num_processes,
            "train rows": len(data["train"]),
            "train tokens seen": result.tokens,
            "tokens per step (rows)": args.batch_size * args.grad_accum * accelerator.num_processes,
            "weights kept from step": result.best_step,
            "final val NLL per token (nats)": round(result.val_loss, 4),
            "final val perplexity": round(math.exp(result.val_loss), 3),
            f"style shares of train tokens (corpus -> trained on, alpha {args.style_alpha})": {
                style: f"{tokens[style] / sum(tokens.values()):.1%} -> {weights[style]:.1%}"
                for style in tokens
            },
        }
        save_checkpoint(model, tokenizer, final, model_card(args, metrics, loop.command_line("train")))
        train = corpus["train"]
        voices = train["voices"] if "voices" in train.column_names else None
        save_profiles(style_profiles(train["midi"], train["style"], voices), final)
        (final / "metrics.json").write_text(json.dumps(metrics, indent=2))
        accelerator.print(f"model saved to {final} (val NLL {result.val_loss:.4f})")
    accelerator.end_training()
    return final
