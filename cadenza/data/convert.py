"""One score file -> its corpus rows, in worker processes: `run_jobs` converts a build's files (costliest
first, with a progress bar that counts estimated seconds), each in a time limit and through a per-file
cache keyed by the file's bytes and `BUILDER_VERSION`, so a build killed half-way, or the same files under
other limits, costs no second conversion. `corpus.build_corpus` plans the jobs and writes the dataset."""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from multiprocessing import Pool
from pathlib import Path

from cadenza.data.loading import read_pieces
from cadenza.data.splits import content_hash, melody_hash, score_notes, top_voice_pitches
from cadenza.data.voices import voices_to_json
from cadenza.errors import InputFileError

# Bump when the rows a build writes change, so old cached corpora and converted files are rebuilt.
BUILDER_VERSION = 6  # 6: repeats played out without copies (velocities in written order)
# A file that takes longer than this to convert is reported and skipped (music21's repeat expansion can
# loop on odd ABC); the slowest embedded file, a Beethoven quartet, takes seconds.
FILE_SECONDS = 120
# abc2midi and music21 warnings kept per file in the report (the count is always kept).
WARNINGS_KEPT = 3
# Seconds to convert a megabyte of each format on one core of the 2-core machine, as measured by
# `python benchmarks/corpus_build.py --rates true` (docs/corpus.md): a compressed quartet (.mxl) costs
# 24 times its size in uncompressed MusicXML. They order the work (costliest first, so no long file
# starts last) and weigh the progress bar, so its ETA holds from the start.
SECONDS_PER_MB = {".mxl": 24.0, ".krn": 48.0, ".abc": 16.0, ".xml": 1.0, ".musicxml": 1.0}
SECONDS_PER_MB_OTHER = 1.0  # MIDI: symusic reads it


@dataclass(frozen=True)
class Job:
    style: str
    path: str
    source: str  # relative to the input root
    id_prefix: str


def _convert(job: Job, cache: Path | None) -> tuple[list[dict], list[dict[str, str]], list[dict]]:
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


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector off while one file is read, on again after. music21 makes hundreds of
    thousands of small objects tied in cycles (an element and the streams it sits in), and the collector,
    started by allocation counts, walked the growing heap again and again: 17-19% of reading a kern or
    MusicXML file. The next collection after the file frees its cycles; the largest corpus file (Beethoven
    op. 18/4) peaks at 221 MB instead of 183 MB."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _file_key(path: Path) -> str:
    digest = hashlib.sha256(f"{BUILDER_VERSION}{path.suffix.lower()}".encode())
    digest.update(path.read_bytes())
    return digest.hexdigest()


def _read_file(path: Path) -> dict:
    # music21 warns through Python's warnings (a MusicXML measure "overfull", ...): into the report with
    # abc2midi's messages, not onto the console of a 3,000-file build
    with warnings.catch_warnings(record=True) as raised, _no_cycle_collection():
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


def estimated_seconds(path: str | Path) -> float:
    """What converting the file should cost on one core (`SECONDS_PER_MB`)."""
    rate = SECONDS_PER_MB.get(Path(path).suffix.lower(), SECONDS_PER_MB_OTHER)
    return os.stat(path).st_size / 1e6 * rate


def _convert_costed(job: Job, cache: Path | None) -> tuple[float, tuple]:
    """`_convert`'s result with the file's estimated cost, which the progress bar counts."""
    return estimated_seconds(job.path), _convert(job, cache)


def _exit_on_sigterm(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def run_jobs(
    jobs: list[Job], num_proc: int, cache: Path | None, on_progress: Callable[[float], None] | None = None
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
