"""`cadenza evaluate`: is it music, in style, in key and original? One report over models x styles.

For every model (a checkpoint, adapter, GAN or VAE folder, or `ngram`; see `generators`) and every
style, `pieces_per_style` pieces of `bars` bars are generated, each asked for the key and meter of one
held-out real piece of that style, so every ask is one the style really uses. They are measured against
held-out real pieces (the validation and test splits) cut to their first `bars` bars through the reference
tokenizer, which makes them like generations in length and quantization:

- validity (`controls.is_valid`) and control adherence: bars written = bars asked; music21's key = the
  asked key (tonic and mode); the share of bars in the asked meter. In the real row the asks are the
  pieces' own annotations, so its key column is the analyser's ceiling;
- features (`classifier.FEATURE_NAMES` and the pitch-class histogram) and, per style and feature,
  mgeval's overlapped area and KL divergence of generated vs held-out (`distributions`); train vs
  held-out real pieces give the ceiling row;
- the style classifier, trained on train openings of the same length: its accuracy and confusion matrix
  on the held-out openings, then the share of each model's pieces classified as the asked style;
- copying (`originality`): the share of pieces above their style's human 95th percentile, that of
  the held-out openings (`opening_baseline`);
- MuseGAN's measures of the piano roll (`musegan`): empty bars, used pitch classes, qualified notes,
  tonal distance;
- likelihood: each checkpoint's NLL beside the n-gram's (`likelihood`).

`report.md`, `report.json` and PNG plots are written to `out`.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import symusic
from tqdm.auto import tqdm

from cadenza.data.rolls import score_roll
from cadenza.errors import CadenzaError
from cadenza.evaluation import controls, distributions, metrics, originality
from cadenza.evaluation.classifier import (
    FEATURE_NAMES,
    StyleClassifier,
    evaluate_classifier,
    feature_matrix,
)
from cadenza.evaluation.generators import NGRAM, is_adapter, load_generator
from cadenza.evaluation.likelihood import likelihood
from cadenza.evaluation.musegan import NAMES as MUSEGAN
from cadenza.evaluation.musegan import musegan_measures
from cadenza.evaluation.report_text import (
    COLUMNS,
    COMPARED,
    GUARDED,
    HARMONY,
    HISTOGRAMS,
    PLOTTED,
    REAL,
    card_section,
    feature_means,
    headline_table,
    is_checkpoint,
    markdown,
    mean_defined,
    model_label,
    update_card,
)
from cadenza.paths import BASE_MODEL, EMBEDDED_CORPUS, EVALUATION, TOKENIZER_FILE
from cadenza.tokenization.tokenizer import CadenzaTokenizer, split_bars

REAL_PER_STYLE = 60  # held-out openings a style is measured against (and the copying baseline is made of)


@dataclass
class EvaluateArgs:
    models: list[str] = field(
        default_factory=lambda: [BASE_MODEL, NGRAM],
        metadata={"help": f"checkpoint folders, or {NGRAM!r} for the n-gram baseline"},
    )
    corpus: str = field(default=EMBEDDED_CORPUS, metadata={"help": "corpus folder (cadenza corpus build)"})
    out: str = field(default=EVALUATION, metadata={"help": "folder for report.md, report.json, PNGs"})
    styles: list[str] = field(default_factory=list, metadata={"help": "styles judged; default: all"})
    pieces_per_style: int = field(default=16, metadata={"help": "generations per model and style"})
    bars: int = field(default=8, metadata={"help": "bars per generation and per real opening"})
    real_per_style: int = field(
        default=REAL_PER_STYLE, metadata={"help": "held-out real pieces per style, at most"}
    )
    train_per_style: int = field(
        default=150, metadata={"help": "train pieces per style for the classifier and the ceiling, at most"}
    )
    reference: str | None = field(
        default=None,
        metadata={"help": "checkpoint whose tokenizer cuts the openings and drives the n-gram; "
                  "default: the first checkpoint in --models"},
    )  # fmt: skip
    seed: int = 0
    ngram_order: int = field(default=5, metadata={"help": "order of the n-gram baseline"})
    nll: bool = field(default=True, metadata={"help": "score each checkpoint's NLL beside the n-gram's"})
    split: str = field(default="validation", metadata={"help": "split scored for NLL"})
    batch_size: int = field(default=8, metadata={"help": "chunks per forward pass (NLL)"})
    num_proc: int = field(default=2, metadata={"help": "processes tokenizing the corpus"})
    update_card: bool = field(
        default=False, metadata={"help": "write an '## Evaluation' section in each checkpoint's README.md"}
    )


@dataclass
class Sample:
    """A piece with what was asked of it (for a real piece, its own annotations)."""

    score: symusic.Score
    style: str
    key: str | None
    meter: str | None
    valid: bool = True


# --- pieces -----------------------------------------------------------------------------------------------
def opening(tokenizer: CadenzaTokenizer, score: symusic.Score, bars: int) -> symusic.Score:
    """The first `bars` bars of a score, through the tokenizer (quantized like a generation)."""
    kept: list[int] = []
    count = 0
    for group in split_bars(tokenizer.encode_music(score), {tokenizer.bar_id}):
        if group and group[0] == tokenizer.bar_id:
            count += 1
            if count > bars:
                break
        kept.extend(group)
    return tokenizer.decode(kept)


def draw_real(splits, styles: list[str], per_style: int, seed: int, tokenizer, bars: int) -> list[Sample]:
    """Up to `per_style` pieces of each style from the given splits, at random (rows are sorted by id, so
    the first of a style would all come from one collection), cut to their openings."""
    picked: list[Sample] = []
    for split in splits:
        rows = split.select_columns(["style", "key", "time_signatures", "midi"])
        counts = Counter(sample.style for sample in picked)
        for i in np.random.default_rng(seed).permutation(len(rows)).tolist():
            row = rows[i]
            if row["style"] in styles and counts[row["style"]] < per_style:
                counts[row["style"]] += 1
                meter = row["time_signatures"][0] if row["time_signatures"] else None
                score = opening(tokenizer, symusic.Score.from_midi(row["midi"]), bars)
                picked.append(Sample(score, row["style"], row["key"] or None, meter))
    return picked


def asks(real: list[Sample], style: str, count: int, tokenizer: CadenzaTokenizer) -> list[tuple]:
    """(key, meter) for `count` pieces of a style: those of its held-out pieces in turn, a meter the
    tokenizer cannot write left unasked."""
    from cadenza.keys import parse_key

    own = [s for s in real if s.style == style] or [Sample(symusic.Score(), style, None, None)]
    out = []
    for i in range(count):
        sample = own[i % len(own)]
        key = sample.key
        try:
            parse_key(key) if key else None
        except CadenzaError:
            key = None
        meter = sample.meter if sample.meter and f"TimeSig_{sample.meter}" in tokenizer.vocab else None
        out.append((key, meter))
    return out


def generate_pieces(
    generator, styles: list[str], real: list[Sample], args: EvaluateArgs, reference: CadenzaTokenizer
) -> list[Sample]:
    """`pieces_per_style` pieces of every style the generator knows, asks of one kind in one batch. A
    generator without tokens (the GAN and VAE baselines) is asked what the reference tokenizer can write,
    and its pieces are valid when they hold notes."""
    from cadenza.inference.request import MAX_NUM, Request

    tokenizer = getattr(generator, "tokenizer", None)
    out: list[Sample] = []
    known = [s for s in styles if s in generator.styles]
    with tqdm(total=len(known) * args.pieces_per_style, desc="generating", unit="piece") as bar:
        for s, style in enumerate(known):
            wanted = Counter(asks(real, style, args.pieces_per_style, tokenizer or reference))
            for b, ((key, meter), count) in enumerate(sorted(wanted.items(), key=str)):
                for start in range(0, count, MAX_NUM):
                    request = Request(
                        style,
                        bars=args.bars,
                        num=min(MAX_NUM, count - start),
                        seed=args.seed + 1000 * s + 10 * b + start // MAX_NUM,
                        key=key,
                        time_signature=meter,
                    )
                    pieces = generator.generate(request)
                    for piece in pieces:
                        if tokenizer is None:
                            valid = piece.score.note_num() > 0
                        else:
                            valid = controls.is_valid(piece.tokens, tokenizer)
                        out.append(Sample(piece.score, style, key, meter, valid))
                    bar.update(len(pieces))
    return out


# --- measures -------------------------------------------------------------------------------------------
def features(samples: list[Sample]) -> np.ndarray:
    """One row per piece, columns as `COLUMNS`: the classifier's features and the pitch-class histogram."""
    rows = [
        np.concatenate([feature_matrix([s.score])[0], metrics.pitch_class_histogram(s.score)])
        for s in tqdm(samples, desc="features", unit="piece", leave=False)
    ]
    return np.array(rows, dtype=np.float64).reshape(len(samples), len(COLUMNS))


