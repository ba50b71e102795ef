"""What the app's tabs do, as plain functions: no Gradio here.

`app.py` only wires widgets to these functions (like audiocraft's demo: load the model once, call a
predict function). Each tab gets a `..._choices` helper for its dropdowns and a predict function that
checks the raw widget values, does the work in a fresh temporary folder and returns plain paths.
User-fixable problems raise `CadenzaError` with a one-line message, which the app shows as a popup.
"""

from __future__ import annotations

import dataclasses
import html
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cadenza.data.uploads import MAX_UPLOAD_BYTES
from cadenza.errors import CadenzaError, InputFileError, TimeLimitError, one_line
from cadenza.inference.request import MAX_SEED, Request
from cadenza.keys import KEY_CHOICES
from cadenza.paths import EMBEDDED_CORPUS

AS_GENERATED = "as generated"
MAX_VARIATIONS = 4
MAX_UI_BARS = 64
MIN_TEMPO, MAX_TEMPO = 20, 300
RENDER_FORMATS = ("mid", "musicxml", "wav", "png")
# Composing time per request, counted once the model is this request's; the slowest request the sliders
# allow (4 variations of 64 bars of Bach, the densest style) took 68 s with cadenza-base.
REQUEST_SECONDS = 240
# 2 CPU cores: one request composes at a time. Reading an upload happens before, outside this lock (in a
# reading worker, `load_pieces_limited`), so a file that is slow to read holds up only its own request.
MODEL_LOCK = threading.Lock()
# Request folders live under one root so that old ones can be swept; an hour is plenty to download.
TEMP_ROOT = Path(tempfile.gettempdir()) / "cadenza-app"
TEMP_MAX_AGE_S = 3600

KEYS = [AS_GENERATED, *KEY_CHOICES]

# (fraction done, description) -> None; gr.Progress fits this shape.
Progress = Callable[..., object]


@dataclass
class Variation:
    """One generated piece and its files, ready for the Compose tab's slot."""

    seed: int
    style: str
    bars: int
    midi: Path
    musicxml: Path
    wav: Path
    png: Path
    sheet: str = ""  # the MusicXML engraved: HTML for the tab's sheet-music view (`sheet_html`)
    whole_midi: Path | None = None  # a continuation's whole prompt file and new bars
    ignored: tuple[str, ...] = ()  # settings a continuation takes from its prompt file instead
    key: str | None = None
    key_note: str | None = None  # why the key is not the asked or the prompt's (`Piece.key_note`)

    @property
    def downloads(self) -> list[str]:
        files = [self.midi, self.musicxml, self.wav] + ([self.whole_midi] if self.whole_midi else [])
        return [str(path) for path in files]


@dataclass
class ComposeChoices:
    styles: list[str]
    time_signatures: list[str]
    keys: list[str]
    temperature: float  # the checkpoint's sampling defaults (generation_config.json)
    top_p: float


def compose_choices(composer) -> ComposeChoices:
    """Dropdown contents for the Compose tab, from the loaded checkpoint."""
    sigs = list(composer.time_signatures)
    # Common meters first, then the rest in the tokenizer's order.
    common = [ts for ts in ("4/4", "3/4", "2/4", "6/8", "2/2", "3/8", "9/8", "12/8") if ts in sigs]
    return ComposeChoices(
        styles=list(composer.styles),
        time_signatures=[AS_GENERATED] + common + [ts for ts in sigs if ts not in common],
        keys=list(KEYS),
        temperature=float(composer.sampling.temperature),
        top_p=float(composer.sampling.top_p),
    )


# --- validation of raw widget values ---------------------------------------------------------------
def _number(name: str, value, low: float, high: float, integer: bool = False) -> float | int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CadenzaError(f"{name} must be a number, got {value!r}") from None
    if number != number or not low <= number <= high:  # NaN fails the first test
        raise CadenzaError(f"{name} must be between {low:g} and {high:g}, got {value}")
    if integer:
        if number != int(number):
            raise CadenzaError(f"{name} must be a whole number, got {value}")
        return int(number)
    return number


