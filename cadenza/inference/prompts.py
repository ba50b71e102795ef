"""What the model reads before it writes, as REMI ids: a fresh piece's control prompt, a continuation's
bars of a file, the window a long piece slides with; and the transposition that takes a model without key
tokens to an asked key. Pure functions of a tokenizer; `Composer` strings them together."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import symusic

from cadenza.data import loading
from cadenza.data.loading import load_pieces_limited
from cadenza.data.voices import Voice
from cadenza.errors import CadenzaError
from cadenza.inference.render import bar_starts, end_at_bar
from cadenza.keys import Key, analysed_key, annotated_key, has_key, parse_key
from cadenza.tokenization.tokenizer import CadenzaTokenizer, split_bars

DEFAULT_TIME_SIGNATURE = "4/4"


def time_signatures(tok: CadenzaTokenizer) -> list[str]:
    """The meters the tokenizer writes ("4/4", "3/4", ...), in its order."""
    return [tok.value(i) for i in sorted(tok.ids_of("TimeSig"))]


def control_prompt(tok: CadenzaTokenizer, tempo: float | None, time_signature: str | None) -> list[int]:
    """`Bar [TimeSig [Position_0 Tempo]]`: a piece starts with a bar line, which also keeps the model from
    choosing the mid-piece marker after the style. The model spells it (`PromptHealing`)."""
    if tempo is None and time_signature is None:
        return [tok.bar_id]
    vocab = tok.vocab
    ts = time_signature or DEFAULT_TIME_SIGNATURE
    if f"TimeSig_{ts}" not in vocab:
        supported = ", ".join(time_signatures(tok))
        raise CadenzaError(f"unsupported time signature {ts!r}; supported: {supported}")
    prompt = [tok.bar_id, vocab[f"TimeSig_{ts}"]]
    if tempo is not None:
        if not 0 < tempo <= 1000:
            raise CadenzaError(f"tempo must be in (0, 1000] beats per minute, got {tempo}")
        nearest = min(sorted(tok.ids_of("Tempo")), key=lambda i: abs(float(tok.value(i)) - tempo))
        prompt += [vocab["Position_0"], nearest]
    return prompt


def continuation_prompt(
    tok: CadenzaTokenizer, prompt: str | Path | loading.ScorePiece, prompt_bars: int
) -> tuple[list[int], list[int], list[Voice], Key | None]:
    """(bars of the file before the prompt, the last `prompt_bars` bars) as REMI ids, the file's voices and
    its key (None for a file too short to have one: a note, a bare fifth)."""
    piece = prompt if isinstance(prompt, loading.ScorePiece) else load_pieces_limited(prompt)[0]
    bars = split_bars(tok.encode_music(piece.score), {tok.bar_id})
    bars = [bar for bar in bars if bar and bar[0] == tok.bar_id]
    head, tail = bars[:-prompt_bars], bars[-prompt_bars:]
    music = [t for bar in head for t in bar], [t for bar in tail for t in bar]
    return *music, piece.voices, annotated_key(piece.key) if has_key(piece.score) else None


def window(tok: CadenzaTokenizer, music: list[int], room: int) -> list[int]:
    """The most recent music that fits `room` of the model's tokens and starts grammatically: at a Bar, or
    (for a bar longer than that) `Bar TimeSig [Position]` plus the bar's tail from one of its notes."""
    size = lambda part: len(tok.merge(part))  # noqa: E731
    starts = [i for i, t in enumerate(music) if t == tok.bar_id]
    # BPE merges stay inside bars, so the bars' sizes add up; from the last bar back, keep what fits.
    sizes = [size(music[a:b]) for a, b in zip(starts, [*starts[1:], len(music)], strict=True)]
    suffix = np.cumsum(sizes[::-1])[::-1] if sizes else []
    fitting = [i for i, total in zip(starts, suffix, strict=True) if total <= room]
    if fitting:
        return music[fitting[0] :]
    if not starts:  # only without constraints: there is no grammatical cut to make
        return music[-room:]
    last = starts[-1]
    opened = music[last : last + 2]
    kinds = {i: tok.kind(music[i]) for i in range(last + 2, len(music))}  # the last bar's tokens
    # At a Position if the tail from one fits: from inside a position the grammar would not know which
    # voices already played there, and could let one sound twice.
    for i in range(last + 2, len(music)):
        if kinds[i] == "Position" and size(music[i:]) <= room - 2:
            return opened + music[i:]
    position = None
    for i in range(last + 2, len(music)):  # one position longer than the room: cut at one of its voices
        position = music[i] if kinds[i] == "Position" else position
        if kinds[i] == "Program" and position is not None and size(music[i:]) <= room - 3:
            return [*opened, position, *music[i:]]
    return opened + music[-(room - 2) :]


def open_bar(ids: list[int], bar_id: int) -> tuple[list[int], list[int]]:
    """(the context up to its last bar line, the bar from there): the model reads the first and spells the
    second, so no context ends inside a merged token (a bar's tail re-merged on its own can differ from
    what was sampled)."""
    last = max((i for i, t in enumerate(ids) if t == bar_id), default=len(ids))
    return ids[:last], ids[last:]


def transpose_interval(from_pc: int, to_pc: int) -> int:
    """The smallest shift in semitones (-5..+6) from one pitch class to another."""
    shift = (to_pc - from_pc) % 12
    return shift - 12 if shift > 6 else shift


def transpose_to(tok: CadenzaTokenizer, music: list[int], tonic: int) -> list[int]:
    """Shift every pitch so the estimated tonic becomes `tonic`, by the smallest interval; notes that would
    leave the tokenizer's pitch range move an octave back in."""
    score = end_at_bar(tok.decode(music), music.count(tok.bar_id))  # as written out
    shift = transpose_interval(parse_key(analysed_key(score))[0], tonic)
    if shift == 0:
        return music
    pitch_ids = {int(tok.value(i)): i for i in tok.ids_of("Pitch")}
    low, high = min(pitch_ids), max(pitch_ids)
    out = []
    for token in music:
        if token in tok.ids_of("Pitch"):
            pitch = int(tok.value(token)) + shift
            pitch += 12 * ((pitch < low) - (pitch > high))
            token = pitch_ids[pitch]
        out.append(token)
    return out


def bar_start(score: symusic.Score, bar: int) -> int:
    """The tick where bar number `bar` (from 0) begins; 0 past the score's end."""
    starts = bar_starts(score)
    return starts[bar] if bar < len(starts) else 0


def bars_seen(prompt: list[int], seen: list[int], bar_id: int) -> float:
    """Bars of `prompt` in its window `seen`; a window that starts inside a bar (with a bar line of its own,
    so not a plain tail of the prompt) counts that bar as half."""
    whole = prompt[len(prompt) - len(seen) :] == seen
    return seen.count(bar_id) - (0 if whole else 0.5)
