"""The Lyrics -> Melody tab: a lyrics adapter's singer, lyrics set to a melody or a pair written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cadenza.errors import CadenzaError
from cadenza.inference.request import Request
from cadenza.tokenization.lyrics import lyrics_of
from cadenza.ui.common import (
    AS_GENERATED,
    MAX_TEMPO,
    MIN_TEMPO,
    MODEL_LOCK,
    Variation,
    checked_number,
    optional_choice,
    render_variation,
    request_dir,
    resolve_seed,
)


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
    tempo = None if form.tempo in (None, "", 0) else checked_number("tempo", form.tempo, MIN_TEMPO, MAX_TEMPO)
    seed, voice = resolve_seed(form.seed, form.random_seed), optional_choice(form.voice)
    if form.lyrics is not None and not form.lyrics.strip():
        raise CadenzaError("the lyrics are empty: type the words to set, or press Song for a new pair")
    style = form.style
    request = Request(style, key=optional_choice(form.key), tempo=tempo, seed=seed)
    with MODEL_LOCK:
        if form.lyrics is None:
            piece, note = singer.song(request, voice=voice), ""
        else:
            piece, _, note = singer.sing(form.lyrics, request, form.language, form.melisma, voice)
        variation = render_variation(piece, (out_dir or request_dir()), f"song-{piece_stem(style, seed, 0)}")
    words = " ".join(
        text + ("" if word_end else "-") for text, word_end in
        (item for item in lyrics_of(singer.tokenizer, piece.tokens) if item is not None)
    )  # fmt: skip
    line = f"**{style}**, {piece.key}, seed **{seed}** — sung: {words}"
    return Sung(variation, line + (f"\n\n_{note}_" if note else ""))
