"""Lyrics to melody on held-out songs: the lyrics adapter against an n-gram and a random melody.

    python benchmarks/songs.py --adapter adapters/songs --corpus build/corpus/songs [--split test]
        [--syllables 32] [--seed 0] [--voice 1] [--out docs/songs-benchmark.md]

For each song of the split (chorales, madrigal voices, trecento voices the base corpus held out), its
first `--syllables` syllables as it sings them are set again, melismas allowed (the songs have them), by
- the lyrics adapter (`Singer`),
- the n-gram baseline (order 4: five of 4,259 ids do not pack into 64 bits; fitted on the song
  corpus's train split, same tokens, grammar and forced
  syllables: `evaluation.generators.fit_ngram_singer`),
- a random melody: one note per syllable, each pitch drawn uniformly from the song's own range and each
  duration from the song's own note lengths,
and scored against the song's own melody up to that syllable's last note with SongMASS's metrics
(`evaluation.melody`): PD, DD (%, higher is closer) and MD (lower is closer); syllable alignment (the
generated notes carry exactly the syllables, in order); and the share of word-initial syllables on
strong beats beside the song's own share. With `--voice 1` each system is asked for the song's voice
(soprano, alto, tenor or bass: the range that holds most of its notes), as the random melody is given
the song's range; PD compares absolute pitches, so a melody an octave off scores as a different one.
Prints a markdown table (and writes it to `--out`).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import symusic

from cadenza.data.corpus import load_corpus
from cadenza.data.streams import song_syllables
from cadenza.data.syllables import Syllable
from cadenza.errors import CadenzaError
from cadenza.evaluation.generators import fit_ngram_singer
from cadenza.evaluation.melody import Melody, melody_from_score, song_metrics, strong_beat_share
from cadenza.inference.request import Request
from cadenza.inference.songs import VOICE_RANGES, Singer


def word_initial(items: list[tuple[str, bool] | None]) -> list[bool]:
    """Per note: does a word start on it (a syllable after a word's end, or the first)."""
    flags, word_start = [], True
    for item in items:
        flags.append(item is not None and word_start)
        word_start = item[1] if item is not None else word_start
    return flags


def excerpt(score: symusic.Score, syllables: int) -> tuple[Melody, list[Syllable], list[bool]]:
    """The song's melody up to its `syllables`-th syllable's last note, those syllables, and per note
    whether a word starts on it."""
    melody, items = melody_from_score(score), song_syllables(score)
    starts = [i for i, item in enumerate(items) if item is not None]
    end = starts[syllables] if len(starts) > syllables else len(items)
    kept = items[:end]
    return melody[:end], [Syllable(*item) for item in kept if item is not None], word_initial(kept)


def random_melody(reference: Melody, syllables: int, rng: random.Random) -> Melody:
    low, high = min(p for _, _, p in reference), max(p for _, _, p in reference)
    lengths = [d for _, d, _ in reference]
    out, onset = [], 0.0
    for _ in range(syllables):
        duration = rng.choice(lengths)
        out.append((onset, duration, rng.randint(low, high)))
        onset += duration
    return out


def song_voice(reference: Melody) -> str:
    """The choral voice whose range holds most of the song's notes (ties: the nearest middle): the voice
    a user would ask for to sing this song, as the random melody is given its range."""
    pitches = [p for _, _, p in reference]
    middle = (min(pitches) + max(pitches)) / 2

    def fit(voice: str) -> tuple[int, float]:
        low, high = VOICE_RANGES[voice]
        return sum(low <= p <= high for p in pitches), -abs(middle - (low + high) / 2)

    return max(VOICE_RANGES, key=fit)


def nan_mean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def beats_per_bar(score: symusic.Score) -> int:
    signature = score.time_signatures[0] if len(score.time_signatures) else None
    return int(signature.numerator * 4 / signature.denominator) if signature else 4


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--adapter", default="adapters/songs")
    parser.add_argument("--corpus", default="build/corpus/songs")
    parser.add_argument("--split", default="test")
    parser.add_argument("--syllables", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--voice", type=int, default=1, help="1: ask each system for the song's voice (song_voice); 0: don't"
    )
    return parser.parse_args()


@dataclass
class Tally:
    """Per system: (melody, reference) pairs, songs whose syllables came back in order, and the share of
    word starts on strong beats of each song."""

    pairs: dict[str, list] = field(default_factory=dict)
    aligned: dict[str, int] = field(default_factory=dict)
    strong: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, melody: list, reference: list, aligned: bool, strong: float) -> None:
        self.pairs.setdefault(name, []).append((melody, reference))
        self.aligned[name] = self.aligned.get(name, 0) + aligned
        self.strong.setdefault(name, []).append(strong)


def sing_one(systems: dict, row: dict, seed: int, args: argparse.Namespace, tally: Tally, rng) -> int:
    """Each system (and a random melody) sings the opening syllables of one held-out song; returns how
    many syllables that was."""
    score = symusic.Score.from_midi(row["midi"])
    reference, syllables, flags = excerpt(score, args.syllables)
    meter = beats_per_bar(score)
    tally.strong.setdefault("the songs themselves", []).append(strong_beat_share(reference, flags, meter))
    for name, system in systems.items():
        try:
            piece = system.sing_syllables(
                syllables, Request(row["style"], key=row["key"], seed=seed), melisma=True,
                voice=song_voice(reference) if args.voice else None,
            )  # fmt: skip
        except CadenzaError:  # its melismas filled the context first: scored as an empty melody
            tally.add(name, [], reference, False, math.nan)
            continue
        melody, items = melody_from_score(piece.score), song_syllables(piece.score)
        in_order = [Syllable(*i) for i in items if i is not None] == syllables
        tally.add(name, melody, reference, in_order, strong_beat_share(melody, word_initial(items), meter))
    guess = random_melody(reference, len(syllables), rng)
    sung = word_initial([(s.text, s.word_end) for s in syllables])
    # one note per syllable by construction
    tally.add("random melody", guess, reference, True, strong_beat_share(guess, sung, meter))
    return len(syllables)


def main() -> None:
    args = parse_args()
    corpus = load_corpus(args.corpus)
    singer = Singer.from_adapter(args.adapter)
    systems = {"lyrics adapter": singer, "4-gram": fit_ngram_singer(args.adapter, corpus, 4)}
    rng = random.Random(args.seed)
    tally = Tally()
    started = time.time()
    rows = list(corpus[args.split])
    total = 0
    for index, row in enumerate(rows):
        total += sing_one(systems, row, args.seed + index, args, tally, rng)
        print(f"\r{index + 1}/{len(rows)} songs, {time.time() - started:.0f} s", end="", flush=True)
    print()
    asked = "each system asked for the song's voice (`song_voice`)" if args.voice else "no voice asked"
    lines = [
        f"Held-out `{args.split}` songs of `{args.corpus}`: {len(rows)} songs, the first {args.syllables} "
        f"syllables of each ({total} in all), seed {args.seed}, {asked}, {time.time() - started:.0f} s.",
        "",
        "| system | PD % | DD % | MD | syllables aligned | word starts on strong beats |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, scored in tally.pairs.items():
        m = song_metrics(scored)
        shown = f"{m['PD']:.1f} | {m['DD']:.1f} | {m['MD']:.2f}"
        strong = nan_mean(tally.strong[name])
        lines.append(f"| {name} | {shown} | {tally.aligned[name]}/{len(rows)} | {strong:.0%} |")
    lines.append(
        f"| the songs themselves | 100 | 100 | 0 | | {nan_mean(tally.strong['the songs themselves']):.0%} |"
    )
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
