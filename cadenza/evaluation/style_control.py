"""Style control: do a style's generations look like that style's corpus?

For every style we compare two features, `pitch_range` and `polyphony` (see `metrics`), averaged over
pieces. The corpus side uses the train split, each piece cut to its first `bars` bars as the tokenizer
sees it (encode, keep `bars` Bar groups, decode), because generations are `bars` bars long and pitch range
grows with length: whole pieces would not be a like-for-like reference.

A style passes when its generations' mean feature vector is nearer to its own corpus mean than to any
other style's corpus mean. Distance is Euclidean after dividing each feature by its standard deviation
over all corpus excerpts (all styles pooled), so semitones and voices weigh alike. The per-feature
nearest styles are reported too, for information; they do not decide a pass.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import symusic

from cadenza.evaluation.metrics import pitch_range, polyphony
from cadenza.tokenization.chunking import split_bars
from cadenza.tokenization.tokenizer import CadenzaTokenizer

FEATURES: tuple[str, ...] = ("pitch_range", "polyphony")
_FUNCTIONS = {"pitch_range": pitch_range, "polyphony": polyphony}


def features(score: symusic.Score) -> dict[str, float]:
    return {name: float(_FUNCTIONS[name](score)) for name in FEATURES}


def excerpt(tokenizer: CadenzaTokenizer, score: symusic.Score, bars: int) -> symusic.Score:
    """The first `bars` bars of a score, through the tokenizer (quantized like a generation)."""
    groups = split_bars(tokenizer.encode_music(score), tokenizer.bar_id)
    kept: list[int] = []
    count = 0
    for group in groups:
        if group and group[0] == tokenizer.bar_id:
            count += 1
            if count > bars:
                break
        kept.extend(group)
    return tokenizer.decode(kept)


def corpus_features(
    midis: Iterable[bytes], styles: Iterable[str], tokenizer: CadenzaTokenizer, bars: int
) -> dict[str, list[dict[str, float]]]:
    """Per style, the features of every piece's first `bars` bars."""
    out: dict[str, list[dict[str, float]]] = defaultdict(list)
    for midi, style in zip(midis, styles, strict=True):
        out[style].append(features(excerpt(tokenizer, symusic.Score.from_midi(midi), bars)))
    return dict(out)


def summarize(per_style: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Mean of each feature per style (and the number of pieces); an empty piece's NaN is left out."""
    out = {}
    for style, rows in per_style.items():
        out[style] = {
            name: float(np.nanmean([r[name] for r in rows])) if rows else float("nan") for name in FEATURES
        }
        out[style]["pieces"] = len(rows)
    return out


def feature_scales(per_style: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    """Standard deviation of each feature over all corpus pieces pooled (1.0 where it is 0)."""
    scales = {}
    for name in FEATURES:
        values = [r[name] for rows in per_style.values() for r in rows]
        std = float(np.std(values)) if values else 0.0
        scales[name] = std if std > 0 else 1.0
    return scales


def _distance(a: dict[str, float], b: dict[str, float], scales: dict[str, float]) -> float:
    return math.sqrt(sum(((a[n] - b[n]) / scales[n]) ** 2 for n in FEATURES))


def style_table(
    corpus_means: dict[str, dict[str, float]],
    generated_means: dict[str, dict[str, float]],
    scales: dict[str, float],
) -> list[dict]:
    """One row per generated style: its means, its corpus means, the nearest corpus style and a pass."""
    rows = []
    for style, gen in generated_means.items():
        distances = {other: _distance(gen, ref, scales) for other, ref in corpus_means.items()}
        nearest = min(distances, key=lambda s: (distances[s], s))
        row = {"style": style, "generated_pieces": int(gen.get("pieces", 0))}
        for name in FEATURES:
            row[f"generated_{name}"] = gen[name]
            row[f"corpus_{name}"] = corpus_means[style][name] if style in corpus_means else float("nan")
            row[f"nearest_by_{name}"] = min(
                corpus_means, key=lambda s, n=name: (abs(corpus_means[s][n] - gen[n]), s)
            )
        row["distance_to_own"] = distances.get(style, float("inf"))
        row["nearest_style"] = nearest
        row["passes"] = nearest == style
        rows.append(row)
    return rows


def required_passes(num_styles: int) -> int:
    """The bar: at least 6 of 8 styles, i.e. three quarters rounded up."""
    return math.ceil(0.75 * num_styles)


def markdown_table(rows: list[dict]) -> str:
    head = (
        "| style | pieces | range (gen) | range (corpus) | polyphony (gen) | polyphony (corpus) "
        "| nearest style | pass |\n|---|---:|---:|---:|---:|---:|---|---|"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['style']} | {r['generated_pieces']} | {r['generated_pitch_range']:.1f} "
            f"| {r['corpus_pitch_range']:.1f} "
            f"| {r['generated_polyphony']:.2f} | {r['corpus_polyphony']:.2f} | {r['nearest_style']} "
            f"| {'yes' if r['passes'] else 'no'} |"
        )
    return "\n".join(lines)