def _optional_choice(value: str | None) -> str | None:
    return None if value in (None, "", AS_GENERATED) else value


def check_prompt_file(path: str | Path | None) -> Path | None:
    """The uploaded prompt file, or None; too big or missing files are refused here, the rest on load."""
    if path in (None, ""):
        return None
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path.name, "uploaded file not found; upload it again")
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise InputFileError(
            path.name, f"file is {size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB"
        )
    return path


def resolve_seed(seed, random_seed: bool) -> int:
    """The seed to use: a fresh one when asked for (or when seed is -1/empty), else the given one."""
    if random_seed or seed in (None, "", -1, "-1"):
        return random.randrange(MAX_SEED)
    return _number("seed", seed, 0, MAX_SEED, integer=True)


# --- temp folders ------------------------------------------------------------------------------------
def request_dir(root: Path = TEMP_ROOT, max_age_s: float = TEMP_MAX_AGE_S) -> Path:
    """A fresh folder for one request's files; folders older than `max_age_s` are removed first."""
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        try:
            if old.is_dir() and now - old.stat().st_mtime > max_age_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix="req-", dir=root))


# --- the Compose tab --------------------------------------------------------------------------------
@dataclass
class ComposeForm:
    """The Compose tab's widgets as the page (or an API client) sends them: numbers may come as text or
    floats, "as generated" stands for unset; `compose` checks each and builds the `Request`."""

    style: str
    bars: object = 8
    tempo: object = None  # 0 or empty: as generated
    time_signature: str | None = AS_GENERATED
    key: str | None = AS_GENERATED
    temperature: object = None
    top_p: object = None
    seed: object = -1
    random_seed: bool = True
    variations: object = 1
    prompt_midi: str | Path | None = None
    style_profile: bool = True


def compose(
    composer, form: ComposeForm, progress: Progress | None = None, out_dir: Path | None = None
) -> list[Variation]:
    """Generate the form's variations and render each to MIDI, MusicXML, WAV and a piano roll.

    Variation i uses seed + i, so any variation is reproduced alone by entering its seed with
    variations = 1 (and the same other settings). A prompt upload is read first, in a reading worker and
    outside `MODEL_LOCK`; then the request has `REQUEST_SECONDS` to compose: variations not finished by
    then are left out (`describe` says so), and if none is, the request fails with `TimeLimitError`.
    """
    from cadenza.inference.render import piece_stem

    report = progress or (lambda *args, **kwargs: None)
    request, ignored = _compose_request(composer, form, report)
    variations = _number("number of variations", form.variations, 1, MAX_VARIATIONS, integer=True)
    first_seed = resolve_seed(form.seed, form.random_seed)
    seeds = [(first_seed + i) % (MAX_SEED + 1) for i in range(variations)]
    out_dir = out_dir or request_dir()
    if MODEL_LOCK.locked():
        report(0, desc="waiting for another request to finish composing")
    with MODEL_LOCK:
        deadline = time.monotonic() + REQUEST_SECONDS
        result = []
        for i, this_seed in enumerate(seeds):
            report(i / variations, desc=f"composing variation {i + 1} of {variations}")
            try:
                left = deadline - time.monotonic()
                (piece,) = composer.generate(dataclasses.replace(request, seed=this_seed, max_time=left))
            except TimeLimitError:
                if result:  # keep what is finished; `describe` says the rest ran out of time
                    break
                raise TimeLimitError(
                    f"composing took longer than {REQUEST_SECONDS} s, this app's limit per request; "
                    "ask for fewer bars"
                ) from None
            if piece.score.note_num() == 0:
                raise CadenzaError(f"the model wrote no notes with seed {this_seed}; try another seed")
            report((i + 0.7) / variations, desc=f"rendering variation {i + 1} of {variations}")
            variation = _render(piece, out_dir / f"v{i + 1}", piece_stem(form.style, this_seed, 0))
            result.append(dataclasses.replace(variation, ignored=ignored))
    report(1.0, desc="done")
    return result


