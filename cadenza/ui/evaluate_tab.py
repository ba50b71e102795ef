"""The Evaluate tab: one piece judged against the corpus (style, features, originality, similar pieces),
with the judge's indexes prepared in the background on a first start."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cadenza.errors import CadenzaError, InputFileError, one_line
from cadenza.paths import EMBEDDED_CORPUS
from cadenza.ui.common import Progress, check_prompt_file, optional_choice, request_dir

# --- the Evaluate tab -------------------------------------------------------------------------------
AS_GUESSED = "the classifier's guess"
SIMILAR_K = 5
_JUDGES: dict[str, object] = {}  # corpus folder -> `Judge`, loaded once per process
_JUDGE_LOCK = threading.Lock()


@dataclass
class Evaluation:
    """What the Evaluate tab shows for one piece."""

    summary: str  # Markdown: key, style, verdict
    probabilities: dict[str, float]
    features: list[list]  # feature, this piece, the style's range, within it
    originality: str  # the copying report, passage beside its source
    passage_png: Path | None  # the corpus bars the longest copied passage comes from
    similar: list[list]  # rank, id, style, distance


@dataclass
class Preparation:
    """The Evaluate tab's corpus and indexes, made in the background when the app starts without them
    (a fresh clone has no `build/`): the embedded corpus first (minutes), then the judge's indexes."""

    corpus: str
    stage: str = "starting"
    fraction: float = 0.0  # of the current stage
    started: float = field(default_factory=time.monotonic)
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def heard(self, fraction: float) -> None:
        self.fraction = fraction

    def status(self) -> str:
        """One line for the tab and the console: what is being made, how far along, and when it is ready."""
        if self.error:
            return f"The Evaluate tab cannot judge: {self.error}"
        if self.done.is_set():
            return "The corpus and its indexes are ready."
        line = f"Preparing the Evaluate tab (first start): {self.stage}"
        if self.stage.startswith("building the corpus") and self.fraction > 0.02:
            elapsed = time.monotonic() - self.started
            left = elapsed * (1 - self.fraction) / self.fraction
            line += f", {self.fraction:.0%} done, about {left / 60:.0f} min left; then its indexes (a minute)"
        return line + ". The other tabs work meanwhile."


_PREPARING: dict[str, Preparation] = {}


def prepare_judge(corpus_dir: str | Path) -> Preparation:
    """Start making the corpus (when it is the default embedded one and missing) and the judge's indexes in
    a background thread; `judge_for` answers with the preparation's status until it is done."""
    from cadenza.data.corpus import CorpusBuildArgs, build_corpus

    prep = Preparation(str(corpus_dir))
    _PREPARING[prep.corpus] = prep

    def work() -> None:
        try:
            if not Path(prep.corpus).is_dir() and Path(prep.corpus) == Path(EMBEDDED_CORPUS):
                prep.stage = "building the corpus from music21's scores"
                print(f"cadenza: {prep.status()}", flush=True)
                build_corpus(CorpusBuildArgs(out=prep.corpus), on_progress=prep.heard)
            prep.stage, prep.fraction = "building the corpus indexes (about a minute)", 0.0
            print(f"cadenza: {prep.status()}", flush=True)
            judge_for(prep.corpus, waiting=False)
            print("cadenza: the Evaluate tab is ready", flush=True)
        except Exception as err:  # a background thread has no caller to raise to: the tab says it
            prep.error = str(err) if isinstance(err, CadenzaError) else one_line(err)
            print(f"cadenza: {prep.status()}", flush=True)
        finally:
            prep.done.set()

    threading.Thread(target=work, name="prepare-judge", daemon=True).start()
    return prep


def preparation_status(corpus_dir: str | Path) -> str:
    """The status line of the corpus's preparation, empty once it is done (or when none was started)."""
    prep = _PREPARING.get(str(corpus_dir))
    return "" if prep is None or (prep.done.is_set() and not prep.error) else prep.status()


def judge_for(corpus_dir: str | Path, progress: Progress | None = None, waiting: bool = True):
    """The `Judge` of a corpus, loaded (and its indexes built, the first time: about a minute) once. While
    `prepare_judge` is still making it, the preparation's status line is the answer (`CadenzaError`)."""
    from cadenza.evaluation.judge import Judge

    prep = _PREPARING.get(str(corpus_dir))
    if waiting and prep is not None and (not prep.done.is_set() or prep.error):
        raise CadenzaError(prep.status())
    with _JUDGE_LOCK:
        if str(corpus_dir) not in _JUDGES:
            if progress:
                progress(0, desc="loading the corpus indexes (built the first time: about a minute)")
            _JUDGES[str(corpus_dir)] = Judge(corpus_dir)
        return _JUDGES[str(corpus_dir)]


