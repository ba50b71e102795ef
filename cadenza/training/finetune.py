"""`cadenza finetune`: a LoRA adapter that teaches the base model one composer's style under a new tag.

The recipe: the folder becomes a corpus (`cadenza corpus build --input`: bad files skipped and listed,
train/validation/test split by piece); the base tokenizer gets `Style_<name>`, which takes the next free
id (a model's reserved row, so no learned id moves); peft wraps the base with LoRA on the attention and MLP
projections and makes that one embedding row trainable (`trainable_token_indices`: GPT-2 ties its output
layer to the embeddings, and peft keeps the tie); then the shared loop (`loop.run_loop`). The adapter
folder holds peft's adapter_model.safetensors and adapter_config.json, the extended tokenizer, the style's
profile, a card, and the base's fingerprint (`checkpoint.AdapterInfo`). `--merge true` also writes a
standalone checkpoint (`<output_dir>/merged`) that `cadenza generate --model` loads.

Why trainable tokens and not `modules_to_save=["wte"]`: the latter saves a copy of the whole embedding
matrix in the adapter (4,096 x 256 floats, 4 MB for the base), the former one row (1 KB).

Songs (`--corpus build/corpus/songs --lyrics true --style songs`): the same recipe on a built corpus of
texted melodies (`cadenza corpus songs`) in the base's own styles. The tokenizer gets the 259 lyric tokens
(`CadenzaTokenizer.add_lyrics`), more than the base's reserved rows: the embeddings grow to the next
multiple of 64 rows (4,259 tokens: 4,096 -> 4,288 rows for the shipped base, 29 left free), and the lyric
rows are the trainable tokens (259 x 256 floats, 265 KB; the grown matrix itself is not saved).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from cadenza.checkpoint import (
    AdapterInfo,
    base_fingerprint,
    load_checkpoint,
    peft_quietly,
    require_checkpoint,
    save_adapter_info,
    save_checkpoint,
)
from cadenza.data.profiles import load_profiles, save_profiles, style_profiles
from cadenza.errors import CadenzaError
from cadenza.paths import BASE_MODEL, CORPORA, TOKENIZER_FILE
from cadenza.tokenization.chunking import Transposer
from cadenza.tokenization.tokenizer import CadenzaTokenizer, validate_style_name
from cadenza.training import loop
from cadenza.training.data import Collator, StyleSampler, lm_datasets, style_tokens
from cadenza.training.model import LOSS_TYPE
from cadenza.training.shards import style_weights

MERGED_DIR = "merged"
ROWS_MULTIPLE = 64  # embeddings grown for the lyric tokens keep a row count that GPUs tile well


@dataclass
class FinetuneArgs(loop.LoopArgs):
    # The loop's defaults, sized for a folder of scores and a few minutes on 2 cores.
    output_dir: str | None = field(default=None, metadata={"help": "the adapter folder (adapters/<style>)"})
    lr: float = field(default=1e-3, metadata={"help": "peak learning rate"})
    warmup_steps: int = 20
    max_steps: int = field(default=2000, metadata={"help": "optimizer steps budget"})
    max_minutes: float = field(default=10.0, metadata={"help": "wall-clock budget (0 = none)"})
    eval_every: int = field(default=50, metadata={"help": "evaluate every N steps"})
    save_every: int = field(default=50, metadata={"help": "save the full training state every N steps"})
    patience: int = field(
        default=4, metadata={"help": "stop after this many evaluations without a better val loss (0 = never)"}
    )
    # The recipe's own.
    input: str | None = field(default=None, metadata={"help": "folder of one composer's scores"})
    style: str | None = field(default=None, metadata={"help": "the new style's name (required)"})
    corpus: str | None = field(
        default=None,
        metadata={"help": "train on this built corpus (in the base's styles) instead of an --input folder"},
    )
    lyrics: bool = field(default=False, metadata={"help": "add and train the lyric tokens (songs)"})
    base: str = field(default=BASE_MODEL, metadata={"help": "the base checkpoint"})
    corpus_out: str | None = field(
        default=None, metadata={"help": "where the folder's corpus is built (default build/corpus/<style>)"}
    )
    rank: int = field(default=8, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (scale = alpha / rank)"})
    lora_dropout: float = 0.05
    target_modules: str = field(
        default="c_attn,c_proj,c_fc",
        metadata={"help": "comma list of GPT-2 modules LoRA adapts (attention in/out, MLP in/out)"},
    )
    transpose: int = field(default=3, metadata={"help": "random transposition of +-N semitones"})
    merge: bool = field(default=False, metadata={"help": "also write a standalone merged checkpoint"})
    num_proc: int = 2


def check_args(args: FinetuneArgs) -> None:
    loop.check_loop_args(args)
    if not args.style or bool(args.input) == bool(args.corpus):
        raise CadenzaError("cadenza finetune needs --style NAME and one of --input FOLDER or --corpus CORPUS")
    validate_style_name(args.style)
    if not Path(args.input or args.corpus).is_dir():
        raise CadenzaError(f"{args.input or args.corpus}: folder not found")
    if args.rank < 1 or args.lora_alpha < 1 or not 0 <= args.lora_dropout < 1 or args.transpose < 0:
        raise CadenzaError(
            "--rank and --lora_alpha must be at least 1, --lora_dropout in [0, 1), --transpose >= 0"
        )
    require_checkpoint(args.base)


def lora_model(model, args: FinetuneArgs, new_ids: list[int]):
    """`model` wrapped by peft: LoRA on `args.target_modules`, and the new tokens' embedding rows trained."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=args.rank,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=[name.strip() for name in args.target_modules.split(",") if name.strip()],
        fan_in_fan_out=True,  # GPT-2's projections are Conv1D: weights stored (in, out)
        trainable_token_indices=new_ids,
        task_type="CAUSAL_LM",
    )
    with peft_quietly():
        return get_peft_model(model, config)