def _compose_request(composer, form: ComposeForm, report: Progress) -> tuple[Request, tuple[str, ...]]:
    """The form's `Request` (its seed set per variation later) and the controls set aside for a prompt
    file: a continuation keeps the file's tempo, meter and key (and voices), so choices made before the
    upload are ignored and the status says so, rather than failing every request."""
    from cadenza.data.loading import load_pieces_limited

    if form.style not in composer.styles:
        raise CadenzaError(f"unknown style {form.style!r}; this model knows: {', '.join(composer.styles)}")
    temperature = None if form.temperature is None else _number("temperature", form.temperature, 0.05, 3.0)
    top_p = None if form.top_p is None else _number("top-p", form.top_p, 0.05, 1.0)
    tempo = None if form.tempo in (None, "", 0) else _number("tempo", form.tempo, MIN_TEMPO, MAX_TEMPO)
    time_signature = _optional_choice(form.time_signature)
    if time_signature is not None and time_signature not in composer.time_signatures:
        raise CadenzaError(f"unsupported time signature {time_signature!r}")
    key = _optional_choice(form.key)
    prompt, ignored = None, ()
    if (path := check_prompt_file(form.prompt_midi)) is not None:
        report(0, desc=f"reading {path.name}")
        try:
            prompt = load_pieces_limited(path)[0]
        except InputFileError as err:  # name the upload by its own name, not the server's temp path
            raise InputFileError(path.name, err.problem) from None
        chosen = {"tempo": tempo, "time signature": time_signature, "key": key}
        ignored = tuple(name for name, value in chosen.items() if value is not None)
        tempo = time_signature = key = None
    request = Request(
        form.style, bars=_number("bars", form.bars, 1, MAX_UI_BARS, integer=True), temperature=temperature,
        top_p=top_p, tempo=tempo, time_signature=time_signature, key=key, prompt_midi=prompt,
        use_profile=form.style_profile,
    )  # fmt: skip
    return request, ignored


def _render(piece, folder: Path, stem: str) -> Variation:
    """A composed piece's files. A continuation shows and plays the prompt's last bars and the new ones;
    the whole file is a separate download (a long upload would otherwise be rendered, and synthesized,
    whole)."""
    from cadenza.inference.render import render_piece

    files = render_piece(piece, folder, stem, RENDER_FORMATS)
    whole = (
        render_piece(piece, folder, f"{stem}-whole", ["mid"], whole=True)["mid"]
        if piece.context_start
        else None
    )
    return Variation(
        seed=piece.seed,
        style=piece.style,
        bars=piece.bars,
        midi=Path(files["mid"]),
        musicxml=Path(files["musicxml"]),
        wav=Path(files["wav"]),
        png=Path(files["png"]),
        sheet=sheet_html(Path(files["musicxml"])),
        whole_midi=whole,
        key=piece.key,
        key_note=piece.key_note,
    )


SHEET_HEIGHT = 560  # pixels of sheet music in view; the rest scrolls


def sheet_html(musicxml: Path) -> str:
    """`musicxml` engraved by verovio, its pages one under another in a box that scrolls; where verovio
    cannot, the box says so (the piece's files and audio are still good)."""
    from cadenza.inference.notation import engrave

    try:
        pages = "".join(f'<div style="background:white;width:100%">{svg}</div>' for svg in engrave(musicxml))
    except CadenzaError as err:
        pages = f"<p>No sheet music: {html.escape(str(err))}</p>"
    return f'<div class="sheet-music" style="max-height:{SHEET_HEIGHT}px;overflow-y:auto">{pages}</div>'


def error_line(err: Exception) -> str:
    """What a failed request tells its user: a CadenzaError's own message; for anything else (a bug) one
    line that says so, instead of Gradio's "upstream Gradio app has raised an exception"."""
    if isinstance(err, CadenzaError):
        return str(err)
    text = one_line(err) if str(err).strip() else "no message"
    return f"cadenza failed on this request ({type(err).__name__}: {text}); the server's log has the details"


