"""The grammar and the bar count as a `LogitsProcessor` and a `StoppingCriteria` for `model.generate`.

Both keep per-row state between steps and only look at the tokens added since the last call, so a step
costs a few dictionary lookups per row (the grammar caches one mask per state), whatever the sequence
length.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from transformers import LogitsProcessor, StoppingCriteria

from cadenza.tokenization.grammar import GrammarState, Kind, RemiGrammar
from cadenza.tokenization.lyrics import CHAR_PREFIX, MELISMA_TOKEN, SONG_END_TOKEN
from cadenza.tokenization.tokenizer import CadenzaTokenizer


class GrammarLogitsProcessor(LogitsProcessor):
    """Sets the score of every token the grammar forbids to -inf.

    The first call walks the whole prompt (illegal prompt tokens are skipped, as a decoder would), later
    calls only the new token of each row. Until a row holds `min_bars` Bar tokens (prompt included) EOS is
    forbidden, so a piece cannot end before the requested length; and until it holds a note, neither EOS
    nor the Bar past `min_bars` is allowed, so a piece is never silent. Use one instance per `generate`
    call.
    """

    def __init__(
        self,
        grammar: RemiGrammar,
        min_bars: int = 0,
        lyrics: list[list[int]] | None = None,
        melisma: bool = False,
        rhythm: list[tuple[int, int, float]] | None = None,
    ) -> None:
        self.grammar = grammar
        self.min_bars = min_bars
        self.lyrics = lyrics
        self.melisma = melisma
        # With lyrics: per syllable, its note's (bar from 0, Position value, length in quarter notes), as a
        # rhythm template says (`inference.rhythm`); the model then chooses the pitches only.
        self.rhythm = rhythm
        self._note_parts: tuple[torch.Tensor, torch.Tensor] | None = None  # `_position_and_duration`
        self.sung: list[list[int]] = []  # per row: (syllables done, bytes of the next one written)
        self.char_ids = torch.tensor(
            [i for t, i in grammar.tokenizer.vocab.items() if t.startswith(CHAR_PREFIX)], dtype=torch.long
        )
        self.states: list[GrammarState] = []
        self.bars: list[int] = []
        self.noted: list[bool] = []
        self.seen = 0
        self.eos_id = grammar.tokenizer.eos_id
        self.bar_starts = sorted(grammar.tokenizer.bar_starts)  # Bar, and merged tokens opening with it
        # A song's last syllable (`SONG_END_TOKEN`) gets its note, then the song ends: per row, written yet?
        self.song_end = grammar.tokenizer.vocab.get(SONG_END_TOKEN)
        self.ending: list[bool] = []

    def _advance(self, input_ids: torch.LongTensor) -> None:
        # The prompt is read as written (`RemiGrammar.free`: a user's file may change meter); what the
        # model writes after it follows every rule.
        grammar = self.grammar if self.states else self.grammar.free
        if not self.states:
            self.states = [self.grammar.start_state()] * input_ids.shape[0]
            self.bars = [0] * input_ids.shape[0]
            self.noted = [False] * input_ids.shape[0]
            self.sung = [[0, 0] for _ in range(input_ids.shape[0])]
            self.ending = [False] * input_ids.shape[0]
        for row, tokens in enumerate(input_ids[:, self.seen :].tolist()):
            state = self.states[row]
            for token in tokens:
                new = grammar.next_state(state, token)
                if new is None:  # illegal (a prompt's token the grammar skips): the state stays
                    continue
                bars, notes = grammar.counts(token)
                self.bars[row] += bars
                self.noted[row] |= notes > 0
                if self.lyrics is not None and new.kind in (Kind.CHAR, Kind.SYLLABLE):
                    self._sing(row, token)
                self.ending[row] |= token == self.song_end
                state = new
            self.states[row] = state
        self.seen = input_ids.shape[1]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self._advance(input_ids)
        rows = []
        for row, (bars, noted, state) in enumerate(zip(self.bars, self.noted, self.states, strict=True)):
            mask = self.grammar.allowed(state)
            if self.lyrics is not None:
                mask = self._forced(row, state, mask)
            if self.rhythm is not None:
                mask = self._in_rhythm(row, state, mask)
            if self.ending[row] and state.kind == Kind.DURATION:
                mask = torch.zeros_like(mask)
                mask[self.eos_id] = True
            if state.kind != Kind.END:
                banned = []
                if bars < self.min_bars or not noted:
                    banned.append(self.eos_id)
                if self.min_bars and bars >= self.min_bars and not noted:
                    banned.extend(self.bar_starts)
                if banned:
                    mask = mask.clone()
                    mask[banned] = False
            rows.append(mask)
        mask = torch.stack(rows).to(scores.device)[:, : scores.shape[-1]]
        if self.lyrics is not None:
            scores = self._text_given(scores)
        return scores.masked_fill(~mask, float("-inf"))

    # --- a rhythm template's onsets and lengths -----------------------------------------------------
    def _in_rhythm(self, row: int, state: GrammarState, mask: torch.Tensor) -> torch.Tensor:
        """`mask` narrowed to the template: where a syllable may start, a bar line exactly when its note is
        in a later bar; inside a syllable's note, its Position and Duration (merged tokens by their parts)."""
        done = self.sung[row][0]
        if state.kind in (Kind.TIMESIG, Kind.DURATION):
            if done == len(self.rhythm):
                return mask
            later = self.rhythm[done][0] > self.bars[row] - 1
            if later and state.kind == Kind.TIMESIG:  # an empty bar: the grammar has none; sing on
                return mask
            bar_lines = torch.zeros_like(mask)
            bar_lines[self.bar_starts] = True
            return mask & (bar_lines if later else ~bar_lines)
        if state.kind in (Kind.SYLLABLE, Kind.POSITION, Kind.TEMPO, Kind.PROGRAM, Kind.PITCH) and done:
            _, position, quarters = self.rhythm[done - 1]
            return mask & self._note_mask(position, self._duration(quarters, state.meter))
        return mask

    def _duration(self, quarters: float, meter: int) -> int:
        """The Duration id nearest `quarters` in `meter` (a Duration counts beats of the meter's beat)."""
        beat = self.grammar.beat_of.get(meter, 1.0)
        return min(self.grammar.beats_of, key=lambda i: abs(self.grammar.beats_of[i] * beat - quarters))

    def _note_mask(self, position: int, duration: int) -> torch.Tensor:
        """The ids whose Position parts are `position` and whose Duration parts are `duration`."""
        if self._note_parts is None:
            self._note_parts = _position_and_duration(self.grammar)
        positions, durations = self._note_parts
        return ((positions == -1) | (positions == position)) & ((durations == -1) | (durations == duration))

    # --- lyrics forced in order (a song's grammar) ---------------------------------------------------
    def _sing(self, row: int, token: int) -> None:
        done, written = self.sung[row]
        if done < len(self.lyrics) and token == self.lyrics[done][written]:
            written += 1
            done, written = (done + 1, 0) if written == len(self.lyrics[done]) else (done, written)
        self.sung[row] = [done, written]

    def _text_given(self, scores: torch.Tensor) -> torch.Tensor:
        """Where the next syllable may start, its first byte scores what any syllable would: the model
        chooses between a syllable, a melisma and a bar line as music, not by how likely it found this
        very letter (forced letters lose to a bar line and a song writes one note a bar). Inside a
        syllable the next byte is the only choice anyway."""
        chars = self.char_ids.to(scores.device)
        scores = scores.clone()
        for row, state in enumerate(self.states):
            done = self.sung[row][0]
            if state.kind in (Kind.TIMESIG, Kind.DURATION) and done < len(self.lyrics):
                scores[row, self.lyrics[done][0]] = torch.logsumexp(scores[row, chars], dim=0)
        return scores

    def _forced(self, row: int, state: GrammarState, mask: torch.Tensor) -> torch.Tensor:
        """The grammar's mask narrowed to the lyrics: a song starts at its beginning (no mid-piece marker);
        inside a syllable its next byte comes; where a lyric item may start, the next syllable (or a
        melisma once one was sung, when allowed), or after a note a bar line, but no bar without a note
        while syllables wait (a model that likes rests would otherwise write empty bars for ever); after
        the last syllable's note, the end."""
        done, written = self.sung[row]
        if state.kind == Kind.KEY:
            keep = [i for i in mask.nonzero().flatten().tolist() if i != self.grammar.tokenizer.continue_id]
        elif state.kind == Kind.CHAR:
            keep = [self.lyrics[done][written]]
        elif state.kind in (Kind.TIMESIG, Kind.DURATION):
            if done == len(self.lyrics):
                keep = [self.eos_id]
            else:
                keep = [self.lyrics[done][0], *(self.bar_starts if state.kind == Kind.DURATION else [])]
                if self.melisma and done > 0:
                    keep.append(self.grammar.tokenizer.vocab[MELISMA_TOKEN])
        else:
            return mask
        narrowed = torch.zeros_like(mask)
        narrowed[keep] = True
        return mask & narrowed


