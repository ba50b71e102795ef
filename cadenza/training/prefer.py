"""`cadenza prefer`: one round of preference tuning, NotaGen's CLaMP-DPO recipe with cadenza's own critic.

A round, each stage kept in `output_dir` so an interrupted round resumes where it stopped (`--resume`):

1. **sample** (`samples.jsonl`): `pieces_per_style` pieces of `bars` bars per style from the model, in
   batches of `num` pieces asked for one held-out piece's key and meter (`report.asks`, as `cadenza
   evaluate` asks them);
2. **score** (`scores.jsonl`): each piece's critique (`evaluation.critic`) as the style, key and meter asked;
3. **regenerate** (`regenerated.jsonl`, with `--regenerate_bars N`): for the first `regenerated_per_style`
   valid pieces of each style, `variants` versions of N of its bars written again by bar infilling, the
   rest kept, each scored as in 2. The bars are those holding most of the piece's parallel fifths and
   octaves when it has more than its style's median, else drawn at random. A whole chosen piece differs
   from a rejected one in everything, and a two-note fault is lost among its other virtues; versions that
   differ in N bars leave the fault as what DPO learns from;
4. **pair** (`pairs.jsonl`): within each style, invalid pieces and near-copies of another piece (the same
   notes) dropped, the top `share` paired with the bottom `share` (best with worst); from each regenerated
   piece, its best version (the piece itself counts) against its worst when the critic puts them `margin`
   apart; each piece's log-likelihood under the round's starting model (the frozen reference) computed;
5. **train**: DPO-Positive (`dpo.py`) in the shared loop, every weight trained; its validation loss is the
   held-out real pieces' NLL per token, before and after;
6. **save** (`model/`): the checkpoint, its profiles, and a card saying what was done.

The next round starts from this round's `model/` (`--model runs/prefer-1/model`). Whether a round is
shipped is decided on `cadenza evaluate`'s report against its guards (docs/preference.md).
"""

from __future__ import annotations

import json
import math
import shutil
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cadenza.checkpoint import load_checkpoint, save_checkpoint
from cadenza.errors import CadenzaError
from cadenza.paths import BASE_MODEL, EMBEDDED_CORPUS, PROFILE_FILE, TOKENIZER_FILE
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from cadenza.training import loop
from cadenza.training.dpo import PairCollator, PreferenceModel, pad, sequence_logp

SAMPLES, SCORES, PAIRS, MODEL_DIR = "samples.jsonl", "scores.jsonl", "pairs.jsonl", "model"
REGENERATED = "regenerated.jsonl"


@dataclass
class PreferArgs(loop.LoopArgs):
    model: str = field(default=BASE_MODEL, metadata={"help": "the checkpoint the round starts from"})
    corpus: str = field(
        default=EMBEDDED_CORPUS, metadata={"help": "built corpus: asks, critic, held-out NLL"}
    )
    pieces_per_style: int = field(default=128, metadata={"help": "pieces sampled per style"})
    bars: int = field(default=8, metadata={"help": "bars per sampled piece"})
    num: int = field(default=8, metadata={"help": "pieces sampled at once, for one ask"})
    share: float = field(default=0.1, metadata={"help": "top and bottom share of a style's pieces paired"})
    beta: float = field(default=0.1, metadata={"help": "DPO's beta"})
    penalty: float = field(default=10.0, metadata={"help": "DPO-Positive's lambda (0: plain DPO)"})
    regenerate_bars: int = field(
        default=0, metadata={"help": "also pair versions of a piece that differ in these many bars (0: no)"}
    )
    regenerated_per_style: int = field(default=64, metadata={"help": "pieces per style regenerated so"})
    variants: int = field(default=4, metadata={"help": "versions written of a regenerated piece's bars"})
    margin: float = field(default=0.5, metadata={"help": "least critic difference of a regenerated pair"})
    seed: int = 0
    num_proc: int = 2
    # The loop's defaults, sized for ~100 pairs and a few minutes on 2 cores.
    output_dir: str = field(default="runs/prefer-1", metadata={"help": "the round's folder"})
    batch_size: int = field(default=4, metadata={"help": "pairs per step"})
    lr: float = field(default=1e-5, metadata={"help": "peak learning rate"})
    weight_decay: float = 0.0
    warmup_steps: int = 5
    max_steps: int = field(default=75, metadata={"help": "optimizer steps (about 3 passes over 100 pairs)"})
    eval_every: int = 25
    save_every: int = 25