def describe(variations: list[Variation], asked: int | None = None) -> str:
    """The Markdown line under the Generate button: the seeds, so a result can be reproduced, and how
    many of the `asked` variations ran out of time."""
    seeds = ", ".join(str(v.seed) for v in variations)
    label = "seed" if len(variations) == 1 else "seeds"
    first = variations[0]
    line = f"Generated {len(variations)} × {first.bars} bars of **{first.style}** — {label} used: **{seeds}**"
    missing = int(asked or 0) - len(variations)
    if missing > 0:
        line += f" ({missing} more not composed: the {REQUEST_SECONDS} s limit per request was reached)"
    if first.ignored:
        line += f"; {' and '.join(first.ignored)} from the prompt file (the choice above was not used)"
    if first.key_note:
        line += f"; in {first.key}: {first.key_note}"
    return line


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
    path = check_prompt_file(upload) or (Path(last_generated) if last_generated else None)
    if path is None:
        raise CadenzaError("upload a piece, or compose one in the Compose tab first")
    report(0, desc=f"reading {path.name}")
    try:
        score = load_pieces_limited(path)[0].score
    except InputFileError as err:
        raise InputFileError(path.name, err.problem) from None
    judge = judge_for(corpus_dir, report)
    report(0.5, desc="measuring")
    verdict = judge.judge(score, _optional_choice(None if style == AS_GUESSED else style), SIMILAR_K)
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


# --- the Fine-tune tab -------------------------------------------------------------------------------
# Run sizes a user picks from: budgets that end on time on 2 cores (early stopping may end them sooner).
RUN_SIZES: dict[str, dict] = {
    "quick (3 minutes)": {"max_minutes": 3.0, "max_steps": 600, "eval_every": 25, "save_every": 25},
    "standard (10 minutes)": {"max_minutes": 10.0, "max_steps": 2000, "eval_every": 50, "save_every": 50},
    "long (30 minutes)": {"max_minutes": 30.0, "max_steps": 6000, "eval_every": 100, "save_every": 100},
}
DEFAULT_RUN_SIZE = "quick (3 minutes)"
# One fine-tune at a time: it takes both cores for minutes.
FINETUNE_LOCK = threading.Lock()
POLL_SECONDS = 1.0


@dataclass
class TuneStatus:
    fraction: float  # of the run's budget
    text: str  # markdown: what is happening, the validation losses so far
    style: str | None = None  # set once the adapter is trained and served


def load_adapters(composer, folder: str | Path) -> list[str]:
    """Serve every adapter saved under `folder` (the app's adapters, kept across restarts); returns one line
    per adapter that could not be served and why (made for another base, unreadable)."""
    from cadenza.checkpoint import ADAPTER_FILE, read_adapter

    problems = []
    for adapter in sorted(Path(folder).glob(f"*/{ADAPTER_FILE}")):
        try:
            if not read_adapter(adapter.parent).lyrics:  # a lyrics adapter is the Lyrics tab's
                composer.load_adapter(adapter.parent)
        except CadenzaError as err:
            problems.append(one_line(err))
    return problems


def load_singer(folder: str | Path):
    """The `Singer` of the first lyrics adapter under `folder` (the shipped `adapters/songs`), or None
    when there is none; a broken one is a one-line error."""
    from cadenza.checkpoint import ADAPTER_FILE, read_adapter
    from cadenza.inference.songs import Singer

    for adapter in sorted(Path(folder).glob(f"*/{ADAPTER_FILE}")):
        if read_adapter(adapter.parent).lyrics:
            return Singer.from_adapter(adapter.parent)
    return None


@dataclass
class Sung:
    variation: Variation
    text: str  # markdown: the syllables under their notes' order, the key, the seed, a note


@dataclass
class SongForm:
    """The Lyrics → Melody tab's widgets; `lyrics` None asks for lyrics and melody together."""

    lyrics: str | None
    language: str = "en"
    style: str = "bach"
    tempo: object = None
    key: str | None = AS_GENERATED
    melisma: bool = False
    seed: object = -1
    random_seed: bool = True
    voice: str | None = AS_GENERATED


