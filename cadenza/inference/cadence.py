"""Cadences: where real phrases end, learned, and the singer's pitch choice conditioned on it.

A line of verse ends on a stable degree and a song on its tonic because real melodies do, not because a
mask says so. `CadenceModel` counts, per mode, the scale degree (pitch class above the key's tonic) of

- every note, and every *line's last note*, of the texted songs' train split (a line ends where its last
  syllable carries punctuation, `syllables.ends_line`; a melisma's notes belong to their syllable);
- every note, and the *last note*, of every melody of the corpus's train split: the Essen songs, the fiddle
  tunes, Aird's airs, and the top voice of the chorales and the polyphony (the track highest on average).

`CadenceGuidance` applies it by Bayes' rule. The adapter gives p(pitch | context); a cadence point adds the
evidence "a phrase ends on this note", whose likelihood given the pitch is, up to a constant,
p(degree | phrase end) / p(degree): the learned ratio. So each pitch's score at a line's last syllable
gains log p(degree | line end) - log p(degree), and at the song's last syllable the same for song ends;
every pitch stays possible and the model's own preferences are kept. (The one simplification: that the
phrase ending there depends on the context only through the degree.)

`cadenza cadence` fits it and writes `CADENCE_FILE` beside the lyrics adapter (JSON counts, no pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import symusic
import torch
from transformers import LogitsProcessor

from cadenza.data.syllables import ends_line
from cadenza.errors import InputFileError
from cadenza.keys import Key, annotated_key
from cadenza.paths import EMBEDDED_CORPUS, SONGS_ADAPTER, SONGS_CORPUS
from cadenza.tokenization.lyrics import CHAR_PREFIX, MELISMA_TOKEN, SONG_END_TOKEN, SYLLABLE_ENDS
from cadenza.tokenization.tokenizer import CadenzaTokenizer

CADENCE_FILE = "cadence.json"  # beside the lyrics adapter
POINTS = ("line", "song")  # a line's last note, a song's last note
_MARGINAL = {"line": "song notes", "song": "melody notes"}  # each point's population, all its notes


@dataclass(frozen=True)
class CadenceModel:
    """Degree counts: `counts[mode][name]` is 12 counts by pitch class above the tonic, for `name` in
    "line" and "song notes" (the texted songs) and "song" and "melody notes" (every melody)."""

    counts: dict[str, dict[str, list[int]]]

    def log_ratio(self, mode: str, point: str) -> np.ndarray:
        """log p(degree | `point`) - log p(degree) over the point's population, add-one smoothed."""
        table = self.counts[mode]
        end, every = (np.asarray(table[name], float) + 1 for name in (point, _MARGINAL[point]))
        return np.log(end / end.sum()) - np.log(every / every.sum())

    def share(self, mode: str, point: str, degrees: tuple[int, ...]) -> float:
        """The share of `point`s in `mode` ending on one of `degrees` (for the card and the docs)."""
        counts = np.asarray(self.counts[mode][point], float)
        return float(counts[list(degrees)].sum() / max(counts.sum(), 1))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"counts": self.counts}, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> CadenceModel:
        path = Path(path)
        try:
            counts = json.loads(path.read_text())["counts"]
            assert all(len(c) == 12 for table in counts.values() for c in table.values())
        except (OSError, ValueError, KeyError, TypeError, AssertionError) as error:
            problem = f"not a cadence model ({error}); build it with `cadenza cadence`"
            raise InputFileError(path, problem) from None
        return cls(counts)


def stable_degrees(mode: str) -> tuple[int, int, int]:
    """The tonic triad's pitch classes above the tonic: where a phrase comes to rest."""
    return (0, 3 if mode == "minor" else 4, 7)


def _melody(score: symusic.Score) -> list[symusic.Note]:
    """The top voice's notes in time order: the track highest on average (a melody's only track)."""
    tracks = [t for t in score.tracks if len(t.notes)]
    if not tracks:
        return []
    top = max(tracks, key=lambda t: float(np.mean([n.pitch for n in t.notes])))
    return sorted(top.notes, key=lambda n: (n.time, -n.pitch))


def line_end_notes(score: symusic.Score) -> list[int]:
    """A texted song's pitches that end a line: each line-ending syllable's last note (its melisma's)."""
    from cadenza.data.streams import song_syllables

    notes = sorted(next((t.notes for t in score.tracks if len(t.notes)), []), key=lambda n: (n.time, n.pitch))
    ends, current = [], None
    for note, item in zip(notes, song_syllables(score), strict=True):
        if item is not None:
            if current is not None:
                ends.append(current)
            current = note.pitch if ends_line(item[0]) else None
        elif current is not None:
            current = note.pitch
    return ends + ([current] if current is not None else [])


def _degree_counts(pitches: list[int], key: Key) -> np.ndarray:
    return np.bincount([(p - key[0]) % 12 for p in pitches], minlength=12)