def run_prefer(args: PreferArgs) -> Path:
    """Run (or resume) one round; returns the folder of the tuned checkpoint."""
    if not 0 < args.share <= 0.5:
        raise CadenzaError(f"--share {args.share}: between 0 and 0.5 (the top and the bottom must not meet)")
    if not 0 <= args.regenerate_bars < args.bars:
        raise CadenzaError(f"--regenerate_bars {args.regenerate_bars}: between 0 and --bars - 1")
    if args.regenerate_bars and not CadenzaTokenizer.load(args.model).has_infill:
        raise CadenzaError(f"{args.model} did not learn bar infilling: --regenerate_bars needs v3 on")
    out = Path(args.output_dir)
    if not args.resume and any((out / name).exists() for name in (SAMPLES, "states", loop.LOG_FILE)):
        raise CadenzaError(
            f"{out} already holds a round; pass --resume true to continue it, or choose another --output_dir"
        )
    out.mkdir(parents=True, exist_ok=True)
    samples = sample_stage(args, out / SAMPLES)
    scores = score_stage(args, samples, out / SCORES)
    regenerated = regenerate_stage(args, samples, scores, out / REGENERATED)
    pairs = pair_stage(args, samples, scores, regenerated, out / PAIRS)
    counts = {
        "samples": len(samples),
        "pairs": len(pairs),
        "pairs of regenerated bars": sum(p["regenerated"] for p in pairs),
    }
    return train_stage(args, pairs, counts)


def _read_jsonl(path: Path) -> list[dict]:
    """The whole lines of a stage's file (a line cut by an interrupted write is dropped and redone)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


def _rewrite(path: Path) -> list[dict]:
    """A stage file's whole lines, the file rewritten without a line an interruption cut."""
    done = _read_jsonl(path)
    path.write_text("".join(json.dumps(row) + "\n" for row in done))
    return done


def _append(path: Path, rows: list[dict]) -> None:
    with path.open("a") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)


def sample_stage(args: PreferArgs, path: Path) -> list[dict]:
    """Every style's pieces, `num` at a time per ask; the batches already in `path` are kept."""
    from cadenza.data.corpus import load_corpus
    from cadenza.evaluation.report import asks, draw_real
    from cadenza.inference.composer import Composer

    done = _rewrite(path)
    composer = Composer.from_pretrained(args.model)
    corpus = load_corpus(args.corpus)
    # A style without held-out pieces (Josquin's nine may all be in train) is sampled unasked.
    styles = [s for s in composer.styles if s in set(corpus["train"]["style"])]
    per_style = math.ceil(args.pieces_per_style / args.num)
    tokenizer = composer.tokenizer
    real = draw_real([corpus["validation"], corpus["test"]], styles, per_style, args.seed, tokenizer, 1)
    jobs = [(s, i, ask) for s in styles for i, ask in enumerate(asks(real, s, per_style, tokenizer))]
    finished = {(row["style"], row["ask"]) for row in done}
    for style, i, (key, meter) in tqdm(
        [j for j in jobs if j[:2] not in finished], desc="sampling", unit="ask"
    ):
        seed = args.seed * 100_003 + hash_style(style) + i
        asked = {"bars": args.bars, "num": args.num, "seed": seed, "key": key, "time_signature": meter}
        rows = [
            {
                "style": style,
                "ask": i,
                "key": key,
                "meter": meter,
                "seed": seed,
                "ids": tokenizer.merge(p.tokens),
            }
            for p in composer.generate(style, **asked)
        ]
        _append(path, rows)
        done += rows
    return done


def hash_style(style: str) -> int:
    """A stable number per style name (Python's `hash` of a string changes between processes)."""
    return sum(ord(c) * 31**i for i, c in enumerate(style)) % 100_000


