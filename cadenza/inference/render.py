"""Writing a generated Score to files: MIDI, MusicXML, WAV audio and a piano-roll PNG.

A generated track's program is a voice slot, not a sound (`cadenza.data.voices`), so `render` first
dresses the score (`dress`): each track is named after its voice and given the program the style's voices
play (`STYLE_SOUNDS`), with whole-number tempos. Each writer is then a function of (dressed score, path,
info): the info (title, composer, key) is what the sheet music and the piano roll say above the
notes. MusicXML is `notation.write_musicxml`; audio uses the General MIDI SoundFont that ships inside
pretty_midi's wheel.
"""

from __future__ import annotations

import tempfile
import wave
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import symusic
from miditok.constants import MIDI_INSTRUMENTS

from cadenza.data.streams import is_song, lyric_event, song_syllables
from cadenza.data.styles import OWN_SOUND_FALLBACK, STYLE_SOUNDS
from cadenza.data.voices import Voice
from cadenza.errors import CadenzaError
from cadenza.inference.generator import Piece
from cadenza.inference.notation import REGENERATED_TEXT, SEAM_TEXT, ScoreInfo, write_musicxml
from cadenza.keys import pitch_name

SAMPLE_RATE = 44_100
MAX_AUDIO_SECONDS = 600


def soundfont_path() -> Path:
    import pretty_midi

    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise CadenzaError(f"SoundFont not found at {path}; reinstall pretty_midi to render audio")
    return path


def track_voices(score: symusic.Score, voices: Iterable[Voice] = ()) -> list[Voice]:
    """The voice of each of `score`'s tracks, found by its slot (the track's program); `Voice(slot)` for a
    slot none of `voices` has."""
    by_slot = {voice.slot: voice for voice in voices}
    return [by_slot.get(int(track.program), Voice(int(track.program))) for track in score.tracks]


def voice_name(voice: Voice, number: int) -> str:
    """A part's name: the source's, else its source instrument's General MIDI name, else "Voice <number>"
    (never the slot's instrument, which would name four chorale voices after four pianos)."""
    if voice.name:
        return voice.name
    if voice.program is not None:
        return MIDI_INSTRUMENTS[voice.program]["name"]
    return f"Voice {number}"


def voice_sound(voice: Voice, style: str | None) -> int:
    """The General MIDI program `voice` plays in `style`: the style's sound (`STYLE_SOUNDS`); for a style
    marked None there, the voice's source instrument, else OWN_SOUND_FALLBACK; for any other style (or
    None), the voice's source instrument, else its slot."""
    if style in STYLE_SOUNDS:
        sound = STYLE_SOUNDS[style]
        if sound is not None:
            return sound
        return OWN_SOUND_FALLBACK if voice.program is None else voice.program
    return voice.slot if voice.program is None else voice.program


def dress(
    score: symusic.Score, voices: Iterable[Voice] | None = None, style: str | None = None
) -> symusic.Score:
    """A copy of `score` ready to write: tracks in slot order, each named after its voice (`voice_name`,
    the voice found by slot as in `track_voices`) and playing its sound in `style` (`voice_sound`), tempos
    rounded to whole beats a minute (a tempo token's value, 121.29, is no tempo mark a musician writes).
    Tracks that end up sharing a program stay separate tracks (and MusicXML parts)."""
    out = score.copy()
    # A model writes voices in any order; a score lists them by slot (soprano first, as the corpus has them).
    out.tracks.sort(key=lambda track: track.program)
    for tempo in out.tempos:
        tempo.qpm = float(round(tempo.qpm))
    known = track_voices(out, voices or ())
    for number, (track, voice) in enumerate(zip(out.tracks, known, strict=True), start=1):
        track.name = voice_name(voice, number)
        track.program = voice_sound(voice, style)
    return out


def write_midi(score: symusic.Score, path: Path, info: ScoreInfo | None = None) -> Path:
    score.dump_midi(str(path))
    return path