def columns(name: str) -> list[int]:
    """The columns of one feature: a scalar's one column, or a histogram's bins."""
    if name in HISTOGRAMS:
        return [COLUMNS.index(f"{name}_{b}") for b in HISTOGRAMS[name]]
    return [COLUMNS.index(name)]


def piece_measures(
    samples: list[Sample],
    rows: np.ndarray,
    bars: int,
    classifier: StyleClassifier,
    copies: list[originality.Measure],
    human: dict[str, dict[str, float]],
) -> list[dict]:
    """Per piece: validity, controls, the classifier's style and copying against the human baseline."""
    predicted = classifier.predict_features(rows[:, : len(FEATURE_NAMES)])
    out = []
    for sample, guess, copied in zip(
        tqdm(samples, desc="controls", leave=False), predicted, copies, strict=True
    ):
        baseline = human.get(sample.style)
        out.append(
            {
                "style": sample.style,
                "valid": sample.valid,
                "bars_ok": controls.bars_written(sample.score) == bars,
                "key_ok": controls.key_agrees(sample.score, sample.key) if sample.key else None,
                "meter_share": controls.meter_share(sample.score, sample.meter) if sample.meter else None,
                "predicted": guess,
                "copy_share": copied.shares[originality.HEADLINE],
                "copy_longest": copied.longest_notes,
                "flagged": originality.flagged(copied, baseline) if baseline else None,
                "notes": metrics.notes_key(sample.score),
                **musegan_measures(score_roll(sample.score)),
            }
        )
    return out


