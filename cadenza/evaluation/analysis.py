"""A learner's view of a piece: its keys, a Roman numeral per beat, its cadences and its voice-leading
faults, each at a bar and beat. music21 does the theory; this module only walks the score and names what
it finds.

- **Keys:** music21's key analysis of the whole piece, and per bar its floating-key analysis
  (`analysis.floatingKey.KeyAnalyzer`, windowed over neighbouring bars): a change is a bar whose key
  differs from the bar before.
- **Chords** (two voices or more): at every beat, the pitches sounding in all parts as one chord, named
  by `roman.romanNumeralFromChord` in that bar's key ("V6", "ii6/5"), and by its common name where it is
  no triad or seventh chord (non-functional harmony: "quartal trichord", a bare fifth).
- **Phrases and cadences:** a phrase ends at a fermata in any part, where every part rests, and at the
  last note (`phrase_ends`); at each end, the cadence:
  authentic (V or vii° to I), half (ending on V), plagal (IV to I), deceptive (V to vi). A single line's
  cadence is read from its last note: on the tonic, authentic; on the fifth or the second, half.
- **Faults** (`FAULT_KINDS`), between consecutive onsets of any part (`voiceLeading.VoiceLeadingQuartet`):
  parallel fifths and octaves (unisons too; not by contrary motion), voice crossing (a part below the one
  under it), voice overlap (a part moving past where its neighbour just was), ranges exceeded
  (`SATB_RANGES`, for parts named or numbered as a chorale's four), and an unresolved leading tone (the
  top voice on the leading tone of a dominant chord that goes to the tonic, not rising to the tonic).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import combinations

from cadenza.errors import CadenzaError

FAULT_KINDS = (
    "parallel fifths", "parallel octaves", "voice crossing", "voice overlap", "range",
    "unresolved leading tone",
)  # fmt: skip
# A chorale's voices (music21 pitch names, inclusive): the textbook ranges.
SATB_RANGES = {"soprano": ("C4", "G5"), "alto": ("G3", "D5"), "tenor": ("C3", "G4"), "bass": ("E2", "C4")}
KEY_WINDOW = 4  # bars the floating-key analysis looks across


@dataclass(frozen=True)
class Label:
    bar: int
    beat: float
    offset: float  # quarter notes from the start: bar numbers repeat where a repeat sign splits a bar
    key: str  # "G major"
    numeral: str  # "V6", or the chord's common name where it is not tertian
    chord: str  # music21's pitched common name: "D-major triad"
    root: str  # the chord's root: "D"
    quality: str  # its triad's: major, minor, diminished, augmented (or other)


@dataclass(frozen=True)
class Cadence:
    bar: int
    beat: float
    offset: float
    kind: str  # authentic, half, plagal, deceptive
    key: str


@dataclass(frozen=True)
class Fault:
    bar: int
    beat: float
    offset: float
    kind: str  # one of FAULT_KINDS
    voices: tuple[str, ...]
    detail: str


@dataclass
class Analysis:
    key: str
    key_changes: list[tuple[int, str]]  # (bar, key) where a new key starts; the first bar's included
    labels: list[Label] = field(default_factory=list)
    cadences: list[Cadence] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    steps: int = 0  # voice-leading steps examined: a pair of voices, both sounding, one moving
    phrases: list[tuple[int, int]] = field(default_factory=list)  # (first bar, last bar) of each

    def as_dict(self) -> dict:
        return asdict(self)


def _sounding(notes, offset: float):
    """The note (or chord) of a flat part sounding at `offset`, None in a rest."""
    element = notes.getElementAtOrBefore(offset)
    if element is None or element.offset + element.quarterLength <= offset:
        return None
    return element


def _top(element):
    """A note's pitch; a chord's highest."""
    return max(element.pitches) if element is not None else None


@dataclass(frozen=True)
class _Bar:
    number: int
    offset: float  # in the part
    beat: float  # quarter notes a beat
    length: float  # quarter notes written in the bar (a pickup's fewer)
    start: float  # a pickup's missing quarter notes: its first beat is this far in


class _Timeline:
    """Where an offset is (bar and beat), read once from the first part's measures."""

    def __init__(self, part) -> None:
        from music21 import stream

        self.bars = []
        for measure in part.getElementsByClass(stream.Measure):
            signature = measure.getContextByClass("TimeSignature")
            beat = float(signature.beatDuration.quarterLength) if signature is not None else 1.0
            offset = float(measure.getOffsetBySite(part))
            length = float(measure.duration.quarterLength)
            self.bars.append(_Bar(measure.number, offset, beat, length, float(measure.paddingLeft)))

    def bar_at(self, offset: float) -> _Bar:
        return next((b for b in reversed(self.bars) if b.offset <= offset + 1e-6), self.bars[0])

    def place(self, offset: float) -> tuple[int, float, float]:
        """(bar number, beat from 1, the offset itself)."""
        bar = self.bar_at(offset)
        return bar.number, round(1 + (offset - bar.offset + bar.start) / bar.beat, 3), float(offset)

    def beats(self) -> list[tuple[float, float]]:
        """Every beat's (offset, length in quarter notes), bar by bar (a pickup's from where it starts)."""
        out = []
        for bar in self.bars:
            first = -(-bar.start // bar.beat) * bar.beat - bar.start  # the first whole beat in the bar
            count = int((bar.length - first) / bar.beat + 1e-6)
            out += [(bar.offset + first + i * bar.beat, bar.beat) for i in range(max(count, 0))]
        return out


def analyse(score) -> Analysis:
    """The analysis of a music21 score (see the module). Raises CadenzaError for a score without notes."""
    from music21 import analysis as m21analysis

    parts = [part for part in score.parts if part.flatten().notes]
    if not parts:
        raise CadenzaError("the piece has no notes to analyse")
    timeline = _Timeline(parts[0])
    whole = score.analyze("key")
    analyser = m21analysis.floatingKey.KeyAnalyzer(score)
    analyser.windowSize = KEY_WINDOW
    bar_keys = {b.number: k for b, k in zip(timeline.bars, analyser.run(), strict=False)}
    key_at = lambda offset: bar_keys.get(timeline.bar_at(offset).number, whole)  # noqa: E731
    changes, previous = [], None
    for number, k in bar_keys.items():
        if str(k) != previous:
            changes.append((number, _key_name(k)))
            previous = str(k)
    result = Analysis(_key_name(whole), changes)
    flats = [part.flatten().notes.stream() for part in parts]
    names = [part_name(part, i, len(parts)) for i, part in enumerate(parts)]
    if len(parts) >= 2:
        result.labels = _labels(flats, timeline, key_at)
        faults, result.steps = _faults(flats, names, timeline)
        faults += _leading_tones(flats, result.labels, timeline, key_at)
        result.faults = sorted(faults, key=lambda f: (f.offset, f.kind))
    ends = phrase_ends(flats)
    result.cadences = _cadences(ends, flats, result.labels, timeline, key_at)
    result.phrases = _phrases(ends, timeline)
    return result


def _key_name(k) -> str:
    return f"{k.tonic.name.replace('-', 'b')} {k.mode}"


def part_name(part, index: int, count: int) -> str:
    """A part's name as faults name it: its own, else a chorale's four by order, else "voice N"."""
    name = (part.partName or "").strip()
    if not name and count == 4:
        name = ("Soprano", "Alto", "Tenor", "Bass")[index]
    return name or f"voice {index + 1}"


def _labels(flats, timeline: _Timeline, key_at) -> list[Label]:
    """A label per beat with 2+ pitch classes sounding (see `_beat_chord`)."""
    from music21 import roman

    labels = []
    for offset, beat in timeline.beats():
        sounding = _beat_chord(flats, offset, beat)
        if sounding is None:
            continue
        k = key_at(offset)
        numeral = (
            roman.romanNumeralFromChord(sounding, k).figure if _tertian(sounding) else sounding.commonName
        )
        root = sounding.root()
        labels.append(
            Label(*timeline.place(offset), _key_name(k), numeral, sounding.pitchedCommonName,
                  root.name.replace("-", "b"), sounding.quality)
        )  # fmt: skip
    return labels


def _beat_chord(flats, offset: float, beat: float):
    """The beat's harmony: of the sonorities at its start and at each quarter of it, the first that is a
    triad or seventh chord, else the first tertian one (an incomplete chord: a third, a triad without its
    fifth), else the one at its start: a passing or neighbour note on the beat resolves inside it. Each
    sonority is its bass and one of each other pitch name (doublings do not change a chord, and music21
    spells every doubling into the figure). None with fewer than two pitch classes sounding."""
    from music21 import chord

    candidates = []
    for at in (offset + beat * i / 4 for i in range(4)):
        pitches = sorted(p for notes in flats if (e := _sounding(notes, at)) is not None for p in e.pitches)
        if len({p.pitchClass for p in pitches}) < 2:
            continue
        above = {p.name: p for p in reversed(pitches[1:]) if p.name != pitches[0].name}
        candidates.append(chord.Chord([pitches[0], *above.values()]))
    complete = [c for c in candidates if c.isTriad() or c.isSeventh()]
    return (complete or [c for c in candidates if _tertian(c)] or candidates or [None])[0]


def _tertian(sounding) -> bool:
    """A triad, a seventh chord, or part of one: stacked thirds (a bare third or sixth, a triad without its
    fifth, a seventh chord without its fifth)."""
    if sounding.isTriad() or sounding.isSeventh():
        return True
    classes = sorted({p.pitchClass for p in sounding.pitches})
    if len(classes) == 2:
        return (classes[1] - classes[0]) % 12 in (3, 4, 8, 9)
    return sounding.commonName.startswith("incomplete")


def _onsets(flats) -> list[float]:
    return sorted({float(n.offset) for notes in flats for n in notes})


def _faults(flats, names: list[str], timeline: _Timeline) -> tuple[list[Fault], int]:
    """Parallels, crossings, overlaps between consecutive onsets; ranges of a chorale's voices; and the
    voice-leading steps examined."""
    from music21 import voiceLeading

    faults, steps = [], 0
    onsets = _onsets(flats)
    for before, after in zip(onsets, onsets[1:], strict=False):
        tops = [(_top(_sounding(n, before)), _top(_sounding(n, after))) for n in flats]
        for (i, (a0, a1)), (j, (b0, b1)) in combinations(enumerate(tops), 2):
            if None in (a0, a1, b0, b1) or (a0 == a1 and b0 == b1):
                continue
            quartet, steps = voiceLeading.VoiceLeadingQuartet(a0, a1, b0, b1), steps + 1
            where, voices = timeline.place(after), (names[i], names[j])
            motion = f"{a0.nameWithOctave}-{b0.nameWithOctave} to {a1.nameWithOctave}-{b1.nameWithOctave}"
            # music21 reads the intervals as simple ones: fifths or octaves by contrary motion (E4-E3 to
            # B4-B2) are no parallels
            if quartet.parallelFifth() and not quartet.contraryMotion():
                faults.append(Fault(*where, "parallel fifths", voices, motion))
            elif quartet.parallelUnisonOrOctave() and not quartet.contraryMotion():
                faults.append(Fault(*where, "parallel octaves", voices, motion))
            if j == i + 1 and a1 < b1:
                faults.append(Fault(*where, "voice crossing", voices, f"{names[j]} above {names[i]}"))
            elif j == i + 1 and quartet.voiceOverlap():
                faults.append(Fault(*where, "voice overlap", voices, f"{motion}: past where the other was"))
    return faults + _ranges(flats, names, timeline), steps


def _ranges(flats, names: list[str], timeline: _Timeline) -> list[Fault]:
    """Notes of a chorale's voice (named, or one of four unnamed) outside its range (`SATB_RANGES`)."""
    from music21 import pitch

    faults = []
    for name, notes in zip(names, flats, strict=True):
        if name.lower() not in SATB_RANGES:
            continue
        low, high = SATB_RANGES[name.lower()]
        lowest, highest = pitch.Pitch(low), pitch.Pitch(high)
        for n in notes:
            if any(p < lowest or p > highest for p in n.pitches):
                detail = f"{n.pitches[0].nameWithOctave} outside {low}-{high}"
                faults.append(Fault(*timeline.place(float(n.offset)), "range", (name,), detail))
    return faults


def _leading_tones(flats, labels: list[Label], timeline: _Timeline, key_at) -> list[Fault]:
    """The top voice on the leading tone of a dominant that goes to the tonic, not rising to the tonic."""
    faults = []
    for this, following in zip(labels, labels[1:], strict=False):
        if not (_degree(this.numeral) in (5, 7) and _degree(following.numeral) == 1):
            continue
        k = key_at(this.offset)
        top = _top(_sounding(flats[0], this.offset))
        next_top = _top(_sounding(flats[0], following.offset))
        if top is None or next_top is None or top.pitchClass != k.getLeadingTone().pitchClass:
            continue
        if next_top.pitchClass != k.tonic.pitchClass:
            detail = f"{top.nameWithOctave} goes to {next_top.nameWithOctave}"
            where = (this.bar, this.beat, this.offset)
            faults.append(Fault(*where, "unresolved leading tone", ("top voice",), detail))
    return faults


def _degree(numeral: str) -> int | None:
    """The scale degree of a Roman numeral's root ("V6" -> 5, "viio7" -> 7); None for a chord name."""
    from music21 import roman

    try:
        return roman.RomanNumeral(numeral.split("/")[0]).scaleDegree if "/" not in numeral else None
    except Exception:  # a common name such as "quartal trichord" is no numeral
        return None


def phrase_ends(flats) -> list[float]:
    """Where phrases end (the onset of each one's last note): a fermata in any part, a note after which the
    whole texture rests, and the last note."""
    from music21 import expressions

    notes = [n for part in flats for n in part]
    ends = {float(n.offset) for n in notes if any(isinstance(e, expressions.Fermata) for e in n.expressions)}
    finishes = sorted({float(n.offset + n.quarterLength) for n in notes})
    for finish in finishes:
        sounding = any(n.offset <= finish < n.offset + n.quarterLength for n in notes)
        if not sounding and finish < finishes[-1]:  # silence of every part before the music goes on
            ends.add(max(float(n.offset) for n in notes if n.offset + n.quarterLength <= finish))
    ends.add(max(float(n.offset) for n in notes))
    return sorted(ends)


def _phrases(ends: list[float], timeline: _Timeline) -> list[tuple[int, int]]:
    """(first bar, last bar) of each phrase, from the phrase ends."""
    phrases, start = [], timeline.bars[0].number
    for end in ends:
        bar = timeline.place(end)[0]
        phrases.append((start, bar))
        start = timeline.place(timeline.bar_at(end).offset + timeline.bar_at(end).length + 1e-3)[0]
    return phrases


def _cadences(ends: list[float], flats, labels: list[Label], timeline: _Timeline, key_at) -> list[Cadence]:
    """The cadence at each phrase end (`phrase_ends`) that makes one."""
    cadences = []
    for offset in ends:
        where = timeline.place(offset)
        k = key_at(offset)
        if labels:
            here = [lab for lab in labels if lab.offset <= offset]
            if len(here) < 2:
                continue
            kind = _cadence_kind(_degree(here[-2].numeral), _degree(here[-1].numeral))
        else:
            top = _top(_sounding(flats[0], offset))
            degree = k.getScaleDegreeFromPitch(top) if top is not None else None
            kind = {1: "authentic", 5: "half", 2: "half"}.get(degree)
        if kind is not None:
            cadences.append(Cadence(*where, kind, _key_name(k)))
    return cadences


def _cadence_kind(before: int | None, end: int | None) -> str | None:
    """A cadence's name from the scale degrees of its last two chords' roots."""
    if end == 1 and before in (5, 7):
        return "authentic"
    if end == 1 and before == 4:
        return "plagal"
    if end == 6 and before == 5:
        return "deceptive"
    if end == 5:
        return "half"
    return None