def write_wav(score: symusic.Score, path: Path, info: ScoreInfo | None = None) -> Path:
    """16-bit stereo WAV at 44.1 kHz: the SoundFont through symusic's synthesizer, peak-normalized; at
    most the first MAX_AUDIO_SECONDS of the score (10 MB of audio a minute: a long prompt file once made a
    535 MB WAV)."""
    if score.note_num() == 0:
        raise CadenzaError(f"{path}: nothing to render, the score has no notes")
    timed = score.to("second")
    if timed.end() > MAX_AUDIO_SECONDS:
        timed = timed.clip(0, MAX_AUDIO_SECONDS, clip_end=True)
    synth = symusic.Synthesizer(sf_path=str(soundfont_path()), sample_rate=SAMPLE_RATE)
    audio = np.asarray(synth.render(timed, stereo=True), dtype=np.float32)
    peak = float(np.abs(audio).max(initial=0.0))
    pcm = (audio / peak * 0.9 if peak > 0 else audio) * 32767
    with wave.open(str(path), "wb") as out:
        out.setnchannels(audio.shape[0])
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.T.astype("<i2").tobytes())
    return path


MAX_LEGEND = 16  # voices named beside the roll; past that the list would be taller than the roll


def pianoroll_figure(score: symusic.Score, title: str, info: ScoreInfo | None = None):
    """A piano roll: one colour per voice, named in a legend beside (never over) the notes, bar lines,
    a pitch axis in note names (every C and G), a continuation's seam (`info.seam`, the tick where its new
    bars begin) as a labelled line and bars written again (`info.regenerated`) shaded and labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    tpq = score.ticks_per_quarter
    fig, ax = plt.subplots(figsize=(14, 5.5), dpi=100)
    colors = plt.get_cmap("tab10")
    pitches = []
    for index, track in enumerate(score.tracks):
        color = colors(index % 10)
        for note in track.notes:
            ax.add_patch(
                Rectangle((note.time / tpq, note.pitch - 0.4), note.duration / tpq, 0.8, color=color)
            )
            pitches.append(note.pitch)
        ax.plot([], [], color=color, linewidth=6, label=track.name or f"program {track.program}")
    for bar in bar_starts(score):
        ax.axvline(bar / tpq, color="0.8", linewidth=0.6, zorder=0)
    low, high = min(pitches, default=60) - 2, max(pitches, default=72) + 2
    if is_song(score):  # each syllable under the note it is sung on
        low -= 2
        notes = sorted(next(t.notes for t in score.tracks if len(t.notes)), key=lambda n: (n.time, n.pitch))
        for note, item in zip(notes, song_syllables(score), strict=True):
            if item is not None:
                text = lyric_event(*item)
                ax.text(
                    note.time / tpq, note.pitch - 1.0, text, va="top", fontsize="x-small", rotation=30,
                    parse_math=False,  # a "$" in a lyric is a letter, not TeX
                )  # fmt: skip
    if info is not None and info.seam:
        ax.axvline(info.seam / tpq, color="black", linestyle="--", linewidth=1.5)
        ax.text(info.seam / tpq, high, f" {SEAM_TEXT}", va="top", ha="left", fontsize="small")
    for first, end in info.regenerated if info is not None else ():
        ax.axvspan(first / tpq, end / tpq, color="gold", alpha=0.25, zorder=0)
        ax.text(first / tpq, high, f" {REGENERATED_TEXT}", va="top", ha="left", fontsize="small")
    ax.set_xlim(0, max(score.end() / tpq, 1.0))
    ax.set_ylim(low, high)
    ticks = [p for p in range(low, high + 1) if p % 12 in (0, 7)]
    ax.set_yticks(ticks, [pitch_name(p) for p in ticks])
    ax.grid(axis="y", color="0.92", linewidth=0.6)
    ax.set_xlabel("quarter notes")
    ax.set_title(title)
    if 0 < len(score.tracks) <= MAX_LEGEND:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    fig.tight_layout()
    return fig


def write_pianoroll(score: symusic.Score, path: Path, info: ScoreInfo | None = None) -> Path:
    import matplotlib.pyplot as plt

    fig = pianoroll_figure(score, info.title if info else path.stem, info)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def bar_starts(score: symusic.Score) -> list[int]:
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


def end_at_bar(score: symusic.Score, bars: int) -> symusic.Score:
    """The piece cut at the end of its bar number `bars`: a last note sampled longer than its bar rings
    on into bars the piece does not have (an 8-bar piece engraves as 9, the last tied over)."""
    starts = bar_starts(score)
    if len(starts) <= bars:
        return score
    end, cut = starts[bars], score.copy()
    for track in cut.tracks:
        kept = [note for note in track.notes if note.time < end]
        for note in kept:
            note.duration = min(note.duration, end - note.time)
        track.notes = track.notes.__class__(kept)
    return cut


def one_line(score: symusic.Score) -> symusic.Score:
    """Every track as a single line: a note ends where the track's next note begins. In a style whose
    voices each sing one note at a time (a chorale's, a fiddle tune's) a sampled note that outlasts the
    next onset overlaps its own voice, which no singer or fiddler can play."""
    lined = score.copy()
    for track in lined.tracks:
        notes = sorted(track.notes, key=lambda n: (n.time, n.pitch))
        for note, following in zip(notes, notes[1:], strict=False):
            if following.time > note.time:
                note.duration = min(note.duration, following.time - note.time)
        track.notes = track.notes.__class__(notes)
    return lined


WRITERS: dict[str, Callable[[symusic.Score, Path, ScoreInfo | None], Path]] = {
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
    """`path` as a folder to write into, created if need be, or a clear error (a file there, no rights).

    An existing folder is probed with a temporary file, so a read-only one fails here, before any music is
    sampled, and not in the first writer after it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise CadenzaError(f"{path}: cannot write output here ({err.strerror})") from None
    return path


