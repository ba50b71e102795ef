"""The style classifier on the real corpus: train on up to N train pieces per style, test on the test split.

.venv/bin/python benchmarks/style_classifier.py [--corpus build/corpus/embedded] [--train 150] [--test 60]

Pieces are drawn at random per style (seed 0): the rows are sorted by id, so the first N of a style would
all come from one Essen collection. Prints the timings, the accuracy and the confusion matrix.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np
import symusic

from cadenza.data.corpus import load_corpus
from cadenza.evaluation.classifier import StyleClassifier, evaluate_classifier, feature_matrix


def draw(split, per_style: int, seed: int) -> tuple[list[symusic.Score], list[str]]:
    counts: Counter = Counter()
    scores, styles = [], []
    rows = split.select_columns(["midi", "style"])
    for i in np.random.default_rng(seed).permutation(len(rows)):
        row = rows[int(i)]
        if counts[row["style"]] < per_style:
            counts[row["style"]] += 1
            scores.append(symusic.Score.from_midi(row["midi"]))
            styles.append(row["style"])
    return scores, styles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="build/corpus/embedded")
    parser.add_argument("--train", type=int, default=150, help="train pieces per style, at most")
    parser.add_argument("--test", type=int, default=60, help="test pieces per style, at most")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    corpus = load_corpus(args.corpus)
    train, train_styles = draw(corpus["train"], args.train, args.seed)
    test, test_styles = draw(corpus["test"], args.test, args.seed)
    start = time.perf_counter()
    features = feature_matrix(train)
    seconds = time.perf_counter() - start
    per_piece = 1000 * seconds / len(train)
    print(f"features of {len(train)} train pieces: {seconds:.1f} s ({per_piece:.0f} ms a piece)")
    start = time.perf_counter()
    classifier = StyleClassifier(features, train_styles, args.seed)
    print(f"fit: {time.perf_counter() - start:.1f} s")
    result = evaluate_classifier(classifier, feature_matrix(test), test_styles)
    print(f"accuracy on {len(test)} test pieces: {result['accuracy']:.2%}")
    labels = result["labels"]
    print("| true \\ predicted | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for label, row in zip(labels, result["confusion_matrix"], strict=True):
        print(f"| {label} | " + " | ".join(str(n) for n in row) + " |")


if __name__ == "__main__":
    main()