def sing(singer, form: SongForm, out_dir: Path | None = None) -> Sung:
    """A melody for the form's lyrics (or lyrics and melody together) rendered like a composed piece, and
    what was sung."""
    from cadenza.inference.render import piece_stem

    if singer is None:
        raise CadenzaError("no lyrics adapter is served (adapters/songs; see docs/songs.md)")
    tempo = None if form.tempo in (None, "", 0) else _number("tempo", form.tempo, MIN_TEMPO, MAX_TEMPO)
    seed, voice = resolve_seed(form.seed, form.random_seed), _optional_choice(form.voice)
    if form.lyrics is not None and not form.lyrics.strip():
        raise CadenzaError("the lyrics are empty: type the words to set, or press Song for a new pair")
    style = form.style
    request = Request(style, key=_optional_choice(form.key), tempo=tempo, seed=seed)
    with MODEL_LOCK:
        if form.lyrics is None:
            piece, note = singer.song(request, voice=voice), ""
        else:
            piece, _, note = singer.sing(form.lyrics, request, form.language, form.melisma, voice)
        variation = _render(piece, (out_dir or request_dir()), f"song-{piece_stem(style, seed, 0)}")
    words = " ".join(
        text + ("" if word_end else "-") for text, word_end in
        (item for item in singer.tokenizer.lyrics_of(piece.tokens) if item is not None)
    )  # fmt: skip
    line = f"**{style}**, {piece.key}, seed **{seed}** — sung: {words}"
    return Sung(variation, line + (f"\n\n_{note}_" if note else ""))


def finetune(composer, uploads: list[str], style: str, size: str, adapters_dir: str | Path, work_dir: Path):
    """Fine-tune an adapter for `style` on the uploaded scores (files or zips), in a worker thread, and
    serve it; yields a `TuneStatus` every `POLL_SECONDS` while it trains. One at a time: a second request
    is told the app is busy. An interrupted run (the app stopped) resumes from its saved state when the
    same style is asked again."""
    from cadenza.data.uploads import gather_scores
    from cadenza.tokenization.tokenizer import validate_style_name
    from cadenza.training.finetune import FinetuneArgs, run_finetune

    if not FINETUNE_LOCK.acquire(blocking=False):
        raise CadenzaError("another fine-tune is running; try again when it has finished")
    try:
        style = validate_style_name((style or "").strip())
        if style in composer.styles:
            raise CadenzaError(f"style {style!r} exists already; choose another name")
        if size not in RUN_SIZES:
            raise CadenzaError(f"unknown run size {size!r}")
        if not uploads:
            raise CadenzaError("upload score files (MIDI, MusicXML, ABC, kern) or a zip of them")
        gathered = gather_scores(uploads, work_dir / "scores")
        if not gathered.scores:
            raise CadenzaError(f"no score files among the uploads ({'; '.join(gathered.skipped)})")
        out = Path(adapters_dir) / style
        args = FinetuneArgs(
            input=str(gathered.folder), style=style, base=str(composer.path), output_dir=str(out),
            corpus_out=str(work_dir / "corpus"), resume=(out / "states").is_dir(), num_proc=1,
            **RUN_SIZES[size],
        )  # fmt: skip
        skipped = (
            f" ({len(gathered.skipped)} skipped: {'; '.join(gathered.skipped[:5])})"
            if gathered.skipped
            else ""
        )
        header = f"Fine-tuning **{style}** on {len(gathered.scores)} score files{skipped}."
        outcome: dict = {}

        def work() -> None:
            try:
                outcome["folder"] = run_finetune(args)
            except BaseException as err:  # handed to the request thread, which reports it
                outcome["error"] = err

        worker = threading.Thread(target=work, name=f"finetune-{style}", daemon=True)
        started = time.monotonic()
        worker.start()
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            yield _tune_status(header, out, args, time.monotonic() - started)
        if "error" in outcome:
            raise outcome["error"]
        with MODEL_LOCK:  # the shared model gains an adapter: not while a piece is being composed
            composer.load_adapter(outcome["folder"])
        final = _tune_status(header, out, args, time.monotonic() - started)
        yield TuneStatus(1.0, final.text + f"\n\nDone: **{style}** is in the Compose tab's styles.", style)
    finally:
        FINETUNE_LOCK.release()