def piece_stem(style: str, seed: int, index: int) -> str:
    """A written piece's file name without extension, the same in the CLI and the app: short enough that a
    download list shows it whole, and enough to write the piece again (style, seed, place in its batch)."""
    return f"{style}_{seed}_{index}"


def piece_info(piece: Piece, whole: bool = False) -> ScoreInfo:
    """A generated piece's title ("bach, seed 42"), composer ("cadenza"), key (its key token's; the
    analysed key for a model without key tokens) and a continuation's seam, in `piece.excerpt()` (or in
    the whole score)."""
    seam = piece.new_start - (0 if whole else piece.context_start) if piece.new_start else None
    return ScoreInfo(
        title=f"{piece.style}, seed {piece.seed}", key=piece.key, seam=seam, regenerated=piece.regenerated
    )


def render(
    score: symusic.Score,
    out_dir: str | Path,
    stem: str,
    formats: Iterable[str],
    voices: Iterable[Voice] | None = None,
    style: str | None = None,
    info: ScoreInfo | None = None,
) -> dict[str, Path]:
    """Write `score`, dressed for `voices` in `style` (see `dress`), as `<out_dir>/<stem>.<format>` for each
    format, under `info` (the stem as title, and the analysed key, without one); returns format -> path."""
    formats = check_formats(formats)
    out_dir = output_folder(out_dir)
    dressed = dress(score, voices, style)
    return {f: WRITERS[f](dressed, out_dir / f"{stem}.{f}", info) for f in formats}


def render_piece(
    piece: Piece, out_dir: str | Path, stem: str, formats: Iterable[str], whole: bool = False
) -> dict[str, Path]:
    """`render` for a generated piece: its voices, sound and heading (`piece_info`); a continuation's
    prompt bars and new ones (`piece.excerpt()`), or with `whole` the whole prompt file and new bars."""
    score = piece.score if whole else piece.excerpt()
    info = piece_info(piece, whole=whole)
    return render(score, out_dir, stem, formats, piece.voices, piece.sound_style, info)
