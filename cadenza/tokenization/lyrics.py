"""Lyric tokens (`CadenzaTokenizer.add_lyrics`): a texted melody's notes each follow one lyric item, written
before the note's Position: a syllable spelled as its UTF-8 bytes (`Char_00` ... `Char_FF`) closed by
`Syllable_Hyphen` (its word goes on) or `Syllable_WordEnd` (`Syllable_SongEnd` for the song's last
syllable, so the model knows where the song cadences, as a comma's byte tells it where a line ends), or
`Syllable_Melisma` for a note that carries no new syllable. Bytes rather than characters or a syllable
vocabulary: any language and spelling is open to them with 256 tokens, nothing a user types is out of
vocabulary, and a syllable costs about 4 tokens (German and Italian syllables are 2-4 letters). Placing
the item before the note lets the model choose the note's time and pitch knowing the syllable (a stressed
syllable on a strong beat, a cadence after a comma), and keeps the note's own tokens whole for BPE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import symusic

from cadenza.data.streams import song_syllables
from cadenza.errors import CadenzaError

if TYPE_CHECKING:
    from cadenza.tokenization.tokenizer import CadenzaTokenizer

CHAR_PREFIX = "Char_"  # one token per UTF-8 byte of a syllable
HYPHEN_TOKEN = "Syllable_Hyphen"  # the syllable's word goes on
WORD_END_TOKEN = "Syllable_WordEnd"  # the syllable ends its word
MELISMA_TOKEN = "Syllable_Melisma"  # the note carries no new syllable
SONG_END_TOKEN = "Syllable_SongEnd"  # the song's last syllable (its word ends); lyrics adapters from 12-03
SYLLABLE_ENDS = (HYPHEN_TOKEN, WORD_END_TOKEN, SONG_END_TOKEN)  # what closes a syllable's bytes
LYRIC_TOKENS = (
    *[f"{CHAR_PREFIX}{b:02X}" for b in range(256)],
    HYPHEN_TOKEN,
    WORD_END_TOKEN,
    MELISMA_TOKEN,
    SONG_END_TOKEN,
)


def syllable_ids(tok: CadenzaTokenizer, syllable: str, word_end: bool, song_end: bool = False) -> list[int]:
    """The lyric item of one syllable; an empty syllable is a melisma's item. The song's last syllable
    (`song_end`) closes with `SONG_END_TOKEN` where the tokenizer has it (older ones end it as a word), if
    it ends its word (a text cut inside a word goes on)."""
    if not syllable:
        return [tok.vocab[MELISMA_TOKEN]]
    if song_end and word_end and SONG_END_TOKEN in tok.vocab:
        ends = tok.vocab[SONG_END_TOKEN]
    else:
        ends = tok.vocab[WORD_END_TOKEN if word_end else HYPHEN_TOKEN]
    return [*(tok.vocab[f"{CHAR_PREFIX}{b:02X}"] for b in syllable.encode()), ends]


def lyrics_of(tok: CadenzaTokenizer, ids: list[int]) -> list[tuple[str, bool] | None]:
    """Per note of a sequence (each Pitch token, in order): the lyric item before it, as (syllable,
    word ends), or None (a melisma, or no item). Bytes that are not UTF-8 read as U+FFFD."""
    if not tok.has_lyrics:
        return []
    first_char, hyphen = tok.vocab[f"{CHAR_PREFIX}00"], tok.vocab[HYPHEN_TOKEN]
    word_ends = {tok.vocab[WORD_END_TOKEN], tok.vocab.get(SONG_END_TOKEN)}
    pitches = tok.ids_of("Pitch")
    out: list[tuple[str, bool] | None] = []
    spelled, pending = bytearray(), None
    for token in tok.unmerge(ids):
        if token == tok.eos_id:
            break
        if first_char <= token < first_char + 256:
            spelled.append(token - first_char)
        elif token == hyphen or token in word_ends:
            pending, spelled = (spelled.decode(errors="replace"), token in word_ends), bytearray()
        elif token in pitches:
            out.append(pending)
            pending = None
    return out


def with_lyrics(tok: CadenzaTokenizer, ids: list[int], score: symusic.Score) -> list[int]:
    """REMI ids of a song with each note's lyric item inserted before the note (its Position)."""
    items = song_syllables(score)
    pitches = tok.ids_of("Pitch")
    tempos, positions, programs = tok.ids_of("Tempo"), tok.ids_of("Position"), tok.ids_of("Program")
    # miditok writes the first tempo at the piece's start even when the first note comes later: a
    # position without a note, which a song has no place for (the tempo is on the first note too).
    rest = [i for i in range(len(ids) - 2) if ids[i] in positions and ids[i + 1] in tempos]
    rest = {j for i in rest if ids[i + 2] not in programs for j in (i, i + 1)}
    ids = [token for i, token in enumerate(ids) if i not in rest]
    at = [i for i, token in enumerate(ids) if token in pitches]
    if len(at) != len(items):
        raise CadenzaError(
            f"a song must be one line of notes: {len(items)} notes in its track, {len(at)} in "
            "its tokens (a chord, or notes out of the tokenizer's range)"
        )
    out = list(ids)
    last = max((i for i, item in enumerate(items) if item), default=-1)  # the song's last syllable
    for number, (index, item) in reversed(list(enumerate(zip(at, items, strict=True)))):
        start = index - 1  # the note's Program token, after its Position and a tempo change
        while start > 0 and out[start - 1] in tempos:
            start -= 1
        if start > 0 and out[start - 1] in positions:
            start -= 1
        out[start:start] = syllable_ids(tok, *item, number == last) if item else syllable_ids(tok, "", True)
    return out


# --- vocabulary ---------------------------------------------------------------------------
