"""What every tab shares: the widgets' raw values checked, request folders, a piece rendered to the files a
tab shows (audio, piano roll, sheet music, downloads), the one lock on the model, and errors in one line."""

from __future__ import annotations

import html
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cadenza.data.uploads import MAX_UPLOAD_BYTES
from cadenza.errors import CadenzaError, InputFileError, one_line
from cadenza.inference.request import MAX_SEED
from cadenza.keys import KEY_CHOICES

AS_GENERATED = "as generated"
MAX_VARIATIONS = 4
MAX_CANDIDATES = 4  # a variation the critic's best of at most this many: 4 x 4 pieces is a 16-row batch
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


# --- validation of raw widget values ---------------------------------------------------------------
def checked_number(name: str, value, low: float, high: float, integer: bool = False) -> float | int:
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


def optional_choice(value: str | None) -> str | None:
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
    return checked_number("seed", seed, 0, MAX_SEED, integer=True)


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


def render_variation(piece, folder: Path, stem: str) -> Variation:
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