def opening_baseline(real: list[Sample], copies: list[originality.Measure]) -> dict[str, dict[str, float]]:
    """The human baseline of copying for pieces of this length: per style, the 95th percentile of the
    held-out openings' measures (`cadenza originality`'s baseline is of whole pieces, and an opening is
    more formulaic: a Mass movement's head motif, a tune's first phrase)."""
    per_style: dict[str, list[originality.Measure]] = {}
    for sample, copied in zip(real, copies, strict=True):
        per_style.setdefault(sample.style, []).append(copied)
    return originality.baseline(per_style)


def oa_table(
    generated: np.ndarray, gen_styles: list[str], real: np.ndarray, real_styles: list[str], styles: list[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """style -> feature -> {"oa", "kl"} of a set against the held-out real pieces of the same style."""
    gen_styles_a, real_styles_a = np.array(gen_styles), np.array(real_styles)
    table: dict[str, dict[str, dict[str, float]]] = {}
    for style in styles:
        g, r = generated[gen_styles_a == style], real[real_styles_a == style]
        table[style] = {
            name: distributions.compare(g[:, columns(name)], r[:, columns(name)]) for name in COMPARED
        }
    return table


def real_ranges(rows: np.ndarray, styles_of_rows: list[str]) -> dict[str, np.ndarray]:
    """Per style, the 5th and 95th percentiles of the `GUARDED` features over its real held-out pieces."""
    columns, styles_a = [COLUMNS.index(name) for name in GUARDED], np.array(styles_of_rows)
    return {
        style: np.nanpercentile(rows[styles_a == style][:, columns], (5, 95), axis=0)
        for style in sorted(set(styles_of_rows))
    }


def in_range(row: np.ndarray, style: str, ranges: dict[str, np.ndarray]) -> bool | None:
    """The piece's `GUARDED` features all inside its style's real range; None for a style without one."""
    if style not in ranges:
        return None
    low, high = ranges[style]
    values = row[[COLUMNS.index(name) for name in GUARDED]]
    return bool(np.all((low <= values) & (values <= high)))


def summarize(
    measures: list[dict], rows: np.ndarray, oa: dict, styles: list[str], ranges: dict[str, np.ndarray]
) -> dict:
    """The headline numbers of one set of pieces, and per style."""

    def of(items: list[dict], rows_: np.ndarray, style_oa: list[dict]) -> dict:
        harmony = {name: mean_defined(rows_[:, COLUMNS.index(name)].tolist()) for name in HARMONY}
        inside = [in_range(row, m["style"], ranges) for row, m in zip(rows_, items, strict=True)]
        return {
            "pieces": len(items),
            "valid": mean_defined([m["valid"] for m in items]),
            "bars_ok": mean_defined([m["bars_ok"] for m in items]),
            "key_ok": mean_defined([m["key_ok"] for m in items]),
            "meter_share": mean_defined([m["meter_share"] for m in items]),
            "as_style": mean_defined([m["predicted"] == m["style"] for m in items]),
            "flagged": mean_defined([m["flagged"] for m in items]),
            "copy_share": mean_defined([m["copy_share"] for m in items]),
            "copy_longest": max((m["copy_longest"] for m in items), default=math.nan),
            "oa": mean_defined([f["oa"] for table in style_oa for f in table.values()]),
            "kl": mean_defined([f["kl"] for table in style_oa for f in table.values()]),
            **harmony,
            "in_real_range": mean_defined(inside),
            "distinct": len({m["notes"] for m in items}) / len(items) if items else math.nan,
            **{name: mean_defined([m[name] for m in items]) for name in MUSEGAN},
        }

    by_style = {}
    for style in styles:
        keep = [i for i, m in enumerate(measures) if m["style"] == style]
        if keep:
            by_style[style] = of([measures[i] for i in keep], rows[keep], [oa[style]])
    return {"all": of(measures, rows, list(oa.values())), "styles": by_style}


def _check(args: EvaluateArgs, corpus_styles: list[str]) -> tuple[list[str], str]:
    for name, value, low in (
        ("pieces_per_style", args.pieces_per_style, 2),  # OA needs two pieces a set
        ("bars", args.bars, 1),
        ("real_per_style", args.real_per_style, 2),
        ("train_per_style", args.train_per_style, 2),
    ):
        if value < low:
            raise CadenzaError(f"--{name} must be at least {low}, got {value}")
    if not args.models:
        raise CadenzaError("--models names no model")
    unknown = sorted(set(args.styles) - set(corpus_styles))
    if unknown:
        raise CadenzaError(f"unknown style {unknown[0]!r}; the corpus has: {', '.join(corpus_styles)}")
    checkpoints = [m for m in args.models if is_checkpoint(m)]
    reference = args.reference or (checkpoints[0] if checkpoints else None)
    if reference is None:  # the openings are cut, and the n-gram decoded, by a checkpoint's tokenizer
        raise CadenzaError("name a transformer checkpoint among --models or with --reference (its tokenizer "
                           "cuts the real openings)")  # fmt: skip
    if not (Path(reference) / TOKENIZER_FILE).is_file():
        raise CadenzaError(f"{reference}: not a checkpoint folder (no tokenizer.json)")
    return args.styles or corpus_styles, reference


def write_plots(
    out: Path, report: dict, rows: dict[str, np.ndarray], styles_of: dict[str, list[str]]
) -> None:
    """oa.png, confusion.png and one features-<style>.png per style, from each set's feature rows."""
    from cadenza.evaluation import plots

    sets, styles = report["sets"], report["styles"]
    means = {label: feature_means(data["oa"], styles) for label, data in sets.items()}
    plots.oa_bars(out / "oa.png", {label: {f: m["oa"] for f, m in of.items()} for label, of in means.items()})
    guesses = {label: (styles_of[label], [m["predicted"] for m in sets[label]["pieces"]]) for label in sets}
    plots.confusions(out / "confusion.png", report["classifier"]["labels"], guesses)
    for style in styles:
        of_style = {label: rows[label][np.array(styles_of[label]) == style] for label in sets}
        plots.feature_histograms(
            out / f"features-{style}.png", style, of_style, [COLUMNS.index(n) for n in PLOTTED], PLOTTED
        )


def run_evaluate(args: EvaluateArgs) -> dict:
    from cadenza.data.corpus import load_corpus

    start = time.monotonic()
    corpus = load_corpus(args.corpus)
    styles, reference = _check(args, sorted(set(corpus["train"]["style"])))
    tokenizer = CadenzaTokenizer.load(Path(reference) / TOKENIZER_FILE)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    held_out = [corpus[s] for s in ("validation", "test") if s in corpus]
    real = draw_real(held_out, styles, args.real_per_style, args.seed, tokenizer, args.bars)
    train = draw_real([corpus["train"]], styles, args.train_per_style, args.seed, tokenizer, args.bars)
    rows = {REAL: features(real)}
    styles_of = {REAL: [s.style for s in real]}
    train_rows, train_styles = features(train), [s.style for s in train]
    classifier = StyleClassifier(train_rows[:, : len(FEATURE_NAMES)], train_styles, args.seed)
    index, _ = originality.load_index(args.corpus)
    copying = lambda samples: [originality.measure(s.score, index) for s in samples]  # noqa: E731
    real_copies = copying(real)
    human = opening_baseline(real, real_copies)
    ranges = real_ranges(rows[REAL], styles_of[REAL])

    def judge(label: str, samples: list[Sample], oa_rows: np.ndarray, oa_styles: list[str]) -> dict:
        copies = real_copies if label == REAL else copying(samples)
        measures = piece_measures(samples, rows[label], args.bars, classifier, copies, human)
        oa = oa_table(oa_rows, oa_styles, rows[REAL], styles_of[REAL], styles)
        summary = summarize(measures, rows[label], oa, styles, ranges)
        return {"summary": summary, "oa": oa, "pieces": measures}

    # The real row's OA is train against held-out: the ceiling a generator is compared with.
    sets = {REAL: judge(REAL, real, train_rows, train_styles)}
    likelihoods = {}
    for name in args.models:
        label = model_label(name, args.ngram_order)
        print(f"{label}: generating {args.pieces_per_style} pieces per style", flush=True)
        generator = load_generator(name, corpus, reference, args.ngram_order, args.num_proc)
        samples = generate_pieces(generator, styles, real, args, tokenizer)
        rows[label], styles_of[label] = features(samples), [s.style for s in samples]
        sets[label] = judge(label, samples, rows[label], styles_of[label])
        if args.nll and is_checkpoint(name):  # an adapter's: benchmarks/finetune.py
            likelihoods[label] = likelihood(
                name, args.corpus, corpus, args.split, args.ngram_order, args.batch_size, args.num_proc
            )
    classified = evaluate_classifier(classifier, rows[REAL][:, : len(FEATURE_NAMES)], styles_of[REAL])
    report = {
        "date": date.today().isoformat(),
        "args": asdict(args),
        "styles": styles,
        "classifier": {**classified, "train_pieces": len(train)},
        "human_baseline": human,
        "sets": sets,
        "likelihood": likelihoods,
        "seconds": time.monotonic() - start,
    }
    _write(args, out, report, rows, styles_of)
    return report


def _write(args: EvaluateArgs, out: Path, report: dict, rows: dict, styles_of: dict) -> None:
    """The report's files (JSON, Markdown, plots), the models' cards when asked, and the headline."""
    write_plots(out, report, rows, styles_of)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=float))
    (out / "report.md").write_text(markdown(report))
    if args.update_card:
        for name in args.models:
            if name != NGRAM and not is_adapter(name):  # a transformer's card, or a GAN's or VAE's
                label = model_label(name, args.ngram_order)
                update_card(Path(name) / "README.md", card_section(label, report))
    print(headline_table({label: data["summary"]["all"] for label, data in report["sets"].items()}))
    print(f"report written to {out / 'report.md'}")