class PromptHealing(LogitsProcessor):
    """Token healing (Guidance's name for it) at a bar line: a row's context stops at its last bar line,
    and the model spells that open bar's base tokens (`forced`) again in the merged tokens it chooses,
    before it writes anything else.

    BPE merges a bar's tokens, so the start of a bar (`Bar`, `Bar TimeSig_4/4`, ...) almost never stands
    alone in training: given as a prompt it reads as nothing the model has seen, and what it writes after
    is out of distribution (v2 opened every piece with a 12/8 bar it never wanted). Here the opening
    token is the model's own choice among those that agree with the prompt (`CadenzaTokenizer.spelling`),
    with the probability it gives each. Use one instance per sampling run; a row with nothing forced is
    left alone.
    """

    def __init__(self, tokenizer: CadenzaTokenizer, forced: list[list[int]]) -> None:
        self.tokenizer = tokenizer
        self.left = [tuple(ids) for ids in forced]  # per row: base ids still to spell
        self.seen: int | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.seen is not None:
            for row, tokens in enumerate(input_ids[:, self.seen :].tolist()):
                for token in tokens:
                    self.left[row] = self.left[row][len(self.tokenizer.parts(token)) :]
        self.seen = input_ids.shape[1]
        if not any(self.left):
            return scores
        mask = torch.zeros_like(scores, dtype=torch.bool)
        for row, left in enumerate(self.left):
            if left:
                mask[row, [i for i in self.tokenizer.spelling(left) if i < scores.shape[-1]]] = True
            else:
                mask[row] = True
        return scores.masked_fill(~mask, float("-inf"))


