"""Reading a user's file in a worker process, stopped past a time or memory limit: a file that sends a
parser into a loop (music21's repeat expansion on some fuzzed ABC) or through gigabytes costs its caller
that much, not its request slot for good (`loading.load_pieces_limited`)."""

from __future__ import annotations

import atexit
import multiprocessing
import queue
import resource
from pathlib import Path

from cadenza.errors import InputFileError

# Address space of a reading worker process; the largest embedded files peak near 0.3 GB, while music21
# would use 4 GB within a minute on a 4.5 MB ABC file of notes. A worker is replaced after
# `READS_PER_WORKER` files, so what its heap keeps from earlier files does not count against later ones
# (with the cap on long-lived corpus-build workers, 3,738 of the embedded corpus' files were refused).
READ_MEMORY_BYTES = 2 * 2**30
READS_PER_WORKER = 20

# Reading workers, each a one-process pool: a free one takes the next file, so one file stuck in a parser
# delays nobody until every worker is stuck. None marks a slot whose process is not started (or was killed).
READ_WORKERS = 2
_idle_workers: queue.Queue = queue.Queue()
for _ in range(READ_WORKERS):
    _idle_workers.put(None)


def run_limited(function, args: tuple, seconds: float, path: str | Path):
    """`function(*args)` in a reading worker process (started on first use, kept for the next call); past
    `seconds` of its own run the worker is killed and the file is refused as too slow to read. A call
    waits for a free worker first; that wait does not count against `seconds`."""
    worker = _idle_workers.get()
    try:
        if worker is None:
            # spawn, not fork: the caller may be a threaded server with torch loaded
            worker = multiprocessing.get_context("spawn").Pool(
                1, initializer=limit_memory, maxtasksperchild=READS_PER_WORKER
            )
        try:
            return worker.apply_async(_within_memory, (function, args)).get(seconds)
        except (MemoryError, multiprocessing.TimeoutError) as err:
            worker.terminate()  # the next file gets a fresh process, with nothing left over from this one
            worker = None
            problem = (
                f"needs more than {READ_MEMORY_BYTES / 2**30:g} GB of memory to read; stopped"
                if isinstance(err, MemoryError)
                else f"took longer than {seconds:g} s to read; stopped"
            )
            raise InputFileError(path, problem) from None
    finally:
        _idle_workers.put(worker)


def _within_memory(function, args: tuple):
    """`function(*args)` in a reading worker. A parser that runs into the memory cap fails in many ways (a
    MemoryError, CPython's "returned NULL without setting an exception", its own errors): any failure
    after this process' peak memory came near the cap is reported as a MemoryError."""
    try:
        return function(*args)
    except Exception as err:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
        if isinstance(err, MemoryError) or peak > 0.75 * READ_MEMORY_BYTES:
            raise MemoryError from None
        raise


def limit_memory(limit: int = READ_MEMORY_BYTES) -> None:
    """Cap this process's address space: a reader that would need more gets a MemoryError, and its file is
    refused, instead of taking the machine's memory. For short-lived worker processes only (a Pool's
    initializer)."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@atexit.register
def _stop_workers() -> None:
    """Stop the reading workers before the interpreter dismantles what a Pool needs to stop itself."""
    while not _idle_workers.empty():
        worker = _idle_workers.get_nowait()
        if worker is not None:
            worker.terminate()
