"""The learner's view against published analyses: Roman numerals beat by beat on the chorales music21
ships with an analysis, and the faults it reports on them.

    python benchmarks/analysis.py [--out docs/analysis-benchmark.md]

music21's corpus holds 20 Bach chorales analysed in RomanText (`bach/choraleAnalyses/riemenschneider*.rntxt`,
Tymoczko, Jones and Robb); 18 of them name a BWV number the corpus has the score of. For each, the score
is analysed (`evaluation.analysis.analyse`, its own keys: the published keys are not given to it) and every
beat it labels is compared with the published label in force at that beat (the latest one at or before
it), two ways:

- **same chord:** the same root (pitch class) and triad quality (major, minor, diminished, augmented), so
  inversion and an added seventh do not count ("V6" and "V7" agree), and neither does the key a numeral
  is read in (a tonicized "V/V" and "II" name one chord);
- **same numeral:** the same Roman numeral in each one's own key (root degree and quality, secondary
  dominants alike), which also needs the same local key.

Some corpus scores are in another key than the analysed edition; each analysis is moved by the
transposition that best matches its chords' pitch classes to the score's (a single interval per piece).
Faults: every kind per 100 voice-leading steps over 20 chorales (the 18, and the corpus's first two
other four-part chorales), and each parallel listed with its bar, beat and voices, to be checked by eye
against the score.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np

from cadenza.evaluation.analysis import FAULT_KINDS, Analysis, analyse

FAULT_CHORALES = 20  # the count; the analysed ones, and the corpus's next for the rest


def chord_of(root_pitch_class: int, quality: str) -> tuple[int, str]:
    return root_pitch_class % 12, quality


def edition_shift(score, published) -> int:
    """Semitones from the analysed edition to the score: the shift whose pitch classes correlate best."""
    from music21 import roman

    heard, named = np.zeros(12), np.zeros(12)
    for note in score.flatten().notes:
        for p in note.pitches:
            heard[p.pitchClass] += float(note.quarterLength)
    for numeral in published.recurse().getElementsByClass(roman.RomanNumeral):
        for p in numeral.pitches:
            named[p.pitchClass] += 1
    return int(np.argmax([np.corrcoef(np.roll(named, k), heard)[0, 1] for k in range(12)]))


def compare(analysis: Analysis, published, shift: int) -> tuple[int, int, int]:
    """(beats compared, same chord, same numeral)."""
    from music21 import pitch, roman

    numerals_written = published.recurse().getElementsByClass(roman.RomanNumeral)
    theirs = [((n.measureNumber, float(n.beat)), n) for n in numerals_written]
    compared = chords = numerals = 0
    for label in analysis.labels:
        before = [n for where, n in theirs if where <= (label.bar, label.beat)]
        if not before:
            continue
        published_numeral = before[-1]
        compared += 1
        ours = chord_of(pitch.Pitch(label.root.replace("b", "-") if len(label.root) > 1 else label.root)
                        .pitchClass, label.quality)  # fmt: skip
        chords += ours == chord_of(published_numeral.root().pitchClass + shift, published_numeral.quality)
        if _is_numeral(label.numeral):
            tonic, mode = label.key.split()
            tonic = tonic[0] + tonic[1:].replace("b", "-")
            numeral = roman.RomanNumeral(label.numeral, tonic if mode == "major" else tonic.lower())
            numerals += numeral.romanNumeral == published_numeral.romanNumeral and str(
                numeral.secondaryRomanNumeral
            ) == str(published_numeral.secondaryRomanNumeral)
    return compared, chords, numerals


def _is_numeral(text: str) -> bool:
    return " " not in text  # a chord's common name ("quartal trichord") has words; a numeral has none


def main() -> None:
    from music21 import corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    started = time.time()
    rows, faults, steps, parallels = [], Counter(), [], []

    def tally(bwv: str, analysis: Analysis) -> None:
        faults.update(f.kind for f in analysis.faults)
        steps.append(analysis.steps)
        parallels.extend((bwv, f) for f in analysis.faults if f.kind.startswith("parallel"))

    folder = Path(corpus.getComposer("bach")[0]).parent / "choraleAnalyses"
    for path in sorted(folder.glob("riemenschneider*.rntxt")):
        published = corpus.parse(str(path))
        bwv = next(line.split(":", 1)[1].strip() for line in Path(path).read_text().splitlines()
                   if line.startswith("BWV:"))  # fmt: skip
        try:
            score = corpus.parse(f"bach/bwv{bwv}")
        except Exception:  # music21 has the analysis of two chorales but not their scores
            continue
        analysis = analyse(score)
        compared, chords, numerals = compare(analysis, published, edition_shift(score, published))
        rows.append((bwv, analysis.key, compared, chords, numerals))
        tally(bwv, analysis)
        print(f"\rBWV {bwv}: {time.time() - started:.0f} s", end="", flush=True)
    # Faults on 20 chorales: the analysed ones and, for the two whose scores music21 lacks, the corpus's
    # first four-part chorales not among them (a cantata's horn or violin above the soprano would count
    # as crossings).
    analysed = {f"bwv{bwv}" for bwv, *_ in rows}
    for path in (p for p in corpus.getComposer("bach") if p.suffix == ".mxl" and p.stem not in analysed):
        if len(steps) >= FAULT_CHORALES:
            break
        score = corpus.parse(str(path))
        if len(score.parts) == 4:
            tally(path.stem.removeprefix("bwv"), analyse(score))
    print()
    lines = [
        f"{len(rows)} analysed Bach chorales of music21's corpus ({time.time() - started:.0f} s).",
        "",
        "| BWV | key found | beats compared | same chord | same numeral |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [f"| {bwv} | {key} | {n} | {c / n:.0%} | {r / n:.0%} |" for bwv, key, n, c, r in rows]
    n, c, r = (sum(row[i] for row in rows) for i in (2, 3, 4))
    lines += [f"| **all** | | {n} | **{c / n:.1%}** | {r / n:.1%} |", ""]
    total = sum(steps)
    lines += [f"Faults per 100 voice-leading steps over {len(steps)} chorales ({total:,} steps):", ""]
    lines += ["| fault | found | per 100 steps |", "|---|---:|---:|"]
    lines += [f"| {kind} | {faults[kind]} | {100 * faults[kind] / total:.2f} |" for kind in FAULT_KINDS]
    lines += ["", "Every parallel found, to check by eye:", ""]
    lines += [f"- BWV {bwv}, bar {f.bar} beat {f.beat:g}: {f.kind}, {' and '.join(f.voices)}, {f.detail}"
              for bwv, f in parallels]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
