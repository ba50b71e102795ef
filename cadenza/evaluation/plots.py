"""The report's PNG figures, drawn off-screen: feature histograms, OA bars, confusion matrices."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix  # noqa: E402

DPI = 80  # small files for the repo; the numbers are in the Markdown tables


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def feature_histograms(
    path: Path, style: str, sets: dict[str, np.ndarray], columns: list[int], names: list[str]
) -> None:
    """One panel per feature: the distribution of each set (rows: pieces) over shared bins."""
    cols, lines = 4, math.ceil(len(names) / 4)
    figure, axes = plt.subplots(lines, cols, figsize=(3.2 * cols, 2.4 * lines), squeeze=False)
    for ax, column, name in zip(axes.ravel(), columns, names, strict=False):
        values = {label: rows[:, column][~np.isnan(rows[:, column])] for label, rows in sets.items()}
        pooled = np.concatenate([v for v in values.values()] + [np.zeros(0)])
        ax.set_title(name, fontsize=9)
        if not len(pooled):
            ax.text(0.5, 0.5, "undefined", ha="center", va="center", transform=ax.transAxes)
            continue
        bins = np.histogram_bin_edges(pooled, bins=12)
        for label, v in values.items():
            if len(v):
                ax.hist(v, bins=bins, density=True, histtype="step", linewidth=1.5, label=label)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    figure.suptitle(f"{style}: features of generated and held-out real openings")
    _save(figure, path)


def oa_bars(path: Path, means: dict[str, dict[str, float]]) -> None:
    """Per feature, each set's overlapped area with the held-out pieces (label -> feature -> OA)."""
    labels = list(means)
    features = list(means[labels[0]])
    width = 0.8 / len(labels)
    figure, ax = plt.subplots(figsize=(12, 4))
    for i, label in enumerate(labels):
        values = np.nan_to_num([means[label][f] for f in features])
        ax.bar(np.arange(len(features)) + i * width, values, width, label=label)
    ax.set_xticks(np.arange(len(features)) + 0.4 - width / 2, features, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("overlapped area (1 = like the real pieces)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, ncol=len(labels), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    _save(figure, path)


def confusions(path: Path, labels: list[str], sets: dict[str, tuple[list[str], list[str]]]) -> None:
    """One confusion matrix per set of (true or asked styles, predicted styles), rows normalised."""
    figure, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4.8))
    for ax, (title, (true, predicted)) in zip(np.atleast_1d(axes), sets.items(), strict=True):
        matrix = confusion_matrix(true, predicted, labels=labels, normalize="true")
        ConfusionMatrixDisplay(matrix, display_labels=labels).plot(
            ax=ax, colorbar=False, values_format=".0%", xticks_rotation=60
        )
        ax.set_title(title, fontsize=10)
        for text in ax.texts:
            text.set_fontsize(6)
    _save(figure, path)
