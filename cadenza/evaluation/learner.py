"""A learner's view on the score: the analysis of `evaluation.analysis` written where a student looks.

    cadenza analyze chorale.musicxml --out analysis/

- **Reading:** MusicXML, ABC, kern and the other music21 formats are read by music21 as written (fermatas
  and part names kept); a MIDI file (a generated piece) is written as cadenza's MusicXML first
  (`notation.write_musicxml`: parts named, measures equal), then read.
- **The annotated score** (`annotate`): each beat's label as words below the lowest staff (MusicXML
  `<direction placement="below">`, which MuseScore and verovio both show), a key change and a cadence as
  words above the top staff, and every note a fault names coloured by its kind (`COLOURS`).
- **Files** (`write_analysis`): `<name>-analysis.musicxml`, one SVG a page engraved by verovio,
  `<name>-analysis.json` (the whole analysis) and `<name>-analysis.csv` (one row per label, cadence and
  fault, with its bar and beat).
- **The app** (`learner_html`): the engraved pages, a legend of the colours and a list of every cadence and
  fault that links to its bar (the SVG's measures get the ids `bar-N`).
"""

from __future__ import annotations

import csv
import html
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cadenza.errors import InputFileError, one_line
from cadenza.evaluation.analysis import Analysis, analyse, part_name

COLOURS = {
    "parallel fifths": "#d62728", "parallel octaves": "#9467bd", "voice crossing": "#ff7f0e",
    "voice overlap": "#8c564b", "range": "#1f77b4", "unresolved leading tone": "#e377c2",
}  # fmt: skip


def read_score(path: str | Path):
    """A score file as a music21 Score; refused in one line naming the file."""
    import music21

    from cadenza.data.checks import MIDI_SUFFIXES, check_file

    path = Path(path)
    check_file(path)
    try:
        if path.suffix.lower() in MIDI_SUFFIXES:
            import symusic

            from cadenza.inference.notation import write_musicxml

            with tempfile.TemporaryDirectory() as folder:
                written = write_musicxml(symusic.Score(str(path)), Path(folder) / f"{path.stem}.musicxml")
                score = music21.converter.parse(written)
        else:
            score = music21.converter.parse(path)
    except Exception as err:  # music21 and symusic raise many kinds on a bad file
        raise InputFileError(path, f"cannot read it as a score ({one_line(err)})") from None
    if isinstance(score, music21.stream.Opus):
        score = score.scores[0]
    if not score.flatten().notes:
        raise InputFileError(path, "it has no notes to analyse")
    return score


def annotate(score, analysis: Analysis):
    """A copy of `score` with the analysis on it (see the module)."""
    import copy

    from music21 import expressions

    out = copy.deepcopy(score)
    parts = [part for part in out.parts if part.flatten().notes]

    def words(part, offset: float, text: str, placement: str) -> None:
        measure, at = _measure_at(part, offset)
        if measure is not None:
            mark = expressions.TextExpression(text)
            mark.placement = placement
            measure.insert(at, mark)

    for label in analysis.labels:
        words(parts[-1], label.offset, label.numeral, "below")
    for cadence in analysis.cadences:
        words(parts[0], cadence.offset, f"{cadence.kind} cadence", "above")
    starts = {}
    for measure in _measures(parts[0]):
        starts.setdefault(measure.number, measure.getOffsetBySite(parts[0]))
    for bar, key in analysis.key_changes:
        words(parts[0], float(starts.get(bar, 0.0)), f"{key}:", "above")
    names = {part_name(part, i, len(parts)): part for i, part in enumerate(parts)}
    for fault in analysis.faults:
        for voice in fault.voices:
            measure, at = _measure_at(names.get(voice, parts[0]), fault.offset)
            for note in measure.recurse().notes if measure is not None else ():
                if note.offset <= at < note.offset + note.quarterLength:
                    note.style.color = COLOURS[fault.kind]
    return out


def _measures(part) -> list:
    from music21 import stream

    return list(part.getElementsByClass(stream.Measure))


def _measure_at(part, offset: float):
    """The measure of `part` that holds `offset` (quarter notes from the start), and where in it."""
    for measure in reversed(_measures(part)):
        start = float(measure.getOffsetBySite(part))
        if start <= offset + 1e-6:
            return measure, offset - start
    return None, 0.0


@dataclass
class Written:
    musicxml: Path
    svgs: list[Path]
    json: Path
    csv: Path
    analysis: Analysis
    pages: list[str] = field(default_factory=list)  # the SVG pages' text