def score_stage(args: PreferArgs, samples: list[dict], path: Path) -> list[dict]:
    """Each piece's critique and validity, in `samples`' order; those already in `path` are kept."""
    from cadenza.evaluation.judge import Judge

    done = _rewrite(path)
    if len(done) >= len(samples):
        return done[: len(samples)]
    judge, tokenizer = Judge(args.corpus, args.num_proc), CadenzaTokenizer.load(args.model)
    human = openings_baseline(args, judge, tokenizer)
    for row in tqdm(samples[len(done) :], desc="scoring", unit="piece"):
        scored = scored_piece(judge, tokenizer, row, row["ids"], human)
        _append(path, [scored])
        done.append(scored)
    return done


def scored_piece(judge, tokenizer, asked: dict, ids: list[int], human: dict) -> dict:
    """The critique of the piece `ids` (merged) as the style, key and meter `asked`: its score and parts,
    its validity, and its notes (near-copies are pieces with the same notes)."""
    from cadenza.evaluation import controls, critic
    from cadenza.evaluation.metrics import notes_key

    tokens = tokenizer.unmerge(ids)
    if not controls.is_valid(tokens, tokenizer):
        return {"valid": False, "score": None, "parts": None, "notes": None}
    piece = tokenizer.decode(tokens)
    judged = critic.critique(judge, piece, asked["style"], asked["key"], asked["meter"], human)
    return {"valid": True, "score": judged.score, "parts": judged.parts, "notes": notes_key(piece)}


def openings_baseline(args: PreferArgs, judge, tokenizer) -> dict[str, dict[str, float]]:
    """The human copying baseline of held-out openings as long as the sampled pieces, as `cadenza evaluate`
    computes it (`report.opening_baseline`): the critic flags what the report flags."""
    from cadenza.data.corpus import load_corpus
    from cadenza.evaluation import originality
    from cadenza.evaluation.report import REAL_PER_STYLE, draw_real, opening_baseline

    corpus = load_corpus(args.corpus)
    held_out = [corpus[s] for s in ("validation", "test") if s in corpus]
    real = draw_real(held_out, judge.styles, REAL_PER_STYLE, args.seed, tokenizer, args.bars)
    return opening_baseline(real, [originality.measure(s.score, judge.index) for s in real])


def regenerate_stage(args: PreferArgs, samples: list[dict], scores: list[dict], path: Path) -> list[dict]:
    """Per regenerated piece, its window and its versions, each scored; pieces already in `path` are kept."""
    import numpy as np

    from cadenza.evaluation.harmony import parallel_bars
    from cadenza.evaluation.judge import Judge
    from cadenza.inference.composer import Composer
    from cadenza.inference.generator import Piece

    if not args.regenerate_bars:  # no stage file for a round without one
        return []
    done = _rewrite(path)
    composer = Composer.from_pretrained(args.model)
    tokenizer, rng = composer.tokenizer, np.random.default_rng(args.seed)
    jobs = []
    for i in regenerated_pieces(samples, scores, args.regenerated_per_style):
        start = int(rng.integers(args.bars - args.regenerate_bars + 1))  # drawn for every piece: resumable
        if scores[i]["parts"].get("parallels", 1.0) < 1.0:
            faults = parallel_bars(tokenizer.decode(tokenizer.unmerge(samples[i]["ids"])))
            start = fault_window(faults, args.bars, args.regenerate_bars)
        jobs.append((i, start))
    finished = {row["source"] for row in done}
    todo = [(i, start) for i, start in jobs if i not in finished]
    if not todo:
        return done
    judge = Judge(args.corpus, args.num_proc)
    human = openings_baseline(args, judge, tokenizer)
    for i, start in tqdm(todo, desc="regenerating", unit="piece"):
        sample = samples[i]
        tokens = tokenizer.unmerge(sample["ids"])
        piece = Piece(tokenizer.decode(tokens), tokens, sample["style"], sample["seed"], args.bars, [], None)
        settings = {"num": args.variants, "seed": sample["seed"] + i}
        try:
            versions = composer.infill(piece, start, args.regenerate_bars, **settings)
        except CadenzaError:  # the model ran out of context before it wrote the bars: no versions
            versions = []
        rows = [{"ids": ids, **scored_piece(judge, tokenizer, sample, ids, human)} for ids in (
            tokenizer.merge(v.tokens) for v in versions
        )]  # fmt: skip
        row = {"source": i, "start": start, "versions": rows}
        _append(path, [row])
        done.append(row)
    return done