def fit_cadence(melodies: list[dict], songs: list[dict]) -> CadenceModel:
    """The counts of corpus rows (`midi`, `key`): `melodies` give song ends, `songs` (texted) line ends."""
    counts = {mode: {name: np.zeros(12, int) for name in ("line", "song notes", "song", "melody notes")}
              for mode in ("major", "minor")}  # fmt: skip
    for row in melodies:
        notes, key = _melody(symusic.Score.from_midi(row["midi"])), annotated_key(row["key"])
        if notes:
            table = counts[key[1]]
            table["melody notes"] += _degree_counts([n.pitch for n in notes], key)
            table["song"] += _degree_counts([notes[-1].pitch], key)
    for row in songs:
        score, key = symusic.Score.from_midi(row["midi"]), annotated_key(row["key"])
        table = counts[key[1]]
        table["song notes"] += _degree_counts([n.pitch for t in score.tracks for n in t.notes], key)
        table["line"] += _degree_counts(line_end_notes(score), key)
    return CadenceModel({m: {n: c.tolist() for n, c in t.items()} for m, t in counts.items()})


class CadenceGuidance(LogitsProcessor):
    """Adds the cadence model's log ratio to every pitch's score on a line's last syllable and on the
    song's last (see the module). It reads the lyric items as they are written, forced or sampled: a
    syllable closed by `Syllable_SongEnd` ends the song (as does the `syllables`-th, when the caller knows
    how many the song has: a tokenizer from before that token), one whose text ends in punctuation ends a
    line; the ratio applies until its note has a pitch. Use one instance per `generate` call."""

    def __init__(
        self, tokenizer: CadenzaTokenizer, model: CadenceModel, key: Key, syllables: int | None = None
    ) -> None:
        self.syllables = syllables
        vocab_size = len(tokenizer)
        ratios = {point: model.log_ratio(key[1], point) for point in POINTS}
        # Per point, the bias of every id: its Pitch part's degree's ratio, 0 for ids without a pitch.
        degree = torch.full((vocab_size,), -1, dtype=torch.long)
        for i in range(vocab_size):
            pitches = [int(tokenizer.value(p)) for p in tokenizer.parts(i) if tokenizer.kind(p) == "Pitch"]
            if pitches:
                degree[i] = (pitches[0] - key[0]) % 12
        self.pitched = degree >= 0
        self.bias = {}
        for point, ratio in ratios.items():
            self.bias[point] = torch.zeros(vocab_size)
            self.bias[point][self.pitched] = torch.as_tensor(ratio, dtype=torch.float32)[degree[self.pitched]]
        self.first_char = tokenizer.vocab[f"{CHAR_PREFIX}00"]
        self.closers = {tokenizer.vocab[t] for t in SYLLABLE_ENDS if t in tokenizer.vocab}
        self.song_end = tokenizer.vocab.get(SONG_END_TOKEN)
        self.melisma = tokenizer.vocab[MELISMA_TOKEN]
        self.rows: list[dict] = []
        self.seen = 0

    def _read(self, row: dict, token: int) -> None:
        if self.first_char <= token < self.first_char + 256:
            row["bytes"].append(token - self.first_char)
        elif token in self.closers:
            row["sung"] += 1
            last = token == self.song_end or row["sung"] == self.syllables
            row["point"] = (
                "song" if last else ("line" if ends_line(row["bytes"].decode("utf-8", "replace")) else None)
            )
            row["bytes"] = bytearray()
        elif token == self.melisma or (token < len(self.pitched) and self.pitched[token]):
            row["point"] = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self.rows:
            self.rows = [{"bytes": bytearray(), "point": None, "sung": 0} for _ in range(input_ids.shape[0])]
        for row, tokens in zip(self.rows, input_ids[:, self.seen :].tolist(), strict=True):
            for token in tokens:
                self._read(row, token)
        self.seen = input_ids.shape[1]
        if not any(row["point"] for row in self.rows):
            return scores
        scores = scores.clone()
        for i, row in enumerate(self.rows):
            if row["point"]:
                bias = self.bias[row["point"]][: scores.shape[-1]].to(scores.device, scores.dtype)
                scores[i, : len(bias)] += bias
        return scores


@dataclass
class CadenceArgs:
    corpus: str = field(default=EMBEDDED_CORPUS, metadata={"help": "the corpus whose melodies end songs"})
    songs: str = field(default=SONGS_CORPUS, metadata={"help": "the texted songs, whose lines end"})
    out: str = field(
        default=str(Path(SONGS_ADAPTER) / CADENCE_FILE), metadata={"help": "the cadence model's .json"}
    )


def run_cadence(args: CadenceArgs) -> None:
    from cadenza.data.corpus import load_corpus

    melodies, songs = load_corpus(args.corpus)["train"], load_corpus(args.songs)["train"]
    model = fit_cadence(list(melodies), list(songs))
    model.save(args.out)
    for mode in ("major", "minor"):
        lines, ends = (sum(model.counts[mode][p]) for p in POINTS)
        print(
            f"{mode}: {ends:,} melodies end on the tonic {model.share(mode, 'song', (0,)):.0%}; "
            f"{lines:,} lines end on 1, 3 or 5 {model.share(mode, 'line', stable_degrees(mode)):.0%}"
        )
    print(f"cadence model saved to {args.out}")