def evaluate(
    corpus_dir: str | Path,
    upload: str | Path | None = None,
    last_generated: str | Path | None = None,
    style: str | None = AS_GUESSED,
    progress: Progress | None = None,
    out_dir: Path | None = None,
) -> Evaluation:
    """Judge an uploaded piece (or else the last generated one) against the corpus: its features beside
    its style's ranges, the classifier's probabilities, its key, copying and the most similar pieces."""
    from cadenza.data.loading import load_pieces_limited
    from cadenza.evaluation import originality
    from cadenza.inference.render import ScoreInfo, write_pianoroll

    report = progress or (lambda *args, **kwargs: None)
    path = piece_path(upload, last_generated)
    report(0, desc=f"reading {path.name}")
    try:
        score = load_pieces_limited(path)[0].score
    except InputFileError as err:
        raise InputFileError(path.name, err.problem) from None
    judge = judge_for(corpus_dir, report)
    report(0.5, desc="measuring")
    verdict = judge.judge(score, optional_choice(None if style == AS_GUESSED else style), SIMILAR_K)
    copying, png = verdict.copying, None
    source = judge.source(copying.longest.corpus_id) if copying.longest else None
    if copying.longest and source is not None:
        p = copying.longest
        out_dir = out_dir or request_dir()
        clip = originality.passage_score(source, p.corpus_line, p.corpus_start, p.notes)
        first, last = originality.passage_bars(source, p.corpus_line, p.corpus_start, p.notes)
        png = write_pianoroll(clip, out_dir / "passage.png", ScoreInfo(f"{p.corpus_id}, bars {first}-{last}"))
    text = originality.report(path.name, copying, verdict.style, verdict.human, score, source)
    report(1.0, desc="done")
    return Evaluation(
        summary=_evaluation_summary(path.name, verdict),
        probabilities=verdict.probabilities,
        features=[
            [
                row.name,
                _rounded(row.value),
                f"{_rounded(row.low)} – {_rounded(row.high)}",
                {True: "yes", False: "no", None: "n/a"}[row.within],
            ]
            for row in verdict.features
        ],
        originality=text,
        passage_png=png,
        similar=[[i + 1, n.id, n.style, round(n.distance, 2)] for i, n in enumerate(verdict.neighbours)],
    )


def _rounded(value: float) -> str:
    return "n/a" if value != value else f"{value:.3g}"


def _evaluation_summary(name: str, verdict) -> str:
    # music21 spells flats "B-"; musicians read "Bb"
    key = (
        f"{verdict.key[0].replace('-', 'b')} {verdict.key[1]}"
        if verdict.key
        else "none (too few pitch classes)"
    )
    chosen = "the classifier's guess" if verdict.guessed else "as asked"
    within = [row.within for row in verdict.features if row.within is not None]
    copying = {
        None: "no human baseline for this style",
        True: "**flagged**: above",
        False: "original: within",
    }[verdict.flagged]
    if verdict.flagged is not None:
        copying += f" the {verdict.style} human 95th percentile"
    return (
        f"**{name}** — key: **{key}** (music21) · judged as **{verdict.style}** ({chosen}) · "
        f"{sum(within)} of {len(within)} features inside the style's corpus range · copying: {copying}"
    )


def piece_path(upload: str | Path | None, last_generated: str | Path | None) -> Path:
    """The piece a tab of this page works on: the upload, else the piece composed last."""
    path = check_prompt_file(upload) or (Path(last_generated) if last_generated else None)
    if path is None:
        raise CadenzaError("upload a piece, or compose one in the Compose tab first")
    return path


def learners_view(
    upload: str | Path | None = None,
    last_generated: str | Path | None = None,
    progress: Progress | None = None,
    out_dir: Path | None = None,
) -> tuple[str, list[str]]:
    """An uploaded piece (or else the last generated one) explained on its score (`evaluation.learner`):
    the HTML of the annotated pages with their legend and list, and the files (MusicXML, SVG, JSON, CSV)."""
    from cadenza.evaluation.learner import learner_html, write_analysis

    report = progress or (lambda *args, **kwargs: None)
    path = piece_path(upload, last_generated)
    report(0, desc=f"analysing {path.name}")
    try:
        written = write_analysis(path, out_dir or request_dir())
    except InputFileError as err:  # name the upload by its own name, not the server's temp path
        raise InputFileError(path.name, err.problem) from None
    files = [written.musicxml, *written.svgs, written.json, written.csv]
    return learner_html(written), [str(f) for f in files]
