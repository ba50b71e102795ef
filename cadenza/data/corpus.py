"""`cadenza corpus build`: score files -> a `datasets.DatasetDict` (train/validation/test) on disk.

The input is the music21 corpus that ships with music21 (no download) or a user's folder tagged with one
style. Files are converted in worker processes; a bad file is reported and skipped, never fatal. A rebuild
with the same files and options only reads the saved report, and a build writes into a temporary folder
that is renamed into place, so an interrupted build never leaves half a corpus; each converted file is
kept in a per-file cache, so the next build (resumed, or with other limits) starts where this one got to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from multiprocessing import Pool
from pathlib import Path

from cadenza.data.loading import SUPPORTED_SUFFIXES, read_pieces
from cadenza.data.splits import (
    SPLITS,
    HashedPiece,
    assign_splits,
    content_hash,
    melody_hash,
    score_notes,
    top_voice_pitches,
)
from cadenza.data.stats import stats_table, style_stats
from cadenza.data.styles import (
    EMBEDDED_STYLES,
    SKIPPED_SUFFIXES,
    STYLE_FOLDERS,
    parse_style_list,
    validate_style_name,
)
from cadenza.data.voices import voices_to_json
from cadenza.errors import CadenzaError, InputFileError
from cadenza.paths import CORPORA, EMBEDDED_CORPUS

# Bump when the rows a build writes change, so old cached corpora are rebuilt.
BUILDER_VERSION = 5  # 5: the key analysed from the converted score's pitch profile
COLUMNS: tuple[str, ...] = (
    "id", "style", "composer", "title", "source", "tune", "time_signatures", "key", "tempo",
    "num_parts", "num_bars", "num_notes", "voices", "lyrics", "midi", "melody_hash", "content_hash",
)  # fmt: skip
# A file that takes longer than this to convert is reported and skipped (music21's repeat expansion can
# loop on odd ABC); the slowest embedded file, a Beethoven quartet, takes seconds.
FILE_SECONDS = 120
# abc2midi and music21 warnings kept per file in the report (the count is always kept).
WARNINGS_KEPT = 3
REPORT_FILE = "report.json"
FILE_CACHE = ".file_cache"  # beside the output folder, shared by the corpora built next to each other
MANIFEST_FILE = "manifest.json"
# Seconds to convert a megabyte of each format on one core of the 2-core machine, as measured by
# `python benchmarks/corpus_build.py --rates true` (docs/corpus.md): a compressed quartet (.mxl) costs
# forty times its size in uncompressed MusicXML. They order the work (costliest first, so no long file
# starts last) and weigh the progress bar, so its ETA holds from the start.
SECONDS_PER_MB = {".mxl": 50.0, ".krn": 40.0, ".abc": 10.0, ".xml": 1.1, ".musicxml": 1.1}
SECONDS_PER_MB_OTHER = 1.0  # MIDI: symusic reads it


@dataclass
class CorpusBuildArgs:
    input: str | None = field(
        default=None,
        metadata={"help": "folder of score files; default: the music21 corpus shipped with music21"},
    )
    style: str | None = field(
        default=None, metadata={"help": "style tag for every file of --input (required with --input)"}
    )
    styles: str | None = field(
        default=None,
        metadata={
            "help": f"comma list restricting the embedded build; default all of {','.join(EMBEDDED_STYLES)}"
        },
    )
    out: str | None = field(
        default=None,
        metadata={
            "help": "output folder; default build/corpus/embedded, or build/corpus/<style> with --input"
        },
    )
    num_proc: int = field(default=2, metadata={"help": "worker processes converting files"})
    seed: int = field(default=0, metadata={"help": "seed of the train/validation/test assignment"})
    val_fraction: float = field(default=0.05, metadata={"help": "share of tune groups in validation"})
    test_fraction: float = field(default=0.05, metadata={"help": "share of tune groups in test"})
    limit: int | None = field(
        default=None, metadata={"help": "at most this many files per style, the smallest first (quick runs)"}
    )
    style_limits: str | None = field(
        default=None,
        metadata={
            "help": "per-style file caps over --limit, e.g. essen_folk=2,irish_fiddle=8 (the shipped "
            "model's subset; see checkpoints/cadenza-base/README.md)"
        },
    )
    force: bool = field(
        default=False,
        metadata={"help": "rebuild even if nothing changed (converted files still come from the file cache)"},
    )
    file_cache: bool = field(
        default=True,
        metadata={"help": f"reuse files converted before, from {FILE_CACHE}/ beside the output folder"},
    )


@dataclass
class CorpusReport:
    out: str
    files: int
    counts: dict[str, dict[str, int]]  # style -> split -> pieces
    failures: list[dict[str, str]]  # {"path", "problem"}
    duplicates: int
    seconds: float
    styles: dict[str, dict] = field(default_factory=dict)  # style -> `cadenza.data.stats.style_stats`
    warnings: list[dict] = field(default_factory=list)  # {"path", "count", "first"}: what readers said
    cached: bool = False

    def summary(self) -> str:
        width = max([len(style) for style in self.counts] + [5])
        lines = [f"corpus {self.out}" + (" (cached: nothing changed)" if self.cached else "")]
        lines.append("style".ljust(width) + "".join(f"{split:>12}" for split in SPLITS))
        for style, by_split in self.counts.items():
            lines.append(style.ljust(width) + "".join(f"{by_split.get(split, 0):>12}" for split in SPLITS))
        lines.append(
            f"{self.files} files, {self.duplicates} duplicates dropped, {len(self.failures)} failures, "
            f"{self.seconds:.1f} s"
        )
        lines += [f"  failed: {failure['path']}: {failure['problem']}" for failure in self.failures[:20]]
        if len(self.failures) > 20:
            lines.append(f"  ... and {len(self.failures) - 20} more in {Path(self.out) / REPORT_FILE}")
        if self.warnings:
            count = sum(item["count"] for item in self.warnings)
            lines.append(
                f"{count} reader warnings in {len(self.warnings)} files (e.g. {self.warnings[0]['path']}: "
                f"{self.warnings[0]['first'][0]}); all in {Path(self.out) / REPORT_FILE}"
            )
        if self.styles:
            lines += ["", stats_table(self.styles)]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Job:
    style: str
    path: str
    source: str  # relative to the input root
    id_prefix: str


def output_folder(args: CorpusBuildArgs) -> Path:
    """--out if given, else build/corpus/<style> for a user folder and build/corpus/embedded otherwise."""
    if args.out:
        return Path(args.out)
    return Path(CORPORA) / args.style if args.input else Path(EMBEDDED_CORPUS)


def embedded_root() -> Path:
    """The corpus folder inside the installed music21 package."""
    import music21

    return Path(music21.__file__).parent / "corpus"


def _smallest(files: list[Path], limit: int | None) -> list[Path]:
    """The `limit` smallest files, in path order: a capped build stays quick (one Beethoven quartet
    movement costs minutes in music21, a chorale a tenth of a second)."""
    if limit is None:
        return files
    chosen = set(sorted(files, key=lambda path: (path.stat().st_size, path))[:limit])
    return [path for path in files if path in chosen]


def parse_style_limits(text: str | None, default: int | None) -> dict[str, int | None]:
    """`"essen_folk=2,bach=100"` -> a file cap for every embedded style (the rest get `default`)."""
    limits: dict[str, int | None] = dict.fromkeys(EMBEDDED_STYLES, default)
    for item in (text or "").split(","):
        if not item.strip():
            continue
        style, _, number = item.partition("=")
        if style.strip() not in limits or not number.strip().isdigit():
            raise CadenzaError(
                f"bad --style_limits item {item!r}: expected STYLE=N with STYLE one of "
                f"{', '.join(EMBEDDED_STYLES)}"
            )
        limits[style.strip()] = int(number)
    return limits


def _embedded_jobs(styles: tuple[str, ...], limits: dict[str, int | None]) -> list[_Job]:
    root = embedded_root()
    jobs: list[_Job] = []
    for style in styles:
        folders = STYLE_FOLDERS[style]
        files = [
            path
            for folder in folders
            for path in sorted((root / folder).rglob("*"))
            if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES
        ]
        # ids read "bach/bwv66.6" for a one-folder style, "classical/mozart/k155" when it has several
        base = root / folders[0] if len(folders) == 1 else root
        jobs += [_job(style, path, root, base) for path in _smallest(files, limits[style])]
    return jobs


def _folder_jobs(folder: Path, style: str, limit: int | None) -> list[_Job]:
    if not folder.is_dir():
        raise CadenzaError(f"{folder}: input folder not found")
    files = [
        path
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and path.suffix.lower() not in SKIPPED_SUFFIXES
    ]
    if not files:
        raise CadenzaError(
            f"{folder}: no score files in this folder (expected {' '.join(SUPPORTED_SUFFIXES)})"
        )
    return [_job(style, path, folder, folder) for path in _smallest(files, limit)]


def _job(style: str, path: Path, root: Path, base: Path) -> _Job:
    id_prefix = f"{style}/{path.relative_to(base).as_posix()}"
    return _Job(style, str(path), path.relative_to(root).as_posix(), id_prefix)


def _unique_prefixes(jobs: list[_Job]) -> list[_Job]:
    """Drop the suffix from ids, except where that would make two ids equal (bwv.xml next to bwv.krn)."""
    stems = [os.path.splitext(job.id_prefix)[0] for job in jobs]
    counts = Counter(stems)
    return [
        _Job(job.style, job.path, job.source, stem if counts[stem] == 1 else job.id_prefix)
        for job, stem in zip(jobs, stems, strict=True)
    ]


def _convert(job: _Job, cache: Path | None) -> tuple[list[dict], list[dict[str, str]], list[dict]]:
    """One file -> its rows, its failures and its readers' warnings (runs in a worker process)."""
    converted = _file_pieces(Path(job.path), cache)
    rows = [
        {
            "id": job.id_prefix if piece["tune"] == -1 else f"{job.id_prefix}#{piece['tune']}",
            "style": job.style,
            "source": job.source,
            **piece,
        }
        for piece in converted["pieces"]
    ]
    failures = [
        {"path": job.source + failure["where"], "problem": failure["problem"]}
        for failure in converted["failures"]
    ]
    messages = converted["warnings"]
    said = [{"path": job.source, "count": len(messages), "first": messages[:WARNINGS_KEPT]}]
    return rows, failures, said if messages else []