def run_finetune(args: FinetuneArgs) -> Path:
    """Train the adapter `args` ask for and save it (with its card, profiles and metrics) in
    `args.output_dir`, `adapters/<style>` by default; returns that folder."""
    check_args(args)
    args = replace(args, output_dir=args.output_dir or str(Path("adapters") / args.style))
    loop.check_output_dir(args)
    _check_base_styles(args)
    args, accelerator = loop.start_run(args)  # the card says the precision that ran
    corpus, tokenizer = _corpus_and_tokenizer(args, accelerator)
    model, grown_rows = _adapted_model(args, tokenizer)
    trainable, total = model.get_nb_trainable_parameters()
    accelerator.print(f"trainable: {trainable:,} of {total:,} parameters ({trainable / total:.2%})")
    train_loader, val_loader = _loaders(args, accelerator, corpus, tokenizer, model.config.n_positions)
    result = loop.run_loop(accelerator, model, train_loader, val_loader, args)
    if accelerator.is_main_process:
        metrics = {
            "train pieces": len(corpus["train"]),
            "validation pieces": len(corpus["validation"]),
            "steps": result.steps,
            "minutes": result.minutes,
            "stopped early": result.stopped_early,
            "weights kept from step": result.best_step,
            "train tokens seen": result.tokens,
            "trainable parameters": trainable,
            "all parameters": total,
            "val NLL per token before (nats)": round(result.first_val_loss, 4),
            "val NLL per token after (nats)": round(result.val_loss, 4),
        }
        _save_adapter(args, accelerator, result, corpus["train"], tokenizer, grown_rows, metrics)
    accelerator.end_training()
    return Path(args.output_dir)


def _check_base_styles(args: FinetuneArgs) -> None:
    """Refused before anything is written: a new style the base has, or a corpus of styles it lacks."""
    from cadenza.data.corpus import load_corpus

    base_tokenizer = CadenzaTokenizer.load(args.base)
    if args.style in base_tokenizer.styles:
        raise CadenzaError(f"style {args.style!r} is one of the base's; name the new style differently")
    if args.corpus:
        unknown = sorted(set(load_corpus(args.corpus)["train"]["style"]) - set(base_tokenizer.styles))
        if unknown:
            raise CadenzaError(f"{args.corpus}: styles the base does not know: {', '.join(unknown)}")


def _corpus_and_tokenizer(args: FinetuneArgs, accelerator):
    """The corpus to learn (built from `--input` first) and the base's tokenizer with the new tokens,
    saved in the output folder."""
    from cadenza.data.corpus import CorpusBuildArgs, build_corpus, load_corpus

    out = Path(args.output_dir)
    corpus_dir = args.corpus or args.corpus_out or str(Path(CORPORA) / args.style)
    with accelerator.main_process_first():
        if accelerator.is_main_process:
            if args.input:
                report = build_corpus(CorpusBuildArgs(input=args.input, style=args.style, out=corpus_dir))
                accelerator.print(report.summary())
            out.mkdir(parents=True, exist_ok=True)
            tokenizer = CadenzaTokenizer.load(args.base)
            tokenizer.add_lyrics() if args.lyrics else tokenizer.add_style(args.style)
            tokenizer.save(out)
    accelerator.wait_for_everyone()
    corpus = load_corpus(corpus_dir)
    if len(corpus["train"]) == 0 or len(corpus["validation"]) == 0:
        raise CadenzaError(
            f"{args.input or args.corpus}: too few readable pieces to fine-tune on ({len(corpus['train'])} "
            f"for training, {len(corpus['validation'])} for validation); give it more scores"
        )
    return corpus, CadenzaTokenizer.load(out / TOKENIZER_FILE)


