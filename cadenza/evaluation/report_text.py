"""`cadenza evaluate`'s report as text: what it compares (its columns), the markdown (headline, per-style
tables, copying, likelihood) and the section it writes into a model card. `report.run_evaluate` measures;
this module writes."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from cadenza.evaluation.classifier import FEATURE_NAMES, SCALARS
from cadenza.evaluation.classifier import HISTOGRAMS as CLASSIFIER_HISTOGRAMS
from cadenza.evaluation.generators import NGRAM, is_adapter
from cadenza.evaluation.likelihood import nll_markdown
from cadenza.gan_vae.composer import baseline_kind

REAL = "real held-out"
# The classifier's features plus the pitch-class histogram, which it leaves out (keys are shared between
# styles) but which says whether a model writes in keys as the style does.
HISTOGRAMS = {**CLASSIFIER_HISTOGRAMS, "pitch_class": [str(pc) for pc in range(12)]}
COLUMNS = (*FEATURE_NAMES, *(f"pitch_class_{b}" for b in HISTOGRAMS["pitch_class"]))
# Compared one by one, a histogram as one vector; the number of tracks is a style profile's, not the model's.
COMPARED = (*(name for name in SCALARS if name != "num_tracks"), *HISTOGRAMS)
PLOTTED = [name for name in SCALARS if name != "num_tracks"]
HARMONY = ("consonance", "chord_share", "parallel_perfects", "voice_crossings")
# Features whose real range a set's pieces should stay in (a guard of preference tuning, docs/preference.md).
GUARDED = ("pitch_class_entropy", "note_density")


def mean_defined(values) -> float:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(values)) if values else math.nan


# --- the report -------------------------------------------------------------------------------------------
HEADLINE = [  # (key, column title, format)
    ("pieces", "pieces", "{:.0f}"),
    ("valid", "valid", "{:.0%}"),
    ("bars_ok", "bars as asked", "{:.0%}"),
    ("key_ok", "key as asked", "{:.0%}"),
    ("meter_share", "bars in asked meter", "{:.0%}"),
    ("as_style", "classified as its style", "{:.0%}"),
    ("oa", "mean OA", "{:.2f}"),
    ("kl", "mean KL", "{:.2f}"),
    ("flagged", "flagged as copying", "{:.0%}"),
    ("in_real_range", "pitch entropy and density in real range", "{:.0%}"),
    ("distinct", "distinct pieces", "{:.0%}"),
    ("consonance", "consonance", "{:.2f}"),
    ("chord_share", "triads/sevenths", "{:.2f}"),
    ("parallel_perfects", "parallels /100 steps", "{:.1f}"),
    ("voice_crossings", "voice crossings", "{:.1%}"),
    ("empty_bars", "EB", "{:.1%}"),
    ("pitch_classes", "UPC", "{:.2f}"),
    ("qualified_notes", "QN", "{:.0%}"),
    ("tonal_distance", "TD", "{:.2f}"),
]


def _cell(value, form: str) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else form.format(value)


def headline_table(sets: dict[str, dict]) -> str:
    lines = ["| | " + " | ".join(title for _, title, _ in HEADLINE) + " |", "|---|" + "---:|" * len(HEADLINE)]
    for label, summary in sets.items():
        lines.append(f"| {label} | " + " | ".join(_cell(summary[k], f) for k, _, f in HEADLINE) + " |")
    return "\n".join(lines)


def style_table(sets: dict[str, dict], key: str, form: str, styles: list[str]) -> str:
    labels = list(sets)
    lines = ["| style | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for style in styles:
        cells = [_cell(sets[label]["styles"].get(style, {}).get(key), form) for label in labels]
        lines.append(f"| {style} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def feature_means(oa: dict[str, dict[str, dict[str, float]]], styles: list[str]) -> dict[str, dict]:
    """feature -> {"oa", "kl"} averaged over the styles where they are defined."""
    return {
        name: {m: mean_defined([oa[s][name][m] for s in styles if s in oa]) for m in ("oa", "kl")}
        for name in COMPARED
    }


def feature_table(means: dict[str, dict[str, dict]]) -> str:
    """Per feature (rows) and set (columns): OA / KL."""
    labels = list(means)
    lines = ["| feature | " + " | ".join(f"{label} OA / KL" for label in labels) + " |"]
    lines.append("|---|" + "---:|" * len(labels))
    for name in COMPARED:
        cells = [
            f"{_cell(means[label][name]['oa'], '{:.2f}')} / {_cell(means[label][name]['kl'], '{:.2f}')}"
            for label in labels
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def copying_table(human: dict[str, dict], sets: dict[str, dict], styles: list[str]) -> str:
    labels = list(sets)
    lines = [
        "| style | human 95th pct: share / longest (pieces) | "
        + " | ".join(f"{label}: share / longest / flagged" for label in labels)
        + " |",
        "|---|---:|" + "---:|" * len(labels),
    ]
    for style in styles:
        h = human.get(style)
        cells = [f"{_cell(h['share'], '{:.0%}')} / {h['longest']:.0f} ({h['pieces']})" if h else "n/a"]
        for label in labels:
            row = sets[label]["styles"].get(style, {})
            cells.append(
                f"{_cell(row.get('copy_share'), '{:.0%}')} / {_cell(row.get('copy_longest'), '{:.0f}')} / "
                f"{_cell(row.get('flagged'), '{:.0%}')}"
            )
        lines.append(f"| {style} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def confusion_markdown(result: dict) -> str:
    labels = result["labels"]
    lines = ["| true \\ predicted | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for label, row in zip(labels, result["confusion_matrix"], strict=True):
        lines.append(f"| {label} | " + " | ".join(str(n) for n in row) + " |")
    return "\n".join(lines)


def model_label(name: str, order: int) -> str:
    """ "5-gram", or the checkpoint's folder name (a run's `runs/x/model` is "x")."""
    if name == NGRAM:
        return f"{order}-gram"
    folder = Path(name).resolve()
    return folder.parent.name if folder.name == "model" else folder.name


def is_checkpoint(name: str) -> bool:
    """A transformer checkpoint: what has an NLL and a card to write into."""
    return name != NGRAM and not is_adapter(name) and baseline_kind(name) is None


def markdown(report: dict) -> str:
    """The report as Markdown, images beside it."""
    lines = [*_headline(report), *_per_style(report), *_features_and_classifier(report)]
    if report["likelihood"]:
        lines += ["## Likelihood", ""]
        for label, nll in report["likelihood"].items():
            lines += [f"### {label}", "", nll_markdown(nll), ""]
    lines += ["## Feature histograms", ""]
    lines += [f"![{style}](features-{style}.png)" for style in report["styles"]]
    return "\n".join(lines) + "\n"


def _headline(report: dict) -> list[str]:
    args = report["args"]
    sets = {label: data["summary"] for label, data in report["sets"].items()}
    command = "cadenza evaluate " + " ".join(
        f"--{k} {' '.join(v) if isinstance(v, list) else v}" for k, v in args.items() if v not in (None, [])
    )
    return [
        "# Evaluation report",
        "",
        f"{report['date']}, `{command}` ({report['seconds']:.0f} s on this machine).",
        "",
        f"Each model wrote {args['pieces_per_style']} pieces of {args['bars']} bars per style, each asked "
        "for the key and meter of one held-out piece of the style. They are compared with held-out real "
        f"pieces (validation and test, at most {args['real_per_style']} per style) cut to their first "
        f"{args['bars']} bars. How each number is made: `cadenza/evaluation/report.py` and "
        "docs/evaluation.md.",
        "",
        "## Headline",
        "",
        headline_table({label: s["all"] for label, s in sets.items()}),
        "",
        f"- **{REAL}**: the real openings measured like generations, with their own annotations as the "
        "asks; its key column is the key analyser's agreement with the annotated keys, the ceiling of "
        "any model. Its OA/KL is the real train openings against the held-out ones: the ceiling of OA, "
        "the floor of KL.",
        "- **classified as its style**: the share the style classifier (trained on real train openings) "
        f"assigns to the asked style; on the held-out real openings it is its accuracy "
        f"({report['classifier']['accuracy']:.1%}).",
        "- **flagged as copying**: above the style's human 95th percentile of copied 8-note n-grams or of "
        "the longest copied passage, that of the held-out openings (so about 5% of the real row by "
        "construction, more in a style with few pieces); the per-style table below has the figures.",
        "- **pitch entropy and density in real range**: the share of pieces whose pitch-class entropy and "
        "note density both lie inside the 5-95% range of their style's held-out real openings.",
        "- **distinct pieces**: different sets of notes over pieces (100%: no two pieces alike).",
        "- Harmony columns: the mean over pieces with two or more voices.",
        "- EB, UPC, QN, TD: MuseGAN's empty-bar rate, used pitch classes per bar, qualified-note rate "
        "(notes of an eighth or longer) and tonal distance between voices (`evaluation/musegan.py`).",
        "",
    ]


def _per_style(report: dict) -> list[str]:
    styles = report["styles"]
    sets = {label: data["summary"] for label, data in report["sets"].items()}
    return [
        "## Per style",
        "",
        "Classified as the asked style:",
        "",
        style_table(sets, "as_style", "{:.0%}", styles),
        "",
        "Mean OA over the features (higher is nearer the held-out pieces):",
        "",
        style_table(sets, "oa", "{:.2f}", styles),
        "",
        "Consonance (duration-weighted share of consonant sonorities):",
        "",
        style_table(sets, "consonance", "{:.2f}", styles),
        "",
        "Copying: the human baseline (95th percentile of the held-out openings: share of 8-note interval "
        "n-grams found in the train split, longest passage found note for note), and per set the mean "
        "share, the longest passage and the share of pieces above the baseline (flagged):",
        "",
        copying_table(report["human_baseline"], sets, styles),
        "",
    ]


def _features_and_classifier(report: dict) -> list[str]:
    styles = report["styles"]
    return [
        "## Features: overlapped area and KL divergence",
        "",
        "mgeval's method per style and feature, averaged over the styles where it is defined.",
        "",
        "![OA per feature](oa.png)",
        "",
        feature_table({label: feature_means(data["oa"], styles) for label, data in report["sets"].items()}),
        "",
        "## Style classifier",
        "",
        f"HistGradientBoosting over {len(FEATURE_NAMES)} features, trained on "
        f"{report['classifier']['train_pieces']} real train openings; accuracy on the "
        f"{sum(map(sum, report['classifier']['confusion_matrix']))} held-out openings: "
        f"**{report['classifier']['accuracy']:.1%}**. Rows: the true (or asked) style; columns: the "
        "classifier's guess.",
        "",
        "![confusion matrices](confusion.png)",
        "",
        confusion_markdown(report["classifier"]),
        "",
    ]


def card_section(label: str, report: dict) -> str:
    """A checkpoint card's '## Evaluation': its headline row beside the real one, and its likelihood."""
    sets = {REAL: report["sets"][REAL]["summary"]["all"], label: report["sets"][label]["summary"]["all"]}
    lines = [
        "## Evaluation",
        "",
        f"`cadenza evaluate` on `{report['args']['corpus']}` ({report['date']}); the full report is "
        f"`{report['args']['out']}/report.md`.",
        "",
        headline_table(sets),
        "",
    ]
    if label in report["likelihood"]:
        lines += [nll_markdown(report["likelihood"][label]), ""]
    return "\n".join(lines)


def update_card(card_path: Path, section: str) -> None:
    """Replace the card's '## Evaluation' section (up to the next '## ' info) or append one."""
    text = card_path.read_text() if card_path.is_file() else ""
    pattern = re.compile(r"^## Evaluation\n.*?(?=^## |\Z)", re.S | re.M)
    block = section.rstrip("\n") + "\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + block
    card_path.write_text(text.rstrip("\n") + "\n")