def regenerated_pieces(samples: list[dict], scores: list[dict], per_style: int) -> list[int]:
    """Indices of the first `per_style` valid pieces of each style."""
    taken: dict[str, int] = defaultdict(int)
    chosen = []
    for i, (sample, scored) in enumerate(zip(samples, scores, strict=True)):
        if scored["valid"] and taken[sample["style"]] < per_style:
            taken[sample["style"]] += 1
            chosen.append(i)
    return chosen


def fault_window(faults: list[int], bars: int, count: int) -> int:
    """The first bar of the `count` bars (of `bars`) holding most of `faults` (a bar per fault), the
    earliest of ties."""
    per_bar = [0] * bars
    for bar in faults:
        per_bar[min(bar, bars - 1)] += 1
    return max(range(bars - count + 1), key=lambda start: (sum(per_bar[start : start + count]), -start))


def regenerated_pair(samples: list[dict], scores: list[dict], group: dict, margin: float) -> tuple | None:
    """(chosen, rejected) of a regenerated piece (a `regenerate_stage` row): the critic's best of the piece
    and its valid versions against the worst with other notes, when they are `margin` apart; None
    otherwise. Each is a scored row with its `ids`."""
    source = group["source"]
    versions = [{"ids": samples[source]["ids"], **scores[source]}, *group["versions"]]
    ranked = sorted((v for v in versions if v["valid"]), key=lambda v: -v["score"])
    if not ranked:
        return None
    best, *others = ranked
    others = [v for v in others if v["notes"] != best["notes"]]
    return (best, others[-1]) if others and best["score"] - others[-1]["score"] >= margin else None


