"""Lyrics -> rhythm: where each syllable starts in the bar and how long it is sung, the first half of
TeleMelody's split (Ju et al. 2021: lyrics -> rhythm template -> melody, so the melody model needs no
paired data).

Learned from the texted songs (`cadenza corpus songs`): per syllable, on a sixteenth-note grid,

- its *step*: sixteenths from its onset to the next syllable's (its note, a melisma's notes and the rest
  before the next syllable together; the last syllable's is its own length);
- its *breath*: the sixteenths of rest at the end of that step (0 when the next syllable follows at once).

Each is predicted from what a singer sees at that syllable (`FEATURES`): where in the bar it starts, how
long the bar is and how far the next beat and strong beat are; whether it is stressed (`data.stress`),
starts or ends a word, ends a line (punctuation: `syllables.ends_line`) or the song; whether the next
syllable is stressed or starts a word; how far into and how far from the end of its line it is; the step
before; and the style. Two scikit-learn `HistGradientBoostingClassifier`s, one per target (the breath
also sees the step), so stress pulls a syllable onto a strong beat, and a line end takes a long note and
a breath, as much as the songs did. `RhythmModel.template` samples a rhythm for a user's syllables from
them, one syllable at a time.

Saving uses no pickle, as the style classifier's: the training table goes to an .npz (`RHYTHM_FILE`) and
`load` fits the two models again (a few seconds). `cadenza rhythm` builds it from the songs corpus's train
split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import symusic
from sklearn.ensemble import HistGradientBoostingClassifier

from cadenza.data.stress import stresses, strong_beats
from cadenza.data.syllables import Syllable, ends_line
from cadenza.errors import CadenzaError, InputFileError
from cadenza.paths import SONGS_ADAPTER, SONGS_CORPUS

RHYTHM_FILE = "rhythm.npz"  # beside the lyrics adapter
GRID = 4  # cells per quarter note: sixteenths
MAX_STEP = 32  # sixteenths (two bars of 4/4): a longer step is learned as this one
MAX_LINE = 12  # syllables: farther into or from the end of a line counts as this far
FEATURES = (
    "position", "bar_length", "to_beat", "to_strong", "stressed", "word_start", "word_end", "line_end",
    "song_end", "next_stressed", "next_word_start", "into_line", "left_in_line", "previous_step", "style",
)  # fmt: skip
_STYLE = FEATURES.index("style")
# Shallow, regularised trees: the songs' rhythms are noisy, and a model sampled at temperature 1 must be
# calibrated. Unregularised (100 rounds, depth unbounded) the held-out songs' steps cost 6.6 nats against
# the marginal's 1.7 (sure of one step, it sang every syllable a quarter note); these 1.15, fit in ~4 s.
_BOOSTING = {
    "max_iter": 50, "learning_rate": 0.1, "max_depth": 4, "min_samples_leaf": 100,
    "l2_regularization": 1.0, "early_stopping": False, "categorical_features": [_STYLE],
}  # fmt: skip


@dataclass(frozen=True)
class Note:
    """One syllable's note in a template: onset and length in sixteenths from the song's start."""

    onset: int
    length: int


def bar_cells(numerator: int, denominator: int) -> int:
    """Sixteenths in a bar of this meter."""
    return max(1, GRID * 4 * numerator // denominator)


def metric_rows(onsets: np.ndarray, bar: int) -> np.ndarray:
    """Per onset (sixteenths from the start), the features of where it is in a bar of `bar` sixteenths:
    its position, the bar's length, and the sixteenths to the next beat and to the next strong beat
    (`stress.strong_beats`): what a step must cover to put the next syllable on one."""
    position = onsets % bar
    beats = bar / GRID
    strong = np.array([GRID * b for b in strong_beats(max(1, round(beats)))] + [bar])
    to_strong = np.array([strong[strong > p].min() - p for p in position])
    to_beat = GRID - position % GRID
    return np.column_stack([position, np.full(len(onsets), bar), to_beat, to_strong])


def remi_rhythm(
    notes: Sequence[Note], meter: tuple[int, int], positions_per_beat: int
) -> list[tuple[int, int, float]]:
    """Per note: (bar from 0, REMI Position value, length in quarter notes) in `meter`; a bar has
    `numerator` beats of `positions_per_beat` positions (the tokenizer's `max_num_pos_per_beat`), and a
    beat is `4 / denominator` quarters, so a sixteenth is `positions_per_beat * denominator / 16`."""
    cells = bar_cells(*meter)
    per_cell = positions_per_beat * meter[1] / (GRID * 4)
    return [(n.onset // cells, round((n.onset % cells) * per_cell), n.length / GRID) for n in notes]


def context_rows(syllables: Sequence[Syllable], language: str) -> np.ndarray:
    """Per syllable, the features that do not depend on where the rhythm has got to (the columns of
    `FEATURES` from "stressed" to "left_in_line"); shape (syllables, 9)."""
    stressed = stresses(syllables, language)
    word_start = [True] + [s.word_end for s in syllables[:-1]]
    line_end = [ends_line(s.text) for s in syllables]
    rows, into = [], 0
    for i, syllable in enumerate(syllables):
        left = next((j - i for j in range(i, len(syllables)) if line_end[j]), len(syllables) - 1 - i)
        last = i == len(syllables) - 1
        rows.append([
            stressed[i], word_start[i], syllable.word_end, line_end[i], last,
            False if last else stressed[i + 1], False if last else word_start[i + 1],
            min(into, MAX_LINE), min(left, MAX_LINE),
        ])  # fmt: skip
        into = 0 if line_end[i] else into + 1
    return np.array(rows, dtype=np.float32).reshape(len(syllables), 9)


def song_rows(score: symusic.Score, language: str, style: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A texted song's training rows: (features, steps, breaths) per syllable (`song_syllables`'s notes,
    bars counted from the start in the first meter)."""
    from cadenza.data.streams import song_syllables

    tpq = score.ticks_per_quarter
    notes = sorted(next((t.notes for t in score.tracks if len(t.notes)), []), key=lambda n: (n.time, n.pitch))
    items = song_syllables(score)
    signature = score.time_signatures[0] if len(score.time_signatures) else None
    bar = bar_cells(signature.numerator, signature.denominator) if signature else bar_cells(4, 4)
    cell = tpq / GRID
    onsets, ends, syllables = [], [], []
    for note, item in zip(notes, items, strict=True):
        if item is not None:
            onsets.append(round(note.time / cell))
            ends.append(round((note.time + note.duration) / cell))
            syllables.append(Syllable(*item))
        elif ends:  # a melisma's note carries its syllable on
            ends[-1] = max(ends[-1], round((note.time + note.duration) / cell))
    if not syllables:
        return np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    steps = [b - a for a, b in zip(onsets, onsets[1:], strict=False)] + [ends[-1] - onsets[-1]]
    sung = [min(e - a, s) for a, e, s in zip(onsets, ends, steps, strict=True)]
    steps = np.clip(steps, 1, MAX_STEP)
    breaths = np.clip(steps - np.clip(sung, 1, None), 0, None)
    features = np.column_stack([
        metric_rows(np.array(onsets), bar), context_rows(syllables, language),
        np.concatenate([[0], steps[:-1]]), np.full(len(onsets), style),
    ]).astype(np.float32)  # fmt: skip
    return features, steps.astype(np.int64), breaths.astype(np.int64)


@dataclass
class RhythmModel:
    """The two classifiers over a training table (see the module); `styles` names the style codes."""

    features: np.ndarray
    steps: np.ndarray
    breaths: np.ndarray
    styles: list[str]
    seed: int = 0
    _step: HistGradientBoostingClassifier = field(init=False, repr=False)
    _breath: HistGradientBoostingClassifier = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._step = HistGradientBoostingClassifier(**_BOOSTING, random_state=self.seed)
        self._step.fit(self.features, self.steps)
        self._breath = HistGradientBoostingClassifier(**_BOOSTING, random_state=self.seed)
        self._breath.fit(np.column_stack([self.features, self.steps]), self.breaths)

    def template(
        self,
        syllables: Sequence[Syllable],
        language: str,
        style: str,
        meter: tuple[int, int] = (4, 4),
        temperature: float = 1.0,
        seed: int = 0,
    ) -> list[Note]:
        """A rhythm for `syllables`: one note per syllable, from the first bar line on, each step and
        breath drawn from the classifiers' probabilities sharpened by `temperature` (1: as learned); no
        bar is left without an onset."""
        if style not in self.styles:
            raise CadenzaError(f"style {style!r}: the rhythm model knows {', '.join(self.styles)}")
        rng = np.random.default_rng(seed)
        bar, code = bar_cells(*meter), self.styles.index(style)
        context = context_rows(syllables, language)
        notes, onset, previous = [], 0, 0
        for row in context:
            where = metric_rows(np.array([onset]), bar)[0]
            features = np.concatenate([where, row, [previous, code]])[None, :].astype(np.float32)
            step = _draw(self._step, features, temperature, rng)
            # No bar without an onset (the song grammar has none): a step past the next bar comes back by
            # whole bars, keeping its place in the bar.
            while (onset + step) // bar > onset // bar + 1:
                step -= bar
            breath = _draw(self._breath, np.column_stack([features, [[step]]]), temperature, rng)
            notes.append(Note(onset, max(1, step - min(breath, step - 1))))
            onset, previous = onset + step, step
        return notes

    def save(self, path: str | Path) -> None:
        """Write the training table, its column names, the styles and the seed (no pickled objects)."""
        np.savez_compressed(
            path, features=self.features, steps=self.steps, breaths=self.breaths,
            feature_names=np.array(FEATURES, dtype=str), styles=np.array(self.styles, dtype=str),
            seed=np.array(self.seed),
        )  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> RhythmModel:
        """Refit from a saved table; refuses one written with other features."""
        path = Path(path)
        if not path.is_file():
            raise InputFileError(path, "no rhythm model here; build it with `cadenza rhythm`")
        with np.load(path, allow_pickle=False) as saved:
            if tuple(str(n) for n in saved["feature_names"]) != FEATURES:
                raise InputFileError(path, "saved with other features; build it again with `cadenza rhythm`")
            styles = [str(s) for s in saved["styles"]]
            return cls(saved["features"], saved["steps"], saved["breaths"], styles, int(saved["seed"]))


def _draw(model: HistGradientBoostingClassifier, features: np.ndarray, temperature: float, rng) -> int:
    if len(model.classes_) == 1:  # songs that never breathe: scikit-learn still answers two columns
        return int(model.classes_[0])
    probabilities = model.predict_proba(features)[0]
    if temperature != 1.0:
        probabilities = np.exp(np.log(np.maximum(probabilities, 1e-12)) / max(temperature, 1e-3))
    return int(rng.choice(model.classes_, p=probabilities / probabilities.sum()))


def fit_rhythm(rows: Sequence[dict], seed: int = 0) -> RhythmModel:
    """The rhythm model of songs corpus rows (each with `midi`, `language`, `style`)."""
    styles = sorted({row["style"] for row in rows})
    tables = [
        song_rows(symusic.Score.from_midi(row["midi"]), row["language"], styles.index(row["style"]))
        for row in rows
    ]
    features, steps, breaths = (np.concatenate(parts) for parts in zip(*tables, strict=True))
    return RhythmModel(features, steps, breaths, styles, seed)


@dataclass
class RhythmArgs:
    corpus: str = field(default=SONGS_CORPUS, metadata={"help": "the songs corpus (`cadenza corpus songs`)"})
    out: str = field(
        default=str(Path(SONGS_ADAPTER) / RHYTHM_FILE), metadata={"help": "the rhythm model's .npz"}
    )
    seed: int = 0


def run_rhythm(args: RhythmArgs) -> None:
    from cadenza.data.corpus import load_corpus

    train = list(load_corpus(args.corpus)["train"])
    model = fit_rhythm(train, args.seed)
    model.save(args.out)
    share = float(np.mean(model.breaths > 0))
    print(
        f"rhythm model of {len(train)} songs, {len(model.steps):,} syllables "
        f"({share:.0%} followed by a breath) saved to {args.out}"
    )
