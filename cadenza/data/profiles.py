"""Style profiles: the instruments a style's pieces use, how many notes one of them starts at once, and
what its voices are called.

A profile is read from the train split of the corpus a model learned from and saved beside the checkpoint
(`style_profiles.json`, written by `cadenza train` and by `cadenza profile` for an older checkpoint).
Generation narrows the grammar with it by default (`RemiGrammar(programs=, max_chord=)`): a small model
learns "four voices, one note each" slowly, and without the profile an under-trained one stacks chords on
a voice and wanders into instruments the style never had. Either limit can be overridden per call, and
`use_profile=False` samples from the model alone (`cadenza evaluate` reports both).

- `programs`: every General MIDI program that at least half the style's pieces use (`PROGRAM_SHARE`), so a
  style writes its own voices: a chorale is Soprano, Alto, Tenor and Bass (the 11% of chorales with an
  instrument part gave v2 a fifth, bass-like voice). A style whose pieces come in several ensembles, none
  in half of them (the trecento's, from two collections), takes its most common ensemble.
- `max_chord`: the fewest notes per (program, onset) that covers `CHORD_COVERAGE` of the style's onsets;
  1 for the embedded corpus' choral and folk styles, whose every voice is a single line.
- `longest`: the note length in quarter notes that covers `LENGTH_COVERAGE` of the style's notes (fiddle
  tunes 2, chorales 4, Palestrina 16): v2 held a reel's note for 24 beats.
- `voices`: per voice slot, the part name and source instrument the style's pieces most often give it
  (from the corpus' `voices` column), so a generated piece's parts are called "Soprano" ... "Bass" and not
  after their slots' programs (`cadenza.inference.render.dress`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import symusic

from cadenza.data.voices import Voice, voices_from_json
from cadenza.errors import InputFileError
from cadenza.paths import BASE_MODEL, EMBEDDED_CORPUS, PROFILE_FILE

PROGRAM_SHARE = 0.5
CHORD_COVERAGE = 0.99
LENGTH_COVERAGE = 0.999


@dataclass
class StyleProfile:
    programs: list[int]
    max_chord: int
    pieces: int
    voices: list[Voice] = field(default_factory=list)  # by slot; empty for a profile written before voices
    longest: float | None = None  # quarter notes; None for a profile written before it


def piece_profile(score: symusic.Score) -> tuple[set[int], Counter, Counter]:
    """(programs of the score's non-drum tracks, how many (track, onset) pairs start k notes, by k, how
    many notes last each length in quarter notes)."""
    programs: set[int] = set()
    chords: Counter = Counter()
    lengths: Counter = Counter()
    for track in score.tracks:
        if track.is_drum or not len(track.notes):
            continue
        programs.add(int(track.program))
        notes = track.notes.numpy()
        _, sizes = np.unique(notes["time"], return_counts=True)
        chords.update(Counter(sizes.tolist()))
        lengths.update(Counter((notes["duration"] / score.ticks_per_quarter).tolist()))
    return programs, chords, lengths


def style_profiles(
    midis: Iterable[bytes], styles: Iterable[str], voices: Iterable[str] | None = None
) -> dict[str, StyleProfile]:
    """One profile per style from pieces given as MIDI bytes, with their voices (`voices_to_json` per
    piece, the corpus' `voices` column) when given."""
    styles = list(styles)  # read twice when voices are given
    named = _style_voices(styles, voices) if voices is not None else {}
    uses: dict[str, Counter] = defaultdict(Counter)
    ensembles: dict[str, Counter] = defaultdict(Counter)
    chords: dict[str, Counter] = defaultdict(Counter)
    lengths: dict[str, Counter] = defaultdict(Counter)
    pieces: Counter = Counter()
    for midi, style in zip(midis, styles, strict=True):
        programs, sizes, durations = piece_profile(symusic.Score.from_midi(midi))
        uses[style].update(programs)
        ensembles[style][tuple(sorted(programs))] += 1
        chords[style].update(sizes)
        lengths[style].update(durations)
        pieces[style] += 1
    return {
        style: StyleProfile(
            programs=sorted(p for p, n in uses[style].items() if n >= PROGRAM_SHARE * pieces[style])
            or list(ensembles[style].most_common(1)[0][0]),
            max_chord=_covering(chords[style], CHORD_COVERAGE),
            pieces=pieces[style],
            voices=named.get(style, []),
            longest=_covering(lengths[style], LENGTH_COVERAGE) if lengths[style] else None,
        )
        for style in sorted(pieces)
    }


def _style_voices(styles: Iterable[str], voices: Iterable[str]) -> dict[str, list[Voice]]:
    """Per style, a Voice for every slot its pieces use, with the part name and the source instrument that
    its pieces give that slot most often (a piece that gives none does not count)."""
    slots: dict[str, set[int]] = defaultdict(set)
    names: dict[tuple[str, int], Counter] = defaultdict(Counter)
    programs: dict[tuple[str, int], Counter] = defaultdict(Counter)
    for style, text in zip(styles, voices, strict=True):
        for voice in voices_from_json(text):
            slots[style].add(voice.slot)
            if voice.name:
                names[style, voice.slot][voice.name] += 1
            if voice.program is not None:
                programs[style, voice.slot][voice.program] += 1
    return {
        style: [
            Voice(slot, _most_common(names[style, slot]) or "", _most_common(programs[style, slot]))
            for slot in sorted(used)
        ]
        for style, used in slots.items()
    }


def _most_common(counts: Counter):
    """The most frequent key (the first seen among equals); None when nothing was counted."""
    return counts.most_common(1)[0][0] if counts else None


def _covering(counts: Counter, share: float) -> int | float:
    """The smallest value at or below which `share` of the counted items lie (a chord size, a length)."""
    total = sum(counts.values())
    covered = 0
    for value in sorted(counts):
        covered += counts[value]
        if covered >= share * total:
            return value
    return 1


def save_profiles(profiles: dict[str, StyleProfile], folder: str | Path) -> Path:
    path = Path(folder) / PROFILE_FILE
    path.write_text(json.dumps({s: asdict(p) for s, p in profiles.items()}, indent=2) + "\n")
    return path


def load_profiles(folder: str | Path) -> dict[str, StyleProfile]:
    """The profiles saved in a checkpoint folder; none (an empty dict) when it has no profile file."""
    path = Path(folder) / PROFILE_FILE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
        return {
            style: StyleProfile(**{**values, "voices": [Voice(**v) for v in values.get("voices", [])]})
            for style, values in raw.items()
        }
    except (ValueError, TypeError, AttributeError) as err:
        raise InputFileError(path, f"not a style profile file ({err})") from err


@dataclass
class ProfileArgs:
    model: str = field(default=BASE_MODEL, metadata={"help": "checkpoint folder to write to"})
    corpus: str = field(default=EMBEDDED_CORPUS, metadata={"help": "corpus the model was trained on"})


def run_profile(args: ProfileArgs) -> dict[str, StyleProfile]:
    from cadenza.checkpoint import require_checkpoint
    from cadenza.data.corpus import load_corpus

    require_checkpoint(args.model)
    train = load_corpus(args.corpus)["train"]
    # A corpus built before voices were recorded has no `voices` column: its profiles name no voices.
    voices = train["voices"] if "voices" in train.column_names else None
    profiles = style_profiles(train["midi"], train["style"], voices)
    path = save_profiles(profiles, args.model)
    for style, profile in profiles.items():
        names = ", ".join(voice.name for voice in profile.voices if voice.name) or "none named"
        print(
            f"{style}: programs {profile.programs}, max chord {profile.max_chord}, longest note "
            f"{profile.longest:g} quarters ({profile.pieces} pieces), voices: {names}"
        )
    print(f"profiles written to {path}")
    return profiles
