"""Lyrics to melody on held-out songs: the lyrics adapter against an n-gram and a random melody.

    python benchmarks/songs.py --adapter adapters/songs --corpus build/corpus/songs [--split test]
        [--syllables 20] [--seed 0] [--voice 1] [--out docs/songs-benchmark.md]

For each song of the split (chorales, madrigal voices, trecento voices the base corpus held out), its
first `--syllables` syllables as it sings them are set again, melismas allowed (the songs have them), by
- the lyrics adapter (`Singer`),
- the n-gram baseline (order 4: five of 4,259 ids do not pack into 64 bits; fitted on the song
  corpus's train split, same tokens, grammar and forced
  syllables: `evaluation.generators.fit_ngram_singer`),
- a random melody: one note per syllable, each pitch drawn uniformly from the song's own range and each
  duration from the song's own note lengths,
and scored against the song's own melody up to that syllable's last note (`evaluation.melody`) by two
protocols, side by side because the same melodies get different numbers from each:
- SongMASS's PD, DD (%, higher is closer) and MD (lower is closer), as microsoft/muzic
  `songmass/evaluate/evaluate_histo.py` and `evaluate_timeseries.py` compute them;
- TeleMelody's PD and DD (%), as microsoft/muzic `telemelody/evaluation/cal_similarity.py` (and ReLyMe's
  copy, `relyme/songmass_zh/score/pd_dd.py`) compute them, the script behind TeleMelody's and ReLyMe's
  published figures: pitches below middle C and above B5 octave-folded, rests not counted, durations per
  syllable (from each melody's own lyric events) in multiples of the melody's shortest syllable; both
  melodies first moved from the song's own key to C major or A minor, as TeleMelody's data pipeline
  unifies tonality before it trains and scores (`melody.unified_shift`). Its script skips a song it
  cannot read (an empty melody); a note under the table says when that happened;
and beside them syllable alignment (the generated notes carry exactly the syllables, in order) and the
share of word-initial syllables on strong beats, of lines ending on a held syllable, and (each song of at
most 60 syllables sung whole) of songs ending on the tonic. Two rows are computed as a ceiling: the song's own
excerpt against itself, and the same excerpt transposed up a perfect fourth (+5 semitones: a fixed
interval, so the row is reproducible, and a move to a closely related key, keeping six of the seven
scale tones) against the original: what each script makes of a melody that is right but in another key. With
`--voice 1` each system is asked for the song's voice (soprano, alto, tenor or bass: the range that
holds most of its notes), as the random melody is given the song's range; every system is asked for the
song's own key and meter. Both PDs compare absolute pitches (TeleMelody's folds only those below middle C or
above B5), so a melody an octave off scores as a different one. Prints a markdown table (and writes it
to `--out`).
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
from cadenza.data.syllables import Syllable, ends_line
from cadenza.errors import CadenzaError
from cadenza.evaluation.generators import fit_ngram_singer
from cadenza.evaluation.melody import (
    Melody,
    ends_on,
    line_end_degree_share,
    line_end_long_share,
    melody_from_score,
    song_metrics,
    strong_beat_share,
    transposed,
    unified_shift,
)
from cadenza.inference.cadence import CADENCE_FILE, stable_degrees
from cadenza.inference.request import Request
from cadenza.inference.rhythm import RHYTHM_FILE
from cadenza.inference.songs import MAX_SYLLABLES, VOICE_RANGES, Singer
from cadenza.keys import Key, annotated_key

TRANSPOSITION = 5  # semitones: the ceiling row's song is sung a perfect fourth up
CEILINGS = ("the song itself, transposed", "the songs themselves")
SHARES = ("word starts on strong beats", "line ends held", "line ends on 1, 3 or 5")  # per song, `shares`


def word_initial(items: list[tuple[str, bool] | None]) -> list[bool]:
    """Per note: does a word start on it (a syllable after a word's end, or the first)."""
    flags, word_start = [], True
    for item in items:
        flags.append(item is not None and word_start)
        word_start = item[1] if item is not None else word_start
    return flags


def syllable_starts(items: list[tuple[str, bool] | None]) -> list[bool]:
    """Per note: does a syllable start on it (the note carries a lyric; a melisma's notes do not)."""
    return [item is not None for item in items]


def shares(melody: Melody, items: list[tuple[str, bool] | None], meter: int, key: Key) -> dict[str, float]:
    """A sung melody's shares of word starts on strong beats, of lines ending on a held syllable and of
    lines ending on the key's tonic triad."""
    line_ends = [item is not None and ends_line(item[0]) for item in items]
    starts = syllable_starts(items)
    triad = {(key[0] + degree) % 12 for degree in stable_degrees(key[1])}
    values = (
        strong_beat_share(melody, word_initial(items), meter),
        line_end_long_share(melody, starts, line_ends),
        line_end_degree_share(melody, starts, line_ends, triad),
    )
    return dict(zip(SHARES, values, strict=True))


def excerpt(
    score: symusic.Score, syllables: int
) -> tuple[Melody, list[Syllable], list[tuple[str, bool] | None]]:
    """The song's melody up to its `syllables`-th syllable's last note, those syllables, and per note its
    lyric item (`song_syllables`: None on a melisma's note)."""
    melody, items = melody_from_score(score), song_syllables(score)
    starts = [i for i, item in enumerate(items) if item is not None]
    end = starts[syllables] if len(starts) > syllables else len(items)
    kept = items[:end]
    return melody[:end], [Syllable(*item) for item in kept if item is not None], kept


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


def meter_of(score: symusic.Score) -> str:
    """The song's first meter, as a request asks for it ("3/4"); 4/4 when it has none."""
    signature = score.time_signatures[0] if len(score.time_signatures) else None
    return f"{signature.numerator}/{signature.denominator}" if signature else "4/4"


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
    parser.add_argument("--syllables", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--voice", type=int, default=1, help="1: ask each system for the song's voice (song_voice); 0: don't"
    )
    return parser.parse_args()


@dataclass
class Tally:
    """Per system: (melody, reference) pairs and their syllable starts (None: one syllable per note), the
    (generated, reference) moves to C major or A minor, each from its own key (`unified_shift`), songs
    whose syllables came back in order, and each song's `shares`."""

    pairs: dict[str, list] = field(default_factory=dict)
    starts: dict[str, list] = field(default_factory=dict)
    shifts: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    aligned: dict[str, int] = field(default_factory=dict)
    shares: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def add(self, name: str, sung: tuple, reference: Melody, aligned: bool, song_shares: dict) -> None:
        """`sung`: (melody, its syllable starts, its shift, the reference's syllable starts and shift)."""
        melody, starts, shift, reference_starts, reference_shift = sung
        self.pairs.setdefault(name, []).append((melody, reference))
        self.starts.setdefault(name, []).append((starts, reference_starts))
        self.shifts.setdefault(name, []).append((shift, reference_shift))
        self.aligned[name] = self.aligned.get(name, 0) + aligned
        self.shares.setdefault(name, []).append(song_shares)


def sing_all(
    systems: dict, syllables: list[Syllable], row: dict, score: symusic.Score, reference: Melody, seed: int,
    voice: bool,
) -> dict:  # fmt: skip
    """Each system's piece for `syllables`, asked for the song's key and meter and (with `voice`) the voice
    of `reference`, the melody they were sung on; None where it could not finish (its melismas filled the
    context, or a meter it has no token for)."""
    request = Request(row["style"], key=row["key"], time_signature=meter_of(score), seed=seed)
    asked = song_voice(reference) if voice else None
    pieces = {}
    for name, (system, melisma) in systems.items():
        try:
            pieces[name] = system.sing_syllables(
                syllables, request, melisma=melisma, voice=asked, language=row["language"]
            )
        except CadenzaError:
            pieces[name] = None
    return pieces


def sing_one(systems: dict, row: dict, seed: int, args: argparse.Namespace, tally: Tally, rng) -> int:
    """Each system (and a random melody) sings the opening syllables of one held-out song; returns how
    many syllables that was."""
    score = symusic.Score.from_midi(row["midi"])
    reference, syllables, kept = excerpt(score, args.syllables)
    meter, starts = beats_per_bar(score), syllable_starts(kept)
    tonic, mode = key = annotated_key(row["key"])
    shift = unified_shift(tonic, mode)  # every system is asked for the song's key
    for name, piece in sing_all(systems, syllables, row, score, reference, seed, args.voice).items():
        if piece is None:  # scored as an empty melody
            tally.add(name, ([], [], shift, starts, shift), reference, False, dict.fromkeys(SHARES, math.nan))
            continue
        melody, items = melody_from_score(piece.score), song_syllables(piece.score)
        in_order = [Syllable(*i) for i in items if i is not None] == syllables
        sung = (melody, syllable_starts(items), shift, starts, shift)
        tally.add(name, sung, reference, in_order, shares(melody, items, meter, key))
    guess = random_melody(reference, len(syllables), rng)  # one note per syllable: starts None
    one_each = shares(guess, [(s.text, s.word_end) for s in syllables], meter, key)
    tally.add("random melody", (guess, None, shift, starts, shift), reference, True, one_each)
    own = shares(reference, kept, meter, key)
    moved = unified_shift((tonic + TRANSPOSITION) % 12, mode)  # in its own key, a fourth up
    tally.add(
        CEILINGS[0],
        (transposed(reference, TRANSPOSITION), starts, moved, starts, shift),
        reference,
        True,
        own,
    )
    tally.add(CEILINGS[1], (reference, starts, shift, starts, shift), reference, True, own)
    return len(syllables)


def tonic_endings(systems: dict, rows: list[dict], args: argparse.Namespace, rng) -> dict[str, float]:
    """Per system (and the random melody, and the songs themselves), the share of the whole held-out songs
    (those of at most `MAX_SYLLABLES` syllables) whose melody ends on the tonic of the song's key, each
    sung as `sing_one` asks; a song a system could not finish counts as not ending there."""
    whole = [row for row in rows if row["syllables"] <= MAX_SYLLABLES]
    hits: dict[str, list[bool]] = {}
    for index, row in enumerate(whole):
        score = symusic.Score.from_midi(row["midi"])
        reference, syllables, _ = excerpt(score, MAX_SYLLABLES)
        tonic = annotated_key(row["key"])[0]
        for name, piece in sing_all(
            systems, syllables, row, score, reference, args.seed + index, args.voice
        ).items():
            hits.setdefault(name, []).append(
                piece is not None and ends_on(melody_from_score(piece.score), tonic)
            )
        guess = random_melody(reference, len(syllables), rng)
        hits.setdefault("random melody", []).append(ends_on(guess, tonic))
        for ceiling in CEILINGS[1:]:
            hits.setdefault(ceiling, []).append(ends_on(reference, tonic))
        print(f"\rwhole songs: {index + 1}/{len(whole)}", end="", flush=True)
    print()
    return {name: sum(found) / len(found) for name, found in hits.items()} | {"songs": len(whole)}


def main() -> None:
    args = parse_args()
    corpus = load_corpus(args.corpus)
    singer = Singer.from_adapter(args.adapter)
    if singer.rhythm_model is None:
        raise CadenzaError(f"{args.adapter}: no {RHYTHM_FILE}; build it with `cadenza rhythm`")
    if singer.cadence_model is None:
        raise CadenzaError(f"{args.adapter}: no {CADENCE_FILE}; build it with `cadenza cadence`")
    plain = Singer(singer.composer, singer.rhythm_model, cadences=False)
    ngram = fit_ngram_singer(args.adapter, corpus, 4)
    # name -> (singer, melismas allowed): the adapter and the 4-gram write rhythm and pitch together, with
    # melismas as the songs have them; with the rhythm model (one note a syllable) the adapter writes pitch.
    systems = {
        "rhythm model + adapter + cadences": (singer, False),
        "rhythm model + adapter": (plain, False),
        "lyrics adapter": (plain, True),
        "4-gram": (ngram, True),
    }
    rng = random.Random(args.seed)
    tally = Tally()
    started = time.time()
    rows = list(corpus[args.split])
    total = 0
    for index, row in enumerate(rows):
        total += sing_one(systems, row, args.seed + index, args, tally, rng)
        print(f"\r{index + 1}/{len(rows)} songs, {time.time() - started:.0f} s", end="", flush=True)
    print()
    tonic = tonic_endings(systems, rows, args, rng)
    asked = "each system asked for the song's voice (`song_voice`)" if args.voice else "no voice asked"
    lines = [
        f"Held-out `{args.split}` songs of `{args.corpus}`: {len(rows)} songs, the first {args.syllables} "
        f"syllables of each ({total} in all), seed {args.seed}, {asked}; the {tonic['songs']} songs of at "
        f"most {MAX_SYLLABLES} syllables also sung whole for the last column; {time.time() - started:.0f} s.",
        "",
        *table(tally, tonic, len(rows)),
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


def table(tally: Tally, tonic: dict[str, float], songs: int) -> list[str]:
    lines = [
        "| system | PD % (SongMASS) | DD % (SongMASS) | MD | PD % (TeleMelody) | DD % (TeleMelody) "
        f"| syllables aligned | {' | '.join(SHARES)} | whole songs ending on the tonic |",
        "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(SHARES) + "---:|",
    ]
    skipped = []
    for name, scored in tally.pairs.items():
        m = song_metrics(scored, tally.starts[name], tally.shifts[name])
        shown = f"{m['PD']:.1f} | {m['DD']:.1f} | {m['MD']:.2f} | {m['TM_PD']:.1f} | {m['TM_DD']:.1f}"
        aligned = "" if name in CEILINGS else f"{tally.aligned[name]}/{songs}"
        song_shares = [nan_mean([song[k] for song in tally.shares[name]]) for k in SHARES]
        shares = " | ".join(f"{v:.0%}" for v in song_shares)
        ending = f"{tonic[name]:.0%}" if name in tonic else ""
        lines.append(f"| {name} | {shown} | {aligned} | {shares} | {ending} |")
        if m["tm_pd_songs"] < m["songs"] or m["tm_dd_songs"] < m["songs"]:
            skipped.append(f"{name}: PD over {m['tm_pd_songs']:.0f}, DD over {m['tm_dd_songs']:.0f}")
    if skipped:
        lines += ["", f"TeleMelody's script skips songs it cannot read: {'; '.join(skipped)} of {songs}."]
    return lines


if __name__ == "__main__":
    main()