def _tune_status(header: str, out: Path, args, elapsed: float) -> TuneStatus:
    """Where a run stands, from its metrics log: the budget spent and the validation losses so far."""
    import csv

    from cadenza.training.loop import budget_used

    rows = []
    if (out / "metrics.csv").is_file():
        with (out / "metrics.csv").open() as f:
            rows = list(csv.DictReader(f))
    step = int(rows[-1]["step"]) if rows else 0
    # Short of 1 until the adapter is served: reading the scores comes before the loop's own budget.
    fraction = min(0.99, budget_used(step, elapsed, args))
    losses = ", ".join(f"{r['val_loss']} (step {r['step']})" for r in rows[-6:])
    text = header + (
        f"\n\nValidation loss: {losses}" if losses else "\n\nPreparing the scores and the model…"
    )
    return TuneStatus(fraction, text)


# --- Baselines tab ----------------------------------------------------------------------------------------
MAX_BASELINE_BARS = 32
MAX_INTERPOLATION_STEPS = 16


def load_baselines(gan: str | Path, vae: str | Path) -> tuple[dict[str, object], list[str]]:
    """The GAN and VAE composers served ({"GAN": ..., "VAE": ...}, those that load) and a one-line
    problem for each that does not."""
    from cadenza.gan_vae.composer import GanComposer, VaeComposer

    served, problems = {}, []
    for name, cls, path in (("GAN", GanComposer, gan), ("VAE", VaeComposer, vae)):
        try:
            served[name] = cls.from_pretrained(path)
        except CadenzaError as err:
            problems.append(f"{name}: {one_line(err)}")
    return served, problems


def _baseline(baselines: dict, name: str):
    if name not in baselines:
        raise CadenzaError(
            f"the {name} baseline is not served (checkpoints/{name.lower()}; docs/baselines.md)"
        )
    return baselines[name]


def baseline_sample(
    baselines: dict,
    name: str,
    style: str,
    bars=8,
    seed=-1,
    random_seed: bool = True,
    out_dir: Path | None = None,
) -> Variation:
    """One piece from the GAN or VAE, rendered like a composed one."""
    from cadenza.inference.render import piece_stem

    composer = _baseline(baselines, name)
    bars = _number("bars", bars, 1, MAX_BASELINE_BARS, integer=True)
    seed = resolve_seed(seed, random_seed)
    with MODEL_LOCK:
        (piece,) = composer.generate(style, bars=bars, seed=seed)
        if piece.score.note_num() == 0:
            raise CadenzaError(f"the {name} wrote no notes with seed {seed}; try another seed")
        return _render(piece, out_dir or request_dir(), f"{name.lower()}-{piece_stem(style, seed, 0)}")


def _read_upload(path: str | Path | None, which: str):
    from cadenza.data.loading import load_pieces_limited

    checked = check_prompt_file(path)
    if checked is None:
        raise CadenzaError(f"upload piece {which}, or sample one with the VAE first")
    try:
        return load_pieces_limited(checked)[0].score
    except InputFileError as err:
        raise InputFileError(checked.name, err.problem) from None


def interpolate(
    baselines: dict,
    a: str | Path | None,
    b: str | Path | None,
    style: str,
    steps=8,
    out_dir: Path | None = None,
) -> Variation:
    """The VAE's walk from piece A's first bars to piece B's in `steps` segments, one piece."""
    vae = _baseline(baselines, "VAE")
    steps = _number("steps", steps, 2, MAX_INTERPOLATION_STEPS, integer=True)
    first, last = _read_upload(a, "A"), _read_upload(b, "B")
    names = (Path(a).name, Path(b).name)
    with MODEL_LOCK:
        piece = vae.interpolate(first, last, style, steps, names)
        return _render(piece, out_dir or request_dir(), f"interpolation-{style}-{steps}")