def _file_pieces(path: Path, cache: Path | None) -> dict:
    """{"pieces": row fields, "failures": [{"where": "" or "#N", "problem"}], "warnings": [str]} of one
    file, from the per-file cache when these exact bytes were converted before: a build killed half-way,
    or the same files under other limits, costs no second conversion. A file over the time limit is a
    failure that is not cached (a busy machine may be the cause)."""
    entry = cache / f"{_file_key(path)}.json" if cache is not None else None
    if entry is not None and entry.is_file():
        saved = json.loads(entry.read_text())
        for piece in saved["pieces"]:
            piece["midi"] = base64.b64decode(piece["midi"])
        return saved
    try:
        with _time_limit(FILE_SECONDS):
            converted = _read_file(path)
    except TimeoutError:
        problem = f"took longer than {FILE_SECONDS} s to convert; skipped"
        return {"pieces": [], "failures": [{"where": "", "problem": problem}], "warnings": []}
    if entry is not None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        encoded = [
            {**piece, "midi": base64.b64encode(piece["midi"]).decode()} for piece in converted["pieces"]
        ]
        temp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        temp.write_text(json.dumps({**converted, "pieces": encoded}))
        temp.replace(entry)
    return converted


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    """Raise TimeoutError in this thread after `seconds` (SIGALRM; only the main thread of a process can
    take signals, so elsewhere, e.g. in a test's helper thread, there is no limit). Python code such as
    music21's is interrupted; a hang inside C code would not be."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _file_key(path: Path) -> str:
    digest = hashlib.sha256(f"{BUILDER_VERSION}{path.suffix.lower()}".encode())
    digest.update(path.read_bytes())
    return digest.hexdigest()


def _read_file(path: Path) -> dict:
    # music21 warns through Python's warnings (a MusicXML measure "overfull", ...): into the report with
    # abc2midi's messages, not onto the console of a 3,000-file build
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        try:
            pieces, errors = read_pieces(path)
        except InputFileError as err:
            return {"pieces": [], "failures": [{"where": "", "problem": err.problem}], "warnings": []}
    python_warnings = list(dict.fromkeys(" ".join(str(w.message).split()) for w in raised))
    rows = [
        {
            "composer": piece.composer,
            "title": piece.title,
            "tune": -1 if piece.tune is None else piece.tune,
            "time_signatures": piece.time_signatures,
            "key": piece.key,
            "tempo": piece.tempo,
            "num_parts": piece.num_parts,
            "num_bars": piece.num_bars,
            "num_notes": piece.num_notes,
            "voices": voices_to_json(piece.voices),
            "lyrics": json.dumps(piece.lyrics, ensure_ascii=False),
            "midi": piece.score.dumps_midi(),
            "melody_hash": melody_hash(top_voice_pitches(piece.score)),
            "content_hash": content_hash(score_notes(piece.score)),
        }
        for piece in pieces
    ]
    failures = [{"where": _suffix(err.path, str(path)), "problem": err.problem} for err in errors]
    messages = [
        f"#{piece.tune}: {message}" if piece.tune is not None else message
        for piece in pieces
        for message in piece.warnings
    ]
    return {"pieces": rows, "failures": failures, "warnings": messages + python_warnings}


def _suffix(name: str, path: str) -> str:
    return name[len(path) :] if name.startswith(path) else name


def _features():
    from datasets import Features, List, Value

    types = {
        "tune": "int32",
        "tempo": "float64",
        "num_parts": "int32",
        "num_bars": "int32",
        "num_notes": "int32",
    }
    columns = {name: Value(types.get(name, "string")) for name in COLUMNS}
    columns["time_signatures"] = List(Value("string"))
    columns["midi"] = Value("binary")
    return Features(columns)


def _manifest_hash(args: CorpusBuildArgs, jobs: list[_Job]) -> str:
    files = sorted((job.source, os.stat(job.path).st_size, os.stat(job.path).st_mtime_ns) for job in jobs)
    settings = {
        "builder": BUILDER_VERSION,
        "input": str(Path(args.input).resolve()) if args.input else str(embedded_root()),
        "styles": sorted({job.style for job in jobs}),
        "seed": args.seed,
        "val_fraction": args.val_fraction,
        "test_fraction": args.test_fraction,
        "limit": args.limit,
        "style_limits": args.style_limits,
    }
    return hashlib.sha256(json.dumps([settings, files]).encode()).hexdigest()


def _plan(args: CorpusBuildArgs) -> list[_Job]:
    if args.input:
        if not args.style:
            raise CadenzaError("--style is required with --input (the style tag for all its files)")
        if args.styles:
            raise CadenzaError("--styles selects embedded styles; with --input use --style")
        return _folder_jobs(Path(args.input), validate_style_name(args.style), args.limit)
    if args.style:
        raise CadenzaError("--style tags a user folder given with --input; use --styles for embedded styles")
    styles = parse_style_list(args.styles) if args.styles else EMBEDDED_STYLES
    return _embedded_jobs(styles, parse_style_limits(args.style_limits, args.limit))


def _check_options(args: CorpusBuildArgs) -> None:
    if not (
        0 <= args.val_fraction and 0 <= args.test_fraction and args.val_fraction + args.test_fraction < 1
    ):
        raise CadenzaError("--val_fraction and --test_fraction must be >= 0 and sum to less than 1")
    if args.limit is not None and args.limit < 1:
        raise CadenzaError(f"--limit must be at least 1 file per style, got {args.limit}")


def estimated_seconds(path: str | Path) -> float:
    """What converting the file should cost on one core (`SECONDS_PER_MB`)."""
    rate = SECONDS_PER_MB.get(Path(path).suffix.lower(), SECONDS_PER_MB_OTHER)
    return os.stat(path).st_size / 1e6 * rate


def _convert_costed(job: _Job, cache: Path | None) -> tuple[float, tuple]:
    """`_convert`'s result with the file's estimated cost, which the progress bar counts."""
    return estimated_seconds(job.path), _convert(job, cache)


def _exit_on_sigterm(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def _run_jobs(
    jobs: list[_Job], num_proc: int, cache: Path | None, on_progress: Callable[[float], None] | None = None
) -> tuple[list[dict], list[dict[str, str]], list[dict]]:
    from tqdm import tqdm

    # Costliest files first and one file per task, so the two cores finish together: a Beethoven quartet
    # started last would run alone at the end.
    jobs = sorted(jobs, key=lambda job: -estimated_seconds(job.path))
    rows: list[dict] = []
    failures: list[dict[str, str]] = []
    said: list[dict] = []
    # The bar counts estimated seconds, not files or bytes: with the costliest first, a count of files
    # gave an ETA that swung from half an hour to four hours, and bytes were three quarters done once the
    # (large, fast) trecento XML files were. Off a terminal (a log file, CI) the bar still reports, once a
    # minute, so a long build shows life.
    progress = tqdm(
        total=sum(estimated_seconds(job.path) for job in jobs),
        desc=f"converting {len(jobs)} files",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
        mininterval=0.1 if sys.stderr.isatty() else 60,
    )
    convert = partial(_convert_costed, cache=cache)
    if num_proc <= 1:
        results = map(convert, jobs)
        pool = None
    else:
        pool = Pool(num_proc)
        results = pool.imap_unordered(convert, jobs, chunksize=1)
    # SIGTERM (a `kill`, a CI timeout) ends the build like Ctrl-C: through `finally`, which stops the
    # workers; by default it would end this process alone and leave them converting.
    in_main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if in_main else None
    try:
        for cost, (file_rows, file_failures, file_warnings) in results:
            rows += file_rows
            failures += file_failures
            said += file_warnings
            progress.update(min(cost, progress.total - progress.n))  # float sums may overshoot
            if on_progress is not None:
                on_progress(progress.n / progress.total)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        progress.close()
        if pool is not None:
            pool.terminate()
    by_path = lambda item: item["path"]  # noqa: E731
    return rows, sorted(failures, key=by_path), sorted(said, key=by_path)


def build_corpus(args: CorpusBuildArgs, on_progress: Callable[[float], None] | None = None) -> CorpusReport:
    """Build (or reuse) the corpus described by `args` and return its report; `on_progress` hears the
    share of the work done (the app's status line)."""
    from datasets import Dataset, DatasetDict

    _check_options(args)
    started = time.perf_counter()
    jobs = _unique_prefixes(_plan(args))  # first: it checks the options output_folder relies on
    out = output_folder(args)
    manifest = _manifest_hash(args, jobs)
    if not args.force and _saved_manifest(out) == manifest:
        report = CorpusReport(**json.loads((out / REPORT_FILE).read_text()))
        report.cached = True
        return report

    cache = out.parent / FILE_CACHE if args.file_cache else None
    rows, failures, said = _run_jobs(jobs, args.num_proc, cache, on_progress)
    if not rows:
        where = args.input or embedded_root()
        raise CadenzaError(f"{where}: no usable score file ({len(failures)} failed, e.g. {_first(failures)})")
    hashed = [HashedPiece(row["id"], row["content_hash"], row["melody_hash"]) for row in rows]
    assignment, dropped = assign_splits(hashed, args.seed, args.val_fraction, args.test_fraction)
    by_split: dict[str, list[dict]] = {split: [] for split in SPLITS}
    counts: dict[str, dict[str, int]] = {}
    for row in sorted(rows, key=lambda row: row["id"]):
        if row["id"] in assignment:
            split = assignment[row["id"]]
            by_split[split].append(row)
            counts.setdefault(row["style"], dict.fromkeys(SPLITS, 0))[split] += 1
    features = _features()
    # from_dict, not from_list: an empty split must still carry the schema
    corpus = DatasetDict(
        {
            split: Dataset.from_dict(
                {name: [row[name] for row in split_rows] for name in COLUMNS}, features=features
            )
            for split, split_rows in by_split.items()
        }
    )
    counts = {style: counts[style] for style in sorted(counts, key=_style_order)}
    stats = style_stats(row for split_rows in by_split.values() for row in split_rows)
    report = CorpusReport(
        out=str(out),
        files=len(jobs),
        counts=counts,
        failures=failures,
        duplicates=len(dropped),
        seconds=round(time.perf_counter() - started, 1),
        styles={style: stats[style] for style in counts},
        warnings=said,
    )
    _write_atomically(out, corpus, report, manifest)
    return report


def _first(failures: list[dict[str, str]]) -> str:
    return f"{failures[0]['path']}: {failures[0]['problem']}" if failures else "none"


def _style_order(style: str) -> tuple[int, str]:
    return (EMBEDDED_STYLES.index(style) if style in EMBEDDED_STYLES else len(EMBEDDED_STYLES), style)


def _saved_manifest(out: Path) -> str | None:
    try:
        return json.loads((out / MANIFEST_FILE).read_text())["hash"]
    except (OSError, ValueError, KeyError):
        return None


def _write_atomically(out: Path, corpus, report: CorpusReport, manifest: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    shutil.rmtree(temp, ignore_errors=True)
    # one shard per split: datasets saves an empty split as zero shards, which it then cannot load
    corpus.save_to_disk(str(temp), num_shards=dict.fromkeys(corpus, 1))
    (temp / REPORT_FILE).write_text(json.dumps(asdict(report), indent=1, ensure_ascii=False))
    # the manifest goes last: a folder without it is never taken for a finished build
    (temp / MANIFEST_FILE).write_text(json.dumps({"hash": manifest}))
    if out.exists():
        out.rename(old)
    temp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def load_corpus(path: str | Path):
    """The `datasets.DatasetDict` saved by `build_corpus` at `path`. The default embedded corpus is built
    first when it is missing (a new user's first `cadenza similar`, say: about 5 minutes on 2 cores)."""
    from datasets import DatasetDict, load_from_disk

    path = Path(path)
    if not path.is_dir() and path == Path(EMBEDDED_CORPUS):
        print(f"cadenza: building the embedded corpus into {path} (first use; minutes)", file=sys.stderr)
        build_corpus(CorpusBuildArgs(out=str(path)))
    if not path.is_dir():
        raise CadenzaError(f"{path}: corpus folder not found; build it with `cadenza corpus build`")
    try:
        corpus = load_from_disk(str(path))
    except Exception as err:  # datasets raises FileNotFoundError or ValueError depending on what is missing
        raise CadenzaError(f"{path}: not a corpus built by `cadenza corpus build` ({err})") from err
    if not isinstance(corpus, DatasetDict) or set(corpus) != set(SPLITS):
        raise CadenzaError(f"{path}: not a corpus built by `cadenza corpus build` (expected splits {SPLITS})")
    return corpus


@dataclass
class CorpusMergeArgs:
    inputs: list[str] = field(default_factory=list, metadata={"help": "corpus folders to join (two or more)"})
    out: str | None = field(default=None, metadata={"help": "output folder (required)"})


def merge_corpora(args: CorpusMergeArgs) -> CorpusReport:
    """One corpus of several built ones, split by split (a fine-tuned style's folder beside the embedded
    corpus, so that `cadenza evaluate` judges the new style against the old ones). Each style must come
    from one input only; the reports' figures are carried over."""
    from datasets import DatasetDict, concatenate_datasets

    if len(args.inputs) < 2 or not args.out:
        raise CadenzaError("cadenza corpus merge needs --inputs A B [...] and --out FOLDER")
    out = Path(args.out)
    if any(out.resolve() == Path(p).resolve() for p in args.inputs):
        raise CadenzaError(f"{out}: the output cannot be one of the inputs")
    started = time.perf_counter()
    corpora = [load_corpus(path) for path in args.inputs]
    owner: dict[str, str] = {}
    for path, corpus in zip(args.inputs, corpora, strict=True):
        for style in sorted({s for split in SPLITS for s in corpus[split]["style"]}):
            if style in owner:
                raise CadenzaError(f"style {style!r} is in both {owner[style]} and {path}")
            owner[style] = path
    merged = DatasetDict({split: concatenate_datasets([c[split] for c in corpora]) for split in SPLITS})
    counts = {
        style: {split: merged[split]["style"].count(style) for split in SPLITS}
        for style in sorted(owner, key=_style_order)
    }
    # What the builds said about their files, where they kept a report.
    reports = [json.loads(p.read_text()) for p in (Path(i) / REPORT_FILE for i in args.inputs) if p.is_file()]
    report = CorpusReport(
        out=str(out),
        files=sum(r["files"] for r in reports),
        counts=counts,
        failures=[f for r in reports for f in r["failures"]],
        duplicates=sum(r["duplicates"] for r in reports),
        seconds=time.perf_counter() - started,
        styles={style: stats for r in reports for style, stats in r.get("styles", {}).items()},
    )
    manifest = hashlib.sha256(
        "".join(_saved_manifest(Path(p)) or p for p in args.inputs).encode()
    ).hexdigest()
    _write_atomically(out, merged, report, manifest)
    return report


def run_corpus_merge(args: CorpusMergeArgs) -> None:
    print(merge_corpora(args).summary())


def run_corpus_build(args: CorpusBuildArgs) -> None:
    """CLI entry: build and print the report (also saved as report.json in the corpus folder)."""
    print(build_corpus(args).summary())