class BarStoppingCriteria(StoppingCriteria):
    """Ends a row when it holds more than `max_bars` Bar tokens (prompt included) or has written EOS.

    The Bar token that opens bar max_bars + 1 is the signal that bar max_bars is complete, so a row never
    stops mid-bar; the caller drops that last Bar.
    """

    def __init__(self, bar_starts: Iterable[int], eos_id: int, max_bars: int) -> None:
        starts = sorted(bar_starts)  # Bar, and merged tokens opening with it
        # A lookup table over the ids (one index a step) rather than `torch.isin` (a search a step); its
        # last entry, False, stands for every id above the bar starts.
        self.opens_bar = torch.zeros(max(starts, default=-1) + 2, dtype=torch.bool)
        self.opens_bar[starts] = True
        self.eos_id = eos_id
        self.max_bars = max_bars
        self.counts: torch.Tensor | None = None
        self.seen = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        new = input_ids[:, self.seen :]
        table = self.opens_bar.to(new.device)
        counts = table[new.clamp(max=len(table) - 1)].sum(dim=1)
        self.counts = counts if self.counts is None else self.counts + counts
        self.seen = input_ids.shape[1]
        return (self.counts > self.max_bars) | (input_ids[:, -1] == self.eos_id)


def _position_and_duration(grammar: RemiGrammar) -> tuple[torch.Tensor, torch.Tensor]:
    """Per id of the grammar's vocabulary, the value of its Position part and the id of its Duration part:
    -1 for none, -2 for a merged token whose parts disagree (it matches no note). One walk over the
    vocabulary, so a note's mask is two comparisons (walking it per note cost 17 ms a mask)."""
    tokenizer = grammar.tokenizer
    positions, durations = [-1] * grammar.vocab_size, [-1] * grammar.vocab_size
    for i in range(grammar.vocab_size):
        for part in tokenizer.parts(i):
            kind = grammar.kind_of.get(part)
            if kind == Kind.POSITION:
                column, value = positions, grammar.position_of[part]
            elif kind == Kind.DURATION:
                column, value = durations, part
            else:
                continue
            column[i] = value if column[i] in (-1, value) else -2
    return torch.tensor(positions), torch.tensor(durations)
