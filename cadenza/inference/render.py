"""Writing a generated Score to files: MIDI, MusicXML, WAV audio and a piano-roll PNG.

Each writer is a function of (score, path). MusicXML goes through music21 from MIDI bytes, so its voices
are the score's tracks; audio uses the General MIDI SoundFont that ships inside pretty_midi's wheel.
"""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import symusic

from cadenza.errors import CadenzaError

SAMPLE_RATE = 44_100


def soundfont_path() -> Path:
    import pretty_midi

    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise CadenzaError(f"SoundFont not found at {path}; reinstall pretty_midi to render audio")
    return path


def write_midi(score: symusic.Score, path: Path) -> Path:
    score.dump_midi(str(path))
    return path


def write_musicxml(score: symusic.Score, path: Path) -> Path:
    import music21

    stream = music21.converter.parse(score.dumps_midi(), format="midi")
    stream.write("musicxml", fp=str(path))
    return path


def write_wav(score: symusic.Score, path: Path) -> Path:
    """16-bit stereo WAV at 44.1 kHz: the SoundFont through symusic's synthesizer, peak-normalized."""
    if score.note_num() == 0:
        raise CadenzaError(f"{path}: nothing to render, the score has no notes")
    synth = symusic.Synthesizer(sf_path=str(soundfont_path()), sample_rate=SAMPLE_RATE)
    audio = np.asarray(synth.render(score, stereo=True), dtype=np.float32)
    peak = float(np.abs(audio).max(initial=0.0))
    pcm = (audio / peak * 0.9 if peak > 0 else audio) * 32767
    with wave.open(str(path), "wb") as out:
        out.setnchannels(audio.shape[0])
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.T.astype("<i2").tobytes())
    return path


def write_pianoroll(score: symusic.Score, path: Path, title: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    tpq = score.ticks_per_quarter
    fig, ax = plt.subplots(figsize=(12, 4), dpi=100)
    colors = plt.get_cmap("tab10")
    pitches = []
    for index, track in enumerate(score.tracks):
        color = colors(index % 10)
        for note in track.notes:
            ax.add_patch(
                Rectangle((note.time / tpq, note.pitch - 0.4), note.duration / tpq, 0.8, color=color)
            )
            pitches.append(note.pitch)
        ax.plot([], [], color=color, linewidth=6, label=f"{track.name or 'track'} (program {track.program})")
    end = max(score.end() / tpq, 1.0)
    for bar in _bar_lines(score):
        ax.axvline(bar / tpq, color="0.8", linewidth=0.6, zorder=0)
    ax.set_xlim(0, end)
    ax.set_ylim(min(pitches, default=60) - 2, max(pitches, default=72) + 2)
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title or path.stem)
    if 0 < len(score.tracks) <= 8:  # beyond that the legend would hide the notes
        ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _bar_lines(score: symusic.Score) -> list[int]:
    """Tick of every bar start, following the time signatures (4/4 when there is none)."""
    tpq, end = score.ticks_per_quarter, score.end()
    signatures = sorted((ts.time, ts.numerator, ts.denominator) for ts in score.time_signatures) or [
        (0, 4, 4)
    ]
    lines: list[int] = []
    for index, (start, numerator, denominator) in enumerate(signatures):
        stop = signatures[index + 1][0] if index + 1 < len(signatures) else end
        length = max(1, numerator * tpq * 4 // denominator)
        lines.extend(range(start, stop, length))
    return lines


WRITERS: dict[str, Callable[[symusic.Score, Path], Path]] = {
    "mid": write_midi,
    "musicxml": write_musicxml,
    "wav": write_wav,
    "png": write_pianoroll,
}


def check_formats(formats: Iterable[str]) -> list[str]:
    formats = list(formats)
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise CadenzaError(f"unknown output format {', '.join(unknown)}; choose from {', '.join(WRITERS)}")
    return formats


def output_folder(path: str | Path) -> Path:
    """`path` as a folder to write into, created if need be, or a clear error (a file there, no rights)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CadenzaError(f"{path}: cannot write output here ({err.strerror})") from None
    return path


def render(score: symusic.Score, out_dir: str | Path, stem: str, formats: Iterable[str]) -> dict[str, Path]:
    """Write `score` as `<out_dir>/<stem>.<format>` for each format; returns format -> path."""
    formats = check_formats(formats)
    out_dir = output_folder(out_dir)
    return {f: WRITERS[f](score, out_dir / f"{stem}.{f}") for f in formats}