def _adapted_model(args: FinetuneArgs, tokenizer: CadenzaTokenizer):
    """The base wrapped for LoRA, its embeddings grown for the lyric tokens when they need more rows than
    it reserves: (the model, the rows it grew to, 0 when it did not)."""
    model, _ = load_checkpoint(args.base)
    grown_rows = 0
    if len(tokenizer) > model.config.vocab_size:
        if not args.lyrics:
            raise CadenzaError(
                f"{args.base}: no reserved row left for a new style (all {model.config.vocab_size} used)"
            )
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=ROWS_MULTIPLE, mean_resizing=False)
        grown_rows = model.config.vocab_size
    model.loss_type = LOSS_TYPE
    new_ids = tokenizer.lyric_ids if args.lyrics else [tokenizer.style_id(args.style)]
    return lora_model(model.float().train(), args, new_ids), grown_rows


def _loaders(args: FinetuneArgs, accelerator, corpus, tokenizer: CadenzaTokenizer, context: int):
    """Training rows (each style as often as its tokens come; transposed) and validation rows."""
    tokenizer_path = str(Path(args.output_dir) / TOKENIZER_FILE)
    with accelerator.main_process_first():
        data = lm_datasets(corpus, tokenizer_path, context, args.num_proc)
    lengths = [len(ids) for ids in data["train"]["input_ids"]]
    weights = style_weights(style_tokens(data["train"]["style"], lengths), alpha=1.0)
    train_loader = DataLoader(
        data["train"],
        batch_size=args.batch_size,
        sampler=StyleSampler(data["train"]["style"], lengths, weights, args.seed),
        collate_fn=Collator(tokenizer.pad_id, Transposer(tokenizer), args.transpose),
    )
    val_loader = DataLoader(
        data["validation"], batch_size=args.batch_size, collate_fn=Collator(tokenizer.pad_id)
    )
    return train_loader, val_loader


def _save_adapter(args: FinetuneArgs, accelerator, result, train, tokenizer, grown_rows: int, metrics: dict):
    """The adapter's files, profiles, metrics and card (and the merged checkpoint with `--merge`)."""
    out, model = Path(args.output_dir), result.model
    voices = train["voices"] if "voices" in train.column_names else None
    profile = style_profiles(train["midi"], train["style"], voices)
    # The lyric rows are saved as trainable tokens; peft would also save the whole grown embedding
    # matrix (4,352 x 256 floats, 9 MB) because its size differs from the base config's.
    model.save_pretrained(out, safe_serialization=True, save_embedding_layers=False)
    tokenizer.save(out)
    save_profiles(profile, out)
    info = AdapterInfo(
        style=args.style, base=args.base, base_fingerprint=base_fingerprint(args.base),
        lyrics=args.lyrics, vocab_size=grown_rows,
    )  # fmt: skip
    save_adapter_info(info, out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    card = adapter_card(args, metrics, loop.command_line("finetune"), out)
    (out / "README.md").write_text(card)
    accelerator.print(
        f"adapter saved to {out} ({(out / 'adapter_model.safetensors').stat().st_size / 1e6:.2f} MB; "
        f"val NLL {result.first_val_loss:.4f} -> {result.val_loss:.4f})"
    )
    if args.merge:
        merged = model.merge_and_unload().to(getattr(torch, args.save_dtype))
        save_checkpoint(merged, tokenizer, out / MERGED_DIR, card)
        save_profiles({**load_profiles(args.base), **profile}, out / MERGED_DIR)
        accelerator.print(f"merged checkpoint saved to {out / MERGED_DIR}")


def adapter_card(args: FinetuneArgs, metrics: dict, command: str, out: Path) -> str:
    drop = 1 - metrics["val NLL per token after (nats)"] / metrics["val NLL per token before (nats)"]
    use = (
        f'cadenza song --adapter {out} --lyrics "Ky-ri-e e-lei-son"'
        if args.lyrics
        else f"cadenza generate --adapter {out} --bars 8"
    )
    header = [
        f"# cadenza LoRA adapter: {args.style}",
        "",
        f"Fine-tuned {date.today().isoformat()} from `{args.base}` on `{args.input or args.corpus}` by "
        "cadenza's own pipeline. Use it with",
        "",
        f"    {use}",
    ]
    shown = {**metrics, "val NLL change": f"{-drop:+.1%}"} if math.isfinite(drop) else metrics
    return loop.run_card(header, command, shown, args)