def write_analysis(path: str | Path, out_dir: str | Path) -> Written:
    """Analyse the score at `path` and write its files into `out_dir` (see the module)."""
    from cadenza.inference.notation import engrave
    from cadenza.inference.render import output_folder

    out = output_folder(out_dir)
    score = read_score(path)
    analysis = analyse(score)
    stem = f"{Path(path).stem}-analysis"
    musicxml = out / f"{stem}.musicxml"
    annotate(score, analysis).write("musicxml", fp=str(musicxml))
    pages = [_bar_ids(page, _bar_numbers(score)) for page in engrave(musicxml)]
    svgs = []
    for number, page in enumerate(pages, 1):
        svgs.append(out / f"{stem}-{number}.svg")
        svgs[-1].write_text(page)
    (out / f"{stem}.json").write_text(json.dumps(analysis.as_dict(), indent=1, ensure_ascii=False) + "\n")
    with (out / f"{stem}.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["bar", "beat", "what", "name", "voices", "detail"])
        writer.writerows([[b, 1, "key", k, "", ""] for b, k in analysis.key_changes])
        writer.writerows([[a, 1, "phrase", f"bars {a}-{b}", "", ""] for a, b in analysis.phrases])
        writer.writerows([[x.bar, x.beat, "label", x.numeral, "", x.chord] for x in analysis.labels])
        writer.writerows([[x.bar, x.beat, "cadence", x.kind, "", x.key] for x in analysis.cadences])
        writer.writerows(
            [[x.bar, x.beat, "fault", x.kind, " and ".join(x.voices), x.detail] for x in analysis.faults]
        )
    return Written(musicxml, svgs, out / f"{stem}.json", out / f"{stem}.csv", analysis, pages)


def _bar_numbers(score) -> list[int]:
    return [m.number for m in _measures(next(p for p in score.parts if p.flatten().notes))]


def _bar_ids(svg: str, numbers: list[int]) -> str:
    """verovio's measures, in order, given the ids `bar-N` (their bar numbers) so a link can reach them.
    A page holds the next measures; `numbers` is consumed as they come."""

    def named(match: re.Match) -> str:
        return f'<g id="bar-{numbers.pop(0)}" class="measure"' if numbers else match.group(0)

    return re.sub(r'<g id="[^"]*" class="measure"', named, svg)


SCROLL = "max-height:640px;overflow-y:auto"  # the score and the list scroll side by side


def learner_html(written: Written) -> str:
    """The engraved, annotated pages with a legend and a list of cadences and faults linking to bars."""
    a = written.analysis
    legend = " ".join(
        f'<span style="color:{colour};font-weight:bold">&#9632; {kind}</span>'
        for kind, colour in COLOURS.items()
    )
    items = [(c.bar, c.beat, f"{c.kind} cadence ({c.key})", "#2ca02c") for c in a.cadences]
    items += [
        (f.bar, f.beat, f"{f.kind}: {' and '.join(f.voices)}, {f.detail}", COLOURS[f.kind]) for f in a.faults
    ]
    rows = "".join(
        f'<li><a href="#bar-{bar}">bar {bar}, beat {beat:g}</a>: '
        f'<span style="color:{colour}">{html.escape(text)}</span></li>'
        for bar, beat, text, colour in sorted(items)
    )
    keys = ", ".join(f"bar {bar}: {key}" for bar, key in a.key_changes)
    pages = "".join(f'<div style="background:white">{page}</div>' for page in written.pages)
    summary = (
        f"<p><b>Key:</b> {html.escape(a.key)} ({html.escape(keys)}). Phrases: {len(a.phrases)}, "
        f"labelled beats: {len(a.labels)}, "
        f"cadences: {len(a.cadences)}, faults: {len(a.faults)} in {a.steps} voice-leading steps.</p>"
    )
    return (
        f'<div class="learners-view">{summary}<p>{legend}</p>'
        f'<div style="display:flex;gap:1em"><div style="{SCROLL};flex:3">{pages}</div>'
        f'<ol style="{SCROLL};flex:1">{rows or "<li>no cadence or fault found</li>"}</ol></div></div>'
    )


@dataclass
class AnalyzeArgs:
    piece: str = field(metadata={"help": "the score to analyse: MusicXML, MIDI, ABC, kern, ..."})
    out: str = field(default="out", metadata={"help": "output folder"})


def run_analyze(args: AnalyzeArgs) -> None:
    written = write_analysis(args.piece, args.out)
    a = written.analysis
    print(
        f"key: {a.key}; labelled beats: {len(a.labels)}, cadences: {len(a.cadences)}, "
        f"faults: {len(a.faults)} in {a.steps} voice-leading steps"
    )
    for path in (written.musicxml, *written.svgs, written.json, written.csv):
        print(path)
