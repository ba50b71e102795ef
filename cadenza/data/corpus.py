"""`cadenza corpus build`: score files -> a `datasets.DatasetDict` (train/validation/test) on disk.

The input is the music21 corpus that ships with music21 (no download) or a user's folder tagged with one
style. Files are converted in worker processes; a bad file is reported and skipped, never fatal. A rebuild
with the same files and options only reads the saved report, and a build writes into a temporary folder
that is renamed into place, so an interrupted build never leaves half a corpus; each converted file is
kept in a per-file cache, so the next build (resumed, or with other limits) starts where this one got to.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cadenza.data.checks import SUPPORTED_SUFFIXES
from cadenza.data.convert import BUILDER_VERSION, Job, run_jobs
from cadenza.data.splits import (
    SPLITS,
    HashedPiece,
    assign_splits,
)
from cadenza.data.stats import stats_table, style_stats
from cadenza.data.styles import (
    EMBEDDED_STYLES,
    SKIPPED_SUFFIXES,
    STYLE_FOLDERS,
    parse_style_list,
    validate_style_name,
)
from cadenza.errors import CadenzaError
from cadenza.paths import CORPORA, EMBEDDED_CORPUS

COLUMNS: tuple[str, ...] = (
    "id", "style", "composer", "title", "source", "tune", "time_signatures", "key", "tempo",
    "num_parts", "num_bars", "num_notes", "voices", "lyrics", "midi", "melody_hash", "content_hash",
)  # fmt: skip
REPORT_FILE = "report.json"
FILE_CACHE = ".file_cache"  # beside the output folder, shared by the corpora built next to each other
MANIFEST_FILE = "manifest.json"


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


def _embedded_jobs(styles: tuple[str, ...], limits: dict[str, int | None]) -> list[Job]:
    root = embedded_root()
    jobs: list[Job] = []
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


def _folder_jobs(folder: Path, style: str, limit: int | None) -> list[Job]:
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


def _job(style: str, path: Path, root: Path, base: Path) -> Job:
    id_prefix = f"{style}/{path.relative_to(base).as_posix()}"
    return Job(style, str(path), path.relative_to(root).as_posix(), id_prefix)


def _unique_prefixes(jobs: list[Job]) -> list[Job]:
    """Drop the suffix from ids, except where that would make two ids equal (bwv.xml next to bwv.krn)."""
    stems = [os.path.splitext(job.id_prefix)[0] for job in jobs]
    counts = Counter(stems)
    return [
        Job(job.style, job.path, job.source, stem if counts[stem] == 1 else job.id_prefix)
        for job, stem in zip(jobs, stems, strict=True)
    ]


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


def _manifest_hash(args: CorpusBuildArgs, jobs: list[Job]) -> str:
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


def _plan(args: CorpusBuildArgs) -> list[Job]:
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
    rows, failures, said = run_jobs(jobs, args.num_proc, cache, on_progress)
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