def choose_pairs(samples: list[dict], scores: list[dict], share: float) -> list[tuple[int, int]]:
    """(chosen, rejected) indices into `samples`: per style, valid pieces without a near-copy earlier in the
    ranking, the top `share` against the bottom `share`, best with worst."""
    by_style: dict[str, list[int]] = defaultdict(list)
    for i, (sample, scored) in enumerate(zip(samples, scores, strict=True)):
        if scored["valid"]:
            by_style[sample["style"]].append(i)
    pairs = []
    for indices in by_style.values():
        ranked, seen = [], set()
        for i in sorted(indices, key=lambda i: -scores[i]["score"]):
            if scores[i]["notes"] not in seen:
                seen.add(scores[i]["notes"])
                ranked.append(i)
        k = min(math.ceil(share * len(ranked)), len(ranked) // 2)
        pairs += list(zip(ranked[:k], reversed(ranked[-k:]), strict=True)) if k else []
    return pairs


def pair_stage(
    args: PreferArgs, samples: list[dict], scores: list[dict], regenerated: list[dict], path: Path
) -> list[dict]:
    """The pairs of whole pieces, then of regenerated bars, with the reference's log-likelihoods (computed
    once: the reference is frozen)."""
    if path.is_file():
        return _read_jsonl(path)
    whole = [
        (samples[c]["style"], {**samples[c], **scores[c]}, {**samples[r], **scores[r]}, False)
        for c, r in choose_pairs(samples, scores, args.share)
    ]
    local = [
        (samples[group["source"]]["style"], *pair, True)
        for group in regenerated
        if (pair := regenerated_pair(samples, scores, group, args.margin))
    ]
    model, tokenizer = load_checkpoint(args.model)
    prompt = tokenizer.prefix_len  # BOS Style Key: asked, not written
    rows = []
    for style, chosen, rejected, is_local in tqdm([*whole, *local], desc="reference", unit="pair"):
        pair = {"chosen": chosen["ids"], "rejected": rejected["ids"], "prompt": chosen["ids"][:prompt]}
        with torch.inference_mode():
            for side in ("chosen", "rejected"):
                ids, mask, labels = pad([pair[side]], [prompt], tokenizer.pad_id)
                pair[f"ref_{side}"] = sequence_logp(model, ids, mask, labels).item()
        pair.update(scores=(chosen["score"], rejected["score"]), style=style, regenerated=is_local)
        rows.append(pair)
    if not rows:
        raise CadenzaError(f"{args.model}: no valid pieces to pair; sample more (--pieces_per_style)")
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return rows


def train_stage(args: PreferArgs, pairs: list[dict], counts: dict) -> Path:
    """DPO-Positive over the pairs in the shared loop; the tuned checkpoint in `output_dir/model`."""
    from cadenza.data.corpus import load_corpus
    from cadenza.training.data import Collator, lm_datasets

    # A round cut off before training has no loop state to resume from: its loop starts fresh.
    args = replace(args, resume=args.resume and (Path(args.output_dir) / "states").is_dir())
    args, accelerator = loop.start_run(args)
    policy, tokenizer = load_checkpoint(args.model)
    model = PreferenceModel(policy.float().train(), args.beta, args.penalty)
    held_out = {"validation": load_corpus(args.corpus)["validation"]}
    with accelerator.main_process_first():
        tokenizer_path = str(Path(args.model) / TOKENIZER_FILE)
        validation = lm_datasets(held_out, tokenizer_path, policy.config.n_positions, args.num_proc)
    collate = PairCollator(tokenizer.pad_id)
    train_loader = DataLoader(pairs, batch_size=args.batch_size, shuffle=True, collate_fn=collate)
    val_loader = DataLoader(validation["validation"], batch_size=8, collate_fn=Collator(tokenizer.pad_id))
    result = loop.run_loop(accelerator, model, train_loader, val_loader, args)
    out = Path(args.output_dir) / MODEL_DIR
    if accelerator.is_main_process:
        metrics = {
            **counts,
            "steps": result.steps,
            "minutes": result.minutes,
            "held-out NLL per token before (nats)": round(result.first_val_loss, 4),
            "held-out NLL per token after (nats)": round(result.val_loss, 4),
            "mean critic score, chosen / rejected": [
                round(sum(p["scores"][i] for p in pairs) / len(pairs), 3) for i in (0, 1)
            ],
        }
        policy = result.model.policy.to(getattr(torch, args.save_dtype))
        save_checkpoint(policy, tokenizer, out, card(args, metrics))
        if (Path(args.model) / PROFILE_FILE).is_file():
            shutil.copy(Path(args.model) / PROFILE_FILE, out / PROFILE_FILE)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        accelerator.print(f"tuned checkpoint saved to {out}: {json.dumps(metrics)}")
    accelerator.end_training()
    return out


def card(args: PreferArgs, metrics: dict) -> str:
    shown = (
        *("model", "pieces_per_style", "bars", "share", "beta", "penalty", "lr", "max_steps", "seed"),
        *("regenerate_bars", "regenerated_per_style", "variants", "margin"),
    )
    settings = {k: v for k, v in asdict(args).items() if k in shown}
    lines = [
        "# cadenza: a preference-tuned checkpoint",
        "",
        f"One round of preference tuning (`cadenza prefer`, docs/preference.md) from `{args.model}`:",
        "pieces sampled per style for held-out pieces' keys and meters, ranked by cadenza's critic",
        "(cadenza/evaluation/critic.py), the top of each style against its bottom trained with DPO-Positive",
        "against the starting model; with regenerate_bars, also each regenerated piece's best version",
        "against its worst (versions differing in those bars only).",
        "",
        f"Command: `{loop.command_line('prefer')}`",
        "",
        "| setting | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in settings.items()),
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in metrics.items()),
        "",
        "Whether this round is shipped is decided on `cadenza evaluate`'s report against the guards in",
        "docs/preference.md (held-out NLL, OA, feature ranges, distinct pieces, copying).",
    ]
    return "\n".join(lines) + "\n"
