"""The Fine-tune tab: an adapter trained on uploaded scores in a worker thread, its progress polled, then
served; and the adapters served at start-up."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cadenza.errors import CadenzaError, one_line
from cadenza.ui.common import MODEL_LOCK

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
